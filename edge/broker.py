"""Embedded MQTT broker (amqtt, in a subprocess) for `greenwave demo` and for tests.

amqtt 0.12 speaks MQTT 3.1.1 only: an MQTT 5 CONNECT is answered "unsupported protocol
version" and an MQTT 3.1 one is dropped. Anything that needs MQTT 5 (response topics for
commands) needs a real broker such as Mosquitto. The broker runs in its own process so that its
asyncio loop and logging never mix with the caller's, and so that stopping it frees its port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
# scheme -> TLS; "tcp" and "ssl" are the spellings paho and Mosquitto's tools also accept.
_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True, "tls": True}
_START_ATTEMPTS = 3
_ROOT = Path(__file__).resolve().parents[1]


class BrokerStartError(RuntimeError):
    """A broker process did not come up; the message has its exit code and the log tail."""


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """Split ``mqtt://host[:port]`` or ``mqtts://host[:port]`` into (host, port, tls).

    The port defaults to 1883, or 8883 for TLS. Raises ValueError naming the bad value.
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValueError(f"broker url {url!r}: expected mqtt://host[:port] or mqtts://host[:port]")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"broker url {url!r}: scheme {parts.scheme!r} is not one of {sorted(_SCHEMES)}"
        )
    if not parts.hostname:
        raise ValueError(f"broker url {url!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker url {url!r}: unexpected path or query {parts.path!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"broker url {url!r}: bad port {parts.netloc!r}") from None
    tls = _SCHEMES[scheme]
    if port is None:
        port = DEFAULT_TLS_PORT if tls else DEFAULT_PORT
    if port == 0:
        raise ValueError(f"broker url {url!r}: port 0 is not a broker port")
    return parts.hostname, port, tls


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on right now (the kernel's pick)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def log_tail(path: Path | str, lines: int = 20) -> str:
    """The last `lines` lines of a log file, or a note that there is none."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])


def wait_until_listening(
    proc: subprocess.Popen,
    host: str,
    port: int,
    timeout_s: float,
    log_path: Path,
    what: str,
    ready: Callable[[], bool] | None = None,
) -> None:
    """Poll until `ready()` (the broker's own word that it started) and `host:port` accepts.

    `ready` guards against a stranger already listening on the port. Raises BrokerStartError,
    with the log tail, if `proc` exits first or `timeout_s` passes.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        code = proc.poll()
        if code is not None:
            raise BrokerStartError(
                f"{what} exited with code {code} before listening on {host}:{port}; "
                f"log {str(log_path)!r}:\n{log_tail(log_path)}"
            )
        if ready is None or ready():
            try:
                with socket.create_connection((host, port), timeout=0.5):
                    return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise BrokerStartError(
                f"{what} did not listen on {host}:{port} within {timeout_s} s; "
                f"log {str(log_path)!r}:\n{log_tail(log_path)}"
            )
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """Terminate `proc`, then kill it if it has not exited within `timeout_s`."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _amqtt_config(host: str, port: int) -> dict:
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    # Anonymous access is the demo's default: the broker listens on loopback unless told otherwise.
    return {
        "listeners": {"default": {"type": "tcp", "bind": bind}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


def _serve(config_path: str, ready_path: str) -> int:
    """Child process: run amqtt until SIGTERM/SIGINT; exit 1 if it cannot start.

    amqtt's own console script keeps running after a failed bind, so it is not used.
    """
    import asyncio
    import logging
    import signal

    from amqtt.broker import Broker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    config = json.loads(Path(config_path).read_text())
    parent = os.getppid()

    async def main() -> None:
        broker = Broker(config)
        await broker.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        Path(ready_path).write_text(str(os.getpid()))
        # The parent stops us; if it dies without doing so, we are re-parented: stop too.
        while not stop.is_set() and os.getppid() == parent:
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
        await broker.shutdown()

    try:
        asyncio.run(main())
    except Exception as exc:  # the traceback is already in the log
        logging.getLogger("greenwave.broker").error("broker stopped: %r", exc)
        return 1
    return 0


class EmbeddedBroker:
    """An amqtt broker in a child process, anonymous access, MQTT 3.1.1.

    ``port=0`` picks a free port at start. Use as a context manager or call start()/stop().
    The log goes to `log_path` (by default a file in a temporary directory that stop() removes;
    a failed start keeps it and quotes its tail in the error).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_path: Path | str | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"broker port {port!r}: expected 0..65535")
        self.host = host
        self.port = port
        self.start_timeout_s = start_timeout_s
        self._want_port = port
        self._log_arg = Path(log_path) if log_path is not None else None
        self._dir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._finalizer: weakref.finalize | None = None
        self.log_path: Path | None = self._log_arg

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the running broker."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections; returns self."""
        if self.running:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="greenwave-amqtt-"))
        self.log_path = self._log_arg or self._dir / "amqtt.log"
        # A kernel-picked port can be taken again before the child binds it: retry then.
        attempts = _START_ATTEMPTS if self._want_port == 0 else 1
        for attempt in range(attempts):
            self.port = self._want_port or free_port(self.host)
            try:
                self._spawn()
                return self
            except BrokerStartError:
                self._reap()
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        config = self._dir / "amqtt.json"
        config.write_text(json.dumps(_amqtt_config(self.host, self.port), indent=2))
        ready = self._dir / "ready"
        ready.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "edge.broker", "serve", str(config), str(ready)]
        env = dict(os.environ)
        # The child must import this package even from a checkout that is not installed.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        with open(self.log_path, "ab") as log:
            # Own session: a Ctrl-C in the terminal reaches the caller, which stops us in order.
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        # Never leave an orphan broker behind if the caller forgets stop().
        self._finalizer = weakref.finalize(self, stop_process, self._proc)
        wait_until_listening(
            self._proc,
            self.host,
            self.port,
            self.start_timeout_s,
            self.log_path,
            "amqtt broker",
            ready=ready.exists,
        )

    def _reap(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._proc = None

    def stop(self) -> None:
        """Stop the broker (idempotent) and remove its temporary directory."""
        self._reap()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedBroker({self.url!r}, {state})"


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "serve":
        sys.exit("usage: python -m edge.broker serve CONFIG.json READY_FILE")
    sys.exit(_serve(sys.argv[2], sys.argv[3]))
