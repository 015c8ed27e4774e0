#!/bin/sh
# Certificate rotation end to end: the daemon with TPM keys against the emulator, which issues
# short-lived certificates. Cases (docs/rotation.md): rotation at the threshold, agentctl
# rotate, the hook runs once per rotation, the new certificate refused by the cloud (rollback:
# the old one keeps working), kill -9 after each saved rotation stage (a working identity at
# every point, exactly one rotation), the old key deleted after the grace period, a rotation
# the device policy refuses (policy).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
probe=$top_builddir/tests/integration/ob-mqtt-probe
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI

# the world's default DevicePolicy allows what rotation needs (the provisioning topics), as
# docs/rotation.md asks of a real account: no policy of the test's own

# gw NAME [EXTRA_ROTATION_JSON]
gw() {
  g=$OB_WORLD_DIR/gw-$1
  mkdir -p "$g"
  cat >"$g/hook.sh" <<EOF
#!/bin/sh
echo "\$OB_CERTIFICATE_ID \$OB_THING_NAME \$OB_CERT_FILE" >>"$g/hook.log"
EOF
  chmod +x "$g/hook.sh"
  # no check-in right after each rotation (shadow.report): `connects` probes with the thing's
  # client id while the daemon runs, and two CONNECTs of one client id within a second are
  # refused; test-shadow.sh covers the check-in after a rotation
  gw_config "$1" serial="SN-rot-$1-$$" \
    top="\"rotation\": { \"hook\": \"$g/hook.sh\",
               \"old_cert_topic\": \"things/{thing_name}/old-cert\"${2:+, $2} },
         \"shadow\": { \"report\": false }"
}
gen() { readlink "$OB_WORLD_DIR/gw-$1/state/credentials/current"; }
cert_status() { jq -r --arg id "$1" '.certificates[$id].status // "none"' "$OB_EMULATOR_STATE_DIR/registry.json"; }
# connects NAME GEN: the credentials of generation GEN still get in (as the thing)
connects() {
  g=$OB_WORLD_DIR/gw-$1
  sleep 1.1 # the emulator, like IoT Core, refuses a second CONNECT per client id within 1 s
  "$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" \
    --cert "$g/state/credentials/$2/device.crt" --key "$g/state/credentials/$2/device.key" \
    --provider tpm2 --tcti "$OB_TCTI" --id "$(st "$1" | jq -r .thing_name)" --connect-only >"$g/probe.log" 2>&1 || { sed "s/^/#   probe: /" "$g/probe.log"; false; }
}


# ---------------------------------------------------------------- at the threshold
if want threshold; then
# short-lived certificates, asked for explicitly (the emulator's default is AWS's
# 2049-12-31T23:59:59Z): valid for 30 s from issue; renew at 80% of it (24 s after issue), and
# never sooner than halfway from the commit to notAfter (15 s)
"$admin" set issuedCertValidity 30 >/dev/null
gw thr '"lifetime_fraction": 0.8'
start thr
wait_for thr '.state == "onboarded"' 30 || { bad "onboarding: $(st thr | jq -c .)"; log_tail thr; }
first=$(st thr | jq -r .certificate_id)
next=$(st thr | jq -r .next_rotation)
[ "$next" != null ] && ok "next renewal planned: $next" || bad "no next_rotation"
systemd_status=$(grep -c 'next rotation' "$OB_WORLD_DIR/gw-thr/agent.log")
if wait_for thr ".certificate_id != \"$first\" and .state == \"onboarded\"" 40; then
  ok "rotated at the threshold: generation $(gen thr), certificate $(st thr | jq -r .certificate_id | cut -c1-12)..."
  [ "$(gen thr)" = 2 ] && ok "credentials/current -> 2" || bad "current -> $(gen thr)"
  [ "$(cert_status "$(st thr | jq -r .certificate_id)")" = ACTIVE ] && ok "new certificate ACTIVE in the registry" || bad "new certificate status"
  sleep 0.5
  [ "$(wc -l <"$OB_WORLD_DIR/gw-thr/hook.log" 2>/dev/null)" = 1 ] && grep -q "$(st thr | jq -r .certificate_id)" "$OB_WORLD_DIR/gw-thr/hook.log" &&
    ok "the hook ran once, with the new certificate's id" || bad "hook: $(cat "$OB_WORLD_DIR/gw-thr/hook.log" 2>/dev/null)"
  grep -q "published the old certificate id" "$OB_WORLD_DIR/gw-thr/agent.log" &&
    ok "old certificate id published to things/<thing>/old-cert" || bad "old certificate id not published"
  connects thr 2 && ok "the new credentials connect" || bad "new credentials do not connect"
  [ -e "$OB_WORLD_DIR/gw-thr/state/credentials/1/device.key" ] && ok "old key kept for the grace period" || bad "old key gone too early"
else
  bad "no rotation at the threshold"; log_tail thr 30
fi
stop thr
"$admin" set issuedCertValidity null >/dev/null
fi

# ---------------------------------------------------------------- agentctl rotate; rollback
if want manual; then
gw man
start man
wait_for man '.state == "onboarded"' 30 || { bad "onboarding (man)"; log_tail man; }
first=$(st man | jq -r .certificate_id)
"$ctl" --config "$OB_WORLD_DIR/gw-man/config.json" rotate >/dev/null && ok "agentctl rotate accepted" || bad "agentctl rotate"
wait_for man ".certificate_id != \"$first\" and .state == \"onboarded\"" 30 &&
  ok "agentctl rotate: rotated to generation $(gen man)" || { bad "agentctl rotate did not rotate"; log_tail man 30; }
out=$("$ctl" --config "$OB_WORLD_DIR/gw-man/config.json" rotate 2>&1); rc=$?
[ $rc = 0 ] && ok "a second agentctl rotate starts another rotation" || bad "second rotate: $out"
wait_for man '.state == "onboarded" and .rotation == null' 30

# the cloud will not accept the next certificate: every new certificate is made INACTIVE by a
# pre-provisioning hook that allows provisioning but the template sets it INACTIVE
cur=$(gen man); cur_id=$(st man | jq -r .certificate_id)
jq '.templates.OnboardTemplate.body | .Resources.certificate.Properties.Status = "INACTIVE"' \
  "$OB_EMULATOR_STATE_DIR/registry.json" >"$OB_WORLD_DIR/inactive.json"
jq '.templates.OnboardTemplate.body' "$OB_EMULATOR_STATE_DIR/registry.json" >"$OB_WORLD_DIR/active.json"
"$admin" put-template OnboardTemplate "$OB_WORLD_DIR/inactive.json" >/dev/null
"$ctl" --config "$OB_WORLD_DIR/gw-man/config.json" rotate >/dev/null
wait_for man '.last_error.code == "rotation-rolled-back"' 30 &&
  ok "new certificate refused: $(st man | jq -r .last_error.text)" || { bad "no rollback"; log_tail man 30; }
[ "$(gen man)" = "$cur" ] && [ "$(st man | jq -r .certificate_id)" = "$cur_id" ] &&
  ok "rollback: still generation $cur with the same certificate" || bad "rollback moved current to $(gen man)"
# (the daemon is stopped for the probe: both would use the thing's client id)
stop man
connects man "$cur" && ok "rollback: the current credentials still connect" || bad "current credentials broken"
"$admin" put-template OnboardTemplate "$OB_WORLD_DIR/active.json" >/dev/null
start man
wait_for man ".certificate_id != \"$cur_id\" and .state == \"onboarded\" and .rotation == null" 30 &&
  ok "cloud accepts again: rotated to generation $(gen man)" || { bad "no rotation after the cloud accepted"; log_tail man 30; }
stop man
fi

# ---------------------------------------------------------------- kill -9 during rotation
if want crash; then
for stage in ${OB_ROT_STAGES:-new key-ready certificate-issued thing-registered onboarded}; do
  n=k-$stage
  gw "$n"
  start "$n"
  wait_for "$n" '.state == "onboarded"' 30 || { bad "onboarding ($n)"; continue; }
  stop "$n"
  first=$(st "$n" | jq -r .certificate_id)
  # the commit saves stage "onboarded" with the rotation already finished
  [ "$stage" = onboarded ] && crash=onboarded || crash="rotation:$stage"
  start "$n" OB_TEST_CRASH_AFTER_STAGE=$crash
  wait_for "$n" '.daemon_running == true' 10
  "$ctl" --config "$OB_WORLD_DIR/gw-$n/config.json" rotate >/dev/null 2>&1
  i=0; while kill -0 "$(cat "$OB_WORLD_DIR/gw-$n/pid")" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  cg=$(gen "$n")
  { [ "$cg" = 1 ] || [ "$cg" = 2 ]; } && connects "$n" "$cg" &&
    ok "kill -9 after $crash: generation $cg works" || bad "kill -9 after $crash: no working identity (current -> $cg)"
  start "$n"
  if wait_for "$n" ".certificate_id != \"$first\" and .state == \"onboarded\" and .rotation == null" 30; then
    issued=$(jq --arg t "$(st "$n" | jq -r .thing_name)" '[.certificates[] | select((.things // []) | index($t))] | length' "$OB_EMULATOR_STATE_DIR/registry.json")
    [ "$(gen "$n")" = 2 ] && ok "after $crash: resumed, generation 2, $issued certificates on the thing" ||
      bad "after $crash: generation $(gen "$n")"
  else
    bad "after $crash: rotation did not finish"; log_tail "$n" 30
  fi
  stop "$n"
done
fi

# ---------------------------------------------------------------- rotation refused by the policy
# (issue 17) the device policy does not allow the provisioning topics: the rotation fails as a
# rotation (its log lines say "rotation:", last_error names the device policy, not the claim's),
# next_rotation is the real next attempt (never 1970), and the identity stays in use
if want policy; then
gw pol
start pol
if wait_for pol '.state == "onboarded"' 30; then
  cur=$(gen pol); first=$(st pol | jq -r .certificate_id)
  cat >"$OB_WORLD_DIR/connect-only.json" <<'JSON'
{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": "iot:Connect",
    "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}" } ] }
JSON
  "$admin" put-policy DevicePolicy "$OB_WORLD_DIR/connect-only.json" >/dev/null || bad "put-policy connect-only"
  out=$("$ctl" --config "$OB_WORLD_DIR/gw-pol/config.json" --json rotate) || bad "agentctl rotate refused: $out"
  # a rotation at work is "rotating" by name, its step in "activity", its stage in "rotation"
  echo "$out" | jq -e '.state == "rotating" and .activity != null and .rotation.stage != null and
      .certificate_id == "'"$first"'"' >/dev/null &&
    ok "rotate: state rotating ($(echo "$out" | jq -c '{activity, rotation}'))" ||
    bad "rotate: state right after: $(echo "$out" | jq -c '{state, activity, rotation}')"
  if wait_for pol '.last_error != null and .state != "rotating"' 30; then
    s=$(st pol)
    now=$(date +%s)
    nr=$(echo "$s" | jq -r '.next_rotation // "null"')
    nr_s=$(date -d "$nr" +%s 2>/dev/null || echo 0)
    echo "$s" | jq -e '(.last_error.text | test("rotation") and test("device.s policy") and test("docs/rotation.md")) and
        (.last_error.text | test("claim") | not) and .certificate_id == "'"$first"'"' >/dev/null &&
      ok "rotation refused by the policy: $(echo "$s" | jq -r .last_error.text | cut -c1-140)" ||
      bad "rotation refused by the policy: last_error $(echo "$s" | jq -c .last_error)"
    [ "$nr_s" -ge $((now - 5)) ] &&
      ok "next_rotation is the next attempt: $nr" || bad "next_rotation after a refused rotation: $nr"
    grep "refused\|not allowed\|denied" "$OB_WORLD_DIR/gw-pol/agent.log" | grep -q "rotation:" &&
      ! grep "refused\|not allowed\|denied" "$OB_WORLD_DIR/gw-pol/agent.log" | grep -q "onboarding:" &&
      ok "the log says rotation, not onboarding: $(grep "rotation:" "$OB_WORLD_DIR/gw-pol/agent.log" | grep "refused\|not allowed\|denied" | head -1 | cut -c1-140)" ||
      bad "log prefix: $(grep "refused\|not allowed\|denied" "$OB_WORLD_DIR/gw-pol/agent.log" | head -2)"
    [ "$(gen pol)" = "$cur" ] && ok "the current identity stays in use (generation $cur)" || bad "current moved to $(gen pol)"
  else
    bad "rotation with a connect-only policy: $(st pol | jq -c '{state, last_error}')"; log_tail pol 20
  fi
  device_policy || bad "restoring DevicePolicy"
else
  bad "policy: onboarding: $(st pol | jq -c .)"; log_tail pol
fi
stop pol
fi

exit $fail
