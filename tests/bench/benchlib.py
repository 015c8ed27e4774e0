# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the benchmarks (tests/bench, docs/performance.md).

The benchmarks run inside the test world (tests/world/world.sh) and observe the daemon the way
systemd does: each agent gets NOTIFY_SOCKET pointing at a datagram socket we listen on, so
READY=1, STATUS=... and WATCHDOG=1 arrive with the sender's PID (SO_PASSCRED) and are
timestamped here with CLOCK_MONOTONIC on receipt. No log parsing, no agentctl polling: the
"onboarded" moment is the STATUS= line the daemon sends right after the commit.
"""
import json
import os
import select
import shutil
import socket
import statistics
import struct
import threading
import time

TOP_BUILDDIR = os.environ.get("top_builddir", ".")
TOP_SRCDIR = os.environ.get("top_srcdir", ".")
AGENT = os.path.join(TOP_BUILDDIR, "onboard-agent")
AGENTCTL = os.path.join(TOP_BUILDDIR, "agentctl")
ADMIN = os.path.join(TOP_SRCDIR, "tests", "emulator", "ob-emu-admin")


def now_ns():
    return time.monotonic_ns()


def ms(ns):
    return ns / 1e6


def fmt(v):
    return "%.1f" % v if isinstance(v, float) else str(v)


def line(tag, **kv):
    """One stable, parseable result line: TAG key=value ..."""
    print(tag + " " + " ".join("%s=%s" % (k, fmt(v)) for k, v in kv.items()), flush=True)


def note(text):
    print("# " + text, flush=True)


def median(xs):
    return statistics.median(xs)


def world_dir():
    d = os.environ.get("OB_WORLD_DIR")
    if not d:
        raise SystemExit("bench: run inside tests/world/world.sh (OB_WORLD_DIR unset)")
    return d


def write_gateway(gw_dir, serial, backend="tpm", retry=None, extra_provisioning=None):
    """A gateway directory with a serial file and a fleet-claim configuration; returns the
    configuration's path."""
    e = os.environ
    os.makedirs(gw_dir, exist_ok=True)
    with open(os.path.join(gw_dir, "serial"), "w") as f:
        f.write(serial + "\n")
    prov = {
        "method": "fleet-claim",
        "template": "OnboardTemplate",
        "claim_cert": e["OB_CLAIM_CERT"],
        "claim_key": e["OB_CLAIM_KEY"],
    }
    prov.update(extra_provisioning or {})
    cfg = {
        "endpoint": {"host": e["OB_MQTT_HOST"], "port": int(e["OB_MQTT_PORT"]),
                     "root_ca": e["OB_ROOT_CA"]},
        "provisioning": prov,
        "identity": {"serial_sources": ["file:" + os.path.join(gw_dir, "serial")]},
        "key": {"backend": backend},
        "tpm": {"tcti": e["OB_TCTI"]},
        "paths": {"state_dir": os.path.join(gw_dir, "state"),
                  "runtime_dir": os.path.join(gw_dir, "run")},
    }
    if retry:
        cfg["retry"] = retry
    path = os.path.join(gw_dir, "config.json")
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return path


class Notify:
    """The systemd side of sd_notify(3): a datagram socket that receives every agent's
    messages with the sender's PID, timestamped on receipt (CLOCK_MONOTONIC, ns)."""

    def __init__(self, path):
        self.path = path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(path)

    def recv(self, timeout):
        """(t_ns, pid, {field: value}) or None after TIMEOUT seconds."""
        r, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not r:
            return None
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        t = now_ns()
        pid = 0
        for level, kind, blob in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", blob[:12])[0]
        fields = {}
        for ln in data.decode(errors="replace").split("\n"):
            if "=" in ln:
                k, v = ln.split("=", 1)
                fields[k] = v
        return t, pid, fields

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class LogTap:
    """Reads the daemon's stderr through a pipe, timestamps every line on receipt and copies
    it to the log file: .lines is a list of (t_ns, text)."""

    def __init__(self, rfd, log_path):
        self.lines = []
        self.f = open(log_path, "a")
        self.r = os.fdopen(rfd, "r", errors="replace")
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        for ln in self.r:
            self.lines.append((now_ns(), ln.rstrip("\n")))
            self.f.write(ln)
        self.f.close()

    def find(self, text):
        for t, ln in list(self.lines):
            if text in ln:
                return t
        return None


def spawn(config, notify_path, log_path, watchdog_usec=None, extra_env=None, args=(),
          tap=False):
    """Start onboard-agent as systemd would for Type=notify: NOTIFY_SOCKET, and with
    WATCHDOG_USEC also WATCHDOG_PID set to the child's own PID (sd_watchdog_enabled(3)).
    Returns (pid, t_ns) with t_ns taken just before fork(); with TAP, (pid, t_ns, LogTap)."""
    env = dict(os.environ)
    env["NOTIFY_SOCKET"] = notify_path
    env["TPM2OPENSSL_TCTI"] = os.environ.get("OB_TCTI", "")
    env.pop("JOURNAL_STREAM", None)
    env.update(extra_env or {})
    argv = [AGENT, "--config", config, "--log-level", "debug", *args]
    wrap = os.environ.get("OB_BENCH_WRAP")
    exe = AGENT
    if wrap:  # e.g. "strace -f -ttt -o /tmp/trace": profiling only, never for the figures
        argv = wrap.split() + argv
        exe = argv[0] if argv[0].startswith("/") else shutil.which(argv[0])
    if tap:
        rfd, logfd = os.pipe()
    else:
        logfd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    t0 = now_ns()
    pid = os.fork()
    if pid == 0:
        try:
            if watchdog_usec:
                env["WATCHDOG_USEC"] = str(watchdog_usec)
                env["WATCHDOG_PID"] = str(os.getpid())
            os.dup2(logfd, 1)
            os.dup2(logfd, 2)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            if tap:
                os.close(rfd)
            os.execve(exe, argv, env)
        finally:
            os._exit(127)
    os.close(logfd)
    if tap:
        return pid, t0, LogTap(rfd, log_path)
    return pid, t0


def stop(pid, timeout=10.0):
    try:
        os.kill(pid, 15)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p, _ = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            return
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def alive(pid):
    p, _ = os.waitpid(pid, os.WNOHANG)
    return p == 0


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def kib(v):
    return int(v.split()[0])


def ctxt_switches(pid):
    """Voluntary + involuntary context switches of every thread of PID."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            s = proc_status_path("/proc/%d/task/%s/status" % (pid, tid))
        except FileNotFoundError:
            continue
        total += int(s["voluntary_ctxt_switches"]) + int(s["nonvoluntary_ctxt_switches"])
    return total


def proc_status_path(path):
    out = {}
    with open(path) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def smaps_rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for ln in f:
            parts = ln.split()
            if len(parts) >= 3 and parts[0].endswith(":"):
                out[parts[0][:-1]] = int(parts[1])
    return out


def wait_status_where(n, pid, match, timeout):
    """The receive time of PID's first STATUS= for which MATCH(text) is true, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = n.recv(deadline - time.monotonic())
        if not m:
            return None
        t, p, f = m
        if p == pid and "STATUS" in f and match(f["STATUS"]):
            return t
    return None


def wait_status(n, pid, prefix, timeout):
    """The receive time of PID's first STATUS= starting with PREFIX, or None."""
    return wait_status_where(n, pid, lambda s: s.startswith(prefix), timeout)


def wait_status_contains(n, pid, text, timeout):
    """The receive time of PID's first STATUS= containing TEXT, or None."""
    return wait_status_where(n, pid, lambda s: text in s, timeout)


def wait_field(n, pid, key, timeout):
    """The receive time of PID's first message carrying KEY= (READY, WATCHDOG...), or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = n.recv(deadline - time.monotonic())
        if not m:
            return None
        t, p, f = m
        if p == pid and key in f:
            return t
    return None


def onboarded_gateway(name, backend="tpm"):
    """A gateway that has onboarded (the daemon stopped again): returns its config path."""
    import shutil
    g = os.path.join(world_dir(), name)
    shutil.rmtree(g, ignore_errors=True)
    cfg = write_gateway(g, "%s-%x" % (name, os.getpid() & 0xffff), backend=backend)
    n = Notify(os.path.join(g, "notify.sock"))
    pid, _ = spawn(cfg, n.path, os.path.join(g, "agent.log"))
    ok = wait_status(n, pid, "onboarded", 60)
    if ok is not None:
        # and its first check-in (docs/shadow.md: a few seconds after onboarding; one that has
        # not happened yet would come at the next start, inside a benchmark's window)
        wait_status_contains(n, pid, "checking in", 15)
        wait_status(n, pid, "onboarded", 15)
    stop(pid)
    n.close()
    if ok is None:
        raise SystemExit("bench: %s did not onboard; see %s/agent.log" % (name, g))
    return cfg


def smaps_by_object(pid):
    """{mapped object (file path, [heap], [anon]...): {"Pss": kB, "Rss": kB}} from smaps."""
    out = {}
    cur = None
    with open("/proc/%d/smaps" % pid) as f:
        for ln in f:
            parts = ln.split()
            if not parts:
                continue
            if not parts[0].endswith(":") or "-" in parts[0]:
                name = parts[5] if len(parts) >= 6 else "[anon]"
                cur = out.setdefault(name, {"Pss": 0, "Rss": 0, "Anon": 0})
            elif parts[0] in ("Pss:", "Rss:", "Anonymous:") and cur is not None:
                cur[parts[0][:-1].replace("Anonymous", "Anon")] += int(parts[1])
    return out
