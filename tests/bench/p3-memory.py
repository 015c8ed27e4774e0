#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P3: memory. Peak RSS during a fleet-claim onboarding with the TPM (VmHWM of the daemon read
right after its STATUS=onboarded notification), and PSS when idle (smaps_rollup, after a few
seconds of idleness) both of that same process and of a fresh start when already onboarded.
The idle daemon never held a TLS connection in the second case; the first shows what the
onboarding leaves behind (heap not returned to the kernel).

Output: P3 peak_rss_kib=... pss_idle_kib=... pss_after_onboarding_kib=... rss_idle_kib=...
        target_peak_kib=8192 target_pss_kib=1536
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

SETTLE = float(os.environ.get("OB_BENCH_SETTLE", "3"))
g = os.path.join(b.world_dir(), "p3")
import shutil  # noqa: E402
shutil.rmtree(g, ignore_errors=True)
cfg = b.write_gateway(g, "P3-%x" % (os.getpid() & 0xffff))
n = b.Notify(os.path.join(g, "notify.sock"))

pid, _ = b.spawn(cfg, n.path, os.path.join(g, "agent.log"))
if b.wait_status(n, pid, "onboarded", 60) is None:
    raise SystemExit("P3: did not onboard; see %s/agent.log" % g)
peak = b.kib(b.proc_status(pid)["VmHWM"])
time.sleep(SETTLE)
after = b.smaps_rollup(pid)
b.stop(pid)

pid, _ = b.spawn(cfg, n.path, os.path.join(g, "agent.log"))
if b.wait_field(n, pid, "READY", 10) is None:
    raise SystemExit("P3: no READY=1; see %s/agent.log" % g)
time.sleep(SETTLE)
idle = b.smaps_rollup(pid)
idle_hwm = b.kib(b.proc_status(pid)["VmHWM"])
if "-v" in sys.argv:
    objs = sorted(b.smaps_by_object(pid).items(), key=lambda kv: -kv[1]["Pss"])
    for name, v in objs[:25]:
        b.line("P3-map", pss_kib=v["Pss"], rss_kib=v["Rss"], anon_kib=v["Anon"],
               object=os.path.basename(name))
b.stop(pid)
n.close()
b.line("P3", peak_rss_kib=peak, pss_idle_kib=idle["Pss"], rss_idle_kib=idle["Rss"],
       pss_idle_anon_kib=idle.get("Pss_Anon", 0), pss_idle_file_kib=idle.get("Pss_File", 0),
       peak_rss_idle_start_kib=idle_hwm, pss_after_onboarding_kib=after["Pss"],
       target_peak_kib=8192, target_pss_kib=1536)
