#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Raw-socket scenarios against a control-socket server (tests/integration/test-control.sh).

    ctl-raw.py SOCKET SCENARIO [IDLE_MS] [MAX_CLIENTS]
    ctl-raw.py SOCKET hold N SECONDS IDLE_MS      (a peer holding N connections)
    ctl-raw.py SOCKET refused NEEDLE              (one connection, refused busy)

Each scenario prints what it saw and exits 0 when the server behaved, 1 when it did not.
"""
import json
import socket
import sys
import time

MAX_LINE = 64 * 1024


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def read_line(s, buf=b""):
    """One reply line (without the newline) and what followed it; None at EOF."""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, buf
        buf += chunk
    line, rest = buf.split(b"\n", 1)
    return line, rest


def reply(s, buf=b""):
    line, rest = read_line(s, buf)
    if line is None:
        raise AssertionError("connection closed without a reply")
    return json.loads(line), rest


def expect_error(r, code):
    if r.get("ok") is not False or r["error"]["code"] != code:
        raise AssertionError(f"expected error {code}, got {r}")


def expect_ok(r, command):
    if r.get("ok") is not True or r["result"]["command"] != command:
        raise AssertionError(f"expected ok for {command}, got {r}")


def expect_eof(s, within):
    """The server closes the connection within `within` seconds."""
    s.settimeout(within)
    start = time.monotonic()
    try:
        while s.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def request(command, **args):
    o = {"command": command}
    if args:
        o["args"] = args
    return (json.dumps(o, separators=(",", ":")) + "\n").encode()


def oversized(path, idle, max_clients):
    s = connect(path)
    s.sendall(b"{" + b" " * MAX_LINE)  # no newline within the limit
    r, _ = reply(s)
    expect_error(r, "too-large")
    expect_eof(s, 5)
    # exactly the limit, newline included, is accepted
    head = b'{"command":"ping","args":{"quiet":1,"x":"'
    tail = b'"}}\n'
    line = head + b"x" * (MAX_LINE - len(head) - len(tail)) + tail
    assert len(line) == MAX_LINE
    s = connect(path)
    s.sendall(line)
    r, _ = reply(s)
    expect_ok(r, "ping")
    # one byte more is refused
    line = head + b"x" * (MAX_LINE - len(head) - len(tail) + 1) + tail
    s = connect(path)
    s.sendall(line)
    r, _ = reply(s)
    expect_error(r, "too-large")
    print("oversized: too-large at max+1, ok at max")


def garbage(path, idle, max_clients):
    s = connect(path)
    buf = b""
    for junk, code in [
        (b"hello\n", "bad-request"),
        (b"\xff\xfe\x00\n", "bad-request"),
        (b"[1,2,3]\n", "bad-request"),
        (b'{"command":"ping","extra":1}\n', "bad-request"),
        (b'{"command":"reboot"}\n', "unknown-command"),
        (b'{"command":"ping","args":[]}\n', "bad-request"),
        (b"\n", "bad-request"),
    ]:
        s.sendall(junk)
        r, buf = reply(s, buf)
        expect_error(r, code)
    # the connection survives garbage: a good request still works
    s.sendall(request("ping"))
    r, buf = reply(s, buf)
    expect_ok(r, "ping")
    print("garbage: each line refused with its code, connection kept")


def pipelined(path, idle, max_clients):
    s = connect(path)
    s.sendall(request("ping", n=1) + b"nonsense\n" + request("status", n=3) + request("check"))
    buf = b""
    r, buf = reply(s, buf)
    expect_ok(r, "ping")
    r, buf = reply(s, buf)
    expect_error(r, "bad-request")
    r, buf = reply(s, buf)
    expect_ok(r, "status")
    assert r["result"]["args"] == {"n": 3}, r
    r, buf = reply(s, buf)
    expect_ok(r, "check")
    # byte by byte works too
    for b in request("ping", split=True):
        s.send(bytes([b]))
    r, buf = reply(s, buf)
    expect_ok(r, "ping")
    # the last request may end at EOF without its newline
    s2 = connect(path)
    s2.sendall(request("status").rstrip(b"\n"))
    s2.shutdown(socket.SHUT_WR)
    r, _ = reply(s2)
    expect_ok(r, "status")
    expect_eof(s2, 5)
    print("pipelined: replies in order, split and unterminated requests handled")


def bulk(path, idle, max_clients):
    # replies larger than the socket buffers: the server must wait for room and go on
    n = 12
    s = connect(path)
    s.sendall(request("status", pad=60000) * n)
    buf = b""
    for i in range(n):
        r, buf = reply(s, buf)
        expect_ok(r, "status")
        assert len(r["result"]["pad"]) == 60000
    print(f"bulk: {n} replies of 60000 bytes delivered in order")


def active(path, idle, max_clients):
    # a client that keeps sending requests keeps its connection past the idle time
    idle_s = idle / 1000.0
    s = connect(path)
    buf = b""
    start = time.monotonic()
    while time.monotonic() - start < 2.5 * idle_s:
        s.sendall(request("ping"))
        r, buf = reply(s, buf)
        expect_ok(r, "ping")
        time.sleep(0.4 * idle_s)
    print(f"active: one connection served for {time.monotonic() - start:.1f}s")


def slow(path, idle, max_clients):
    idle_s = idle / 1000.0
    # silent client
    s = connect(path)
    t = expect_eof(s, idle_s + 5)
    assert t < idle_s + 2, f"silent client closed after {t:.1f}s"
    # a line that never ends
    s = connect(path)
    s.sendall(b'{"command":"pi')
    t = expect_eof(s, idle_s + 5)
    assert t < idle_s + 2, f"half a line closed after {t:.1f}s"
    # a reader that never reads: many large replies; the server stops reading from it and
    # drops it, while others are served meanwhile
    s = connect(path)
    s.setblocking(False)
    sent = 0
    req = request("status", pad=60000)
    start = time.monotonic()
    try:
        while time.monotonic() - start < idle_s + 5:
            sent += s.send(req)
    except BlockingIOError:
        pass
    except (BrokenPipeError, ConnectionResetError):
        pass
    other = connect(path)
    t0 = time.monotonic()
    other.sendall(request("ping"))
    r, _ = reply(other)
    expect_ok(r, "ping")
    assert time.monotonic() - t0 < 1.0, "loop blocked by a slow reader"
    other.close()
    # after the idle time the stalled client is gone: draining gives fewer replies than
    # requests, then EOF or a reset. (Time is the subject here; the idle time is the test's.)
    time.sleep(idle_s + 1.0)
    s.setblocking(True)
    s.settimeout(5)
    data = b""
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
    except ConnectionResetError:
        pass
    requests, replies = sent // len(req), data.count(b"\n")
    assert replies < requests, f"{replies} replies for {requests} requests: not dropped"
    print(f"slow: silent and half-line clients closed; a non-reader dropped after "
          f"{replies} of {requests} replies")


def many(path, idle, max_clients):
    held = [connect(path) for _ in range(max_clients)]
    for h in held:  # each is really being served
        h.sendall(request("ping"))
        r, _ = reply(h)
        expect_ok(r, "ping")
    extra = connect(path)
    r, _ = reply(extra)
    expect_error(r, "busy")
    expect_eof(extra, 5)
    held.pop().close()
    # the server sees the close asynchronously: retry until a deadline
    deadline = time.monotonic() + 5
    while True:
        s = connect(path)
        try:
            s.sendall(request("ping"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused busy before it read: the reply is still there
        r, _ = reply(s)
        if r.get("ok") or time.monotonic() > deadline:
            break
        s.close()
        time.sleep(0.02)
    expect_ok(r, "ping")
    print(f"many: {max_clients} served, one more refused busy, a freed slot is reused")


def hold(path, n, secs, idle):
    """Hold N served connections for SECS seconds (pinging each within the idle time), printing
    "held N" once they are all served: a peer using its share (test-control.sh)."""
    held = []
    for _ in range(n):
        s = connect(path)
        s.sendall(request("ping"))
        r, _ = reply(s)
        expect_ok(r, "ping")
        held.append(s)
    print(f"held {n}", flush=True)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        time.sleep(min(idle / 3000.0, max(0.0, end - time.monotonic())))
        for s in held:
            s.sendall(request("ping"))
            r, _ = reply(s)
            expect_ok(r, "ping")


def refused(path, needle):
    """One connection, refused busy at once with NEEDLE in the message (no retry)."""
    s = connect(path)
    r, _ = reply(s)
    expect_error(r, "busy")
    if needle not in r["error"]["message"]:
        raise AssertionError(f"busy without '{needle}': {r}")
    expect_eof(s, 5)
    print(f"refused: busy: {r['error']['message']}")


def main():
    path, scenario = sys.argv[1], sys.argv[2]
    try:
        if scenario == "hold":  # hold N SECONDS IDLE_MS
            hold(path, int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
            return 0
        if scenario == "refused":  # refused NEEDLE
            refused(path, sys.argv[3])
            return 0
    except (AssertionError, OSError, ValueError, KeyError) as e:
        print(f"{scenario}: {type(e).__name__}: {e}")
        return 1
    idle = int(sys.argv[3]) if len(sys.argv) > 3 else 5000
    max_clients = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    try:
        globals()[scenario](path, idle, max_clients)
    except (AssertionError, OSError, ValueError, KeyError) as e:
        print(f"{scenario}: {type(e).__name__}: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
