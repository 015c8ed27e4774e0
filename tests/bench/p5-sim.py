#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P5's policy simulator (docs/performance.md, P5): N devices start within a second against two
token buckets (CreateCertificateFromCsr, then RegisterThing; R requests/s each, burst R). Each
attempt is a new connection (~conn s: TLS, CONNECT, SUBSCRIBE), then the requests (~req s each);
a 429 ends the attempt and the device retries after a full-jitter delay drawn from
[0, min(cap, base * factor^n)], never sooner than 1 s after its previous CONNECT (the agent's
floor, lib/backoff.c). It reproduces the measured 2.1 x ideal of the former policy (factor 2),
and was used to choose retry.throttled.factor. Not a benchmark: it measures the policy, not the
agent.

  p5-sim.py [--seeds S] [--policy base,cap,factor ...] [--fleet N,R ...]
Prints one line per policy and fleet: ratio (median and max over the seeds) and 429s per device.
"""
import argparse
import heapq
import random
import statistics


def simulate(n, rate, base, cap, factor, seed, conn=0.15, req=0.03):
    rnd = random.Random(seed)
    buckets = {api: [rate, 0.0] for api in ("csr", "reg")}

    def take(api, t):
        b = buckets[api]
        b[0] = min(rate, b[0] + (t - b[1]) * rate)
        b[1] = t
        if b[0] >= 1:
            b[0] -= 1
            return True
        return False

    events = [(rnd.uniform(0, 1.0), i) for i in range(n)]
    heapq.heapify(events)
    stage = ["csr"] * n
    failures = [0] * n
    done = 0.0
    throttled = 0
    while events:
        t, i = heapq.heappop(events)
        last_connect = t
        t += conn
        while True:
            t += req
            if take(stage[i], t):
                if stage[i] == "csr":
                    stage[i] = "reg"
                    continue
                done = max(done, t + conn)  # the verification
                break
            throttled += 1
            delay = rnd.uniform(0, min(cap, base * factor ** failures[i]))
            failures[i] += 1
            heapq.heappush(events, (max(t + delay, last_connect + 1.0), i))
            break
    return done / (n / rate), throttled / n


ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, default=4)
ap.add_argument("--policy", nargs="*", default=["2,600,2", "2,600,1.5", "2,600,1.25"])
ap.add_argument("--fleet", nargs="*", default=["50,20", "200,20", "200,5", "1000,20"])
args = ap.parse_args()
for pol in args.policy:
    base, cap, factor = (float(x) for x in pol.split(","))
    for fl in args.fleet:
        n, rate = int(fl.split(",")[0]), float(fl.split(",")[1])
        runs = [simulate(n, rate, base, cap, factor, s) for s in range(args.seeds)]
        print("P5-sim base=%g cap=%g factor=%g agents=%d rate=%g ratio=%.2f ratio_max=%.2f "
              "throttled_per_device=%.1f" % (base, cap, factor, n, rate,
                                             statistics.median(r[0] for r in runs),
                                             max(r[0] for r in runs),
                                             statistics.median(r[1] for r in runs)))
