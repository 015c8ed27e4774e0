#!/usr/bin/env bash
# The demo: a simulated gateway (software TPM behind tpm2-abrmd) onboards to the local AWS IoT
# Core emulator by fleet provisioning with a claim certificate, with its key made and kept in
# the TPM. Run from the top of a built tree (README.md, Quick start).
#
# What runs here today, step by step, and which steps are still done by stand-ins until the
# agent's own flow lands (docs/architecture.md):
#   1. the test world: swtpm + tpm2-abrmd, a test PKI, mosquitto + the emulator plugin
#   2. the gateway's configuration, validated by agentctl
#   3. the device key, created inside the TPM by the agent's key provider (non-exportable), and
#      a CSR built by the agent and signed inside the TPM
#   4. fleet provisioning against the emulator with the claim certificate:
#      CreateCertificateFromCsr + RegisterThing (independent MQTT client for now)
#   5. the issued certificate is checked against the TPM key, then the agent's MQTT transport
#      connects as the new thing (TLS signature made inside the TPM) and does a publish round trip
#   6. the emulator's registry: one thing, one ACTIVE certificate
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top}

if [ "${1:-}" != "--inside" ]; then
  # the demo's helper programs are test programs: build them if needed
  make -s -C "$top_builddir" tests/integration/ob-keytool tests/integration/ob-mqtt-probe >/dev/null
  exec "$top/tests/world/world.sh" run -- "$0" --inside
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
work=$OB_WORLD_DIR/gateway
mkdir -p "$work"
export TPM2OPENSSL_TCTI=$OB_TCTI

step "1. test world"
echo "TPM: $OB_TCTI"
echo "IoT Core emulator: mqtts://$OB_MQTT_HOST:$OB_MQTT_PORT (emulator plugin loaded: $OB_EMULATOR)"
[ "$OB_EMULATOR" = 1 ] || { echo "demo: the emulator plugin is not built (needs mosquitto-dev)" >&2; exit 1; }

step "2. gateway configuration"
serial="GW-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
cat >"$work/config.json" <<JSON
{
  "endpoint": { "host": "$OB_MQTT_HOST", "port": $OB_MQTT_PORT, "root_ca": "$OB_ROOT_CA" },
  "provisioning": {
    "method": "fleet-claim",
    "template": "OnboardTemplate",
    "parameters": { "SerialNumber": "{serial}" },
    "claim_cert": "$OB_CLAIM_CERT",
    "claim_key": "$OB_CLAIM_KEY"
  },
  "key": { "backend": "tpm" },
  "tpm": { "tcti": "$OB_TCTI" },
  "paths": { "state_dir": "$work/state", "runtime_dir": "$work/run" }
}
JSON
"$top_builddir/agentctl" --config "$work/config.json" config check

step "3. device key inside the TPM, CSR signed by the TPM (serial $serial)"
t0=$(date +%s%N)
# the agent's TPM key provider (tpm/tpm-key.c): SRK at 0x81000001 if absent, then the key
"$top_builddir/tests/integration/ob-keytool" --tcti "$OB_TCTI" create "$work/device.key" >/dev/null
t1=$(date +%s%N)
# the CSR is built by lib/csr.c and its digest signed inside the TPM (tpm/tpm-key.c)
"$top_builddir/tests/integration/ob-keytool" --tcti "$OB_TCTI" csr "$work/device.key" "CN=$serial" \
  >"$work/device.csr"
t2=$(date +%s%N)
openssl req -in "$work/device.csr" -noout -verify 2>&1 | sed 's/^/  /'
head -1 "$work/device.key"
echo "  key created in $(( (t1 - t0) / 1000000 )) ms, CSR signed in $(( (t2 - t1) / 1000000 )) ms"

step "4. fleet provisioning against the emulator (claim certificate)"
client="$top/tests/emulator/emu-client.py"
csr_json=$(python3 -c 'import json,sys; print(json.dumps({"certificateSigningRequest": open(sys.argv[1]).read()}))' "$work/device.csr")
"$client" --id "$serial-csr" rr '$aws/certificates/create-from-csr/json' "$csr_json" >"$work/cert.json"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
r = json.load(open(w + "/cert.json"))
assert r["result"] == "accepted", r
p = r["payload"]
open(w + "/device.crt", "w").write(p["certificatePem"])
open(w + "/token", "w").write(p["certificateOwnershipToken"])
print("  CreateCertificateFromCsr accepted: certificateId", p["certificateId"])
PY
reg_json=$(python3 -c 'import json,sys; print(json.dumps({"certificateOwnershipToken": open(sys.argv[1]).read(), "parameters": {"SerialNumber": sys.argv[2]}}))' "$work/token" "$serial")
"$client" --id "$serial-reg" rr '$aws/provisioning-templates/OnboardTemplate/provision/json' "$reg_json" >"$work/thing.json"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["result"]=="accepted", r; print("  RegisterThing accepted: thingName", r["payload"].get("thingName"))' "$work/thing.json"
thing=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["payload"]["thingName"])' "$work/thing.json")

step "5. the new identity: certificate matches the TPM key; TLS with the key in the TPM"
if [ "$(openssl x509 -in "$work/device.crt" -noout -pubkey)" = \
     "$(openssl pkey -provider tpm2 -provider default -in "$work/device.key" -pubout)" ]; then
  echo "  certificate public key == TPM key"
else
  echo "demo: the issued certificate does not match the TPM key" >&2; exit 1
fi
openssl verify -CAfile "$OB_ISSUER_CA_CERT" "$work/device.crt" | sed 's/^/  /'
# the agent's transport (agent/transport-paho.c): TLS + MQTT as the new thing, key in the TPM
printf '  '
"$top_builddir/tests/integration/ob-mqtt-probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" \
  --cafile "$OB_ROOT_CA" --cert "$work/device.crt" --key "$work/device.key" --provider tpm2 \
  --tcti "$OB_TCTI" --id "$thing" --topic "things/$thing/hello"

step "6. the emulator's registry"
"$top/tests/emulator/ob-emu-admin" list-things
"$top/tests/emulator/ob-emu-admin" list-certs

step "agentctl"
"$top_builddir/agentctl" --config "$work/config.json" config show | sed -n '1,12p'
