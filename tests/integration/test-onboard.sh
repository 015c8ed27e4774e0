#!/bin/sh
# Onboarding end to end: the real daemon (agent/daemon.c + lib/onboard.c) against the emulator
# (mosquitto + plugin) with keys in the software TPM (swtpm behind tpm2-abrmd), driven and
# observed with agentctl and the emulator's admin tool. Cases (docs/provisioning.md):
#   claim + TPM CSR; claim + CreateKeysAndCertificate (software key); trusted user via agentctl
#   and via the drop directory, an expired claim; hook denial; template missing; throttling 429;
#   broker down at start then up; wrong server root; ownership token expiry; kill -9 after
#   every persisted stage (resume, exactly one ACTIVE certificate).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
# every connection goes through the emulator's SNI front: no SNI = endpoint host, no connection
# (and mosquitto logs every packet: the claim session's SUBSCRIBEs are counted)
[ "${1:-}" = --inside ] || OB_EMULATOR_SNI=1 OB_WORLD_MOSQ_DEBUG=1 exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI
[ -n "${OB_MQTT_BROKER_PORT:-}" ] && [ "$OB_MQTT_BROKER_PORT" != "$OB_MQTT_PORT" ] &&
  ok "every connection goes through the SNI front (SNI must be $OB_MQTT_HOST)" ||
  echo "# the SNI front is not running: SNI is not checked in this run"

# expired_cert DIR NAME: a certificate and key valid only in 2020 (openssl ca can backdate)
expired_cert() {
  mkdir -p "$1/ca"; : >"$1/ca/index.txt"; echo 01 >"$1/ca/serial"
  printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
    "$1/ca" "$1/ca" "$1/ca" >"$1/ca/ca.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" \
    -subj "/CN=$2" -out "$1/$2.csr" 2>/dev/null
  openssl ca -batch -config "$1/ca/ca.cnf" -selfsign -keyfile "$1/$2.key" -in "$1/$2.csr" \
    -startdate 20200101000000Z -enddate 20200102000000Z -out "$1/$2.crt" >/dev/null 2>&1
}

# gw NAME METHOD [EXTRA_JSON]: a gateway directory with a serial and a configuration
gw() {
  gw_config "$1" method="$2" template="${TEMPLATE:-OnboardTemplate}" \
    root_ca="${ROOT_CA:-$OB_ROOT_CA}" provisioning="${3:-}" backend="${BACKEND:-tpm}"
}
thing_of() { st "$1" | jq -r .thing_name; }

# ---------------------------------------------------------------- 1. claim + CSR signed in the TPM
if want claim; then
gw claim fleet-claim
t0=$(date +%s%N)
start claim
if wait_for claim '.state == "onboarded"' 30; then
  t1=$(date +%s%N)
  ok "fleet-claim with a TPM key: onboarded in $(( (t1 - t0) / 1000000 )) ms (process start included)"
  s=$(st claim)
  thing=$(echo "$s" | jq -r .thing_name)
  [ "$thing" = "ob-SN-claim-$$" ] && ok "thing name from the template: $thing" || bad "thing name $thing"
  [ "$(echo "$s" | jq -r .method)" = fleet-claim ] && [ "$(echo "$s" | jq -r .daemon_running)" = true ] &&
    echo "$s" | jq -e '.certificate_id | test("^[0-9a-f]{64}$")' >/dev/null &&
    echo "$s" | jq -e '.certificate_not_after | test("^20[0-9][0-9]-")' >/dev/null &&
    [ "$(echo "$s" | jq -r .last_error)" = null ] && ok "status --json fields" || bad "status: $s"
  [ "$(active_certs "$thing")" = 1 ] && ok "one ACTIVE certificate for the thing" || bad "ACTIVE certificates: $(active_certs "$thing")"
  g=$OB_WORLD_DIR/gw-claim
  head -1 "$g/state/credentials/current/device.key" | grep -q 'TSS2 PRIVATE KEY' &&
    ok "the device key is a TPM key (TSS2 PEM)" || bad "device key is not a TPM key"
  k=$(openssl pkey -provider tpm2 -provider default -in "$g/state/credentials/current/device.key" -pubout 2>/dev/null)
  c=$(openssl x509 -in "$g/state/credentials/current/device.crt" -noout -pubkey)
  [ -n "$k" ] && [ "$k" = "$c" ] && ok "the certificate is for the TPM key" || bad "certificate/key mismatch"
  [ "$(readlink "$g/state/credentials/current")" = 1 ] && ok "credentials/current -> 1" || bad "current link"
  [ "$(stat -c %a "$g/state/state.json")" = 600 ] && ok "state.json is 0600" || bad "state.json mode"
  grep -q 'tok-\|certificateOwnershipToken\|PRIVATE KEY-----$' "$g/agent.log" &&
    bad "secrets in the debug log" || ok "no ownership token or key in the debug log"
  # one SUBSCRIBE packet for the four reply topics (the daemon's transport keeps
  # subscribe_many; docs/performance.md, P1). The claim session's client id is the serial
  # exactly: the thing's own sessions (ob-SN-...: verify, the check-in 3 s after onboarding,
  # which under ASan lands before this line) are not the claim session's.
  n=$(grep -c "Received SUBSCRIBE from SN-claim-$$\$" "$OB_MOSQ_LOG")
  [ "$n" = 1 ] && ok "the claim session subscribed with one SUBSCRIBE packet" ||
    bad "SUBSCRIBE packets from the claim session (client id ...SN-claim-$$): $n (expected 1)"
  # the check-in ~3 s after onboarding (docs/shadow.md): one SUBSCRIBE packet for the shadow's
  # two reply topics, one for the jobs' seven (the verification before it is a probe: none)
  if wait_for claim '.checkin.last != null and .activity != "checking-in"' 20; then
    n=$(grep -c "Received SUBSCRIBE from $thing\$" "$OB_MOSQ_LOG")
    [ "$n" = 2 ] && ok "the check-in after onboarding: 2 SUBSCRIBE packets (shadow, jobs)" ||
      bad "SUBSCRIBE packets from $thing: $n (expected 2)"
  else
    bad "no check-in after onboarding: $(st claim | jq -c .checkin)"
  fi
  # idle: no MQTT connection left
  ! grep -q "$thing" "$OB_MOSQ_LOG" || [ "$(grep -c "Client $thing disconnected\|Client $thing closed" "$OB_MOSQ_LOG")" -ge 1 ] &&
    ok "no MQTT connection while idle" || bad "connection kept open"
  stop claim
  out=$("$ctl" --config "$g/config.json" status)
  echo "$out" | grep -q "^Daemon: *not running" && echo "$out" | grep -q "^State: *stopped" &&
    echo "$out" | grep -q "^Stage: *onboarded" && echo "$out" | grep -q "^Thing: .*(last known)" &&
    ok "agentctl status from the state file when the daemon is stopped" || bad "offline status: $out"
  # a restart of an onboarded device does not talk to the cloud
  n_before=$(grep -c "New connection" "$OB_MOSQ_LOG")
  start claim
  wait_for claim '.daemon_running == true and .state == "onboarded"' 10 && sleep 0.5
  [ "$(grep -c "New connection" "$OB_MOSQ_LOG")" = "$n_before" ] &&
    ok "restart when onboarded: no connection" || bad "restart connected again"
  stop claim
else
  bad "fleet-claim did not finish"; log_tail claim 40; stop claim
fi

# agentctl reprovision --dry-run / reprovision / decommission --yes
gw rep fleet-claim
start rep
if wait_for rep '.state == "onboarded"' 30; then
  c=$OB_WORLD_DIR/gw-rep/config.json; first=$(st rep | jq -r .certificate_id)
  out=$("$ctl" --config "$c" reprovision --dry-run) && echo "$out" | grep -q "credentials/1" &&
    [ "$(st rep | jq -r .certificate_id)" = "$first" ] && ok "reprovision --dry-run lists, keeps" || bad "dry run: $out"
  sleep 1.1 # one CONNECT per second per client id
  "$ctl" --config "$c" reprovision >/dev/null &&
    wait_for rep ".state == \"onboarded\" and .certificate_id != \"$first\"" 30 &&
    ok "reprovision: a new identity ($(st rep | jq -r .certificate_id | cut -c1-12)...)" || { bad "reprovision"; log_tail rep; }
  "$ctl" --config "$c" decommission >/dev/null 2>&1
  [ $? = 64 ] && ok "decommission without --yes: usage error" || bad "decommission without --yes"
  "$ctl" --config "$c" decommission --yes >/dev/null && wait_for rep '.last_error.code == "decommissioned"' 10 &&
    [ ! -e "$OB_WORLD_DIR/gw-rep/state/credentials/current" ] &&
    [ -z "$(ls "$OB_WORLD_DIR/gw-rep/state/credentials" 2>/dev/null)" ] &&
    ok "decommission --yes: identity deleted, state $(st rep | jq -r .state)" || { bad "decommission"; log_tail rep; }
  stop rep; start rep
  wait_for rep '.daemon_running == true and .last_error.code == "decommissioned"' 10 &&
    ok "decommissioned stays decommissioned after a restart" || bad "decommission did not stick"
else
  bad "reprovision: onboarding"; log_tail rep
fi
stop rep

# provisioning.delete_claim: the claim credentials are gone once the device certificate works
gw del fleet-claim '"delete_claim": true'
cp "$OB_CLAIM_CERT" "$OB_WORLD_DIR/gw-del/claim.crt"; cp "$OB_CLAIM_KEY" "$OB_WORLD_DIR/gw-del/claim.key"
sed -i "s|$OB_CLAIM_CERT|$OB_WORLD_DIR/gw-del/claim.crt|; s|$OB_CLAIM_KEY|$OB_WORLD_DIR/gw-del/claim.key|" \
  "$OB_WORLD_DIR/gw-del/config.json"
start del
wait_for del '.state == "onboarded"' 30 && [ ! -e "$OB_WORLD_DIR/gw-del/claim.key" ] &&
  [ ! -e "$OB_WORLD_DIR/gw-del/claim.crt" ] && ok "delete_claim: claim certificate and key deleted" ||
  { bad "delete_claim"; log_tail del; }
stop del
fi

# ---------------------------------------------------------------- 2. CreateKeysAndCertificate
if want keys; then
BACKEND=software gw keys fleet-claim '"create_keys": true'
start keys
if wait_for keys '.state == "onboarded"' 30; then
  ok "CreateKeysAndCertificate with a software key"
  g=$OB_WORLD_DIR/gw-keys
  # AWS's key type (the emulator's default): the agent stores and connects with an RSA 2048 key
  openssl pkey -in "$g/state/credentials/current/device.key" -noout -text 2>/dev/null | grep -q 'Private-Key: (2048 bit' &&
    ok "the key AWS-style CreateKeysAndCertificate sent is RSA 2048, and the agent onboarded with it" || bad "received key type"
  [ "$(stat -c %a "$g/state/credentials/current/device.key")" = 600 ] && ok "received key stored 0600" || bad "key mode"
  grep -q "sent over the network" "$g/agent.log" && ok "the log says the key came over the network" || bad "no network-key notice"
else
  bad "CreateKeysAndCertificate"; log_tail keys 30
fi
stop keys
# a software device key with CreateCertificateFromCsr: the key is generated (random bytes drawn)
# before the first connect, which must still be able to pin OpenSSL's DRBG to the default provider
BACKEND=software gw softcsr fleet-claim
start softcsr
if wait_for softcsr '.state == "onboarded"' 30; then
  ok "CreateCertificateFromCsr with a software key"
else
  bad "CreateCertificateFromCsr with a software key"; log_tail softcsr 20
fi
stop softcsr
fi

# ---------------------------------------------------------------- 3. trusted user
if want trusted; then
gw tu fleet-trusted-user
start tu
wait_for tu '.state == "waiting-for-claim"' 15 && ok "trusted user: waiting for a claim" || { bad "not waiting for claim"; log_tail tu; }
g=$OB_WORLD_DIR/gw-tu
claim_json=$("$admin" create-claim)
printf "%s\n" "$claim_json" | jq -r '.certificatePem // .result.certificatePem' >"$g/tclaim.crt"
printf "%s\n" "$claim_json" | jq -r '.keyPair.PrivateKey // .result.keyPair.PrivateKey // .privateKey // .result.privateKey' >"$g/tclaim.key"
# an expired claim is refused at once
expired_cert "$g" old
out=$("$ctl" --config "$g/config.json" provision --claim-cert "$g/old.crt" --claim-key "$g/old.key" 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "claim-expired" && ok "an expired claim is refused: $out" || bad "expired claim: $out"
out=$("$ctl" --config "$g/config.json" provision --claim-cert "$g/tclaim.crt" --claim-key "$g/old.key" 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "does not match" && ok "a claim whose key does not match is refused: $out" || bad "mismatched claim accepted: $out"
out=$("$ctl" --config "$g/config.json" provision --claim-cert "$g/tclaim.crt" --claim-key "$g/tclaim.key" 2>&1)
[ $? -eq 0 ] && ok "agentctl provision: $out" || bad "provision: $out"
if wait_for tu '.state == "onboarded"' 30; then
  ok "trusted user onboarded"
  [ ! -e "$g/run/claim/claim.key" ] && ok "temporary claim key deleted" || bad "claim key left behind"
else
  bad "trusted user did not finish"; log_tail tu 30
fi
stop tu

# drop directory
gw drop fleet-trusted-user "\"claim_drop_dir\": \"$OB_WORLD_DIR/gw-drop/drop\""
mkdir -p "$OB_WORLD_DIR/gw-drop/drop"
start drop
wait_for drop '.state == "waiting-for-claim"' 15
# a claim whose key is not its certificate's: refused, and status says so (not only the journal)
g=$OB_WORLD_DIR/gw-drop
printf "%s\n" "$claim_json" | jq -r '.certificatePem // .result.certificatePem' >"$g/drop/claim.crt"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$g/drop/claim.key" 2>/dev/null
if wait_for drop '.last_error.code == "claim-refused"' 10; then
  s=$(st drop)
  [ "$(echo "$s" | jq -r .state)" = waiting-for-claim ] && echo "$s" | jq -r .last_error.text | grep -q "does not match" &&
    ok "a wrong claim in the drop directory: status says claim-refused, still waiting" || bad "wrong claim: $(echo "$s" | jq -c '{state, last_error}')"
else
  bad "wrong claim: no claim-refused in status: $(st drop | jq -c .last_error)"
fi
claim_json=$("$admin" create-claim)
g=$OB_WORLD_DIR/gw-drop
printf "%s\n" "$claim_json" | jq -r '.certificatePem // .result.certificatePem' >"$g/drop/.c" && mv "$g/drop/.c" "$g/drop/claim.crt.tmp"
printf "%s\n" "$claim_json" | jq -r '.keyPair.PrivateKey // .result.keyPair.PrivateKey // .privateKey // .result.privateKey' >"$g/drop/claim.key"
mv "$g/drop/claim.crt.tmp" "$g/drop/claim.crt"
wait_for drop '.state == "onboarded"' 30 && ok "trusted user via the drop directory" || { bad "drop directory"; log_tail drop 30; }
[ -z "$(ls -A "$g/drop")" ] && ok "drop directory emptied" || bad "drop directory still holds $(ls "$g/drop")"
stop drop
# a claim found in the drop directory while none is awaited (a crash between the hand-over and
# the delete, or a claim dropped after onboarding) is removed at start, not left lying there
printf "%s\n" "$claim_json" | jq -r '.certificatePem // .result.certificatePem' >"$g/drop/claim.crt"
printf "stale\n" >"$g/drop/claim.key"
start drop
for _ in $(seq 100); do grep -q "Removed the claim left" "$g/agent.log" && break; sleep 0.1; done
[ -z "$(ls -A "$g/drop")" ] && grep -q "Removed the claim left" "$g/agent.log" &&
  ok "a stale claim in the drop directory is removed at start" || bad "stale claim: $(ls "$g/drop")"
stop drop
fi

# ---------------------------------------------------------------- 4. refusals and outages
if want refusals; then
# a template the claim policy does not cover (AWS's documented policy names the template):
# the reply-topic subscription is refused, and the status says what to check
TEMPLATE=NoSuchTemplate gw notpl fleet-claim
start notpl
wait_for notpl '.last_error.code == "subscribe-refused"' 20 &&
  st notpl | jq -r .last_error.text | grep -q 'NoSuchTemplate.*provisioning.template' &&
  ok "template missing: $(st notpl | jq -r .last_error.text)" || { bad "template missing"; log_tail notpl; }
stop notpl

# the pre-provisioning hook says no (403): the certificate is kept for retries within the hour
tpl=$OB_WORLD_DIR/tpl.json
jq '.templates.OnboardTemplate.body' "$OB_EMULATOR_STATE_DIR/registry.json" >"$tpl"
"$admin" put-template OnboardTemplate "$tpl" "cat >$OB_WORLD_DIR/hook-in.json; echo '{\"allowProvisioning\":false}'" >/dev/null
gw deny fleet-claim
start deny
wait_for deny '.last_error.code == "rejected-403"' 20 &&
  ok "pre-provisioning hook denial: $(st deny | jq -r .last_error.text)" || { bad "hook denial"; log_tail deny; }
[ "$(st deny | jq -r .stage)" = certificate-issued ] && ok "denied: the certificate is kept for a retry within the hour" || bad "stage after denial: $(st deny | jq -r .stage)"
# the hook saw the TPM's hardware token (read when RegisterThing needs it, docs/tpm.md)
want_token=$("$top_builddir/tests/integration/ob-keytool" --tcti "$OB_TCTI" token 2>/dev/null)
got_token=$(jq -r .parameters.HardwareToken "$OB_WORLD_DIR/hook-in.json" 2>/dev/null)
[ -n "$want_token" ] && [ "$got_token" = "$want_token" ] &&
  ok "RegisterThing carried the TPM's hardware token to the hook (${got_token%????????????????????????????????????????????????????????})" ||
  bad "hardware token in RegisterThing: got '$got_token', the TPM's is '$want_token'"
"$admin" put-template OnboardTemplate "$tpl" >/dev/null
wait_for deny '.state == "onboarded"' 30 && ok "hook allows again: onboarded with the same certificate" || { bad "after the hook allowed"; log_tail deny; }
[ "$(active_certs "$(thing_of deny)")" = 1 ] && ok "hook denial: one ACTIVE certificate" || bad "hook denial: $(active_certs "$(thing_of deny)") ACTIVE"
stop deny

# an expired batch claim: no connection is attempted, the status says why
mkdir -p "$OB_WORLD_DIR/exp"; expired_cert "$OB_WORLD_DIR/exp" claim
gw expclaim fleet-claim
sed -i "s|$OB_CLAIM_CERT|$OB_WORLD_DIR/exp/claim.crt|; s|$OB_CLAIM_KEY|$OB_WORLD_DIR/exp/claim.key|" \
  "$OB_WORLD_DIR/gw-expclaim/config.json"
start expclaim
wait_for expclaim '.last_error.code == "claim-expired"' 20 &&
  ok "expired claim certificate: $(st expclaim | jq -r .last_error.text)" || { bad "expired claim"; log_tail expclaim; }
stop expclaim

# a claim certificate not valid yet (a clock behind, or a batch made with a future date)
mkdir -p "$OB_WORLD_DIR/fut/ca"; : >"$OB_WORLD_DIR/fut/ca/index.txt"; echo 01 >"$OB_WORLD_DIR/fut/ca/serial"
sed "s|$OB_WORLD_DIR/exp/ca|$OB_WORLD_DIR/fut/ca|g" "$OB_WORLD_DIR/exp/ca/ca.cnf" >"$OB_WORLD_DIR/fut/ca/ca.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$OB_WORLD_DIR/fut/claim.key" \
  -subj /CN=future-claim -out "$OB_WORLD_DIR/fut/claim.csr" 2>/dev/null
openssl ca -batch -config "$OB_WORLD_DIR/fut/ca/ca.cnf" -selfsign -keyfile "$OB_WORLD_DIR/fut/claim.key" \
  -in "$OB_WORLD_DIR/fut/claim.csr" -startdate 20990101000000Z -enddate 20991231000000Z \
  -out "$OB_WORLD_DIR/fut/claim.crt" >/dev/null 2>&1
gw futclaim fleet-claim
sed -i "s|$OB_CLAIM_CERT|$OB_WORLD_DIR/fut/claim.crt|; s|$OB_CLAIM_KEY|$OB_WORLD_DIR/fut/claim.key|" \
  "$OB_WORLD_DIR/gw-futclaim/config.json"
start futclaim
wait_for futclaim '.last_error.code == "claim-unusable"' 20 &&
  st futclaim | jq -r .last_error.text | grep -q "not valid before 2099" &&
  ok "claim certificate not yet valid: $(st futclaim | jq -r .last_error.text)" || { bad "future claim"; log_tail futclaim; }
stop futclaim

ROOT_CA=$OB_DEVICE_CA_CERT gw badroot fleet-claim
start badroot
wait_for badroot '.last_error.class == "tls"' 20 && ok "wrong server root: class tls" || { bad "wrong root"; log_tail badroot; }
stop badroot

"$admin" set throttle.CreateCertificateFromCsr 0.05 >/dev/null
gw thr1 fleet-claim; gw thr2 fleet-claim
start thr1; wait_for thr1 '.stage != "new" and .stage != "key-ready"' 20
start thr2
wait_for thr2 '.last_error.code == "rejected-429"' 20 && ok "throttled: 429, class $(st thr2 | jq -r .last_error.class)" || { bad "throttling"; log_tail thr2; }
"$admin" set throttle.CreateCertificateFromCsr 0 >/dev/null
wait_for thr2 '.state == "onboarded"' 30 && ok "throttled device onboarded once the limit allows" || { bad "throttled device"; log_tail thr2; }
stop thr1; stop thr2

# broker down at start, then up
kill "$(cat "$OB_MOSQ_PID")"; sleep 0.3
gw down fleet-claim
start down
# (behind the SNI front a dead broker shows as a TLS failure: the front accepts, then closes)
wait_for down '.last_error.class == "network" or .last_error.class == "tls"' 20 &&
  ok "broker down: class $(st down | jq -r .last_error.class), next retry $(st down | jq -r .next_retry)" ||
  { bad "broker down"; log_tail down; }
mosquitto -c "$OB_MOSQ_CONF" -d
wait_for down '.state == "onboarded"' 30 && ok "broker up again: onboarded" || { bad "after broker restart"; log_tail down 30; }
stop down

# ownership token expiry between CreateCertificateFromCsr and RegisterThing (crash + restart)
"$admin" set ownershipTokenLifetime 2 >/dev/null
gw tok fleet-claim
start tok OB_TEST_CRASH_AFTER_STAGE=certificate-issued
wait_for tok '.stage == "certificate-issued" and .daemon_running == false' 20 dead-ok
sleep 3
start tok
wait_for tok '.state == "onboarded"' 40 && ok "token expired: restarted from the CSR and onboarded" || { bad "token expiry"; log_tail tok 30; }
[ "$(active_certs "$(thing_of tok)")" = 1 ] && ok "token expiry: one ACTIVE certificate" || bad "token expiry: $(active_certs "$(thing_of tok)") ACTIVE"
"$admin" set ownershipTokenLifetime 3600 >/dev/null
stop tok
fi

# ---------------------------------------------------------------- 5. kill -9 after every stage
if want crash; then
for stage in key-ready certificate-issued thing-registered onboarded; do
  gw "k-$stage" fleet-claim
  start "k-$stage" OB_TEST_CRASH_AFTER_STAGE=$stage
  wait_for "k-$stage" ".stage == \"$stage\" and .daemon_running == false" 20 dead-ok ||
    { bad "crash at $stage did not happen"; log_tail "k-$stage"; continue; }
  start "k-$stage"
  if wait_for "k-$stage" '.state == "onboarded"' 30; then
    n=$(active_certs "$(thing_of "k-$stage")")
    [ "$n" = 1 ] && ok "kill -9 after $stage: resumed, onboarded, one ACTIVE certificate" ||
      bad "kill -9 after $stage: $n ACTIVE certificates"
  else
    bad "kill -9 after $stage: did not resume"; log_tail "k-$stage" 30
  fi
  stop "k-$stage"
done
fi

# ---------------------------------------------------------------- 6. bad input
if want badinput; then
BACKEND=software gw badcfg fleet-claim '"nonsense": 1'
"$agent" --config "$OB_WORLD_DIR/gw-badcfg/config.json" >/dev/null 2>&1
[ $? = 78 ] && ok "invalid configuration: exit 78" || bad "invalid configuration exit code"
gw corrupt fleet-claim
mkdir -p "$OB_WORLD_DIR/gw-corrupt/state"
printf 'ONBOARD-STATE 1 1 sha256:%064d 2\n{}\n' 0 >"$OB_WORLD_DIR/gw-corrupt/state/state.json"
cp "$OB_WORLD_DIR/gw-corrupt/state/state.json" /tmp/ob-corrupt-$$
"$agent" --config "$OB_WORLD_DIR/gw-corrupt/config.json" >"$OB_WORLD_DIR/gw-corrupt/agent.log" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "state.json" "$OB_WORLD_DIR/gw-corrupt/agent.log" &&
  cmp -s "$OB_WORLD_DIR/gw-corrupt/state/state.json" /tmp/ob-corrupt-$$ &&
  ok "corrupt state: refused to start (rc $rc), file left untouched" || { bad "corrupt state (rc $rc)"; log_tail corrupt; }
rm -f /tmp/ob-corrupt-$$
# a serial that cannot be one (65 characters): refused at start, the reason named, no errno
# text pretending a file is missing
BACKEND=software gw longserial fleet-claim
printf 'SN%063d\n' 0 >"$OB_WORLD_DIR/gw-longserial/serial"
"$agent" --config "$OB_WORLD_DIR/gw-longserial/config.json" >"$OB_WORLD_DIR/gw-longserial/agent.log" 2>&1
rc=$?
line=$(grep "No serial number" "$OB_WORLD_DIR/gw-longserial/agent.log")
[ $rc -ne 0 ] && echo "$line" | grep -q "65 characters, more than 64" &&
  ! echo "$line" | grep -q "No such file" &&
  ok "a 65-character serial: refused at start (rc $rc): ${line#*err: }" ||
  bad "long serial (rc $rc): $line"
"$ctl" --config "$OB_WORLD_DIR/gw-claim/config.json" provision --claim-cert /nonexistent --claim-key /x >/dev/null 2>&1
[ $? = 1 ] && ok "agentctl provision with a missing file: exit 1" || bad "provision missing file"
"$ctl" --config "$OB_WORLD_DIR/gw-claim/config.json" provision >/dev/null 2>&1
[ $? = 64 ] && ok "agentctl provision without arguments: exit 64" || bad "provision usage"
fi

exit $fail
