"""What sequencer.py offers but the running controller does not keep in its heap: the public
names of its private consts (sequencer.GREEN, ...) and TransitionError.

sequencer.py's module `__getattr__` loads this module when one of these names is asked for
(tests and tools), and the sequencers load it to raise a TransitionError, which only a bug does.
On MicroPython a module's code and names take heap for as long as it is loaded, and a class
costs a few hundred bytes: the controller never loads this one in normal operation.
"""


class TransitionError(ValueError):
    """An event the current state has no transition for (a bug, never a traffic condition)."""


def no_transition(state, event):
    """The TransitionError for `event` (sequencer._E_*) in `state`."""
    names = "startup_flash startup_all_red green yellow all_red fault".split()
    return TransitionError(f"no transition from {names[state]} on {event!r}")


def public(name):
    """The value of sequencer.<name>; AttributeError for a name it does not have."""
    if name == "TransitionError":
        return TransitionError
    w = (
        "STARTUP_FLASH 0 STARTUP_ALL_RED 1 GREEN 2 YELLOW 3 ALL_RED 4 FAULT 5 "
        "HOLD 1 SWITCH 2 CLEAR 3 CALL 4 OMIT 5 PREEMPT 6 "
        "GAP_OUT 1 MAX_OUT 2 FORCE_OFF 3 PREEMPTED 4 OK 0 REFUSED 1 UNKNOWN 2"
    ).split()
    for i in range(0, len(w), 2):
        if w[i] == name:
            return int(w[i + 1])
    raise AttributeError(f"module 'firmware.sequencer' has no attribute {name!r}")
