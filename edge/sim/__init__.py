"""SUMO co-simulation (`greenwave sim`): the firmware's own controller in the loop, detectors
placed as on a real site, delay measured from SUMO's tripinfo. See docs/sim.md.

SUMO (eclipse-sumo, libsumo, traci, sumolib) is needed only when a simulation runs.
"""

# the --controller choices; here so that building the CLI parser imports nothing heavy
CONTROLLERS = ("schedule", "max-pressure", "actuated", "webster", "fixed")
