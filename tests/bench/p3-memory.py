#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P3: memory. Peak RSS during a fleet-claim onboarding with the TPM (VmHWM of the daemon read
right after its STATUS=onboarded notification), and PSS when idle (smaps_rollup, after a few
seconds of idleness) both of that same process and of a fresh start when already onboarded.
The idle daemon never held a TLS connection in the second case; the first shows what the
onboarding leaves behind (heap not returned to the kernel).

Two TPM set-ups (--tcti):
  abrmd        the test world's TCTI, tabrmd (tpm2-abrmd over D-Bus): the daemon loads the tabrmd
               TCTI and with it GLib, GIO, GObject and a GLib D-Bus worker thread.
  device-like  what a device ships (tpm.tcti "device:/dev/tpmrm0", the kernel resource manager,
               no GLib in the process). There is no /dev/tpmrm0 here, so the daemon gets the
               tpm2-tss "cmd" TCTI: a small TCTI library (like the device one) that writes the
               raw commands to a child process, tpm2_send, which forwards them to tpm2-abrmd.
               Each TCTI instance (the daemon's and the tpm2 provider's) gets its own child and
               abrmd connection, i.e. its own resource-manager context, as each open of
               /dev/tpmrm0 does. The child's memory is not the daemon's (on a device that work
               is in the kernel). The control group is one that exists in /etc/group, as the
               sysusers.d snippet makes it on a device (a missing group sends getgrnam() on to
               the next NSS module, e.g. libnss_systemd, which a device never loads).

Output: P3 tcti=... peak_rss_kib=... pss_idle_kib=... pss_after_onboarding_kib=... rss_idle_kib=...
        target_peak_kib=8192 target_pss_kib=1536
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

SETTLE = float(os.environ.get("OB_BENCH_SETTLE", "3"))
tcti = "abrmd"
if "--tcti" in sys.argv:
    tcti = sys.argv[sys.argv.index("--tcti") + 1]
if tcti not in ("abrmd", "device-like"):
    raise SystemExit("P3: --tcti abrmd|device-like")
g = os.path.join(b.world_dir(), "p3-" + tcti)
import grp  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
shutil.rmtree(g, ignore_errors=True)
os.makedirs(g)
if tcti == "device-like":
    if not shutil.which("tpm2_send"):
        print("# SKIP: P3 device-like needs tpm2_send (tpm2-tools)")
        sys.exit(77)
    # tpm.tcti allows no spaces: the command is a script
    cmd = os.path.join(g, "tpmrm")
    with open(cmd, "w") as f:
        f.write("#!/bin/sh\nexec tpm2_send --tcti='%s'\n" % os.environ["OB_TCTI"])
    os.chmod(cmd, 0o755)
    os.environ["OB_TCTI"] = "cmd:" + cmd
cfg = b.write_gateway(g, "P3-%x-%s" % (os.getpid() & 0xffff, tcti[0]))
if tcti == "device-like":
    with open(cfg) as f:
        c = json.load(f)
    c["control"] = {"group": grp.getgrgid(os.getgid()).gr_name}
    with open(cfg, "w") as f:
        json.dump(c, f, indent=2)
n = b.Notify(os.path.join(g, "notify.sock"))

pid, _ = b.spawn(cfg, n.path, os.path.join(g, "agent.log"))
if b.wait_status(n, pid, "onboarded", 60) is None:
    raise SystemExit("P3: did not onboard; see %s/agent.log" % g)
peak = b.kib(b.proc_status(pid)["VmHWM"])
time.sleep(SETTLE)
after = b.smaps_rollup(pid)
if "-v" in sys.argv:
    objs = sorted(b.smaps_by_object(pid).items(), key=lambda kv: -kv[1]["Pss"])
    for name, v in objs[:25]:
        b.line("P3-map-onboarded", tcti=tcti, pss_kib=v["Pss"], rss_kib=v["Rss"],
               anon_kib=v["Anon"], object=os.path.basename(name))
    b.line("P3-threads-onboarded", tcti=tcti, n=len(os.listdir("/proc/%d/task" % pid)))
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
        b.line("P3-map", tcti=tcti, pss_kib=v["Pss"], rss_kib=v["Rss"], anon_kib=v["Anon"],
               object=os.path.basename(name))
if "-v" in sys.argv:
    b.line("P3-threads", tcti=tcti, n=len(os.listdir("/proc/%d/task" % pid)))
b.stop(pid)
n.close()
b.line("P3", tcti=tcti, peak_rss_kib=peak, pss_idle_kib=idle["Pss"], rss_idle_kib=idle["Rss"],
       pss_idle_anon_kib=idle.get("Pss_Anon", 0), pss_idle_file_kib=idle.get("Pss_File", 0),
       peak_rss_idle_start_kib=idle_hwm, pss_after_onboarding_kib=after["Pss"],
       target_peak_kib=8192, target_pss_kib=1536)
