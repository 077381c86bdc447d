"""What sequencer.py and monitor.py offer but the running controller does not keep in its heap:
the public names of their private consts (sequencer.GREEN, monitor.FAULT_DARK, ...) and
TransitionError.

sequencer.py's and monitor.py's module `__getattr__` load this module when one of these names is
asked for (tests and tools), and the sequencers load it to raise a TransitionError, which only a
bug does.
On MicroPython a module's code and names take heap for as long as it is loaded, and a class
costs a few hundred bytes: the controller never loads this one in normal operation.
"""


class TransitionError(ValueError):
    """An event the current state has no transition for (a bug, never a traffic condition)."""


def no_transition(state, event):
    """The TransitionError for `event` (sequencer._E_*) in `state`."""
    names = "startup_flash startup_all_red green yellow all_red fault".split()
    return TransitionError(f"no transition from {names[state]} on {event!r}")


def public(name, mod="sequencer"):
    """The value of firmware.<mod>.<name> (mod: sequencer or monitor); AttributeError for a
    name it does not have."""
    if name == "TransitionError" and mod == "sequencer":
        return TransitionError
    w = (
        (
            "STARTUP_FLASH 0 STARTUP_ALL_RED 1 GREEN 2 YELLOW 3 ALL_RED 4 FAULT 5 "
            "HOLD 1 SWITCH 2 CLEAR 3 CALL 4 OMIT 5 PREEMPT 6 "
            "GAP_OUT 1 MAX_OUT 2 FORCE_OFF 3 PREEMPTED 4 OK 0 REFUSED 1 UNKNOWN 2"
        )
        if mod == "sequencer"
        else (
            "FAULT_CONFLICT 1 FAULT_NO_YELLOW 2 FAULT_SHORT_YELLOW 3 FAULT_SHORT_GREEN 4 "
            "FAULT_ALL_RED 5 FAULT_DARK 6 FAULT_BAD_TRANSITION 7"
        )
    ).split()
    for i in range(0, len(w), 2):
        if w[i] == name:
            return int(w[i + 1])
    raise AttributeError(f"module 'firmware.{mod}' has no attribute {name!r}")
