#!/bin/sh
# static, jitp and jitr end to end (docs/provisioning.md, "Factory certificates"): the real
# daemon against the emulator, the device keys in the software TPM, every connection through
# the SNI front (SNI must be the endpoint host).
# Cases: no certificate yet -> waiting, then SIGHUP; static with a multi-account (MAR)
# certificate; REVOKED -> certificate-refused; JITP refused then accepted, thing from the CN;
# kill -9 after each saved stage; JITR activated by a delayed jitrFunction; JITR never activated
# (status, connects per second); JITP and JITR with a CA made by the test and registered at run
# time (trusted by the broker's TLS at once). Then a recorder: openssl s_server -tls1_2 -alpn x-amzn-mqtt-ca
# behind a second SNI front, which logs the certificates each client presented (TLS 1.2 sends
# the client's Certificate message in the clear; the emulator's mosquitto negotiates TLS 1.3,
# which hides it): the ALPN offer and certificate + CA before the first success. (After it,
# credentials/current holds the certificate alone: checked on the files here, and on the
# connect in tests/unit/test-onboard.c.)
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || OB_EMULATOR_SNI=1 exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
[ -n "${OB_MQTT_BROKER_PORT:-}" ] && [ "$OB_MQTT_BROKER_PORT" != "$OB_MQTT_PORT" ] ||
  { echo "# SKIP: the SNI front is not running (it records the presented chains)"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI
kt="$top_builddir/tests/integration/ob-keytool"
front_log=$OB_WORLD_DIR/recorder-front.log
events=$OB_EMULATOR_STATE_DIR/events.jsonl
ca_id=$(cert_id "$OB_DEVICE_CA_CERT")
"$kt" --tcti "$OB_TCTI" srk >/dev/null || { bad "SRK"; exit 1; }

# gw NAME METHOD [PROVISIONING_EXTRA] [ENDPOINT_EXTRA]
gw() {
  gw_config "$1" port="${PORT:-$OB_MQTT_PORT}" ct="${CT:-5}" endpoint="${4:-}" \
    prov="\"method\": \"$2\"${3:+, $3}" backend="${BACKEND:-tpm}" \
    retry='"network": { "base": 1, "cap": 2 }, "tls": { "base": 1, "cap": 2 },
             "timeout": { "base": 1, "cap": 2 }, "refused": { "base": 1, "cap": 3 }'
  mkdir -p "$g/state"
  chmod 700 "$g/state"
}

# factory NAME CN [nochain]: a TPM key (BACKEND=software: a PEM key) and a device-CA
# certificate for it, where agentctl factory puts them
factory() {
  f=${FACTORY_DIR:-$OB_WORLD_DIR/gw-$1/state/factory}
  mkdir -p "$f" "$OB_WORLD_DIR/gw-$1/state/factory"
  if [ "${BACKEND:-tpm}" = software ]; then
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$f/device.key" \
      -subj "/CN=$2" -out "$f/device.csr" 2>/dev/null
  else
    "$kt" --tcti "$OB_TCTI" create "$f/device.key" >/dev/null &&
      "$kt" --tcti "$OB_TCTI" csr "$f/device.key" "CN=$2" >"$f/device.csr"
  fi && sign_device_csr "$f/device.csr" "$f/device.crt" || bad "factory identity for $1"
  rm -f "$f/device.csr"
  [ "${3:-}" = nochain ] || cp "$OB_DEVICE_CA_CERT" "$f/chain.pem"
}
fcert() { echo "$OB_WORLD_DIR/gw-$1/state/factory/device.crt"; }
# presented ID: what the recorder's front saw for connections presenting certificate ID, one
# line each: the number of certificates presented
presented() { grep "client certificates: [0-9]* $1" "$front_log" | sed 's/.*certificates: \([0-9]*\) .*/\1/'; }
ev_count() { grep "\"event\":\"$1\"" "$events" | grep -c "$2"; }
# chk NAME ID: "result: detail -> hint" of one agentctl check
chk() {
  "$ctl" --config "$OB_WORLD_DIR/gw-$1/config.json" check --json 2>/dev/null |
    jq -r --arg id "$2" '.checks[] | select(.id == $id) | "\(.result): \(.detail) -> \(.hint)"'
}

# ---------------------------------------------------------------- no certificate yet, then static (MAR)
if want static; then
gw static static
start static
if wait_for static '.state == "waiting-for-certificate"' 10; then
  s=$(st static)
  echo "$s" | jq -e '.last_error.code == "no-certificate" and
                     (.last_error.text | test("agentctl factory install-cert"))' >/dev/null &&
    ok "no certificate: waiting-for-certificate with the install hint" || bad "status: $s"
  sleep 1
  kill -0 "$(cat "$OB_WORLD_DIR/gw-static/pid")" 2>/dev/null && ok "waiting: the daemon stays up" ||
    bad "the daemon exited without a certificate"
  c=$(chk static cert-expiry)
  echo "$c" | grep -q "^skip: .*install-cert" && ok "agentctl check cert-expiry: $c" || bad "check cert-expiry: $c"
else
  bad "no waiting-for-certificate"; log_tail static 20
fi
# made aside and moved in once registered: the daemon checks the factory folder every 5 s, and a
# certificate it found before its registration would make this a different (refused-first) case
FACTORY_DIR=$OB_WORLD_DIR/gw-static/staging factory static "static-gw-$$" nochain
register_cert "$OB_WORLD_DIR/gw-static/staging/device.crt" # multi-account registration: no CA id
mv "$OB_WORLD_DIR/gw-static/staging/device.key" "$OB_WORLD_DIR/gw-static/state/factory/device.key"
mv "$OB_WORLD_DIR/gw-static/staging/device.crt" "$OB_WORLD_DIR/gw-static/state/factory/device.crt"
id=$(cert_id "$(fcert static)")
jq -e --arg id "$id" '.certificates[$id] | .status == "ACTIVE" and (has("caCertificateId") | not)' \
  "$OB_EMULATOR_STATE_DIR/registry.json" >/dev/null && ok "the certificate is registered without a CA (MAR)" ||
  bad "MAR registration"
t0=$(date +%s%N)
kill -HUP "$(cat "$OB_WORLD_DIR/gw-static/pid")"
if wait_for static '.state == "onboarded"' 10; then
  ok "static: onboarded $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGHUP (through the SNI front: SNI = $OB_MQTT_HOST)"
  s=$(st static)
  [ "$(echo "$s" | jq -r .thing_name)" = "static-gw-$$" ] && [ "$(echo "$s" | jq -r .certificate_id)" = "$id" ] &&
    ok "thing name from the CN, certificate id $id" || bad "status: $s"
  cmp -s "$(fcert static)" "$OB_WORLD_DIR/gw-static/state/credentials/current/device.crt" &&
    cmp -s "$OB_WORLD_DIR/gw-static/state/factory/device.key" "$OB_WORLD_DIR/gw-static/state/credentials/current/device.key" &&
    ok "certificate and key copied into credentials/current" || {
      # seen twice in ~8 full runs (status onboarded 29-38 ms after the SIGHUP, state file still
      # at certificate-issued): keep what the team needs to find it
      bad "credentials/current"
      echo "# status: $s"
      echo "# state file: $(head -c 600 "$OB_WORLD_DIR/gw-static/state/state.json" | tail -c 560)"
      ls -la "$OB_WORLD_DIR/gw-static/state/credentials/" "$OB_WORLD_DIR/gw-static/state/credentials/current/" 2>&1 | sed 's/^/#   /'
      log_tail static 40
    }
  for k in device-key key-cert-match cert-expiry tls; do
    c=$(chk static $k)
    case $c in pass:*) ok "agentctl check $k: $c" ;; *) bad "check $k: $c" ;; esac
  done
  echo "$s" | jq -e '.rotation_note | test("rotation.template")' >/dev/null &&
    ok "status says there is no automatic renewal" || bad "no rotation note: $s"
  out=$("$ctl" --config "$OB_WORLD_DIR/gw-static/config.json" rotate 2>&1) &&
    bad "rotate accepted: $out" || { echo "$out" | grep -q "rotation.template" &&
    ok "agentctl rotate says why it cannot renew" || bad "rotate: $out"; }
  # the same as one JSON document: the daemon's code for it (issue 17 item 4)
  out=$("$ctl" --config "$OB_WORLD_DIR/gw-static/config.json" --json rotate 2>/dev/null); rc=$?
  [ $rc = 1 ] && echo "$out" | jq -e '.ok == false and .error.code == "not-supported" and
    .error.source == "daemon" and .error.exit == 1 and (.error.message | test("rotation.template"))' >/dev/null &&
    ok "agentctl --json rotate: not-supported from the daemon" || bad "--json rotate: rc=$rc: $out"
else
  bad "static did not onboard"; log_tail static 30
fi
stop static

# REVOKED: a clear, persistent status, retried slowly, no crash loop
gw revoked static
factory revoked "revoked-gw-$$" nochain
register_cert "$(fcert revoked)"
"$admin" revoke "$(cert_id "$(fcert revoked)")" >/dev/null
start revoked
if wait_for revoked '.last_error.code == "certificate-refused"' 15; then
  sleep 3
  s=$(st revoked)
  echo "$s" | jq -e '.last_error.class == "refused" and .stage == "certificate-issued" and
                     (.last_error.text | test("registered and ACTIVE"))' >/dev/null &&
    kill -0 "$(cat "$OB_WORLD_DIR/gw-revoked/pid")" 2>/dev/null &&
    ok "REVOKED: certificate-refused, still running, attempts $(echo "$s" | jq .attempts)" ||
    bad "revoked status: $s"
else
  bad "revoked: no certificate-refused"; log_tail revoked 20
fi
stop revoked
fi

# ---------------------------------------------------------------- a device maker's own CA
# JITP and JITR below use a CA made here, unknown to the world's broker: `register-ca` alone
# makes its devices' TLS handshakes succeed (the emulator's capath, docs/emulator.md "CA
# trust"), with no edit or restart of the world.
if want jitp || want jitr || want alpn; then
  own=$OB_WORLD_DIR/own-ca
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$own.key" \
    -subj "/O=Example Devices Ltd/CN=Example Devices Factory CA 1" -days 30 -out "$own.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  OB_DEVICE_CA_CERT=$own.crt OB_DEVICE_CA_KEY=$own.key
  ca_id=$(cert_id "$OB_DEVICE_CA_CERT")
  # before register-ca the broker does not know the CA: its TLS alert "unknown ca" is said as
  # such (class tls), never taken for a JITP registration in progress (issue 17 item 5)
  if want jitp; then
    gw unknownca jitp
    factory unknownca "unknownca-gw-$$"
    start unknownca
    if wait_for unknownca '.last_error != null' 15; then
      s=$(st unknownca)
      # (TLS 1.3: the alert comes after the client's Finished; whether the agent reads it or
      # meets the close first depends on timing, as in test-transport's "probe rogue": a
      # close is class tls too, and an alert must be the right one)
      t=$(echo "$s" | jq -r .last_error.text)
      [ "$(echo "$s" | jq -r .last_error.class)" = tls ] &&
        { echo "$t" | grep -q 'alert "unknown ca"' || { ! echo "$t" | grep -q 'alert' && echo "$t" | grep -q 'eof\|closed'; }; } &&
        [ "$(echo "$s" | jq -r .last_error.code)" != registration-pending ] &&
        ok "a CA the broker does not know: $(echo "$s" | jq -r .last_error.code)/tls ($(echo "$t" | grep -o 'alert "unknown ca"\|eof' | head -1))" ||
        bad "unknown CA: $(echo "$s" | jq -c .last_error)"
    else
      bad "unknown CA: no error"; log_tail unknownca 20
    fi
    # rotate before the first identity: the daemon's refusal as one JSON document, in words
    # that say why and what to do (issue 17 item 4)
    out=$("$ctl" --config "$OB_WORLD_DIR/gw-unknownca/config.json" --json rotate 2>/dev/null); rc=$?
    [ $rc = 1 ] && echo "$out" | jq -e '.ok == false and .error.code == "not-onboarded" and
      .error.source == "daemon" and (.error.message | test("jitp device .*agentctl status"))' >/dev/null &&
      ok "agentctl --json rotate before onboarding: $(echo "$out" | jq -r .error.message)" ||
      bad "--json rotate before onboarding: rc=$rc: $out"
    stop unknownca
  fi
  "$admin" register-ca "$OB_DEVICE_CA_CERT" >/dev/null && [ -e "$OB_EMULATOR_TRUST_DIR/$(openssl x509 -in "$own.crt" -noout -hash).0" ] &&
    ok "register-ca: the new CA is in the broker's capath" || bad "register-ca of the device maker's CA"
fi

# ---------------------------------------------------------------- JITP
if want jitp; then
"$admin" update-ca "$ca_id" autoRegistration=true 'template="JitpTemplate"' >/dev/null ||
  bad "CA update for JITP"
gw jitp jitp
factory jitp "jitp-gw-$$"
id=$(cert_id "$(fcert jitp)")
start jitp
if wait_for jitp '.state == "onboarded"' 20; then
  s=$(st jitp)
  [ "$(echo "$s" | jq -r .thing_name)" = "jitp-gw-$$" ] && ok "jitp: onboarded as the CN" || bad "status: $s"
  [ "$(ev_count jitpProvisioned "$id")" = 1 ] && ok "the template ran once" || bad "jitpProvisioned: $(ev_count jitpProvisioned "$id")"
  "$admin" list-things 2>/dev/null | grep -q "jitp-gw-$$" && ok "the template created thing jitp-gw-$$" ||
    bad "no thing jitp-gw-$$"
  n=$(grep '"event":"connect' "$events" | grep -c "\"clientId\":\"jitp-gw-$$\"")
  r=$(grep '"event":"connectRefused"' "$events" | grep -c "$id")
  grep -q "registration-pending" "$OB_WORLD_DIR/gw-jitp/agent.log" && [ "$r" = 0 ] &&
    ok "first connect refused (registration-pending), the next one accepted" ||
    bad "refusals: $r, log: $(grep -c registration-pending "$OB_WORLD_DIR/gw-jitp/agent.log")"
  c=$OB_WORLD_DIR/gw-jitp/state/credentials/current
  [ "$(grep -c 'BEGIN CERTIFICATE' "$c/device.crt")" = 1 ] && [ ! -e "$OB_WORLD_DIR/gw-jitp/run/device-chain.pem" ] &&
    ok "credentials/current holds the certificate alone; the runtime chain file is gone" || bad "slot content"
else
  bad "jitp did not onboard"; log_tail jitp 30
fi
stop jitp

# agentctl check before the first success (the daemon never ran): tls presents the factory
# certificate (it presented none before issue 17) and says that the first connect registers it;
# cloud's first CONNECT registers it (JITP: AWS closes that connection, not a failure), the
# second, a second later, is accepted under the CN's client id (no daemon runs: the check uses the
# daemon's own)
gw jitpchk jitp
factory jitpchk "jitpchk-gw-$$"
out=$("$ctl" --config "$OB_WORLD_DIR/gw-jitpchk/config.json" check --json 2>/dev/null)
r=$(echo "$out" | jq -r '.checks[] | select(.id == "tls") | "\(.result): \(.detail)"')
case $r in "pass: "*"client certificate: factory certificate (TPM key); AWS registers it at the first MQTT connect"*)
  ok "check tls before JITP: presents the factory certificate" ;; *) bad "check tls before JITP: $r" ;; esac
r=$(echo "$out" | jq -r '.checks[] | select(.id == "cloud") | "\(.result): \(.detail)"')
case $r in "pass: JITP: the first CONNECT registered"*"second was accepted (client id jitpchk-gw-$$)"*)
  ok "check cloud before JITP: registered by the first CONNECT, accepted by the second" ;; *) bad "check cloud before JITP: $r" ;; esac
r=$(chk jitpchk cloud)
case $r in "pass: CONNACK accepted"*) ok "check cloud again (a second process, a second later): accepted" ;;
  *) bad "check cloud again: $r" ;; esac
"$admin" list-things 2>/dev/null | grep -q "jitpchk-gw-$$" && ok "check cloud: JITP's template made thing jitpchk-gw-$$" ||
  bad "no thing jitpchk-gw-$$"

# kill -9 right after each saved stage: resume, onboard, one ACTIVE certificate
for stage in certificate-issued onboarded; do
  n=crash-${stage%%-*}
  gw "$n" jitp
  factory "$n" "$n-$$"
  start "$n" OB_TEST_CRASH_AFTER_STAGE=$stage
  if wait_for "$n" ".stage == \"$stage\" and .daemon_running == false" 20 dead-ok; then
    sleep 1.1
    start "$n"
    if wait_for "$n" '.state == "onboarded"' 20; then
      [ "$(jq --arg id "$(cert_id "$(fcert "$n")")" '.certificates[$id].status' "$OB_EMULATOR_STATE_DIR/registry.json")" = '"ACTIVE"' ] &&
        [ "$(st "$n" | jq -r .thing_name)" = "$n-$$" ] &&
        ok "kill -9 after $stage: resumed and onboarded" || bad "after $stage: $(st "$n")"
    else
      bad "kill -9 after $stage: did not resume"; log_tail "$n" 20
    fi
  else
    bad "no crash after $stage"; log_tail "$n" 20
  fi
  stop "$n"
done
fi

# ---------------------------------------------------------------- JITR
if want jitr; then
# JITR: auto-registration without a template; the "cloud function" activates after 2 s
printf '%s\n' 'cat >/dev/null' 'sleep 2' \
  'echo "{\"status\":\"ACTIVE\",\"policies\":[\"AllowAll\"]}"' >"$OB_WORLD_DIR/jitr-fn.sh"
"$admin" update-ca "$ca_id" autoRegistration=true template=null \
  "jitrFunction=\"sh $OB_WORLD_DIR/jitr-fn.sh\"" >/dev/null || bad "CA update for JITR"
gw jitr jitr
factory jitr "jitr-gw-$$"
id=$(cert_id "$(fcert jitr)")
start jitr
wait_for jitr '.state == "waiting-for-activation"' 10 &&
  st jitr | jq -e '.last_error.code == "waiting-for-activation"' >/dev/null &&
  ok "jitr: waiting-for-activation after the first refusal" || bad "jitr status: $(st jitr)"
if wait_for jitr '.state == "onboarded"' 20; then
  [ "$(ev_count jitrRegistered "$id")" -ge 1 ] && ok "jitr: activated by the jitrFunction, onboarded as $(st jitr | jq -r .thing_name)" ||
    bad "no jitrRegistered event"
  r=$(grep -c "waiting-for-activation" "$OB_WORLD_DIR/gw-jitr/agent.log")
  [ "$r" -ge 1 ] && ok "jitr: refused while pending, then accepted" || bad "jitr: no refusal seen"
else
  bad "jitr did not onboard"; log_tail jitr 30
fi
stop jitr

# never activated: the status stays, and the connects follow the backoff (1/s at most)
"$admin" update-ca "$ca_id" jitrFunction=null >/dev/null
gw never jitr
factory never "never-gw-$$"
id=$(cert_id "$(fcert never)")
t0=$(date +%s)
start never
# at least 8 s and 3 attempts (a sanitizer build is several times slower: no fixed sleep)
sleep 8
wait_for never '.attempts >= 3' 40
s=$(st never)
secs=$(( $(date +%s) - t0 ))
n=$(grep '"event":"connectRefused"' "$events" | grep -c "$id")
echo "$s" | jq -e '.state == "waiting-for-activation" or .state == "verifying"' >/dev/null &&
  echo "$s" | jq -e '.last_error.code == "waiting-for-activation"' >/dev/null &&
  ok "never activated: still waiting-for-activation after $secs s (attempts $(echo "$s" | jq .attempts))" ||
  bad "never: $s"
[ "$n" -ge 2 ] && [ "$n" -le "$secs" ] &&
  ok "refused connects in $secs s: $n (backoff 1-3 s, never more than 1/s)" || bad "connects in $secs s: $n"
dup=$(grep '"event":"connectRefused"' "$events" | grep "$id" | jq -r .time | uniq -d | wc -l)
[ "$dup" = 0 ] && ok "no two connects of the certificate within one second" || bad "$dup seconds with two connects"
# issue 17: while waiting for activation status says when the next attempt is; once the
# certificate is activated (here by hand, as the CLI would), agentctl retry tries at once.
# The daemon first gets a backoff of up to an hour (restarted with refused base = cap = 3600 s;
# full jitter draws the wait from 0..3600 s, so the test waits for a draw of more than 15 s:
# a short one is over, and redrawn, within the wait), so that its own retry cannot win the race
# against agentctl retry.
stop never
c=$OB_WORLD_DIR/gw-never/config.json
jq '.retry.refused = {"base": 3600, "cap": 3600}' "$c" >"$c.new" && mv "$c.new" "$c"
start never
wait_for never '.state == "waiting-for-activation" and .next_retry != null and
  (.next_retry | fromdateiso8601) - now > 15' 40 &&
  ok "waiting-for-activation: next_retry $(st never | jq -r .next_retry)" ||
  bad "waiting-for-activation without next_retry: $(st never | jq -c '{state, next_retry}')"
"$admin" attach-policy "$id" AllowAll >/dev/null && "$admin" activate "$id" >/dev/null ||
  bad "activating $id by hand"
wait_for never '.state == "waiting-for-activation"' 10
out=$("$ctl" --config "$OB_WORLD_DIR/gw-never/config.json" --json retry 2>&1) ||
  bad "agentctl retry: $out"
wait_for never '.state == "onboarded"' 10 &&
  grep -q "retry requested while waiting-for-activation: trying now" "$OB_WORLD_DIR/gw-never/agent.log" &&
  ok "activated, agentctl retry: onboarded ($(echo "$out" | jq -r .state 2>/dev/null) right after the retry)" ||
  { bad "after activation and retry: $(st never | jq -c '{state, last_error}')"; log_tail never 10; }
out=$("$ctl" --config "$OB_WORLD_DIR/gw-never/config.json" retry 2>&1); rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "nothing-to-retry: onboarded" &&
  ok "retry when onboarded: refused, rc 1: $out" || bad "retry when onboarded: rc $rc: $out"
stop never
# agentctl check before JITR's activation: cloud's CONNECT registers the certificate
# PENDING_ACTIVATION and is refused: a warning that names the activation, not a failure
gw jitrchk jitr
factory jitrchk "jitrchk-gw-$$"
r=$(chk jitrchk cloud)
case $r in "warn: JITR: closed before CONNACK"*"PENDING_ACTIVATION"*) ok "check cloud before JITR's activation: warns, names it" ;;
  *) bad "check cloud before JITR: $r" ;; esac
"$admin" update-ca "$ca_id" autoRegistration=false >/dev/null
fi

# ---------------------------------------------------------------- the recorder: ALPN, SNI, chains
if want alpn; then
fport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sport=$(fport)
# -www: answers without reading stdin (s_server quits at EOF on stdin otherwise); stdbuf: its
# log is read while it runs
stdbuf -oL openssl s_server -www -tls1_2 -accept "$sport" -cert "$OB_SERVER_CERT" -key "$OB_SERVER_KEY" \
  -alpn x-amzn-mqtt-ca -Verify 2 -CAfile "$OB_DEVICE_CA_CERT" >"$OB_WORLD_DIR/s_server.log" 2>&1 </dev/null &
srv=$!
/usr/bin/python3 "$top_srcdir/tests/emulator/sni-front.py" --upstream "127.0.0.1:$sport" \
  --server-name "$OB_MQTT_HOST" --port-file "$OB_WORLD_DIR/recorder.port" 2>"$front_log" &
front=$!
i=0
while [ ! -s "$OB_WORLD_DIR/recorder.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
# a software key: with the tpm2 provider loaded, OpenSSL 3 finds no TLS 1.2 cipher in common
# with this server (see docs/provisioning.md); the chain logic does not depend on the backend
CT=2 BACKEND=software PORT=$(cat "$OB_WORLD_DIR/recorder.port") gw alpn jitp "" '"alpn": true'
BACKEND=software factory alpn "alpn-gw-$$"
id=$(cert_id "$(fcert alpn)")
start alpn
i=0
while [ $i -lt 80 ] && [ "$(presented "$id" | wc -l)" -lt 2 ]; do sleep 0.1; i=$((i + 1)); done
grep -q "ALPN protocols advertised by the client: x-amzn-mqtt-ca" "$OB_WORLD_DIR/s_server.log" &&
  ok "ALPN x-amzn-mqtt-ca offered (recorded by openssl s_server -alpn), SNI $OB_MQTT_HOST" ||
  bad "ALPN: $(head -20 "$OB_WORLD_DIR/s_server.log")"
p=$(presented "$id" | head -2 | tr '\n' ' ')
[ "$p" = "2 2 " ] && grep -q "client certificates: 2 $id $ca_id" "$front_log" &&
  ok "jitp before the first success: certificate + device CA, again after the refusal" ||
  bad "presented before success: '$p'"
stop alpn
kill "$front" "$srv" 2>/dev/null; wait "$front" "$srv" 2>/dev/null
fi

exit $fail
