#!/bin/sh
# A hostile or broken cloud, end to end (issue 10): the real daemon, real TLS, mosquitto with the
# emulator plugin, the key in the software TPM. The emulator's fault injection (settings.fault,
# docs/emulator.md) breaks the fleet provisioning replies; small TLS servers made by this test
# (tests/integration/tls-bad-server.py) present a certificate from the wrong CA, for the wrong
# host, expired, or offer only TLS 1.1. For each: the agent refuses with a clear status
# (last_error code/class/text), does not crash, state.json still loads (checked by restarting
# the daemon and by agentctl reading it offline), the stage does not advance wrongly, CONNECTs
# are counted against the attempts; once the fault is gone the agent finishes on its own with
# exactly one ACTIVE certificate.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || OB_EMULATOR_SNI=1 exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
command -v jq >/dev/null || { echo "# SKIP: jq is missing"; exit 77; }
t_start=$(date +%s)

# gw NAME [PORT] [EXTRA_PROVISIONING_JSON]: a claim-flow gateway (TPM key), short backoffs
gw() {
  gw_config "$1" port="${2:-$OB_MQTT_PORT}" ct=3 st=2 provisioning="${3:-}" \
    retry='"network": { "base": 1, "cap": 1 }, "rejected": { "base": 1, "cap": 2 },
             "throttled": { "base": 1, "cap": 1 }, "tls": { "base": 1, "cap": 2 },
             "timeout": { "base": 1, "cap": 1 }, "refused": { "base": 1, "cap": 1 }'
}
# connects NAME: MQTT connections the broker saw from the gateway's client id (its serial)
connects() { grep -c "New client connected .* as SN-$1-$$ " "$OB_MOSQ_LOG"; }
offline() { "$ctl" --config "$OB_WORLD_DIR/gw-$1/config.json" --json status 2>/dev/null; }
fault() { "$admin" set fault "$1" >/dev/null || bad "ob-emu-admin set fault $1"; }

# try NAME FAULT_JSON CODE TEXT_REGEX STAGE [CLASS]: with the fault set, a fresh daemon (so state.json
# must load) refuses the reply with CODE and a text matching TEXT_REGEX, stays alive, keeps
# STAGE, and connects no more often than it counts attempts
try() {
  n=$1 f=$2 code=$3 text=$4 stage=$5 class=${6:-rejected}
  kind=$(printf "%s\n" "$f" | jq -r '(.kind // "no-fault") + (if .field then "(" + .field + ")" else "" end)')
  what=$(printf "%s\n" "$f" | jq -r '.api // "any"')
  fault "$f"
  c0=$(connects "$n")
  prev=$(offline "$n" | jq -c '[.last_error.time, .attempts]')
  a0=$(offline "$n" | jq -r '.attempts // 0')
  start "$n"
  # a new failure: not the one the previous case left in state.json
  if ! wait_for "$n" ".last_error.code == \"$code\" and [.last_error.time, .attempts] != ${prev:-null}" 15; then
    bad "$what $kind: no $code: $(st "$n" | jq -c .last_error)"; log_tail "$n"; stop "$n"; return
  fi
  s=$(st "$n")
  t=$(echo "$s" | jq -r .last_error.text)
  pid=$(cat "$OB_WORLD_DIR/gw-$n/pid")
  echo "$t" | grep -Eq "$text" && [ "$(echo "$s" | jq -r .last_error.class)" = "$class" ] &&
    ok "$what $kind: $code/$(echo "$s" | jq -r .last_error.class): $t" || bad "$what $kind: $(echo "$s" | jq -c .last_error)"
  sleep 0.3
  kill -0 "$pid" 2>/dev/null && ok "$what $kind: the daemon is alive" || bad "$what $kind: the daemon died"
  a=$(( $(st "$n" | jq -r .attempts) - a0 ))
  stop "$n"
  o=$(offline "$n")
  c=$(( $(connects "$n") - c0 ))
  # offline (no daemon): no retry time is promised (issue 17 item 1)
  [ "$(echo "$o" | jq -r .stage)" = "$stage" ] && [ "$(echo "$o" | jq -r .last_error.code)" = "$code" ] &&
    [ "$(echo "$o" | jq -r .next_retry)" = null ] && [ "$(echo "$o" | jq -r .state)" = stopped ] &&
    ok "$what $kind: state.json loads offline, stage $stage, state stopped, no next_retry, $c CONNECT(s) for $a attempt(s)" ||
    bad "$what $kind: offline status $(echo "$o" | jq -c '{stage, last_error}')"
  # a CONNECT per attempt, plus one for an attempt in progress at the stop: never more
  [ "$c" -le $((a + 1)) ] || bad "$what $kind: $c CONNECTs for $a attempts"
}

"$admin" set fault '{"kind": "malformd"}' >/dev/null 2>&1 && bad "emulator: a misspelt fault kind accepted" ||
  ok "emulator: a misspelt fault kind is refused"
"$admin" set fault '{"kind": "malformed", "api": "RegisterThings"}' >/dev/null 2>&1 && bad "emulator: a misspelt fault api accepted" ||
  ok "emulator: a misspelt fault api is refused"

# ---------------------------------------------------------------- 1. CreateCertificateFromCsr
if want create; then
gw h
api='"api": "CreateCertificateFromCsr"'
try h "{\"kind\": \"malformed\", $api}" bad-reply "not well-formed" key-ready
try h "{\"kind\": \"truncated\", $api}" bad-reply "not well-formed" key-ready
try h "{\"kind\": \"oversized\", $api}" bad-reply "message of 1[3-9][0-9]{4} bytes .* dropped" key-ready
try h "{\"kind\": \"wrong-type\", $api}" bad-reply "fields" key-ready
try h "{\"kind\": \"missing\", $api}" bad-reply "fields" key-ready
try h "{\"kind\": \"missing\", \"field\": \"certificateOwnershipToken\", $api}" bad-reply "fields" key-ready
try h "{\"kind\": \"id-mismatch\", $api}" bad-reply "not the SHA-256" key-ready
try h "{\"kind\": \"other-key\", $api}" certificate-key-mismatch "not for our key" key-ready
try h "{\"kind\": \"wrong-topic\", $api}" timeout "." key-ready timeout
[ "$(st h | jq -r .ignored_messages)" != 0 ] || true
# a certificate valid only in two days (a certificate provider with its clock ahead): refused
# beyond clock.max_skew (1 h), never committed
"$admin" set issuedCertNotBeforeOffset 172800 >/dev/null || bad "ob-emu-admin set issuedCertNotBeforeOffset"
try h null certificate-not-yet-valid "valid only from .*, 172[0-9]{3} s ahead .*clock.max_skew allows 3600 s" key-ready
"$admin" set issuedCertNotBeforeOffset null >/dev/null

echo "# $(($(date +%s) - t_start)) s"
# the retry rule under a lasting fault: 5 s of malformed replies, CONNECTs counted
fault "{\"kind\": \"malformed\", $api}"
c0=$(connects h); a0=$(offline h | jq -r .attempts); start h; sleep 5
c=$(( $(connects h) - c0 )); a=$(( $(st h | jq -r .attempts) - a0 ))
[ "$c" -ge 2 ] && [ "$c" -le 6 ] && [ "$c" -le $((a + 1)) ] &&
  ok "5 s of malformed replies: $c CONNECTs for $a attempts (floor 1/s, rejected backoff 1-2 s)" ||
  bad "5 s of malformed replies: $c CONNECTs for $a attempts"
stop h

# ---------------------------------------------------------------- 2. RegisterThing
api='"api": "RegisterThing"'
try h "{\"kind\": \"malformed\", $api}" bad-reply "RegisterThing reply \(not well-formed\)" certificate-issued
try h "{\"kind\": \"truncated\", $api}" bad-reply "RegisterThing reply \(not well-formed\)" certificate-issued
try h "{\"kind\": \"oversized\", $api}" bad-reply "message of 1[3-9][0-9]{4} bytes .* dropped" certificate-issued
try h "{\"kind\": \"wrong-type\", $api}" bad-reply "RegisterThing reply \(fields\)" certificate-issued
try h "{\"kind\": \"missing\", $api}" bad-reply "without thingName" certificate-issued
# a thing name outside AWS's rule: a path and a newline that would forge a log line
try h "{\"kind\": \"value\", \"field\": \"thingName\", \"value\": \"../../etc/evil\\nname\", $api}" bad-reply "thingName AWS IoT does not allow" certificate-issued
grep -q "^evil\|^name" "$OB_WORLD_DIR/gw-h/agent.log" && bad "a log line starts with the hostile name's tail" ||
  ok "no log line forged by the hostile thing name"
try h "{\"kind\": \"wrong-topic\", $api}" timeout "." certificate-issued timeout
cert=$(offline h | jq -r .certificate_id)

# ---------------------------------------------------------------- 3. fault off: unattended
fault null
start h
if wait_for h '.state == "onboarded"' 20; then
  s=$(st h)
  [ "$(echo "$s" | jq -r .certificate_id)" = "$cert" ] &&
    ok "fault off: onboarded with the certificate issued before the RegisterThing faults" ||
    bad "fault off: certificate changed ($cert -> $(echo "$s" | jq -r .certificate_id))"
  [ "$(active_certs "$(echo "$s" | jq -r .thing_name)")" = 1 ] && ok "fault off: exactly one ACTIVE certificate" ||
    bad "fault off: $(active_certs "$(echo "$s" | jq -r .thing_name)") ACTIVE certificates"
  [ "$(echo "$s" | jq -r .last_error)" = null ] && ok "fault off: last_error cleared" || bad "last_error: $(echo "$s" | jq -c .last_error)"
else
  bad "fault off: not onboarded"; log_tail h 30
fi
stop h
fi

echo "# $(($(date +%s) - t_start)) s"
# ---------------------------------------------------------------- 4. duplicated, out of order, CBOR, keys
if want order; then
fault '{"kind": "duplicate"}'
gw dup; start dup
wait_for dup '.state == "onboarded"' 20 && s=$(st dup) &&
  [ "$(echo "$s" | jq -r .ignored_messages)" -ge 2 ] &&
  [ "$(active_certs "$(echo "$s" | jq -r .thing_name)")" = 1 ] &&
  ok "duplicated replies: onboarded, $(echo "$s" | jq -r .ignored_messages) ignored, one ACTIVE certificate" ||
  { bad "duplicated replies: $(st dup | jq -c '{state, ignored_messages, last_error}')"; log_tail dup; }
stop dup

fault '{"kind": "out-of-order"}'
gw ooo; start ooo
wait_for ooo '.state == "onboarded"' 20 && s=$(st ooo) &&
  [ "$(echo "$s" | jq -r .thing_name)" = "ob-SN-ooo-$$" ] &&
  [ "$(echo "$s" | jq -r .ignored_messages)" -ge 2 ] &&
  [ "$(active_certs "$(echo "$s" | jq -r .thing_name)")" = 1 ] &&
  ok "out of order (RegisterThing's reply before CreateCertificateFromCsr's, and the reverse): stray replies ignored ($(echo "$s" | jq -r .ignored_messages)), onboarded as $(echo "$s" | jq -r .thing_name)" ||
  { bad "out of order: $(st ooo | jq -c '{state, thing_name, ignored_messages, last_error}')"; log_tail ooo; }
stop ooo

# a stray RegisterThing reply *instead of* the certificate reply: nothing to take, a timeout
gw wh
try wh '{"kind": "out-of-order", "api": "CreateCertificateFromCsr", "withhold": true}' timeout "." key-ready timeout

gw cbor 0 '"payload_format": "cbor"'
sed -i "s/\"port\": 0/\"port\": $OB_MQTT_PORT/" "$OB_WORLD_DIR/gw-cbor/config.json"
try cbor '{"kind": "malformed", "api": "CreateCertificateFromCsr"}' bad-reply "not well-formed" key-ready
try cbor '{"kind": "truncated", "api": "CreateCertificateFromCsr"}' bad-reply "not well-formed" key-ready
try cbor '{"kind": "wrong-type", "api": "CreateCertificateFromCsr"}' bad-reply "fields" key-ready
fault null
start cbor
wait_for cbor '.state == "onboarded"' 20 &&
  [ "$(active_certs "$(st cbor | jq -r .thing_name)")" = 1 ] && ok "CBOR: fault off, onboarded, one ACTIVE certificate" ||
  { bad "CBOR: after the faults"; log_tail cbor; }
stop cbor

# CreateKeysAndCertificate (a software key from the cloud): the key must fit the certificate
gw keys 0 '"create_keys": true'
sed -i "s/\"port\": 0/\"port\": $OB_MQTT_PORT/; s/\"backend\": \"tpm\"/\"backend\": \"software\"/" "$OB_WORLD_DIR/gw-keys/config.json"
try keys '{"kind": "other-key", "api": "CreateKeysAndCertificate"}' certificate-key-mismatch "not for our key" new
try keys '{"kind": "missing", "field": "privateKey", "api": "CreateKeysAndCertificate"}' bad-reply "fields" new
fault null
start keys
wait_for keys '.state == "onboarded"' 20 &&
  [ "$(active_certs "$(st keys | jq -r .thing_name)")" = 1 ] && ok "CreateKeysAndCertificate: fault off, onboarded, one ACTIVE certificate" ||
  { bad "CreateKeysAndCertificate: after the faults"; log_tail keys; }
stop keys
fault null
fi

echo "# $(($(date +%s) - t_start)) s"
# ---------------------------------------------------------------- 5. TLS: servers we must refuse
if want tls; then
p=$OB_WORLD_DIR/badtls
mkdir -p "$p/ca"
ossl() { openssl "$@" 2>>"$p/openssl.log"; }
mkleaf() { # NAME SAN CA_CERT CA_KEY [START END]
  ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$p/$1.key"
  ossl req -new -key "$p/$1.key" -subj "/CN=$1" -out "$p/$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" >"$p/$1.ext"
  if [ -n "${5:-}" ]; then # openssl ca can backdate
    : >"$p/ca/index.txt"; echo 01 >"$p/ca/serial"
    printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=copy\n[p]\ncommonName=supplied\n' \
      "$p/ca" "$p/ca" "$p/ca" >"$p/ca/ca.cnf"
    ossl ca -batch -config "$p/ca/ca.cnf" -cert "$3" -keyfile "$4" -in "$p/$1.csr" -extfile "$p/$1.ext" \
      -startdate "$5" -enddate "$6" -out "$p/$1.crt" >/dev/null
  else
    ossl x509 -req -in "$p/$1.csr" -CA "$3" -CAkey "$4" -CAcreateserial -days 2 -extfile "$p/$1.ext" -out "$p/$1.crt"
  fi
}
ossl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$p/evil-ca.key" \
  -subj "/CN=Evil Root CA" -days 2 -out "$p/evil-ca.crt" -addext basicConstraints=critical,CA:TRUE
mkleaf wrongca "DNS:localhost,IP:127.0.0.1" "$p/evil-ca.crt" "$p/evil-ca.key"
mkleaf wronghost "DNS:not-the-endpoint.example" "$OB_ROOT_CA" "$OB_PKI_DIR/root.key"
mkleaf expired "DNS:localhost,IP:127.0.0.1" "$OB_ROOT_CA" "$OB_PKI_DIR/root.key" 20200101000000Z 20200102000000Z
cp "$OB_SERVER_CERT" "$p/tls11.crt"; cp "$OB_SERVER_KEY" "$p/tls11.key" # the right certificate, TLS 1.1 only
# the same with an RSA certificate and RSA key exchange: no signature that security level 2
# would refuse, so only the agent's own rule keeps it from TLS 1.1
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$p/tls11rsa.key"
ossl req -new -key "$p/tls11rsa.key" -subj /CN=localhost -out "$p/tls11rsa.csr"
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$p/tls11rsa.ext"
ossl x509 -req -in "$p/tls11rsa.csr" -CA "$OB_ROOT_CA" -CAkey "$OB_PKI_DIR/root.key" -CAcreateserial -days 2 \
  -extfile "$p/tls11rsa.ext" -out "$p/tls11rsa.crt"

servers="wrongca wronghost expired tls11 tls11rsa"
ports=$(python3 -c 'import socket
ss = [socket.socket() for _ in range(5)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
srvpids=
set -- $ports
for s in $servers; do
  [ -s "$p/$s.crt" ] || { bad "could not make the $s certificate: $(tail -3 "$p/openssl.log")"; continue; }
  eval "port_$s=$1"
  case $s in tls11) mode=tls1.1 ;; tls11rsa) mode=tls1.1:AES128-SHA ;; *) mode= ;; esac
  python3 "$top_srcdir/tests/integration/tls-bad-server.py" "$1" "$p/$s.crt" "$p/$s.key" "$p/$s.log" \
    "$OB_MQTT_PORT" $mode >/dev/null 2>"$p/$s.err" &
  srvpids="$srvpids $!"
  shift
done
for s in $servers; do
  i=0; until grep -q listening "$p/$s.log" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
  grep -q listening "$p/$s.log" 2>/dev/null || bad "the $s server did not start: $(tail -3 "$p/$s.err")"
done
# the servers work: a client that trusts them (and, for TLS 1.1, allows it) gets through
ck() {
  pt=$1; shift
  for _ in 1 2; do
    out=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$pt" -verify_return_error "$@" 2>&1) && return 0
    # a server that resets the connection after the handshake makes s_client exit 1: the
    # handshake itself is what counts (a cipher agreed and the chain verified)
    printf '%s\n' "$out" | grep -q 'Cipher is [A-Z]' &&
      printf '%s\n' "$out" | grep -q 'Verify return code: 0 (ok)' && return 0
  done
  echo "# $(printf '%s\n' "$out" | grep -i 'error\|verify' | head -3)"
  return 1
}
ck "$port_wrongca" -CAfile "$p/evil-ca.crt" -servername localhost && ok "control: the wrong-CA server works for a client trusting its CA" || bad "control: wrong-CA server"
ck "$port_wronghost" -CAfile "$OB_ROOT_CA" -verify_hostname not-the-endpoint.example && ok "control: the wrong-host server works for its own name" || bad "control: wrong-host server"
ck "$port_expired" -CAfile "$OB_ROOT_CA" -no_check_time && ok "control: the expired server certificate verifies but for its dates" || bad "control: expired server"
ck "$port_tls11" -CAfile "$OB_ROOT_CA" -tls1_1 -cipher DEFAULT@SECLEVEL=0
grep -q 'handshake ok TLSv1.1' "$p/tls11.log" &&
  ok "control: the TLS 1.1 server completes a TLS 1.1 handshake at security level 0 (Debian 12's default level 2 refuses it)" ||
  bad "control: TLS 1.1 server: $(tail -2 "$p/tls11.log")"
ck "$port_tls11rsa" -CAfile "$OB_ROOT_CA"
grep -q 'handshake ok TLSv1.1' "$p/tls11rsa.log" &&
  ok "control: the TLS 1.1 RSA server gets TLS 1.1 from a plain openssl s_client at Debian 12's default level" ||
  bad "control: TLS 1.1 RSA server: $(tail -2 "$p/tls11rsa.log")"
ck "$port_tls11" -CAfile "$OB_ROOT_CA" -tls1_2 && bad "control: the TLS 1.1 server speaks TLS 1.2" || ok "control: the TLS 1.1 server refuses TLS 1.2"
for s in $servers; do : >"$p/$s.log"; done

# one daemon first (it makes the SRK), then the others: see "concurrent SRK" in the report
first=1 t_tls=$(date +%s)
for s in $servers; do
  eval "gw t$s \$port_$s"; start "t$s"
  [ $first = 1 ] && { wait_for "t$s" '.stage == "key-ready"' 20 || bad "TLS $s: no key"; first=0; }
done
for s in $servers; do
  case $s in
    wrongca) want_text="verify failed: unable to get local issuer certificate" ;;
    wronghost) want_text="verify failed: hostname mismatch" ;;
    expired) want_text="verify failed: certificate has expired" ;;
    tls11) want_text="legacy sigalg|protocol version|unsupported protocol|handshake failure" ;;
    tls11rsa) want_text="handshake failure|no shared cipher|protocol version" ;;
  esac
  if wait_for "t$s" '.last_error.class == "tls"' 15; then
    e=$(st "t$s" | jq -c .last_error)
    t=$(printf '%s\n' "$e" | jq -r .text)
    printf '%s\n' "$t" | grep -Eq "$want_text" && [ "$(printf '%s\n' "$e" | jq -r .code)" = connect-failed ] &&
      ok "TLS $s: refused: connect-failed/tls: $t" || bad "TLS $s: $e"
  else
    bad "TLS $s: $(st "t$s" | jq -c .last_error)"; log_tail "t$s"
  fi
done
sleep 3 # let the retries run: count the TLS connections
for s in $servers; do
  n=$(grep -c '^accept' "$p/$s.log") a=$(st "t$s" | jq -r .attempts)
  # attempts no faster than the floor (1/s) over the time the daemons have run (slower under
  # the sanitizers: a fixed count failed there)
  el=$(( $(date +%s) - t_tls + 1 ))
  # one connection per attempt; up to three when the failure needs a diagnosis (the agent's
  # TCP probe and its own handshake, agent/transport-paho.c)
  [ "$n" -ge 2 ] && [ "$n" -le $((3 * a + 3)) ] && [ "$a" -le $((el + 1)) ] &&
    ok "TLS $s: $n connections for $a attempts in $el s (tls backoff 1-2 s, floor 1/s)" ||
    bad "TLS $s: $n connections, $a attempts in $el s"
  case $s in tls11*) ! grep -q '^handshake ok' "$p/$s.log" && ok "TLS $s: no TLS 1.1 session was ever established" || bad "TLS $s: $(grep -c '^handshake ok' "$p/$s.log") TLS 1.1 sessions" ;; esac
  [ "$(st "t$s" | jq -r .stage)" = key-ready ] && st "t$s" | jq -e .daemon_running >/dev/null &&
    ok "TLS $s: alive, stage key-ready" || bad "TLS $s: stage $(st "t$s" | jq -r .stage)"
done
# the attacker goes away: the same port now leads to the real broker
for s in $servers; do touch "$p/$s.log.off"; done
for s in $servers; do
  wait_for "t$s" '.state == "onboarded"' 20 &&
    [ "$(active_certs "$(st "t$s" | jq -r .thing_name)")" = 1 ] &&
    ok "TLS $s: the real server behind the port: onboarded unattended, one ACTIVE certificate" ||
    { bad "TLS $s: not onboarded after the real server came back"; log_tail "t$s"; }
  stop "t$s"
done
for pid in $srvpids; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
fi

echo "# $(($(date +%s) - t_start)) s"
exit $fail
