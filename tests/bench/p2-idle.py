#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P2: idle cost when onboarded. The daemon is started onboarded (TPM backend) with the shipped
unit's watchdog (WatchdogSec=30s: WATCHDOG_USEC=30000000 and WATCHDOG_PID = its own PID, as
systemd passes them), left alone for SECONDS, and its context switches (voluntary +
involuntary, every thread, /proc/PID/task/*/status) are counted over that window. The
WATCHDOG=1 messages that reach our NOTIFY_SOCKET in the window are counted too: each one is a
wake-up the watchdog causes.

Output: P2 seconds=S watchdog_usec=U ctxt_switches=N watchdog_pings=W wakeups_per_min=...
        beyond_watchdog_per_min=... threads=T target_beyond_watchdog_per_min=1
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("-s", "--seconds", type=float, default=60)
ap.add_argument("--watchdog-usec", type=int, default=30000000)
args = ap.parse_args()

cfg = b.onboarded_gateway("p2")
g = os.path.dirname(cfg)
n = b.Notify(os.path.join(g, "notify.sock"))
pid, _ = b.spawn(cfg, n.path, os.path.join(g, "agent.log"), watchdog_usec=args.watchdog_usec)
if b.wait_field(n, pid, "READY", 10) is None:
    raise SystemExit("P2: no READY=1; see %s/agent.log" % g)
time.sleep(1)  # let start-up settle
c0 = b.ctxt_switches(pid)
t_end = time.monotonic() + args.seconds
pings = 0
while True:
    left = t_end - time.monotonic()
    if left <= 0:
        break
    m = n.recv(left)
    if m and m[1] == pid and m[2].get("WATCHDOG") == "1":
        pings += 1
c1 = b.ctxt_switches(pid)
threads = len(os.listdir("/proc/%d/task" % pid))
b.stop(pid)
n.close()
per_min = 60.0 / args.seconds
b.line("P2", seconds=int(args.seconds), watchdog_usec=args.watchdog_usec,
       ctxt_switches=c1 - c0, watchdog_pings=pings,
       wakeups_per_min="%.2f" % ((c1 - c0) * per_min),
       beyond_watchdog_per_min="%.2f" % ((c1 - c0 - pings) * per_min), threads=threads,
       target_beyond_watchdog_per_min=1)
