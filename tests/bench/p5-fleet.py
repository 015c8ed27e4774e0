#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P5: fleet convergence after an outage. N agents (key.backend software, each with its own
state dir, serial file and so its own MQTT client id) start at once against the emulator with
CreateCertificateFromCsr and RegisterThing each throttled to R requests/s (token buckets,
burst = R). Ideal: every API's bucket serves every device once, so N/R seconds. Measured: from
the first fork to the last agent's STATUS=onboarded... notification (our NOTIFY_SOCKET, PIDs
from SO_PASSCRED). 429s are counted in the emulator's events.jsonl; agents not onboarded by the
deadline are give-ups. The configurations keep the shipped retry policy (retry.throttled base
2 s, factor 1.25, cap 10 min) unless --throttled-cap is given.

Output: P5 agents=N rate=R ideal_s=... converged_s=... ratio=... throttled_429=... \\
        gave_up=... p50_s=... p90_s=... target_ratio=1.3
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--agents", type=int, default=int(os.environ.get("OB_BENCH_AGENTS", "200")))
ap.add_argument("-r", "--rate", type=float, default=float(os.environ.get("OB_BENCH_RATE", "20")))
ap.add_argument("--deadline", type=float, default=240, help="seconds until give-up")
ap.add_argument("--throttled-cap", help="retry.throttled.cap for the agents (default: shipped)")
args = ap.parse_args()

W = b.world_dir()
for api in ("CreateCertificateFromCsr", "RegisterThing"):
    subprocess.run([b.ADMIN, "set", "throttle." + api, str(args.rate)], check=True,
                   stdout=subprocess.DEVNULL)
events = os.path.join(os.environ["OB_EMULATOR_STATE_DIR"], "events.jsonl")
ev_start = os.path.getsize(events) if os.path.exists(events) else 0

root = os.path.join(W, "p5")
shutil.rmtree(root, ignore_errors=True)
retry = None
if args.throttled_cap:
    retry = {"throttled": {"cap": args.throttled_cap}}
cfgs = []
for i in range(args.agents):
    g = os.path.join(root, "a%03d" % i)
    cfgs.append(b.write_gateway(g, "P5-%x-%03d" % (os.getpid() & 0xffff, i),
                                backend="software", retry=retry))
n = b.Notify(os.path.join(root, "notify.sock"))

pids = {}
t0 = b.now_ns()
for cfg in cfgs:
    pid, _ = b.spawn(cfg, n.path, os.path.join(os.path.dirname(cfg), "agent.log"),
                     args=("--log-level", "info"))
    pids[pid] = cfg
t_spawned = b.now_ns()
done = {}
deadline = time.monotonic() + args.deadline
while len(done) < len(pids) and time.monotonic() < deadline:
    m = n.recv(min(1.0, deadline - time.monotonic()))
    if m and m[1] in pids and m[1] not in done and \
            m[2].get("STATUS", "").startswith("onboarded"):
        done[m[1]] = m[0]
for pid in pids:
    b.stop(pid, timeout=5)
n.close()

n429 = 0
with open(events) as f:
    f.seek(ev_start)
    for ln in f:
        try:
            e = json.loads(ln)
        except ValueError:
            continue
        if e.get("reply", {}).get("statusCode") == 429 or \
                '"statusCode": 429' in ln or '"statusCode":429' in ln:
            n429 += 1
times = sorted(b.ms(t - t0) / 1000 for t in done.values())
ideal = args.agents / args.rate
conv = times[-1] if len(times) == len(pids) else float("nan")
b.line("P5", agents=args.agents, rate=args.rate, ideal_s=ideal,
       converged_s=("%.1f" % conv) if times and len(times) == len(pids) else "none",
       ratio=("%.2f" % (conv / ideal)) if len(times) == len(pids) else "none",
       throttled_429=n429, gave_up=len(pids) - len(done),
       p50_s=("%.1f" % times[len(times) // 2]) if times else "none",
       p90_s=("%.1f" % times[int(len(times) * 0.9) - 1]) if times else "none",
       spawn_s="%.1f" % (b.ms(t_spawned - t0) / 1000),
       throttled_cap=args.throttled_cap or "shipped", target_ratio=1.3)
