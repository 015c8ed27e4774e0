#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P7: memory over reloads. An onboarded daemon (TPM key through the test world's tpm2-abrmd)
gets SIGHUP after SIGHUP; after each one the bench waits for READY=1 (the reload is done: the
daemon tears down and sets up again, docs/operations.md), and reads VmRSS, the open file
descriptors and the thread count after every batch. Issue 19: 3 x 1000 reloads grew RSS 14.9 ->
15.8 -> 16.7 -> 17.7 MB. Flat means: the last batch grows RSS by less than 1 % of the first's.

Output: P7 tcti=... reloads=N rss_kib_start=... rss_kib_batch1=... ... growth_kib=...
        growth_last_batch_kib=... fds_start=... fds_end=... threads_end=...
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

BATCHES = int(os.environ.get("OB_BENCH_RELOAD_BATCHES", "3"))
PER = int(os.environ.get("OB_BENCH_RELOADS", "1000"))
backend = "software" if "--backend" in sys.argv and "software" in sys.argv else "tpm"
tcti = "abrmd"
if "--tcti" in sys.argv:
    tcti = sys.argv[sys.argv.index("--tcti") + 1]
if tcti == "device-like":  # as P3: the cmd TCTI and tpm2_send, no GLib in the daemon
    import shutil
    if not shutil.which("tpm2_send"):
        print("# SKIP: P7 device-like needs tpm2_send (tpm2-tools)")
        sys.exit(77)
    d = os.path.join(b.world_dir(), "p7-tcti")
    os.makedirs(d, exist_ok=True)
    cmd = os.path.join(d, "tpmrm")
    with open(cmd, "w") as f:
        f.write("#!/bin/sh\nexec tpm2_send --tcti='%s'\n" % os.environ["OB_TCTI"])
    os.chmod(cmd, 0o755)
    os.environ["OB_TCTI"] = "cmd:" + cmd

cfg = b.onboarded_gateway("p7-%s-%s" % (backend, tcti), backend=backend)
g = os.path.dirname(cfg)
n = b.Notify(os.path.join(g, "notify.sock"))
pid, _ = b.spawn(cfg, n.path, os.path.join(g, "agent.log"))
if b.wait_field(n, pid, "READY", 20) is None:
    raise SystemExit("P7: no READY=1; see %s/agent.log" % g)
time.sleep(1)


def sample():
    s = b.proc_status(pid)
    return b.kib(s["VmRSS"]), len(os.listdir("/proc/%d/fd" % pid)), int(s["Threads"])


rss0, fds0, _ = sample()
rss = [rss0]
t0 = time.monotonic()
for batch in range(BATCHES):
    for i in range(PER):
        os.kill(pid, signal.SIGHUP)
        if b.wait_field(n, pid, "READY", 20) is None:
            raise SystemExit("P7: no READY=1 after reload %d; see %s/agent.log"
                             % (batch * PER + i + 1, g))
    time.sleep(0.5)
    r, fds, threads = sample()
    rss.append(r)
    b.note("P7 after %d reloads: VmRSS %d KiB, %d fds, %d threads"
           % ((batch + 1) * PER, r, fds, threads))
elapsed = time.monotonic() - t0
_, fds_end, threads_end = sample()
b.stop(pid)
n.close()
kv = {"rss_kib_batch%d" % (i + 1): v for i, v in enumerate(rss[1:])}
b.line("P7", backend=backend, tcti=tcti if backend == "tpm" else "-", reloads=BATCHES * PER, rss_kib_start=rss0, **kv,
       growth_kib=rss[-1] - rss0, growth_first_batch_kib=rss[1] - rss[0],
       growth_last_batch_kib=rss[-1] - rss[-2], fds_start=fds0, fds_end=fds_end,
       threads_end=threads_end, reloads_per_s="%.1f" % (BATCHES * PER / elapsed))
