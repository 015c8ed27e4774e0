#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P6: start-up when already onboarded: fork+exec of onboard-agent -> READY=1 on our
NOTIFY_SOCKET (CLOCK_MONOTONIC at receipt), with the TPM key backend (the daemon opens the TPM,
checks the SRK and reads the endorsement key's hardware token at start), repeated N times.

Output: P6 runs=N ready_ms=MEDIAN ready_min_ms=MIN ready_max_ms=MAX target_ms=20
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--runs", type=int, default=20)
ap.add_argument("--backend", default="tpm", choices=["tpm", "software"])
args = ap.parse_args()

cfg = b.onboarded_gateway("p6-" + args.backend, backend=args.backend)
g = os.path.dirname(cfg)
n = b.Notify(os.path.join(g, "notify.sock"))
times = []
for i in range(args.runs + 1):
    pid, t0 = b.spawn(cfg, n.path, os.path.join(g, "agent.log"))
    t = b.wait_field(n, pid, "READY", 10)
    b.stop(pid)
    if t is None:
        raise SystemExit("P6: no READY=1 within 10 s; see %s/agent.log" % g)
    if i > 0:  # the first start warms the page cache
        times.append(b.ms(t - t0))
n.close()
b.line("P6", backend=args.backend, runs=args.runs, ready_ms=b.median(times),
       ready_min_ms=min(times), ready_max_ms=max(times), target_ms=20)
