"""benchmarks/firmware_heap_link.py without the interpreter: a fake rig and a fake serial link
that answers every command at once."""

from benchmarks.firmware_heap_link import KeyedLink
from edge.factories import cross
from firmware import protocol as P


class _Rig:
    def __init__(self):
        self.keys = None
        self.advanced = []

    def provision_keys(self, keys):
        self.keys = keys

    def advance(self, t, timeout):
        self.advanced.append(t)


class _Link:
    """A SerialLink whose controller answers each command with `reason` (ok when empty)."""

    def __init__(self, boot=7, result=P.ACK_OK, reason=""):
        self.boot, self.result, self.reason = boot, result, reason
        self.commands, self.inbox = [], []

    def command(self, code, arg, auth=None):
        self.commands.append((code, arg, auth))
        seq = len(self.commands)
        if self.result is not None:
            self.inbox.append((P.T_ACK, seq, P.pack_ack(seq, self.result, self.reason)))
        return seq

    def receive(self):
        got, self.inbox = self.inbox, []
        return got

    def close(self):
        pass


def test_keys_are_provisioned_and_commands_spread_over_the_run():
    rig = _Rig()
    k = KeyedLink(rig, cross(), 3, 4000)
    assert k.due == [1000, 2000, 3000]
    assert rig.keys is not None and "alice" in str(rig.keys)
    assert k.unix() == 1_800_000_000


def test_signed_preempt_releases_and_link_tagged_holds_go_out_in_turn_and_are_checked():
    k = KeyedLink(_Rig(), cross(), 3, 4000)
    k.lk = link = _Link()
    assert k.after_step(500) == 500  # nothing due yet
    for t in (1000, 2000, 3000):
        assert k.after_step(t) == t  # answered at once: no virtual time spent waiting
    codes = [(code, arg, auth is not None) for code, arg, auth in link.commands]
    assert codes == [(P.CMD_PREEMPT, 255, True), (P.CMD_HOLD, 0, False), (P.CMD_PREEMPT, 255, True)]
    assert [a[0] for a in k.answers] == [
        "signed preempt release",
        "link-tagged hold",
        "signed preempt release",
    ]
    assert k.failure() == ""


def test_failure_names_commands_never_sent_unanswered_or_not_checked():
    k = KeyedLink(_Rig(), cross(), 2, 3000)
    k.lk = _Link(boot=None)  # no heartbeat from the controller yet: nothing is sent
    k.after_step(3000)
    assert k.failure() == "2 commands never sent (no controller heartbeat)"

    k = KeyedLink(rig := _Rig(), cross(), 1, 2000)
    k.lk = _Link(result=None)  # never answers
    assert k.after_step(1000) == 1000 + 4000  # waited its 4 s, 100 ms at a time
    assert rig.advanced[:2] == [1100, 1200] and rig.advanced[-1] == 5000
    assert k.finish(5000) == 9000  # and waits again at the end of the run
    assert k.failure() == "unanswered: signed preempt release"

    k = KeyedLink(_Rig(), cross(), 1, 2000)
    k.lk = _Link(result=P.ACK_REFUSED, reason="out of memory")
    k.after_step(1000)
    assert k.failure() == "signed preempt release not checked: 'out of memory'"
    k = KeyedLink(_Rig(), cross(), 1, 2000)
    k.lk = _Link(result=P.ACK_REFUSED, reason="min green")  # the sequencer's verdict: checked
    k.after_step(1000)
    assert k.failure() == ""
