#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""P1: fleet-claim onboarding wall time with the TPM, against the floor of the same work done
with stock tools in the same world (docs/performance.md).

  agent: fork+exec of onboard-agent -> the commit: the log line "stage thing-registered ->
         onboarded (saved)", read from the daemon's stderr through a pipe and timestamped on
         receipt (it is written right after state.json's fsync). idle_ms is the later
         STATUS=onboarded... notification, sent once the connection is torn down.
  floor: the unavoidable work, step by step, with stock tools:
         key    openssl genpkey -provider tpm2 (P-256 key under the SRK 0x81000001)
         csr    openssl req -new -provider tpm2 (CSR signed in the TPM)
         claim  one MQTT session with the claim certificate (python3-paho-mqtt, timed inside
                this process: TLS handshake, SUBSCRIBE, CreateCertificateFromCsr,
                RegisterThing, DISCONNECT)
         verify openssl s_client -provider tpm2 with the issued certificate and the TPM key,
                MQTT CONNECT -> CONNACK -> DISCONNECT written through it
  floor_core subtracts the process start-up + provider load of all but one openssl run
  (measured: `openssl list -providers` with the same providers): the agent pays one.

Output: P1 lines (one per run with -v), then the summary line
  P1 runs=N onboarding_ms=MEDIAN onboarding_min_ms=MIN floor_ms=MEDIAN floor_min_ms=MIN
     floor_core_ms=MEDIAN ratio=MEDIAN/MEDIAN ratio_core=... target_ratio=1.15
     idle_ms=MEDIAN vmhwm_kib=MAX
"""
import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

import paho.mqtt.client as mqtt  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--runs", type=int, default=int(os.environ.get("OB_BENCH_RUNS", "5")))
ap.add_argument("-v", "--verbose", action="store_true")
args = ap.parse_args()

E = os.environ
W = b.world_dir()
TCTI = E["OB_TCTI"]
SSL_ENV = dict(E, TPM2OPENSSL_TCTI=TCTI)
PROV = ["-provider", "tpm2", "-provider", "default"]


def run(argv, **kw):
    t = b.now_ns()
    subprocess.run(argv, check=True, env=SSL_ENV, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, **kw)
    return b.ms(b.now_ns() - t)


RUN_ID = "%x" % (os.getpid() & 0xffff)


def agent_run(tag):
    g = os.path.join(W, "p1-%s-%s" % (RUN_ID, tag))
    shutil.rmtree(g, ignore_errors=True)
    cfg = b.write_gateway(g, "P1-%s-%s" % (RUN_ID, tag))
    n = b.Notify(os.path.join(g, "notify.sock"))
    pid, t0, tap = b.spawn(cfg, n.path, os.path.join(g, "agent.log"), tap=True)
    done = None
    timeline = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        m = n.recv(deadline - time.monotonic())
        if not m:
            break
        t, p, f = m
        if p == pid and "STATUS" in f:
            timeline.append("%.0f:%s" % (b.ms(t - t0), f["STATUS"].split(",")[0].replace(" ", "-")))
        if p == pid and f.get("STATUS", "").startswith("onboarded"):
            done = t
            break
    hwm = b.kib(b.proc_status(pid)["VmHWM"])
    b.stop(pid)
    n.close()
    tap.t.join(5)
    committed = tap.find("-> onboarded (saved)")
    if done is None or committed is None:
        raise SystemExit("P1: agent %s did not onboard; see %s/agent.log" % (tag, g))
    if args.verbose:
        b.note("agent %s: %s" % (tag, " ".join(timeline)))
    return b.ms(committed - t0), b.ms(done - t0), hwm


def claim_session(serial, csr_pem):
    """Claim connection: TLS, SUBSCRIBE, CreateCertificateFromCsr, RegisterThing, DISCONNECT.
    Returns (ms, certificatePem, thingName)."""
    got = {}
    ev = threading.Event()

    def on_connect(c, u, f, rc):
        got["connack"] = rc
        ev.set()

    def on_subscribe(c, u, mid, q):
        ev.set()

    def on_message(c, u, msg):
        got[msg.topic] = json.loads(msg.payload)
        ev.set()

    c = mqtt.Client(client_id=serial, clean_session=True, protocol=mqtt.MQTTv311)
    c.tls_set(ca_certs=E["OB_ROOT_CA"], certfile=E["OB_CLAIM_CERT"], keyfile=E["OB_CLAIM_KEY"],
              tls_version=ssl.PROTOCOL_TLS_CLIENT)
    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message

    def wait(what):
        if not ev.wait(10):
            raise SystemExit("P1 floor: no %s from the emulator" % what)
        ev.clear()

    csr_t = "$aws/certificates/create-from-csr/json"
    reg_t = "$aws/provisioning-templates/OnboardTemplate/provision/json"
    t0 = b.now_ns()
    c.connect(E["OB_MQTT_HOST"], int(E["OB_MQTT_PORT"]), keepalive=60)
    c.loop_start()
    wait("CONNACK")
    c.subscribe([(csr_t + "/accepted", 1), (csr_t + "/rejected", 1),
                 (reg_t + "/accepted", 1), (reg_t + "/rejected", 1)])
    wait("SUBACK")
    c.publish(csr_t, json.dumps({"certificateSigningRequest": csr_pem}), qos=1)
    wait("CreateCertificateFromCsr reply")
    acc = got.get(csr_t + "/accepted")
    if not acc:
        raise SystemExit("P1 floor: CreateCertificateFromCsr rejected: %s" % got)
    c.publish(reg_t, json.dumps({"certificateOwnershipToken": acc["certificateOwnershipToken"],
                                 "parameters": {"SerialNumber": serial}}), qos=1)
    wait("RegisterThing reply")
    reg = got.get(reg_t + "/accepted")
    if not reg:
        raise SystemExit("P1 floor: RegisterThing rejected: %s" % got)
    c.disconnect()
    c.loop_stop()
    return b.ms(b.now_ns() - t0), acc["certificatePem"], reg["thingName"]


def mqtt_connect_packet(client_id):
    cid = client_id.encode()
    var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    assert len(var) < 128
    return bytes([0x10, len(var)]) + var


def verify_connect(crt, key, client_id):
    """TLS with the TPM key + MQTT CONNECT/CONNACK/DISCONNECT through openssl s_client."""
    t = b.now_ns()
    p = subprocess.Popen(["openssl", "s_client", "-quiet", *PROV, "-connect",
                          "%s:%s" % (E["OB_MQTT_HOST"], E["OB_MQTT_PORT"]),
                          "-servername", E["OB_MQTT_HOST"], "-CAfile", E["OB_ROOT_CA"],
                          "-cert", crt, "-key", key, "-verify_return_error"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=SSL_ENV)
    p.stdin.write(mqtt_connect_packet(client_id))
    p.stdin.flush()
    connack = p.stdout.read(4)
    p.stdin.write(b"\xe0\x00")
    p.stdin.close()
    p.wait(10)
    ms = b.ms(b.now_ns() - t)
    if connack != b"\x20\x02\x00\x00":
        raise SystemExit("P1 floor: no CONNACK 0 with the new certificate: %r %s" %
                         (connack, p.stderr.read().decode(errors="replace")))
    return ms


def floor_run(tag):
    d = os.path.join(W, "p1-floor-%s-%s" % (RUN_ID, tag))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    serial = "P1F-%s-%s" % (RUN_ID, tag)
    key, csr, crt = (os.path.join(d, x) for x in ("device.key", "device.csr", "device.crt"))
    steps = {}
    steps["key"] = run(["openssl", "genpkey", *PROV, "-algorithm", "EC", "-pkeyopt",
                        "group:P-256", "-pkeyopt", "parent:0x81000001", "-out", key])
    steps["csr"] = run(["openssl", "req", "-new", *PROV, "-key", key, "-subj", "/CN=" + serial,
                        "-out", csr])
    with open(csr) as f:
        csr_pem = f.read()
    steps["claim"], pem, thing = claim_session(serial, csr_pem)
    with open(crt, "w") as f:
        f.write(pem)
    steps["verify"] = verify_connect(crt, key, thing)
    return steps


def exec_overhead():
    return b.median([run(["openssl", "list", *PROV, "-providers"]) for _ in range(5)])


# warm-up: the first agent creates the SRK at 0x81000001 (the floor assumes it exists) and
# both paths get the page cache and the TPM simulator warm
agent_run("warmup")
floor_run("warmup")

agents, idles, hwms, floors, cores = [], [], [], [], []
for i in range(args.runs):
    a, idle, hwm = agent_run(str(i))
    s = floor_run(str(i))
    x = exec_overhead()
    f = sum(s.values())
    core = f - 2 * x  # three openssl processes; the agent pays one start-up itself
    agents.append(a)
    idles.append(idle)
    hwms.append(hwm)
    floors.append(f)
    cores.append(core)
    if args.verbose:
        b.line("P1-run", i=i, onboarding_ms=a, idle_ms=idle, floor_ms=f, floor_core_ms=core,
               key_ms=s["key"], csr_ms=s["csr"], claim_ms=s["claim"], verify_ms=s["verify"],
               openssl_start_ms=x, vmhwm_kib=hwm)

b.line("P1", runs=args.runs, onboarding_ms=b.median(agents), onboarding_min_ms=min(agents),
       floor_ms=b.median(floors), floor_min_ms=min(floors), floor_core_ms=b.median(cores),
       ratio="%.2f" % (b.median(agents) / b.median(floors)),
       ratio_core="%.2f" % (b.median(agents) / b.median(cores)), target_ratio="1.15",
       idle_ms=b.median(idles), vmhwm_kib=max(hwms))
