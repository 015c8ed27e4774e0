#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A control-group member flooding the daemon's control socket (tests/integration/
test-local-peer.sh, issue 19): N connections, each reopened as soon as the daemon drops or
refuses it, each connection that is served pinging every PERIOD seconds so the idle timeout
never ends it.

    ctl-flood.py SOCKET N SECONDS [PERIOD]

Prints "flooding" once the first round of connections was attempted, and at the end one line:
    flood: opened=... refused_busy=... served_pings=... held_max=...
Ends after SECONDS or at SIGTERM. Exit 0 (the numbers are the test's to judge)."""
import json
import selectors
import signal
import socket
import sys
import time

path, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
period = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
PING = b'{"command":"ping"}\n'
sel = selectors.DefaultSelector()
stats = {"opened": 0, "refused_busy": 0, "served_pings": 0, "held_max": 0}
conns = {}  # socket -> {"buf": bytes, "next": time of the next ping, "served": bool}


def open_one():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except BlockingIOError:  # the backlog is full: try again on the next round
        s.close()
        return
    except OSError:
        s.close()
        return
    stats["opened"] += 1
    conns[s] = {"buf": b"", "next": time.monotonic(), "served": False}
    sel.register(s, selectors.EVENT_READ)


def drop(s):
    sel.unregister(s)
    del conns[s]
    s.close()


end = time.monotonic() + seconds
said = False
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while time.monotonic() < end and not stop:
    while len(conns) < n:
        before = len(conns)
        open_one()
        if len(conns) == before:
            break
    if not said:
        print("flooding", flush=True)
        said = True
    now = time.monotonic()
    for s, c in list(conns.items()):
        if now >= c["next"]:
            try:
                s.send(PING)
            except OSError:
                pass  # a refusal arrived meanwhile: read it below
            c["next"] = now + period
    for key, _ in sel.select(timeout=0.05):
        s = key.fileobj
        c = conns[s]
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        if not data:
            drop(s)
            continue
        c["buf"] += data
        while b"\n" in c["buf"]:
            line, c["buf"] = c["buf"].split(b"\n", 1)
            r = json.loads(line)
            if r.get("ok"):
                stats["served_pings"] += 1
                c["served"] = True
            elif r["error"]["code"] == "busy":
                stats["refused_busy"] += 1
    stats["held_max"] = max(stats["held_max"], sum(1 for c in conns.values() if c["served"]))
print("flood: " + " ".join("%s=%d" % kv for kv in stats.items()), flush=True)
