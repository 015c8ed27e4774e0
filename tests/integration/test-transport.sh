#!/bin/sh
# The agent's MQTT transport (agent/transport-paho.c, Paho MQTTAsync) against the test world:
# a key created in the TPM by our own code (tpm/tpm-key.c) completes TLS + MQTT CONNECT, SUBSCRIBE
# and a PUBLISH round trip; in the same process a software key connects next (OpenSSL provider
# steering); the claim certificate connects; an untrusted client certificate, a wrong server
# root and a closed port each fail with their own error class.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
exec "$top_srcdir/tests/world/world.sh" run -- sh -c '
kt="$top_builddir/tests/integration/ob-keytool"
probe="$top_builddir/tests/integration/ob-mqtt-probe"
d=$OB_WORLD_DIR/transport; mkdir -p "$d"
export TPM2OPENSSL_TCTI=$OB_TCTI
. "$top_srcdir/tests/integration/common.sh"
p() { "$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" "$@"; }

# a key made in the TPM by the project: our code creates it; the tpm2 provider signs the CSR
"$kt" create "$d/tpm.key" >/dev/null || bad "TPM key creation"
openssl req -new -provider tpm2 -provider default -key "$d/tpm.key" -subj /CN=gw-transport -out "$d/tpm.csr"
sign_device_csr "$d/tpm.csr" "$d/tpm.crt"
# a software key
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/soft.key" \
  -subj /CN=gw-soft -out "$d/soft.csr" 2>/dev/null
sign_device_csr "$d/soft.csr" "$d/soft.crt"
register_cert "$d/tpm.crt" && register_cert "$d/soft.crt" || bad "emulator registration"

out=$(p --cert "$d/tpm.crt" --key "$d/tpm.key" --provider tpm2 --tcti "$OB_TCTI" --id gw-transport \
       --topic gw/echo --cert2 "$d/soft.crt" --key2 "$d/soft.key" --provider2 default 2>&1)
rc=$?
echo "$out" | sed "s/^/# /"
[ $rc -eq 0 ] && [ "$(echo "$out" | grep -c "PUBACK")" = 2 ] &&
  echo "$out" | head -1 | grep -q "provider tpm2" &&
  ok "TPM key (made by tpm/) round trip, then a software key in the same process" ||
  bad "TPM/software round trips (rc $rc)"

p --cert "$OB_CLAIM_CERT" --key "$OB_CLAIM_KEY" --id claim-probe --connect-only >/dev/null 2>&1 &&
  ok "claim certificate connects" || bad "claim certificate"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=rogue \
  -keyout "$d/rogue.key" -out "$d/rogue.crt" -days 1 2>/dev/null
out=$(p --cert "$d/rogue.crt" --key "$d/rogue.key" --id rogue --connect-only 2>&1); rc=$?
case $rc in 11|12) ok "untrusted client certificate refused: $out";; *) bad "rogue cert: rc $rc: $out";; esac

out=$("$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_CLAIM_CA_CERT" \
       --cert "$OB_CLAIM_CERT" --key "$OB_CLAIM_KEY" --id wrong-root --connect-only 2>&1); rc=$?
[ $rc -eq 11 ] && ok "wrong server root: TLS class: $out" || bad "wrong root: rc $rc: $out"

port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
out=$("$probe" --host "$OB_MQTT_HOST" --port "$port" --cafile "$OB_ROOT_CA" --cert "$OB_CLAIM_CERT" \
       --key "$OB_CLAIM_KEY" --id closed --connect-only 2>&1); rc=$?
[ $rc -eq 10 ] && ok "nothing listening: network class: $out" || bad "closed port: rc $rc: $out"
exit $fail
'
