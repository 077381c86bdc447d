"""The only module that imports paho: connect, last will, publish, subscribe.

paho's return codes become exceptions here; the availability last will is owned here.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote, urlparse

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("greenwave.mqtt")


# with a QoS > 0 message paho keeps NO_CONN ones in memory and sends them on reconnect
_HANDED_OVER = (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN)


class MqttError(RuntimeError):
    """The broker refused us or could not be reached; the message says which and where."""

    credentials = False  # True when the broker refused our user name, password or rights


class MqttUnreachable(MqttError):
    """No broker answered (down, not up yet, the network away, or it said it is unavailable):
    worth trying again later, unlike a refusal of our credentials or a certificate."""


# CONNACK reasons that say "not now" rather than "not you" (3.1.1 code 3; MQTT 5 0x88, 0x89,
# 0x97, 0x9F): the broker is there but cannot take us yet
_TRANSIENT = {3, 0x88, 0x89, 0x97, 0x9F}
# 3.1.1 codes 4, 5; MQTT 5 0x86 bad user name or password, 0x87 not authorized, 0x8A banned,
# 0x8C bad authentication method
_CREDENTIALS = {4, 5, 0x86, 0x87, 0x8A, 0x8C}


@dataclass(frozen=True)
class Tls:
    """TLS to the broker: the CA that signed its certificate (None: the system's CAs) and an
    optional client certificate and key. The server's certificate and name are always checked."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


class Message(NamedTuple):
    """A received message with the MQTT 5 request/response properties (None on 3.1.1)."""

    topic: str
    payload: bytes
    response_topic: str | None = None
    correlation: bytes | None = None


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
    """A connected MQTT session with a retained `offline` last will on `will_topic` (None:
    no will and no online/offline messages, as for an operator's command-line session)."""

    def __init__(
        self,
        url: str,
        client_id: str,
        will_topic: str | None,
        *,
        username: str | None = None,
        password: str | None = None,
        protocol: int = 4,
        tls: Tls | None = None,
    ):
        self.host, self.port, use_tls = parse_url(url)
        u = urlparse(url)
        if username is None and u.username:  # mqtt://user:password@host:port
            username, password = unquote(u.username), unquote(u.password or "")
        self.url = f"{u.scheme}://{self.host}:{self.port}"  # never log the password
        self.will_topic = will_topic
        self.mqtt5 = protocol == 5
        version = paho.MQTTv5 if protocol == 5 else paho.MQTTv311
        self._c = paho.Client(
            paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version
        )
        if username:
            self._c.username_pw_set(username, password)
        if tls is not None and not use_tls:
            raise ValueError(f"TLS settings given but {self.url} is not an mqtts:// URL")
        if use_tls:
            tls = tls or Tls()
            try:  # verifies the server's certificate and host name (paho's default)
                self._c.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file)
            except (OSError, ValueError) as e:  # ssl.SSLError is an OSError
                raise MqttError(f"cannot set up TLS for {self.url}: {e}") from e
        if will_topic is not None:
            self._c.will_set(will_topic, "offline", qos=1, retain=True)
        self._c.reconnect_delay_set(min_delay=1, max_delay=8)  # a cabinet wants its data soon
        self._c.on_connect = self._on_connect
        self._c.on_disconnect = self._on_disconnect
        self._c.on_connect_fail = self._on_connect_fail
        self._c.on_message = self._on_message
        self._c.on_subscribe = self._on_subscribe
        self._subacks: dict[int, tuple[threading.Event, list]] = {}
        self._c.on_publish = self._on_publish
        # mid -> on_ack; a PUBACK may beat publish() back from paho, so early acks are kept too
        self._ack_lock = threading.Lock()
        self._on_ack: dict[int, Callable[[], None]] = {}
        self._early_acks: set[int] = set()
        self._early_refusals: dict[int, str] = {}
        self._tracking = 0  # tracked publishes between paho's publish() and our bookkeeping
        self.connected_since: float | None = None  # wall-clock time of the current connection
        self._connected = threading.Event()
        self._refused: str | None = None
        self._refused_code: int | None = None
        self._handlers: dict[str, tuple[Callable, bool]] = {}
        self._on_refused: dict[int, Callable[[str], None]] = {}
        self.refused = 0  # publishes the broker answered with a failure (MQTT 5 ACL refusals)
        self.published = 0
        self.reconnects = 0
        self._ever_connected = False

    def _on_connect(self, client, userdata, flags, reason_code, properties=None):
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._refused_code = reason_code.value
            self._connected.set()
            return
        if self._ever_connected:
            self.reconnects += 1
            log.info("reconnected to the broker at %s", self.url)
        self._ever_connected = True
        self.connected_since = time.time()
        # the will said offline when we dropped; say online again on every (re)connect
        if self.will_topic is not None:
            client.publish(self.will_topic, "online", qos=1, retain=True)
        for topic in list(self._handlers):
            client.subscribe(topic, qos=1)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties=None):
        if self._connected.is_set() and reason_code.is_failure:
            log.warning("lost the broker at %s (%s); retrying", self.url, reason_code)
        self._connected.clear()
        self.connected_since = None

    def _on_connect_fail(self, client, userdata):
        # paho's own retries after a lost connection (every 1 to 8 s, see reconnect_delay_set)
        log.warning("still cannot reach the broker at %s; retrying every 1 to 8 s", self.url)

    def _on_publish(self, client, userdata, mid, reason_code=None, properties=None):
        # paho's network thread; it may hold its own locks, so never wait here on ours for long
        with self._ack_lock:
            on_ack = self._on_ack.pop(mid, None)
            on_refused = self._on_refused.pop(mid, None)
            failed = reason_code is not None and reason_code.is_failure
            if on_ack is None and on_refused is None and self._tracking:
                if failed:
                    self._early_refusals[mid] = str(reason_code)
                else:
                    self._early_acks.add(mid)
        if failed:  # MQTT 5: e.g. "Not authorized" by the ACL; the message is not delivered
            self.refused += 1
            log.error("the broker refused message %d: %s", mid, reason_code)
            if on_refused is not None:
                on_refused(str(reason_code))
            return
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
        props = getattr(msg, "properties", None)
        correlation = getattr(props, "CorrelationData", None)
        message = Message(
            msg.topic,
            msg.payload,
            getattr(props, "ResponseTopic", None),
            None if correlation is None else bytes(correlation),
        )
        for pattern, (handler, full) in list(self._handlers.items()):
            if paho.topic_matches_sub(pattern, msg.topic):
                try:
                    if full:
                        handler(message)
                    else:
                        handler(msg.topic, msg.payload)
                except Exception:  # one bad handler must not stop paho's network thread
                    log.exception("handler for %s failed on %s", pattern, msg.topic)

    def connect(self, timeout: float = 10.0) -> Mqtt:
        """Connect once; from then on paho reconnects by itself. Raises MqttUnreachable when
        no broker answered (try again later) and MqttError when it, or its certificate, refused
        us (`credentials` says whether it was the user name or password)."""
        self._refused = self._refused_code = None
        self._connected.clear()
        try:
            self._c.connect(self.host, self.port, keepalive=30)
        except ssl.SSLError as e:  # a certificate or TLS setting problem; a retry will not help
            if isinstance(e, ssl.SSLEOFError | ssl.SSLZeroReturnError):  # cut mid-handshake
                raise MqttUnreachable(f"cannot reach the broker at {self.url}: {e}") from e
            raise MqttError(f"cannot reach the broker at {self.url}: {e}") from e
        except OSError as e:
            raise MqttUnreachable(f"cannot reach the broker at {self.url}: {e}") from e
        self._c.loop_start()
        if not self._connected.wait(timeout):
            self._c.loop_stop()
            raise MqttUnreachable(f"no answer from the broker at {self.url} within {timeout:g} s")
        if self._refused:
            self._c.loop_stop()
            hint = ""
            if self.mqtt5 and "protocol version" in self._refused.lower():
                hint = " (a broker without MQTT 5: use MQTT 3.1.1, --mqtt-version 3.1.1)"
            message = f"the broker at {self.url} refused the connection: {self._refused}{hint}"
            if self._refused_code in _TRANSIENT:
                raise MqttUnreachable(message)
            error = MqttError(message)
            error.credentials = self._refused_code in _CREDENTIALS
            raise error
        return self

    def publish(
        self,
        topic: str,
        payload,
        *,
        qos: int = 0,
        retain: bool = False,
        on_ack: Callable[[], None] | None = None,
        response_topic: str | None = None,
        correlation: bytes | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        """Publish; raises MqttError when it cannot. With `on_ack` (QoS 1 or 2), the callable
        runs on paho's thread once the broker acknowledges the message; with `on_refused`
        (MQTT 5), when the broker answers with a failure reason such as "Not authorized".
        `response_topic` and `correlation` are MQTT 5 request/response properties.

        With `on_ack`, a message paho accepted for a connection that has just dropped counts as
        handed over: paho sends it again on reconnect and the acknowledgement still arrives."""
        if on_ack is not None and qos == 0:
            raise ValueError(f"on_ack needs QoS 1 or 2; the broker does not answer QoS {qos!r}")
        if isinstance(payload, dict | list):
            payload = json.dumps(payload, separators=(",", ":"))
        props = None
        if response_topic is not None or correlation is not None:
            if not self.mqtt5:
                raise ValueError("response topic and correlation data need MQTT 5")
            props = Properties(PacketTypes.PUBLISH)
            if response_topic is not None:
                props.ResponseTopic = response_topic
            if correlation is not None:
                props.CorrelationData = correlation
        if on_ack is not None and not self._connected.is_set():
            # refuse now rather than let paho queue it in memory: the caller keeps it on disk
            raise MqttError(f"not connected to {self.url}: {topic} not published")
        if on_ack is None and on_refused is None:
            info = self._c.publish(topic, payload, qos=qos, retain=retain, properties=props)
        else:
            with self._ack_lock:
                self._tracking += 1
            info = None
            try:
                info = self._c.publish(topic, payload, qos=qos, retain=retain, properties=props)
            finally:
                with self._ack_lock:
                    self._tracking -= 1
                    acked = info is not None and info.mid in self._early_acks
                    early_refusal = None if info is None else self._early_refusals.get(info.mid)
                    if (
                        info is not None
                        and not acked
                        and early_refusal is None
                        and (info.rc in _HANDED_OVER)
                    ):
                        if on_ack is not None:
                            self._on_ack[info.mid] = on_ack
                        if on_refused is not None:
                            self._on_refused[info.mid] = on_refused
                    if not self._tracking:
                        self._early_acks.clear()  # only acks inside that window can be ours
                        self._early_refusals.clear()
            if info.rc in _HANDED_OVER:
                if acked and on_ack is not None:
                    on_ack()
                if early_refusal is not None and on_refused is not None:
                    on_refused(early_refusal)
                self.published += 1
                return
        if info.rc == paho.MQTT_ERR_NO_CONN:
            raise MqttError(f"not connected to {self.url}: {topic} not published")
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"publish to {topic} failed: {paho.error_string(info.rc)}")
        self.published += 1

    def publish_confirmed(self, topic: str, payload, *, timeout: float = 10.0, **kw) -> None:
        """Publish with QoS 1 and wait for the broker's answer; raises MqttError naming the
        reason when it refuses (MQTT 5 only: a 3.1.1 broker acknowledges refused ones too)."""
        done = threading.Event()
        refused: list[str] = []
        self.publish(
            topic, payload, qos=1, on_ack=done.set,
            on_refused=lambda reason: (refused.append(reason), done.set()), **kw,
        )  # fmt: skip
        if not done.wait(timeout):
            raise MqttError(f"no acknowledgement from {self.url} for {topic} in {timeout:g} s")
        if refused:
            raise MqttError(f"the broker at {self.url} refused {topic}: {refused[0]}")

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties=None):
        with self._ack_lock:
            waiting = self._subacks.pop(mid, None)
        if waiting is not None:
            waiting[1].extend(reason_codes)
            waiting[0].set()

    def subscribe(
        self, topic: str, handler: Callable, *, full: bool = False, wait: float | None = None
    ) -> None:
        """Call `handler(topic, payload)` for each message matching `topic`; with `full`,
        `handler(Message)` with the MQTT 5 response topic and correlation data. With `wait`
        (seconds, while connected), return only once the broker has granted the subscription;
        raises MqttError when it refuses it or does not answer."""
        self._handlers[topic] = (handler, full)
        if not self._connected.is_set():
            return
        done: tuple[threading.Event, list] = (threading.Event(), [])
        with self._ack_lock:  # registered before paho can see the SUBACK
            rc, mid = self._c.subscribe(topic, qos=1)
            if wait is not None and rc == paho.MQTT_ERR_SUCCESS:
                self._subacks[mid] = done
        if wait is None:
            return
        if rc != paho.MQTT_ERR_SUCCESS:
            raise MqttError(f"subscribe to {topic} failed: {paho.error_string(rc)}")
        if not done[0].wait(wait):
            raise MqttError(f"no SUBACK from {self.url} for {topic} in {wait:g} s")
        if any(code.is_failure for code in done[1]):
            raise MqttError(f"the broker at {self.url} refused the subscription to {topic}: "
                            f"{done[1][0]}")  # fmt: skip

    def close(self, offline: bool = True) -> None:
        """Say offline (retained) and disconnect cleanly."""
        try:
            if offline and self.will_topic is not None and self._connected.is_set():
                self._c.publish(self.will_topic, "offline", qos=1, retain=True).wait_for_publish(2)
        except (RuntimeError, ValueError) as e:
            log.warning("could not say offline on %s: %s", self.will_topic, e)
        finally:
            self._c.disconnect()
            self._c.loop_stop()
