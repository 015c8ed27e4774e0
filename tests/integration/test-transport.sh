#!/bin/sh
# The agent's MQTT transport (agent/transport-paho.c, Paho MQTTAsync) against the test world:
# a key created in the TPM by our own code (tpm/tpm-key.c) completes TLS + MQTT CONNECT, SUBSCRIBE
# and a PUBLISH round trip; in the same process a software key connects next (OpenSSL provider
# steering); the claim certificate connects; an untrusted client certificate, a wrong server
# root and a closed port each fail with their own error class. A vendor key at a persistent TPM
# handle connects through the same transport (agent/tls-handle-key.c), next to file keys in one
# process, and a wrong certificate, an empty or malformed handle are each refused by name.
# Through a TLS-1.2-only front (ECDSA and RSA server certificates) TPM keys connect too
# (agent/tls-handle-key.c's EVP_DigestSignInit_ex; docs/tpm.md, "TLS 1.2 and the tpm2 provider").
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

# The probe (CONNECT -> CONNACK on a connection of its own, no MQTT session: the verification
# before a commit uses it): the same credentials, the same failures, the same classes
out=$(p --cert "$d/tpm.crt" --key "$d/tpm.key" --provider tpm2 --tcti "$OB_TCTI" --id gw-probe \
       --probe --cert2 "$d/soft.crt" --key2 "$d/soft.key" --provider2 default 2>&1); rc=$?
[ $rc -eq 0 ] && [ "$(echo "$out" | grep -c "^probed")" = 2 ] &&
  ok "probe: TPM key, then a software key, in one process: $(echo $out)" || bad "probe TPM/software: rc $rc: $out"
out=$(p --cert "$d/rogue.crt" --key "$d/rogue.key" --id rogue-probe --probe 2>&1); rc=$?
# refused (12) when the server just closes; with the alert of the server in hand, the alert is named
# and classed by lib/conn-outcome.c ("unknown ca": tls, 11): which one depends on when the alert
# is read (TLS 1.3 sends it after the Finished of the client). No single quote in this script:
# it is one single-quoted sh -c argument, and a quote ends it (the rest never ran, silently)
case $rc in
12) ok "probe: untrusted client certificate refused: $out" ;;
11) echo "$out" | grep -q "TLS alert \"unknown ca\"" && ok "probe: untrusted client certificate: the alert of the server named: $out" ||
      bad "probe rogue: rc 11 without the alert: $out" ;;
*) bad "probe rogue: rc $rc: $out" ;;
esac
out=$("$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_CLAIM_CA_CERT" \
       --cert "$OB_CLAIM_CERT" --key "$OB_CLAIM_KEY" --id wrong-root-probe --probe 2>&1); rc=$?
[ $rc -eq 11 ] && echo "$out" | grep -q "server certificate verify failed: unable to get local issuer" &&
  ok "probe: wrong server root: TLS class, the reason named: $out" || bad "probe wrong root: rc $rc: $out"
out=$("$probe" --host "$OB_MQTT_HOST" --port "$port" --cafile "$OB_ROOT_CA" --cert "$OB_CLAIM_CERT" \
       --key "$OB_CLAIM_KEY" --id closed-probe --probe 2>&1); rc=$?
[ $rc -eq 10 ] && ok "probe: nothing listening: network class: $out" || bad "probe closed port: rc $rc: $out"
out=$("$probe" --host no-such-host.invalid --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" --cert "$OB_CLAIM_CERT" \
       --key "$OB_CLAIM_KEY" --id dns-probe --probe 2>&1); rc=$?
[ $rc -eq 10 ] && echo "$out" | grep -q "cannot resolve no-such-host.invalid" &&
  ok "probe: a name that does not resolve: network class, named: $out" || bad "probe DNS: rc $rc: $out"
# a listener that accepts TCP and never answers: the connect timeout, not a hang
# The listener picks its own port and writes it once it listens: no port race, no fixed sleep.
sportf=$(mktemp)
python3 -c "import socket,time,sys,os; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(4); t=sys.argv[1]+\".tmp\"; open(t,\"w\").write(str(s.getsockname()[1])); os.rename(t,sys.argv[1]); time.sleep(30)" "$sportf" &
silent=$!
for _ in $(seq 100); do [ -s "$sportf" ] && break; sleep 0.05; done
sport=$(cat "$sportf"); rm -f "$sportf"
out=$("$probe" --host "$OB_MQTT_HOST" --port "$sport" --cafile "$OB_ROOT_CA" --cert "$OB_CLAIM_CERT" \
       --key "$OB_CLAIM_KEY" --id silent-probe --probe --timeout-ms 1500 2>&1); rc=$?
[ $rc -eq 15 ] && echo "$out" | grep -q "timeout" &&
  ok "probe: a server that never answers: timeout class: $out" || bad "probe silent server: rc $rc: $out"
# a disconnect (or the daemon stopping) calls off a probe that waits: nothing waits for its
# 20 s timeout (timeout 10 kills the tool if the free hangs)
out=$(timeout 10 "$probe" --host "$OB_MQTT_HOST" --port "$sport" --cafile "$OB_ROOT_CA" --cert "$OB_CLAIM_CERT" \
       --key "$OB_CLAIM_KEY" --id silent-probe2 --probe --timeout-ms 20000 --abort-after-ms 500 2>&1); rc=$?
kill $silent 2>/dev/null
[ $rc -eq 0 ] && echo "$out" | grep -q "^aborted" &&
  ok "probe: called off while it waits: $out" || bad "probe abort: rc $rc: $out"

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
nm -D --defined-only "$top_builddir/onboard-agent" 2>/dev/null | grep -q " T EVP_DigestSignInit_ex\$" &&
  ok "the daemon exports its EVP_DigestSignInit_ex (nm -D, TLS 1.2 with a TPM key)" ||
  bad "onboard-agent does not export EVP_DigestSignInit_ex"

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
# TLS 1.2 with a TPM key (docs/tpm.md, "TLS 1.2 and the tpm2 provider"): a TLS-1.2-only front
# (tests/integration/tls12-proxy.py: client certificate required, ECDHE on one curve) with an
# ECDSA and with an RSA server certificate, forwarding to a plain mosquitto listener. The
# transport prefers tpm2 for the whole connection without agent/tls-handle-key.c: then the
# ClientHello offers no NIST groups and the handshake fails ("no shared cipher" with the ECDSA
# certificate, "wrong curve" with the RSA one), which the plain probe shows.
bport=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
printf "listener %s 127.0.0.1\nallow_anonymous true\n" "$bport" >"$d/plain.conf"
mosquitto -c "$d/plain.conf" >"$d/plain.log" 2>&1 &
mpid=$!
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/rsa-root.key" 2>/dev/null
openssl req -new -x509 -key "$d/rsa-root.key" -subj /CN=rsa-root -days 1 -out "$d/rsa-root.crt" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/rsa-srv.key" 2>/dev/null
openssl req -new -key "$d/rsa-srv.key" -subj /CN=$OB_MQTT_HOST -out "$d/rsa-srv.csr" 2>/dev/null
printf "subjectAltName=DNS:%s\n" "$OB_MQTT_HOST" >"$d/rsa-srv.ext"
openssl x509 -req -in "$d/rsa-srv.csr" -CA "$d/rsa-root.crt" -CAkey "$d/rsa-root.key" -CAcreateserial \
  -days 1 -extfile "$d/rsa-srv.ext" -out "$d/rsa-srv.crt" 2>/dev/null || bad "RSA server certificate"
pids=$mpid
# proxy12 NAME CERT KEY CURVE: start a TLS-1.2-only front, print its port
proxy12() {
  pp=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])")
  python3 "$top_srcdir/tests/integration/tls12-proxy.py" $pp "$2" "$3" "$OB_DEVICE_CA_CERT" $bport \
    "$d/tls12-$1.ready" $4 >"$d/tls12-$1.log" 2>&1 &
  echo $! >>"$d/tls12.pids"
  for i in $(seq 100); do [ -e "$d/tls12-$1.ready" ] && break; sleep 0.05; done
  echo $pp
}
for srv in ecdsa rsa; do
  if [ $srv = ecdsa ]; then sc=$OB_SERVER_CERT sk=$OB_SERVER_KEY ca=$OB_ROOT_CA
  else sc=$d/rsa-srv.crt sk=$d/rsa-srv.key ca=$d/rsa-root.crt; fi
  port=$(proxy12 $srv "$sc" "$sk" prime256v1)
  port384=$(proxy12 $srv-384 "$sc" "$sk" secp384r1)
  for k in "$d/tpm.crt:$d/tpm.key:P-256:$port" "$d/ecc384.crt:handle:0x81000011:P-384:$port384" \
           "$d/rsa2048.crt:handle:0x81000012:RSA-2048:$port"; do
    kc=${k%%:*} rest=${k#*:}; kp=${rest##*:} rest=${rest%:*}; kk=${rest%:*} kn=${rest##*:}
    out=$("$probeh" --host "$OB_MQTT_HOST" --port $kp --cafile "$ca" --cert "$kc" --key "$kk" \
           --provider tpm2 --tcti "$OB_TCTI" --id gw-tls12-$srv --topic gw/tls12 2>&1); rc=$?
    [ $rc -eq 0 ] && echo "$out" | grep -q PUBACK &&
      ok "TLS 1.2 only, $srv server certificate, TPM key $kn: round trip through the transport" ||
      bad "TLS 1.2, $srv server certificate, TPM key $kn: rc $rc: $out"
  done
  # a software key through the same front, in the same process after a TPM key
  out=$("$probeh" --host "$OB_MQTT_HOST" --port $port --cafile "$ca" --cert "$d/tpm.crt" --key "$d/tpm.key" \
         --provider tpm2 --tcti "$OB_TCTI" --id gw-tls12-mix --connect-only --cert2 "$d/soft.crt" \
         --key2 "$d/soft.key" --provider2 default 2>&1); rc=$?
  [ $rc -eq 0 ] && [ "$(echo "$out" | grep -c "^connected")" = 2 ] &&
    ok "TLS 1.2 only, $srv server certificate: TPM key, then a software key, in one process" ||
    bad "TLS 1.2, $srv: TPM key then software key: rc $rc: $out"
  out=$("$probeh" --host "$OB_MQTT_HOST" --port $port --cafile "$ca" --cert "$d/rsa2048.crt" \
         --key handle:0x81000012 --provider tpm2 --tcti "$OB_TCTI" --id gw-tls12-probe --probe 2>&1); rc=$?
  [ $rc -eq 0 ] && ok "probe: TLS 1.2 only, $srv server certificate, vendor RSA key at a handle: $out" ||
    bad "probe over TLS 1.2 ($srv), vendor RSA key: rc $rc: $out"
  # without agent/tls-handle-key.c (the plain probe, like agentctl) the old preference stays
  out=$(p --port $port --cafile "$ca" --cert "$d/tpm.crt" --key "$d/tpm.key" --provider tpm2 \
         --tcti "$OB_TCTI" --id gw-tls12-plain --connect-only 2>&1); rc=$?
  case $rc in 11|12) echo "$out" | grep -q "alert";; *) false;; esac && ok "without the signing replacement TLS 1.2 with a TPM key fails ($srv): $out" ||
    bad "plain probe over TLS 1.2 ($srv) connected: the limitation in docs/tpm.md is gone?"
  sed "s/^/# tls12-$srv: /" "$d/tls12-$srv.log" "$d/tls12-$srv-384.log"
done
kill $pids $(cat "$d/tls12.pids") 2>/dev/null
exit $fail
'
