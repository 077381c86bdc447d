"""The only module that imports paho: connect, last will, publish, subscribe.

paho's return codes become exceptions here; the availability last will is owned here.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import unquote, urlparse

import paho.mqtt.client as paho

log = logging.getLogger("greenwave.mqtt")


# with a QoS > 0 message paho keeps NO_CONN ones in memory and sends them on reconnect
_HANDED_OVER = (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN)


class MqttError(RuntimeError):
    """The broker refused us or could not be reached; the message says which and where."""


def parse_url(url: str) -> tuple[str, int, bool]:
    """mqtt://host[:port] or mqtts://host[:port] -> (host, port, tls)."""
    u = urlparse(url)
    if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
        raise ValueError(f"broker URL must look like mqtt://host:port, not {url!r}")
    tls = u.scheme == "mqtts"
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError as e:
        raise ValueError(f"broker URL has a bad port: {url!r}") from e
    return u.hostname, port, tls


class Mqtt:
    """A connected MQTT session with a retained `offline` last will on `will_topic`."""

    def __init__(
        self,
        url: str,
        client_id: str,
        will_topic: str,
        *,
        username: str | None = None,
        password: str | None = None,
        protocol: int = 4,
    ):
        self.host, self.port, tls = parse_url(url)
        u = urlparse(url)
        if username is None and u.username:  # mqtt://user:password@host:port
            username, password = unquote(u.username), unquote(u.password or "")
        self.url = f"{u.scheme}://{self.host}:{self.port}"  # never log the password
        self.will_topic = will_topic
        version = paho.MQTTv5 if protocol == 5 else paho.MQTTv311
        self._c = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version
        )
        if username:
            self._c.username_pw_set(username, password)
        if tls:
            self._c.tls_set()
        self._c.will_set(will_topic, "offline", qos=1, retain=True)
        self._c.reconnect_delay_set(min_delay=1, max_delay=8)  # a cabinet wants its data soon
        self._c.on_connect = self._on_connect
        self._c.on_disconnect = self._on_disconnect
        self._c.on_message = self._on_message
        self._c.on_publish = self._on_publish
        # mid -> on_ack; a PUBACK may beat publish() back from paho, so early acks are kept too
        self._ack_lock = threading.Lock()
        self._on_ack: dict[int, Callable[[], None]] = {}
        self._early_acks: set[int] = set()
        self._tracking = 0  # tracked publishes between paho's publish() and our bookkeeping
        self.connected_since: float | None = None  # wall-clock time of the current connection
        self._connected = threading.Event()
        self._refused: str | None = None
        self._handlers: dict[str, Callable[[str, bytes], None]] = {}
        self.published = 0
        self.reconnects = 0
        self._ever_connected = False

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._connected.set()
            return
        if self._ever_connected:
            self.reconnects += 1
            log.info("reconnected to the broker at %s", self.url)
        self._ever_connected = True
        self.connected_since = time.time()
        # the will said offline when we dropped; say online again on every (re)connect
        client.publish(self.will_topic, "online", qos=1, retain=True)
        for topic in list(self._handlers):
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        if self._connected.is_set() and reason_code.is_failure:
            log.warning("lost the broker at %s (%s); retrying", self.url, reason_code)
        self._connected.clear()
        self.connected_since = None

    def _on_publish(self, client, userdata, mid, reason_code=None, properties=None):
        # paho's network thread; it may hold its own locks, so never wait here on ours for long
        with self._ack_lock:
            on_ack = self._on_ack.pop(mid, None)
            if on_ack is None and self._tracking:
                self._early_acks.add(mid)
        if on_ack is not None:
            try:
                on_ack()
            except Exception:  # one bad callback must not stop paho's network thread
                log.exception("acknowledgement callback for message %d failed", mid)

    @property
    def connected(self) -> bool:
        """True while a broker session is up."""
        return self._connected.is_set()

    def _on_message(self, client, userdata, msg):
        for pattern, handler in list(self._handlers.items()):
            if paho.topic_matches_sub(pattern, msg.topic):
                try:
                    handler(msg.topic, msg.payload)
                except Exception:  # one bad handler must not stop paho's network thread
                    log.exception("handler for %s failed on %s", pattern, msg.topic)

    def connect(self, timeout: float = 10.0) -> Mqtt:
        try:
            self._c.connect(self.host, self.port, keepalive=30)
        except OSError as e:
            raise MqttError(f"cannot reach the broker at {self.url}: {e}") from e
        self._c.loop_start()
        if not self._connected.wait(timeout):
            self._c.loop_stop()
            raise MqttError(f"no answer from the broker at {self.url} within {timeout:g} s")
        if self._refused:
            self._c.loop_stop()
            raise MqttError(f"the broker at {self.url} refused the connection: {self._refused}")
        return self

    def publish(
        self,
        topic: str,
        payload,
        *,
        qos: int = 0,
        retain: bool = False,
        on_ack: Callable[[], None] | None = None,
    ) -> None:
        """Publish; raises MqttError when it cannot. With `on_ack` (QoS 1 or 2), the callable
        runs on paho's thread once the broker acknowledges the message.

        With `on_ack`, a message paho accepted for a connection that has just dropped counts as
        handed over: paho sends it again on reconnect and the acknowledgement still arrives."""
        if on_ack is not None and qos == 0:
            raise ValueError(f"on_ack needs QoS 1 or 2; the broker does not answer QoS {qos!r}")
        if isinstance(payload, dict | list):
            payload = json.dumps(payload, separators=(",", ":"))
        if on_ack is not None and not self._connected.is_set():
            # refuse now rather than let paho queue it in memory: the caller keeps it on disk
            raise MqttError(f"not connected to {self.url}: {topic} not published")
        if on_ack is None:
            info = self._c.publish(topic, payload, qos=qos, retain=retain)
        else:
            with self._ack_lock:
                self._tracking += 1
            info = None
            try:
                info = self._c.publish(topic, payload, qos=qos, retain=retain)
            finally:
                with self._ack_lock:
                    self._tracking -= 1
                    acked = info is not None and info.mid in self._early_acks
                    if info is not None and not acked and info.rc in _HANDED_OVER:
                        self._on_ack[info.mid] = on_ack
                    if not self._tracking:
                        self._early_acks.clear()  # only acks inside that window can be ours
            if info.rc in _HANDED_OVER:
                if acked:
                    on_ack()
                self.published += 1
                return
        if info.rc == paho.MQTT_ERR_NO_CONN:
            raise MqttError(f"not connected to {self.url}: {topic} not published")
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        self.published += 1

    def subscribe(self, topic: str, handler: Callable[[str, bytes], None]) -> None:
        self._handlers[topic] = handler
        if self._connected.is_set():
            self._c.subscribe(topic, qos=1)

    def close(self, offline: bool = True) -> None:
        """Say offline (retained) and disconnect cleanly."""
        try:
            if offline and self._connected.is_set():
                self._c.publish(self.will_topic, "offline", qos=1, retain=True).wait_for_publish(2)
        except (RuntimeError, ValueError) as e:
            log.warning("could not say offline on %s: %s", self.will_topic, e)
        finally:
            self._c.disconnect()
            self._c.loop_stop()
