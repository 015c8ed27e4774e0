#!/bin/sh
# The agent's MQTT transport (agent/transport-paho.c, Paho MQTTAsync) against the test world:
# a key created in the TPM by our own code (tpm/tpm-key.c) completes TLS + MQTT CONNECT, SUBSCRIBE
# and a PUBLISH round trip; in the same process a software key connects next (OpenSSL provider
# steering); the claim certificate connects; an untrusted client certificate, a wrong server
# root and a closed port each fail with their own error class. A vendor key at a persistent TPM
# handle connects through the same transport (agent/tls-handle-key.c), next to file keys in one
# process, and a wrong certificate, an empty or malformed handle are each refused by name.
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

# A vendor key at a persistent handle (docs/tpm.md, "TLS with a persistent key"): an ECC P-256
# signing key under the SRK, persisted at 0x81000010 the way a vendor would leave it. Paho loads
# keys only from files; agent/tls-handle-key.c (in the daemon and in ob-mqtt-probe-handle) makes
# its SSL_CTX_use_PrivateKey_file take "handle:0x81000010" through the store of tpm2-openssl.
probeh="$top_builddir/tests/integration/ob-mqtt-probe-handle"
ph() { "$probeh" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" "$@"; }
vh=handle:0x81000010
tpm2_create -T "$OB_TCTI" -C 0x81000001 -G ecc256 -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" \
    -u "$d/v.pub" -r "$d/v.priv" >/dev/null 2>&1 &&
  tpm2_load -T "$OB_TCTI" -C 0x81000001 -u "$d/v.pub" -r "$d/v.priv" -c "$d/v.ctx" >/dev/null 2>&1 &&
  tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$d/v.ctx" 0x81000010 >/dev/null 2>&1 &&
  rm -f "$d/v.priv" || bad "vendor key setup at 0x81000010"
"$kt" csr $vh CN=gw-vendor >"$d/vendor.csr" && sign_device_csr "$d/vendor.csr" "$d/vendor.crt" &&
  register_cert "$d/vendor.crt" || bad "vendor key certificate"

nm -D --defined-only "$top_builddir/onboard-agent" 2>/dev/null | grep -q " T SSL_CTX_use_PrivateKey_file\$" &&
  ok "the daemon exports its SSL_CTX_use_PrivateKey_file (nm -D)" || bad "onboard-agent does not export SSL_CTX_use_PrivateKey_file"

# the TCTI comes from our option (config tpm.tcti), not from the environment: a dead one there
out=$(TPM2OPENSSL_TCTI=swtpm:host=127.0.0.1,port=1 ph --cert "$d/vendor.crt" --key $vh --provider tpm2 \
       --tcti "$OB_TCTI" --id gw-vendor --topic gw/vendor 2>&1); rc=$?
echo "$out" | sed "s/^/# /"
[ $rc -eq 0 ] && echo "$out" | grep -q PUBACK &&
  ok "vendor key at $vh: TLS + MQTT CONNECT, SUBSCRIBE, PUBLISH round trip through the transport" ||
  bad "vendor key round trip (rc $rc)"

# other key types at a handle: ECC P-384 and RSA-2048 (persisted at 0x81000011 and 0x81000012)
for spec in ecc384:0x81000011 rsa2048:0x81000012; do
  alg=${spec%%:*} h=${spec#*:}
  tpm2_create -T "$OB_TCTI" -C 0x81000001 -G $alg -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" \
      -u "$d/$alg.pub" -r "$d/$alg.priv" >/dev/null 2>&1 &&
    tpm2_load -T "$OB_TCTI" -C 0x81000001 -u "$d/$alg.pub" -r "$d/$alg.priv" -c "$d/$alg.ctx" >/dev/null 2>&1 &&
    tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$d/$alg.ctx" $h >/dev/null 2>&1 &&
    "$kt" csr handle:$h CN=gw-$alg >"$d/$alg.csr" && sign_device_csr "$d/$alg.csr" "$d/$alg.crt" &&
    register_cert "$d/$alg.crt" || bad "$alg key setup at $h"
  out=$(ph --cert "$d/$alg.crt" --key handle:$h --provider tpm2 --tcti "$OB_TCTI" --id gw-$alg --connect-only 2>&1)
  [ $? -eq 0 ] && ok "vendor key $alg at handle:$h: $out" || bad "vendor key $alg at $h: $out"
done

# file keys around it in the same process: a TPM file key, then the vendor key; the vendor key,
# then a software key (the replacement forwards every file to libssl)
out=$(ph --cert "$d/tpm.crt" --key "$d/tpm.key" --provider tpm2 --tcti "$OB_TCTI" --id gw-mix1 \
       --connect-only --cert2 "$d/vendor.crt" --key2 $vh --provider2 tpm2 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(echo "$out" | grep -c "^connected")" = 2 ] &&
  ok "TSS2 file key, then the vendor key, in one process" || bad "file key then vendor key: rc $rc: $out"
out=$(ph --cert "$d/vendor.crt" --key $vh --provider tpm2 --tcti "$OB_TCTI" --id gw-mix2 \
       --connect-only --cert2 "$d/soft.crt" --key2 "$d/soft.key" --provider2 default 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(echo "$out" | grep -c "^connected")" = 2 ] &&
  ok "vendor key, then a software key, in one process" || bad "vendor key then software key: rc $rc: $out"

# a certificate of another key: refused before any byte is sent, and the reason says so
out=$(ph --cert "$d/tpm.crt" --key $vh --provider tpm2 --tcti "$OB_TCTI" --id gw-wrong --connect-only 2>&1); rc=$?
echo "$out" | sed "s/^/# /"
[ $rc -eq 11 ] && echo "$out" | grep -q "handle:0x81000010: not usable with the certificate: key values mismatch" &&
  ok "vendor key with the certificate of another key: TLS class, named" ||
  bad "vendor key with a wrong certificate: rc $rc: $out"
out=$(ph --cert "$d/vendor.crt" --key handle:0x81000019 --provider tpm2 --tcti "$OB_TCTI" --id gw-none \
       --connect-only 2>&1); rc=$?
echo "$out" | sed "s/^/# /"
[ $rc -eq 11 ] && echo "$out" | grep -q "handle:0x81000019: no key there (tpm2 provider)" &&
  ok "nothing at the handle: TLS class, named" || bad "empty handle: rc $rc: $out"
out=$(ph --cert "$d/vendor.crt" --key handle:0x01000010 --provider tpm2 --tcti "$OB_TCTI" --id gw-bad \
       --connect-only 2>&1); rc=$?
echo "$out" | sed "s/^/# /"
[ $rc -eq 11 ] && echo "$out" | grep -q "handle:0x01000010: not a persistent TPM handle" &&
  ok "not a persistent handle: TLS class, named" || bad "bad handle: rc $rc: $out"
# a program without agent/tls-handle-key.c (like agentctl) refuses instead of failing obscurely
out=$(p --cert "$d/vendor.crt" --key $vh --provider tpm2 --tcti "$OB_TCTI" --id gw-plain --connect-only 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "Operation not supported" &&
  ok "without the replacement a handle key is refused: $out" || bad "plain probe with a handle: rc $rc: $out"
exit $fail
'
