#!/usr/bin/env bash
# The demo: a simulated gateway (software TPM behind tpm2-abrmd) onboards itself to the local
# AWS IoT Core emulator by fleet provisioning with a batch claim certificate. The agent does it
# all: it creates the device key inside the TPM, sends a CSR signed by the TPM, registers the
# thing, proves the new certificate with a real connection, commits it, and goes quiet.
# Run from the top of a built tree (README.md, Quick start).
#   1. the test world: swtpm + tpm2-abrmd, a test PKI, mosquitto + the emulator plugin
#   2. the gateway's configuration, validated by agentctl
#   3. onboard-agent starts and onboards (its log is shown)
#   4. the issued certificate belongs to the TPM key; the emulator has one thing, one ACTIVE cert
#   5. agentctl status
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export top_srcdir=$top top_builddir=${top_builddir:-$top}

if [ "${1:-}" != "--inside" ]; then
  make -s -C "$top_builddir" onboard-agent agentctl >/dev/null
  exec "$top/tests/world/world.sh" run -- "$0" --inside
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
work=$OB_WORLD_DIR/gateway
mkdir -p "$work"
export TPM2OPENSSL_TCTI=$OB_TCTI
agent_pid=
cleanup() { [ -z "$agent_pid" ] || { kill "$agent_pid" 2>/dev/null; wait "$agent_pid" 2>/dev/null; } || true; }
trap cleanup EXIT

step "1. test world"
echo "TPM: $OB_TCTI"
echo "IoT Core emulator: mqtts://$OB_MQTT_HOST:$OB_MQTT_PORT (emulator plugin loaded: $OB_EMULATOR)"
[ "$OB_EMULATOR" = 1 ] || { echo "demo: the emulator plugin is not built (needs mosquitto-dev)" >&2; exit 1; }

step "2. gateway configuration"
serial="GW-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
echo "$serial" >"$work/serial" # on a real board: DMI or the device tree (identity.serial_sources)
cat >"$work/config.json" <<JSON
{
  "endpoint": { "host": "$OB_MQTT_HOST", "port": $OB_MQTT_PORT, "root_ca": "$OB_ROOT_CA" },
  "provisioning": {
    "method": "fleet-claim",
    "template": "OnboardTemplate",
    "claim_cert": "$OB_CLAIM_CERT",
    "claim_key": "$OB_CLAIM_KEY"
  },
  "identity": { "serial_sources": ["file:$work/serial"] },
  "key": { "backend": "tpm" },
  "tpm": { "tcti": "$OB_TCTI" },
  "paths": { "state_dir": "$work/state", "runtime_dir": "$work/run" }
}
JSON
sed 's/^/  /' "$work/config.json"
"$top_builddir/agentctl" --config "$work/config.json" config check

step "3. onboard-agent (serial $serial)"
t0=$(date +%s%N)
"$top_builddir/onboard-agent" --config "$work/config.json" >"$work/agent.log" 2>&1 &
agent_pid=$!
state=
for _ in $(seq 1 300); do
  state=$("$top_builddir/agentctl" --config "$work/config.json" --json status 2>/dev/null | jq -r .state) || true
  [ "$state" = onboarded ] && break
  kill -0 "$agent_pid" 2>/dev/null || break
  sleep 0.1
done
t1=$(date +%s%N)
sed 's/^/  /' "$work/agent.log"
[ "$state" = onboarded ] || { echo "demo: the agent did not onboard (state: ${state:-?})" >&2; exit 1; }
echo "  onboarded in $(( (t1 - t0) / 1000000 )) ms, including process start and the TPM's work"

step "4. the new identity"
cur=$work/state/credentials/current
if [ "$(openssl x509 -in "$cur/device.crt" -noout -pubkey)" = \
     "$(openssl pkey -provider tpm2 -provider default -in "$cur/device.key" -pubout)" ]; then
  echo "  $cur/device.crt belongs to the key inside the TPM ($(head -1 "$cur/device.key"))"
else
  echo "demo: the issued certificate does not match the TPM key" >&2; exit 1
fi
echo "  emulator registry:"
"$top/tests/emulator/ob-emu-admin" list-things | sed 's/^/    /'
"$top/tests/emulator/ob-emu-admin" list-certs | sed 's/^/    /'

step "5. agentctl status"
"$top_builddir/agentctl" --config "$work/config.json" status
