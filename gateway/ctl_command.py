"""`greenwave ctl`'s signed commands: sign with the operator's key, send, wait for the answer.

The operator's key comes from --operator-key FILE ('KEY_ID:HEX_KEY') or $GREENWAVE_OPERATOR_KEY
and is never printed. The command goes to `cmd/<name>` signed (docs/gateway.md, "Signed
commands"); the gateway's answer comes on an MQTT 5 response topic with the nonce as correlation
data, or on MQTT 3.1.1 on `reply/<name>` naming the nonce. Exit status 0 when it says `ok`.
"""

from __future__ import annotations

import json
import os
import queue
import time
import uuid

from .ctl_session import SUBACK_S, CtlError, as_json, connect, out, retained_one, topic_base


def operator_key(args) -> tuple[str, bytes]:
    """(key id, key) from --operator-key FILE or $GREENWAVE_OPERATOR_KEY; never printed."""
    from .secrets import check_key

    if args.operator_key:
        try:
            with open(args.operator_key, encoding="utf-8") as f:
                text, source = f.read().strip(), args.operator_key
        except OSError as e:
            raise CtlError(f"{args.operator_key}: cannot read: {e.strerror or e}") from None
    elif os.environ.get("GREENWAVE_OPERATOR_KEY"):
        text, source = os.environ["GREENWAVE_OPERATOR_KEY"].strip(), "$GREENWAVE_OPERATOR_KEY"
    else:
        raise CtlError("no operator key: give --operator-key FILE or set GREENWAVE_OPERATOR_KEY")
    key_id, sep, hex_key = text.partition(":")
    if not sep or not key_id:
        raise CtlError(f"{source}: expected KEY_ID:HEX_KEY")
    key, why = check_key(f"{source}: key {key_id!r}", hex_key)
    if why:
        raise CtlError(why)
    return key_id, key


def _resolve_phase(args, phase: str) -> int:
    if phase.isdigit():
        return int(phase)
    plan = retained_one(args, "plan", "plan to look the phase name up in")
    names = [p["name"] for p in (plan or {}).get("phases", [])]
    if phase not in names:
        raise CtlError(f"phase {phase!r} is not one of {', '.join(names) or 'the known phases'}")
    return names.index(phase)


def command(args) -> int:
    """The signed command action (hold, switch, preempt, flash, clear-flash, plan --set): sign,
    send, print the answer; 0 when it is `ok`."""
    from .signing import sign

    name = args.ctl_command
    arg = 0
    if name == "hold" and args.release:
        name = "release"
    elif name == "switch":
        arg = _resolve_phase(args, args.phase)
    elif name == "preempt":
        arg = args.route
    elif name == "plan":
        arg = args.set
    key_id, key = operator_key(args)
    base = topic_base(args, args.intersection)
    try:
        payload = sign(key_id, key, args.site, args.intersection, name, arg, now=time.time(),
                       ttl_s=args.ttl)  # fmt: skip
    except ValueError as e:
        raise CtlError(str(e)) from None
    answers: queue.Queue = queue.Queue()
    m = connect(args)
    try:
        if m.mqtt5:
            reply = f"{base}/reply/ctl-{uuid.uuid4().hex[:12]}"
            correlation = payload["nonce"].encode()
            m.subscribe(reply, answers.put, full=True, wait=SUBACK_S)
            kw = {"response_topic": reply, "correlation": correlation}
        else:  # 3.1.1: the fixed reply topic; the nonce says which answer is ours
            m.subscribe(f"{base}/reply/{name}", answers.put, full=True, wait=SUBACK_S)
            kw = {}
        m.publish_confirmed(f"{base}/cmd/{name}", json.dumps(payload), **kw)
        result = _await_answer(answers, payload["nonce"], args.timeout)
    finally:
        m.close()
    if args.json:
        out(json.dumps({"intersection": args.intersection, "cmd": name, "arg": arg,
                         "nonce": payload["nonce"], "result": result}))  # fmt: skip
    else:
        out(f"{args.intersection}: {name}{'' if name in ('hold', 'release') else f' {arg}'}"
             f" -> {result}")  # fmt: skip
    return 0 if result == "ok" else 1


def _await_answer(answers: queue.Queue, nonce: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = answers.get(timeout=left)
        except queue.Empty:
            break
        body = as_json(msg.payload)
        if not isinstance(body, dict):
            continue
        if msg.correlation == nonce.encode() or body.get("nonce") == nonce:
            return str(body.get("result"))
    return f"no answer within {timeout:g} s (is the gateway running?)"
