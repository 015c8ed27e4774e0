#!/bin/sh
# agentctl check against the test world (swtpm behind tpm2-abrmd, the emulator behind its SNI
# front, real OpenSSL): a fresh gateway, the same gateway onboarded by the real daemon, then
# one thing broken at a time, each seen by the right check id with the right exit code
# (0 pass, 3 warn, 1 fail, 64 usage). docs/operations.md ("agentctl check") lists the ids.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || OB_EMULATOR_SNI=1 exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
agent=$top_builddir/onboard-agent
ctl=$top_builddir/agentctl
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI TPM2TOOLS_TCTI=$OB_TCTI
IDS="config state-file daemon state config-current clock tpm srk device-key key-cert-match tls-provider da-lockout cert-expiry old-certs claim-cert dns tcp tls cloud permissions"
# the checks that ask the daemon or the cloud; left out (skip_live) where the daemon is down on
# purpose and another check is under test
LIVE_SKIP="--skip daemon --skip state --skip config-current --skip cloud"
skip_live=

# dated_cert DIR NAME START END: a self-signed certificate and key for CN=NAME valid from START
# to END (openssl ca dates); expired_cert DIR NAME: valid only in 2020 (like test-onboard.sh)
expired_cert() { dated_cert "$1" "$2" 20200101000000Z 20200102000000Z; }
dated_cert() {
  mkdir -p "$1/ca"; : >"$1/ca/index.txt"; echo 01 >"$1/ca/serial"
  printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
    "$1/ca" "$1/ca" "$1/ca" >"$1/ca/ca.cnf"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/$2.key" \
    -subj "/CN=$2" -out "$1/$2.csr" 2>/dev/null
  openssl ca -batch -config "$1/ca/ca.cnf" -selfsign -keyfile "$1/$2.key" -in "$1/$2.csr" \
    -startdate "$3" -enddate "$4" -out "$1/$2.crt" >/dev/null 2>&1
}

# gw NAME: a fleet-claim gateway (its own copy of the claim, so that modes can be changed)
gw() {
  g=$OB_WORLD_DIR/gw-$1
  mkdir -p "$g/claim"
  echo "SN-$1-$$" >"$g/serial"
  cp "$OB_CLAIM_CERT" "$g/claim/claim.crt"; cp "$OB_CLAIM_KEY" "$g/claim/claim.key"
  chmod 600 "$g/claim/claim.key"
  cat >"$g/config.json" <<JSON
{
  "endpoint": { "host": "$OB_MQTT_HOST", "port": $OB_MQTT_PORT, "root_ca": "$OB_ROOT_CA",
                "connect_timeout": 3, "step_timeout": 5 },
  "provisioning": { "method": "fleet-claim", "template": "OnboardTemplate",
                    "claim_cert": "$g/claim/claim.crt", "claim_key": "$g/claim/claim.key" },
  "identity": { "serial_sources": ["file:$g/serial"] },
  "tpm": { "tcti": "$OB_TCTI" },
  "retry": { "network": { "base": 1, "cap": 2 }, "tls": { "base": 1, "cap": 2 } },
  "paths": { "state_dir": "$g/state", "runtime_dir": "$g/run" },
  "rotation": { "old_cert_topic": "devices/{thing_name}/old-certificate" },
  "jobs": { "poll_interval_minutes": 0 }, "shadow": { "report": false }
}
JSON
}

# check NAME [ARGS...]: agentctl check --json; the output in $out, the exit code in $rc
check() {
  n=$1; shift
  # shellcheck disable=SC2086 # skip_live: several words
  out=$("$ctl" --config "$OB_WORLD_DIR/gw-$n/config.json" check --json $skip_live "$@" 2>"$OB_WORLD_DIR/check.err")
  rc=$?
}
# res ID: the result of one check in $out
res() { echo "$out" | jq -r --arg id "$1" '.checks[] | select(.id == $id) | .result'; }
detail() { echo "$out" | jq -r --arg id "$1" '.checks[] | select(.id == $id) | "\(.detail) -> \(.hint)"'; }
# want ID RESULT [RC]: the check has that result (and the exit code is RC)
want() {
  r=$(res "$1")
  if [ "$r" = "$2" ] && { [ -z "${3:-}" ] || [ "$rc" = "$3" ]; }; then
    ok "$1: $2${3:+ (exit $3)}: $(detail "$1")"
  else
    bad "$1: want $2${3:+ exit $3}, got $r exit $rc: $(detail "$1")"
  fi
}
# set_config NAME JQ_FILTER: edit a gateway's configuration
set_config() {
  f=$OB_WORLD_DIR/gw-$1/config.json
  jq "$2" "$f" >"$f.new" && mv "$f.new" "$f"
}

# ---------------------------------------------------------------- a fresh gateway
gw fresh
check fresh
echo "$out" | jq -e --arg ids "$IDS" '(.checks | map(.id) | join(" ")) == $ids' >/dev/null &&
  ok "--json: every documented id, in order" || bad "ids: $(echo "$out" | jq -c '[.checks[].id]')"
echo "$out" | jq -e '(.checks | all(.id and .title and (.result | test("^(pass|warn|fail|skip)$"))
                      and (.detail | type == "string") and (.hint | type == "string")))
                     and (.worst | test("^(pass|warn|fail)$"))' >/dev/null &&
  ok "--json shape: {checks: [{id, title, result, detail, hint}], worst}" || bad "json: $out"
for id in config state-file clock tpm claim-cert dns tcp tls permissions; do want $id pass; done
want device-key skip
want key-cert-match skip
want tls-provider pass
want cert-expiry skip
want old-certs pass
# no daemon: the daemon check fails with the systemctl hint, state says never onboarded,
# cloud has no device certificate to connect with
want daemon fail 1
detail daemon | grep -q "not running.*systemctl status onboard-agent" &&
  ok "daemon: not running, with the systemctl hint" || bad "daemon: $(detail daemon)"
want state warn
want config-current skip
want cloud skip
skip_live=$LIVE_SKIP
# rotation on, no rotation.old_cert_topic: old certificates would stay ACTIVE (issue 19)
save_out=$out save_rc=$rc
set_config fresh 'del(.rotation.old_cert_topic)'
check fresh --skip tls --skip tcp --skip dns
want old-certs warn 3
detail old-certs | grep -q "stays ACTIVE" && detail old-certs | grep -q "update-certificate" &&
  ok "old-certs: says old certificates stay ACTIVE, with the remedy" || bad "old-certs: $(detail old-certs)"
set_config fresh '.rotation.old_cert_topic = "devices/{thing_name}/old-certificate"'
out=$save_out rc=$save_rc
r=$(res srk); case $r in pass|warn) ok "srk before the first start: $r: $(detail srk)" ;; *) bad "srk: $r $(detail srk)" ;; esac
echo "$out" | jq -r '.checks[] | select(.id == "tls") | .detail' | grep -q "client certificate: claim" &&
  ok "tls presents the claim before onboarding" || bad "tls: $(detail tls)"
worst=$(echo "$out" | jq -r .worst)
case "$worst:$rc" in fail:1) ok "exit code $rc for worst $worst" ;; *) bad "worst $worst exit $rc" ;; esac
# the human table has a row per check and the hint under a warning
h=$("$ctl" --config "$OB_WORLD_DIR/gw-fresh/config.json" check)
[ "$(echo "$h" | grep -cE "^($(echo "$IDS" | tr ' ' '|')) +(pass|skip|WARN|FAIL) ")" = 20 ] &&
  ok "human table: 20 rows" || bad "table: $h"

# an expired claim (a fresh gateway needs it)
expired_cert "$OB_WORLD_DIR/gw-fresh/claim" old
cp "$OB_WORLD_DIR/gw-fresh/claim/old.crt" "$OB_WORLD_DIR/gw-fresh/claim/claim.crt"
cp "$OB_WORLD_DIR/gw-fresh/claim/old.key" "$OB_WORLD_DIR/gw-fresh/claim/claim.key"
check fresh --skip tls
want claim-cert fail 1
# a claim key that is not the certificate's
cp "$OB_CLAIM_CERT" "$OB_WORLD_DIR/gw-fresh/claim/claim.crt"
check fresh --skip tls
want claim-cert fail 1
echo "$out" | grep -q "does not match" && ok "claim key mismatch named" || bad "mismatch: $(detail claim-cert)"
cp "$OB_CLAIM_KEY" "$OB_WORLD_DIR/gw-fresh/claim/claim.key"
chmod 644 "$OB_WORLD_DIR/gw-fresh/claim/claim.key"
check fresh --skip tls
want permissions fail 1
chmod 600 "$OB_WORLD_DIR/gw-fresh/claim/claim.key"

# ---------------------------------------------------------------- onboarded by the real daemon
gw on
g=$OB_WORLD_DIR/gw-on
"$agent" --config "$g/config.json" --log-level debug >>"$g/agent.log" 2>&1 &
pid=$!
i=0
until "$ctl" --config "$g/config.json" --json status 2>/dev/null | jq -e '.state == "onboarded"' >/dev/null; do
  i=$((i + 1)); [ $i -lt 300 ] && kill -0 $pid 2>/dev/null || break; sleep 0.1
done
if ! "$ctl" --config "$g/config.json" --json status 2>/dev/null | jq -e '.state == "onboarded"' >/dev/null; then
  bad "the daemon did not onboard"; sed 's/^/#   /' "$g/agent.log" | tail -30
  kill $pid 2>/dev/null; wait $pid 2>/dev/null; exit 1
fi
ok "onboarded by the daemon"
# with the daemon running: all pass; cloud's CONNECT is a session of its own (client id
# <thing>-agentctl-check), the daemon's session is not taken over
skip_live=
thing=$("$ctl" --config "$g/config.json" --json status | jq -r .thing_name)
daemon_lines() { grep -cE "as $thing \(|Client $thing |$thing (has exceeded|disconnected)" "$OB_MOSQ_LOG"; }
conn_before=$(daemon_lines)
log_before=$(wc -l <"$g/agent.log")
check on
for id in $IDS; do want $id pass; done
[ "$rc" = 0 ] && [ "$(echo "$out" | jq -r .worst)" = pass ] && ok "onboarded: exit 0, worst pass" || bad "onboarded: exit $rc"
echo "$out" | jq -r '.checks[] | select(.id == "tls") | .detail' | grep -q "client certificate: device (TPM key)" &&
  ok "tls presents the device certificate with the TPM key" || bad "tls: $(detail tls)"
echo "$out" | jq -r '.checks[] | select(.id == "tls") | .detail' | grep -q "TLSv1.[23]" &&
  ok "tls reports the version and the server chain" || bad "tls: $(detail tls)"
detail cloud | grep -q "CONNACK accepted.*client id $thing-agentctl-check" &&
  grep -q "as $thing-agentctl-check " "$OB_MOSQ_LOG" &&
  ok "cloud: a real CONNECT as $thing-agentctl-check, accepted" || bad "cloud: $(detail cloud)"
detail clock | grep -q "after the server certificate's notBefore .*the server sends no time, so no offset is known" &&
  ok "clock: compared with the server certificate, honest about the server's time" || bad "clock: $(detail clock)"
detail daemon | grep -q "version $(sed -n 's/^PACKAGE_VERSION = //p' "$top_builddir/Makefile")" &&
  ok "daemon: answers, same version as agentctl" || bad "daemon: $(detail daemon)"
sleep 0.5
[ "$(daemon_lines)" = "$conn_before" ] &&
  "$ctl" --config "$g/config.json" --json status | jq -e '.state == "onboarded"' >/dev/null &&
  ! tail -n +"$((log_before + 1))" "$g/agent.log" | grep -qiE "connection lost|reconnect|connecting" &&
  ok "the daemon's session is left alone (no takeover, no reconnect, still onboarded)" ||
  { bad "the daemon's session was disturbed"; grep "$thing" "$OB_MOSQ_LOG" | tail -5 | sed 's/^/#   /'; }
# config-current: edited on disk and not reloaded warns; SIGHUP (systemctl reload) makes it
# current; invalid on disk fails while the daemon keeps running
cp "$g/config.json" "$g/config.before"
set_config on '.endpoint.keepalive = 120'
check on --skip tls --skip cloud
want config-current warn 3
detail config-current | grep -q "changed on disk since the daemon loaded it.*systemctl reload onboard-agent" &&
  ok "config-current: an edit not reloaded is named, with the remedy" || bad "config-current: $(detail config-current)"
kill -HUP $pid
i=0
until "$ctl" --config "$g/config.json" check --json --skip tls --skip cloud 2>/dev/null |
      jq -e '.checks[] | select(.id == "config-current") | .result == "pass"' >/dev/null; do
  i=$((i + 1)); [ $i -lt 50 ] || break; sleep 0.1
done
check on --skip tls --skip cloud
want config-current pass 0
set_config on '.endpoint.port = "x"'
check on --skip tls --skip cloud
want config-current fail 1
want daemon pass
detail config-current | grep -q "invalid.*the daemon keeps running" &&
  ok "config-current: invalid on disk, the daemon keeps running, named" || bad "config-current: $(detail config-current)"
cp "$g/config.before" "$g/config.json"
kill -HUP $pid
kill -0 $pid 2>/dev/null && ok "the daemon still runs" || bad "the daemon died"
kill $pid; wait $pid 2>/dev/null
# the daemon is down: the checks still run; daemon fails, state says stopped, last known
# onboarded, the cloud still accepts the identity
check on
want state-file pass 1
want device-key pass
want daemon fail 1
want state warn
detail state | grep -q "not running; last known stage onboarded" && ok "state: last known onboarded" ||
  bad "state: $(detail state)"
want cloud pass
detail cloud | grep -q "client id $thing, the daemon's own: no daemon runs" &&
  ok "cloud: no daemon runs, so the check uses its client id" || bad "cloud: $(detail cloud)"
skip_live=$LIVE_SKIP

# a device certificate inside the rotation window: the same TPM key, issued in 2020 and valid
# for 30 more days (0.8 of its lifetime passed long ago); then one that has expired
crt=$g/state/credentials/current/device.crt
cp "$crt" "$g/device.crt.good"
mkdir -p "$g/ca"; : >"$g/ca/index.txt"; echo 01 >"$g/ca/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n' \
  "$g/ca" "$g/ca" "$g/ca" >"$g/ca/ca.cnf"
openssl req -new -provider tpm2 -provider default -key "$g/state/credentials/current/device.key" \
  -subj "/CN=window" -out "$g/window.csr" 2>/dev/null
# sign CSR OUT START END: the device maker's CA signs with the given validity
sign() {
  openssl ca -batch -config "$g/ca/ca.cnf" -cert "$OB_DEVICE_CA_CERT" -keyfile "$OB_DEVICE_CA_KEY" \
    -in "$1" -startdate "$3" -enddate "$4" -out "$2" >/dev/null 2>&1
}
sign "$g/window.csr" "$crt" 20200101000000Z "$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)"
check on --skip tls
want cert-expiry warn 3
want key-cert-match pass
want tls-provider pass
set_config on '.rotation = {"enabled": false}'
check on --skip tls
echo "$out" | grep -q "rotation.enabled is false" && ok "rotation disabled: the hint says so" || bad "hint: $(detail cert-expiry)"
set_config on '.rotation = {"old_cert_topic": "devices/{thing_name}/old-certificate"}'
sign "$g/window.csr" "$crt" 20200101000000Z 20200201000000Z
check on --skip tls
want cert-expiry fail 1
cp "$g/device.crt.good" "$crt"

# --skip: repeatable, the check says skip, an unknown id is a usage error
check on --skip tls --skip dns
want tls skip 0
want dns skip 0
echo "$out" | jq -e '.checks[] | select(.id == "tcp") | .result == "pass"' >/dev/null &&
  ok "--skip dns: tcp still resolves the host itself" || bad "tcp after --skip dns: $(detail tcp)"
check on --skip no-such-check
[ "$rc" = 64 ] && grep -q "unknown check id" "$OB_WORLD_DIR/check.err" && ok "--skip with an unknown id: exit 64" ||
  bad "unknown id: exit $rc $(cat "$OB_WORLD_DIR/check.err")"
check on --bogus
[ "$rc" = 64 ] && ok "unknown option: exit 64" || bad "unknown option: exit $rc"

# wrong root CA: the server chain does not verify
cp "$g/config.json" "$g/config.good"
set_config on ".endpoint.root_ca = \"$OB_DEVICE_CA_CERT\""
check on
want tls fail 1
cp "$g/config.good" "$g/config.json"

# an endpoint that speaks TLS 1.2 only and wants a client certificate (tests/integration/
# tls12-proxy.py, ECDHE on P-256 only, like an IoT Core policy without TLS 1.3): the check's
# handshake signs the CertificateVerify with the TPM key (docs/tpm.md, "TLS 1.2 and the tpm2
# provider": agentctl is the daemon's binary, with its EVP_DigestSignInit_ex)
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 "$top_srcdir/tests/integration/tls12-proxy.py" $pport "$OB_SERVER_CERT" "$OB_SERVER_KEY" \
  "$OB_ISSUER_CA_CERT" "$OB_MQTT_PORT" "$OB_WORLD_DIR/tls12.ready" >"$OB_WORLD_DIR/tls12.log" 2>&1 &
ppid=$!
for i in $(seq 100); do [ -e "$OB_WORLD_DIR/tls12.ready" ] && break; sleep 0.05; done
set_config on ".endpoint.port = $pport"
check on --skip dns
want tls pass 0
echo "$out" | jq -r '.checks[] | select(.id == "tls") | .detail' | grep -q "TLSv1.2" &&
  grep -q "handshake ok TLSv1.2" "$OB_WORLD_DIR/tls12.log" &&
  ok "tls over TLS 1.2 with the TPM key: the front saw the handshake" ||
  bad "tls over TLS 1.2: $(detail tls); front: $(cat "$OB_WORLD_DIR/tls12.log")"
kill $ppid 2>/dev/null
# a server whose certificate becomes valid only tomorrow: the wall clock is behind the server's
# world, and clock says so (it passed on the build date alone before)
mkdir -p "$g/future"
dated_cert "$g/future" localhost "$(date -u -d '+1 day' +%Y%m%d%H%M%SZ)" "$(date -u -d '+30 days' +%Y%m%d%H%M%SZ)"
rm -f "$OB_WORLD_DIR/tls12.ready"
python3 "$top_srcdir/tests/integration/tls12-proxy.py" $pport "$g/future/localhost.crt" "$g/future/localhost.key" \
  "$OB_ISSUER_CA_CERT" "$OB_MQTT_PORT" "$OB_WORLD_DIR/tls12.ready" >"$OB_WORLD_DIR/tls12-future.log" 2>&1 &
ppid=$!
for i in $(seq 100); do [ -e "$OB_WORLD_DIR/tls12.ready" ] && break; sleep 0.05; done
check on --skip dns --skip tls
want clock fail 1
detail clock | grep -q "before the endpoint's server certificate became valid.*at least [0-9]* s behind" &&
  ok "clock: behind the server certificate's notBefore, named" || bad "clock: $(detail clock)"
kill $ppid 2>/dev/null
cp "$g/config.good" "$g/config.json"

# a closed port
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
set_config on ".endpoint.port = $port"
check on
want tcp fail 1
want tls skip
cp "$g/config.good" "$g/config.json"

# a host that does not resolve
set_config on '.endpoint.host = "no-such-host.invalid"'
check on
want dns fail 1
want tcp skip
want tls skip
cp "$g/config.good" "$g/config.json"

# an invalid configuration: config fails, the rest skip, nothing crashes
echo '{ "endpoint": { "port": "x" } }' >"$g/config.json"
check on
want config fail 1
want tpm skip
cp "$g/config.good" "$g/config.json"

# device.key readable by everyone
chmod 644 "$g/state/credentials/current/device.key"
check on
want permissions fail 1
chmod 600 "$g/state/credentials/current/device.key"

# state.json damaged: the previous copy is used (warn); both damaged (fail)
cp "$g/state/state.json" "$g/state.json.good"
sed -i '2s/"/#/' "$g/state/state.json"
check on
want state-file warn 3
cp "$g/state/state.json.prev" "$g/state.json.prev.good"
sed -i '2s/"/#/' "$g/state/state.json.prev"
check on
want state-file fail 1
cp "$g/state.json.good" "$g/state/state.json"; cp "$g/state.json.prev.good" "$g/state/state.json.prev"

# another user: no access to the state directory is a warning, never a crash
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
  chmod 755 "$OB_WORLD_DIR" "$g"; chmod 644 "$g/config.json"
  out=$(timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups "$ctl" --config "$g/config.json" check --json 2>"$OB_WORLD_DIR/check.err")
  rc=$?
  case $rc in 0|1|3) ok "as nobody: exit $rc" ;; *) bad "as nobody: exit $rc: $out" ;; esac
  want state-file warn
  want device-key warn
  want tpm warn
else
  echo "# not root: the other-user case is not run"
fi

# dictionary-attack lockout: a wrong password on a DA-protected object counts; past the
# maximum the TPM locks out
tpm2_createprimary -Q -C o -p secret -c "$OB_WORLD_DIR/da.ctx" >/dev/null 2>&1 &&
  ! tpm2_create -Q -C "$OB_WORLD_DIR/da.ctx" -P wrong -u "$OB_WORLD_DIR/da.pub" -r "$OB_WORLD_DIR/da.priv" >/dev/null 2>&1
check on
want da-lockout warn 3
tpm2_dictionarylockout -s -n 1 -t 600 -l 600 >/dev/null 2>&1
tpm2_create -Q -C "$OB_WORLD_DIR/da.ctx" -P wrong -u "$OB_WORLD_DIR/da.pub" -r "$OB_WORLD_DIR/da.priv" >/dev/null 2>&1
# in lockout, the agent's device key (noDA, docs/tpm.md) still signs: the check warns, names
# the lockout and its remedy, and its TLS handshake with the device key works (a key without
# noDA, as made before, gets TPM_RC_LOCKOUT here)
check on
want da-lockout warn 3
detail da-lockout | grep -q "noDA and still signs.*tpm2_dictionarylockout --clear-lockout" &&
  ok "da-lockout names the lockout, the noDA key and the remedy" || bad "da-lockout: $(detail da-lockout)"
want tls pass
# the daemon rotates in lockout: a new noDA key, its CSR signed and its TLS connect in the TPM
"$agent" --config "$g/config.json" --log-level debug >>"$g/agent.log" 2>&1 &
pid=$!
first=$("$ctl" --config "$g/config.json" --json status 2>/dev/null | jq -r .certificate_id)
i=0
until "$ctl" --config "$g/config.json" rotate >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 50 ] || break; sleep 0.1
done
i=0
until "$ctl" --config "$g/config.json" --json status 2>/dev/null |
      jq -e --arg f "$first" '.state == "onboarded" and .certificate_id != $f and .rotation == null' >/dev/null; do
  i=$((i + 1)); [ $i -lt 300 ] && kill -0 $pid 2>/dev/null || break; sleep 0.1
done
"$ctl" --config "$g/config.json" --json status 2>/dev/null | jq -e --arg f "$first" '.certificate_id != $f' >/dev/null &&
  ok "agentctl rotate in lockout: rotated to a new certificate" ||
  { bad "no rotation in lockout"; sed 's/^/#   /' "$g/agent.log" | tail -20; }
kill $pid; wait $pid 2>/dev/null
openssl pkey -provider tpm2 -provider default -in "$g/state/credentials/current/device.key" -text -noout |
  grep -q "noDA" && ok "the rotated key has noDA" || bad "the rotated key has no noDA"
check on --skip tls
want da-lockout warn 3
# a key made before noDA (tpm2-openssl's genpkey makes one the same way): stopped by the lockout
key=$g/state/credentials/current/device.key
cp "$key" "$g/device.key.good"
openssl genpkey -provider tpm2 -provider default -algorithm EC -pkeyopt group:P-256 \
  -pkeyopt parent:0x81000001 -out "$key" 2>/dev/null || bad "DA-protected key"
check on --skip tls
want da-lockout fail 1
detail da-lockout | grep -q "DA-protected and cannot sign.*agentctl rotate" &&
  ok "da-lockout: an old DA-protected key is named as stopped, with the remedy" || bad "da-lockout: $(detail da-lockout)"
cp "$g/device.key.good" "$key"
tpm2_dictionarylockout -c >/dev/null 2>&1
tpm2_flushcontext -t >/dev/null 2>&1
check on
want da-lockout pass


# ---------------------------------------------------------------- check cloud asks AWS IoT Core
# the certificate made INACTIVE, activated again, then revoked in the cloud (the emulator's admin
# tool, as aws iot update-certificate would): only cloud sees it, and names it
admin=$top_srcdir/tests/emulator/ob-emu-admin
skip_live="--skip daemon --skip state"
cid=$("$ctl" --config "$g/config.json" --json status | jq -r .certificate_id)
check on
want cloud pass 0
"$admin" set-cert-status "$cid" INACTIVE >/dev/null || bad "ob-emu-admin set-cert-status INACTIVE"
check on
want cloud fail 1
want tls pass
detail cloud | grep -q "closed before CONNACK.*revoked or INACTIVE.*describe-certificate" &&
  ok "cloud: an INACTIVE certificate is named, with the remedy" || bad "cloud INACTIVE: $(detail cloud)"
"$admin" activate "$cid" >/dev/null || bad "ob-emu-admin activate"
check on
want cloud pass 0
"$admin" revoke "$cid" >/dev/null || bad "ob-emu-admin revoke"
check on
want cloud fail 1
detail cloud | grep -q "revoked or INACTIVE" && ok "cloud: a revoked certificate is named" ||
  bad "cloud revoked: $(detail cloud)"
# two checks in a row: the second waits out AWS's one CONNECT per second (never throttled)
check on --skip tls --skip tcp --skip dns
t0=$(date +%s%N)
check on --skip tls --skip tcp --skip dns
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -ge 1000 ] && ! detail cloud | grep -q throttled &&
  ok "cloud: back-to-back checks are a second apart ($(( (t1 - t0) / 1000000 )) ms), never throttled" ||
  bad "cloud back to back: $(( (t1 - t0) / 1000000 )) ms: $(detail cloud)"

# a decommissioned device: state fails naming it (the daemon runs), cloud has nothing to connect
# with and says so
gw dec
gd=$OB_WORLD_DIR/gw-dec
"$agent" --config "$gd/config.json" --log-level debug >>"$gd/agent.log" 2>&1 &
dpid=$!
i=0
until "$ctl" --config "$gd/config.json" --json status 2>/dev/null | jq -e '.state == "onboarded"' >/dev/null; do
  i=$((i + 1)); [ $i -lt 300 ] && kill -0 $dpid 2>/dev/null || break; sleep 0.1
done
skip_live=
check dec --skip tls --skip tcp --skip dns
want state pass
want cloud pass
# a device policy that allows iot:Connect only for the thing name (common at AWS): the cloud
# check's own client id is refused while the daemon's session with the same certificate is up,
# so cloud names the policy, not the certificate
policy() {
  printf '{ "Version": "2012-10-17", "Statement": [ { "Effect": "Allow", "Action": "iot:Connect", "Resource": [ %s ] } ] }\n' "$1" \
    >"$OB_WORLD_DIR/policy.json"
  "$admin" put-policy DevicePolicy "$OB_WORLD_DIR/policy.json" >/dev/null || bad "ob-emu-admin put-policy"
}
arn='"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}'
policy "$arn\""
check dec --skip tls --skip tcp --skip dns
want cloud fail 1
detail cloud | grep -q "daemon's own session.*policy does not allow iot:Connect.*-agentctl-check" &&
  ok "cloud: a policy without the check's client id is named as the policy" || bad "cloud policy: $(detail cloud)"
policy "$arn\", $arn-agentctl-check\""
check dec --skip tls --skip tcp --skip dns
want cloud pass
"$ctl" --config "$gd/config.json" decommission --yes >/dev/null || bad "decommission"
i=0
until "$ctl" --config "$gd/config.json" --json status 2>/dev/null | jq -e '.last_error.code == "decommissioned"' >/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || break; sleep 0.1
done
check dec --skip tls --skip tcp --skip dns
want daemon pass
want state fail 1
detail state | grep -q "decommissioned.*agentctl reprovision" && ok "state: decommissioned named, with the way back" ||
  bad "state decommissioned: $(detail state)"
want cloud skip
detail cloud | grep -q "decommissioned" && ok "cloud: skipped, decommissioned named" || bad "cloud: $(detail cloud)"
kill $dpid; wait $dpid 2>/dev/null

exit $fail
