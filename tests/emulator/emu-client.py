#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Independent MQTT client (Debian python3-paho-mqtt) for the emulator's integration tests.

  emu-client.py [conn opts] connect                 -> {"result": "connected"|"refused"|"closed"}
  emu-client.py [conn opts] rr TOPIC PAYLOAD [-n N] -> N answers: {"result": "accepted"|"rejected", "payload": {...}}
  emu-client.py [conn opts] listen FILTER SECONDS   -> every message as {"topic":..., "payload":...}
  emu-client.py [conn opts] sub FILTER              -> {"result": "subscribed"|"closed", "granted": [...]}
  emu-client.py [conn opts] pub TOPIC SIZE [WAIT]   -> publish SIZE bytes at QoS 1, wait WAIT s
                                                       -> {"result": "closed"|"still-connected"}
Connection options: --host --port --cafile --cert --key --id --keepalive --mqtt5, --sni NAME
(TLS server name to send; "" sends none; implies no host name check). rr options: --subs
F1,F2 (filters to subscribe to instead of TOPIC/accepted and TOPIC/rejected; "" = none).
Environment defaults from world.env.
"""
import argparse, json, os, ssl, sys, threading, time
import paho.mqtt.client as mqtt

ap = argparse.ArgumentParser()
ap.add_argument("--host", default=os.environ.get("OB_MQTT_HOST", "localhost"))
ap.add_argument("--port", type=int, default=int(os.environ.get("OB_MQTT_PORT", "8883")))
ap.add_argument("--cafile", default=os.environ.get("OB_ROOT_CA"))
ap.add_argument("--cert", default=os.environ.get("OB_CLAIM_CERT"))
ap.add_argument("--key", default=os.environ.get("OB_CLAIM_KEY"))
ap.add_argument("--id", default="emu-client")
ap.add_argument("--timeout", type=float, default=5.0)
ap.add_argument("--keepalive", type=int, default=60)
ap.add_argument("--mqtt5", action="store_true")
ap.add_argument("--sni")
ap.add_argument("--subs")
ap.add_argument("cmd")
ap.add_argument("args", nargs="*")
a = ap.parse_args()

def cbor_enc(o):
    """Minimal CBOR encoder (maps, strings, ints, bools, null) - independent of lib/cbor.c."""
    def head(major, n):
        for ai, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
            if n < 24:
                return bytes([major << 5 | n])
            if n < 1 << (8 * size):
                return bytes([major << 5 | ai]) + n.to_bytes(size, "big")
    if o is None: return b"\xf6"
    if o is True: return b"\xf5"
    if o is False: return b"\xf4"
    if isinstance(o, int): return head(0, o) if o >= 0 else head(1, -1 - o)
    if isinstance(o, str):
        b = o.encode(); return head(3, len(b)) + b
    if isinstance(o, list): return head(4, len(o)) + b"".join(cbor_enc(x) for x in o)
    if isinstance(o, dict): return head(5, len(o)) + b"".join(cbor_enc(k) + cbor_enc(v) for k, v in o.items())
    raise TypeError(o)

def cbor_dec(b):
    def item(i):
        ib = b[i]; major, ai = ib >> 5, ib & 31; i += 1
        if ai < 24: n = ai
        elif ai <= 27:
            size = 1 << (ai - 24); n = int.from_bytes(b[i:i + size], "big"); i += size
        else: raise ValueError("unsupported")
        if major == 0: return n, i
        if major == 1: return -1 - n, i
        if major == 3: return b[i:i + n].decode(), i + n
        if major == 4:
            r = []
            for _ in range(n):
                v, i = item(i); r.append(v)
            return r, i
        if major == 5:
            r = {}
            for _ in range(n):
                k, i = item(i); v, i = item(i); r[k] = v
            return r, i
        if major == 7: return {20: False, 21: True, 22: None}[ai], i
        raise ValueError("unsupported")
    v, i = item(0)
    if i != len(b): raise ValueError("trailing")
    return v

out = lambda o: print(json.dumps(o), flush=True)
ev = {"connack": None, "closed": False, "subacks": 0, "msgs": [], "puback": None}

class RecordingReasonCodes(mqtt.ReasonCodes):
    """paho 1.6 parses the MQTT 5 PUBACK reason code but does not pass it on: record it."""
    def unpack(self, buffer):
        r = super().unpack(buffer)
        if self.packetType == 4:  # PUBACK
            ev["puback"] = self.value
        return r
mqtt.ReasonCodes = RecordingReasonCodes
cv = threading.Condition()

def on_connect(c, u, flags, rc, props=None):
    with cv:
        ev["connack"] = rc if isinstance(rc, int) else rc.value
        ev["server_keepalive"] = getattr(props, "ServerKeepAlive", None)
        cv.notify_all()

def on_disconnect(c, u, rc, props=None):
    with cv:
        ev["closed"] = True
        cv.notify_all()

def on_subscribe(c, u, mid, granted, props=None):
    with cv:
        ev["subacks"] += 1
        ev["granted"] = [g if isinstance(g, int) else g.value for g in granted]
        cv.notify_all()

def on_message(c, u, m):
    try:
        if m.topic.endswith("/cbor/accepted") or m.topic.endswith("/cbor/rejected"):
            p = {"cbor": cbor_dec(m.payload)}
        else:
            p = json.loads(m.payload.decode()) if m.payload else None
    except Exception:
        p = m.payload.decode(errors="replace")
    with cv:
        ev["msgs"].append({"topic": m.topic, "payload": p})
        cv.notify_all()

if a.mqtt5:
    c = mqtt.Client(client_id=a.id, protocol=mqtt.MQTTv5)
else:
    c = mqtt.Client(client_id=a.id, protocol=mqtt.MQTTv311, clean_session=True)
class BlockingHandshakeSocket(ssl.SSLSocket):
    """paho 1.6 sets the socket timeout to the keep-alive before the TLS handshake; with
    keep-alive 0 that makes the handshake non-blocking and fail. Block instead."""
    def settimeout(self, value):
        super().settimeout(None if value == 0 else value)

class ClientContext(ssl.SSLContext):
    """Sends the server name given with --sni (none for "") instead of the host's."""
    def wrap_socket(self, sock, server_hostname=None, **kw):
        if a.sni is not None:
            server_hostname = a.sni or None
        return super().wrap_socket(sock, server_hostname=server_hostname, **kw)

ctx = ClientContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.sslsocket_class = BlockingHandshakeSocket
ctx.check_hostname = a.sni is None
ctx.load_verify_locations(a.cafile)
ctx.load_cert_chain(a.cert, a.key)
c.tls_set_context(ctx)
c.on_connect, c.on_disconnect, c.on_subscribe, c.on_message = on_connect, on_disconnect, on_subscribe, on_message

def wait(pred, t):
    end = time.time() + t
    with cv:
        while not pred() and time.time() < end:
            cv.wait(end - time.time())
        return pred()

try:
    c.connect(a.host, a.port, keepalive=a.keepalive)
except Exception as e:
    out({"result": "closed", "error": str(e)})
    sys.exit(0)
c.loop_start()
wait(lambda: ev["connack"] is not None or ev["closed"], a.timeout)
if ev["connack"] != 0:
    out({"result": "refused" if ev["connack"] else "closed", "rc": ev["connack"]})
    c.loop_stop()
    sys.exit(0)

if a.cmd == "connect":
    out({"result": "connected", "serverKeepAlive": ev.get("server_keepalive")})
elif a.cmd == "sub":
    c.subscribe(a.args[0], qos=1)
    ok = wait(lambda: ev["subacks"] >= 1 or ev["closed"], a.timeout)
    time.sleep(0.5)
    out({"result": "closed" if ev["closed"] else "subscribed", "granted": ev.get("granted")})
elif a.cmd == "pub":
    c.publish(a.args[0], b"x" * int(a.args[1]), qos=1)
    wait(lambda: ev["closed"], float(a.args[2]) if len(a.args) > 2 else 1.0)
    out({"result": "closed" if ev["closed"] else "still-connected", "puback": ev["puback"]})
elif a.cmd == "listen":
    c.subscribe(a.args[0], qos=1)
    wait(lambda: ev["subacks"] >= 1, a.timeout)
    print("ready", file=sys.stderr, flush=True)
    time.sleep(float(a.args[1]))
    for m in ev["msgs"]:
        out(m)
    out({"result": "closed" if ev["closed"] else "still-connected"})
elif a.cmd == "rr":
    topic, payload = a.args[0], a.args[1]
    n = int(a.args[2]) if len(a.args) > 2 else 1
    if a.subs is None:
        subs = [topic + "/accepted", topic + "/rejected"]
    else:
        subs = [f for f in a.subs.split(",") if f]
    if subs:
        c.subscribe([(f, 1) for f in subs])
        wait(lambda: ev["subacks"] >= 1 or ev["closed"], a.timeout)
    for i in range(n):
        if payload == "-":
            data = b""
        elif topic.endswith("/cbor"):
            data = cbor_enc(json.loads(payload))
        else:
            data = payload.encode()
        c.publish(topic, data, qos=1)
    wait(lambda: len(ev["msgs"]) >= n or ev["closed"], a.timeout)
    time.sleep(0.3)  # catch replies that were not meant for us
    for m in ev["msgs"]:
        out({"result": m["topic"].rsplit("/", 1)[1], "topic": m["topic"], "payload": m["payload"]})
    if not ev["msgs"]:
        out({"result": "closed" if ev["closed"] else "timeout"})
c.disconnect()
c.loop_stop()
