#!/bin/sh
# Fleet health in the named shadow onboard-agent (docs/shadow.md), end to end: the daemon with a
# TPM key against the emulator. A fleet-claim gateway onboards, checks in soon after and the
# shadow shows its state, thing, certificate id and notAfter; agentctl rotate -> the shadow's
# certificate_id becomes the new one; a check-in with nothing changed does not write the shadow
# (its version stays); a rotation the cloud refuses rolls back and the shadow shows
# last_error rotation-rolled-back (check-ins go on while the rotation waits for its retry);
# agentctl status shows checkin {last, next} and shadow {reported_at, result}; the journal (here stderr) has one line per check-in. The shadow's tpm {manufacturer,
# firmware} is what tpm2_getcap reads from the same swtpm; a software-key gateway's is null; a
# gateway with a 128-character thing name (AWS's longest) reports and polls its jobs too.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI
fail=0

# The device policy of docs/shadow.md: the world's DevicePolicy (rotation's topics) plus the
# named shadow's. Put under the same name, so every certificate the template attaches it to
# (the first and the rotated one) may report.
jq '.policies.DevicePolicy' "$OB_EMULATOR_STATE_DIR/registry.json" |
  jq '.Statement |= map(if .Action == "iot:Subscribe" then
         .Resource += ["arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*"]
       elif (.Action | type) == "array" then
         .Resource += ["arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*"]
       else . end)' >"$OB_WORLD_DIR/shadow-policy.json"
"$admin" put-policy DevicePolicy "$OB_WORLD_DIR/shadow-policy.json" >/dev/null &&
  ok "DevicePolicy allows the named shadow onboard-agent" || bad "put-policy"

shadow() { "$admin" get-shadow "$1" onboard-agent; }
# until the shadow of thing $1 has $3 at reported.$2 (up to 10 s); $i: tenths of a second waited
i=0
wait_shadow() {
  i=0
  while [ $i -lt 100 ] && [ "$(shadow "$1" | jq -r ".state.reported.$2 // empty" 2>/dev/null)" != "$3" ]; do
    sleep 0.1; i=$((i + 1))
  done
}
# a check-in every 3 s (+ up to 10 %): the second one comes quickly
gw_config sh serial="SN-shadow-$$" top='"jobs": { "poll_interval_minutes": 0.05 }, "shadow": { "report": true }'
start sh
# and one with software keys: no TPM to read, "tpm": null
gw_config sw serial="SN-shadow-sw-$$" backend=software top='"jobs": { "poll_interval_minutes": 0.05 }, "shadow": { "report": true }'
start sw
wait_for sh '.state == "onboarded"' 30 || { bad "onboarding: $(st sh | jq -c .)"; log_tail sh; }
thing=$(st sh | jq -r .thing_name)
first=$(st sh | jq -r .certificate_id)
na=$(st sh | jq -r .certificate_not_after)

# soon after onboarding (a few seconds), the shadow shows the gateway
wait_shadow "$thing" certificate_id "$first"
rep=$(shadow "$thing" | jq -c '.state.reported')
[ "$(echo "$rep" | jq -r .certificate_id)" = "$first" ] &&
  ok "the shadow shows the certificate id within $((i / 10)).$((i % 10)) s of onboarding" ||
  { bad "shadow after onboarding: $(shadow "$thing" | jq -c .)"; log_tail sh 30; }
[ "$(echo "$rep" | jq -r .state)" = onboarded ] && ok "state onboarded" || bad "state: $rep"
[ "$(echo "$rep" | jq -r .thing_name)" = "$thing" ] && ok "thing $thing" || bad "thing: $rep"
[ "$(echo "$rep" | jq -r .certificate_not_after)" = "$na" ] && ok "certificate_not_after $na" || bad "notAfter: $rep"
[ "$(echo "$rep" | jq -r .certificate_not_after_s)" = "$(date -u -d "$na" +%s)" ] &&
  ok "certificate_not_after_s $(echo "$rep" | jq -r .certificate_not_after_s) (the same, for fleet indexing's range queries)" ||
  bad "certificate_not_after_s: $rep"
[ "$(echo "$rep" | jq -r .method)" = fleet-claim ] && [ "$(echo "$rep" | jq -r .generation)" = 1 ] &&
  ok "method fleet-claim, generation 1" || bad "method/generation: $rep"
# the TPM as tpm2-tools reads it in the same world (the daemon reads it once at start)
want=$(getcap_tpm_info) || bad "tpm2_getcap properties-fixed: no manufacturer or firmware"
[ "$(echo "$rep" | jq -r '.tpm.manufacturer + " " + .tpm.firmware')" = "$want" ] &&
  ok "tpm {manufacturer $(echo "$rep" | jq -r .tpm.manufacturer), firmware $(echo "$rep" | jq -r .tpm.firmware)}, as tpm2_getcap says" ||
  bad "tpm: $(echo "$rep" | jq -c .tpm), tpm2_getcap: $want"
[ "$(st sh | jq -r .shadow.result)" = accepted ] && [ "$(st sh | jq -r .shadow.reported_at)" != null ] &&
  ok "agentctl status: shadow {reported_at $(st sh | jq -r .shadow.reported_at), result accepted}" ||
  bad "status shadow: $(st sh | jq -c .shadow)"

# the next check-ins: nothing changed, nothing written (the version stays)
v1=$(shadow "$thing" | jq -r .version)
n1=$(grep -c 'check-in: checked in' "$OB_WORLD_DIR/gw-sh/agent.log")
wait_for sh ".checkin.last != \"$(st sh | jq -r .checkin.last)\"" 10 || true
i=0
while [ $i -lt 100 ] && [ "$(grep -c 'check-in: checked in' "$OB_WORLD_DIR/gw-sh/agent.log")" -lt $((n1 + 2)) ]; do
  sleep 0.1; i=$((i + 1))
done
n2=$(grep -c 'check-in: checked in' "$OB_WORLD_DIR/gw-sh/agent.log")
[ "$n2" -ge $((n1 + 2)) ] && ok "$((n2 - n1)) more check-ins, one journal line each" ||
  { bad "check-ins: $n1 -> $n2"; log_tail sh 20; }
grep -q 'check-in: checked in; the shadow is up to date' "$OB_WORLD_DIR/gw-sh/agent.log" &&
  ok "a check-in with nothing changed says the shadow is up to date" || bad "no 'up to date' check-in"
[ "$(shadow "$thing" | jq -r .version)" = "$v1" ] &&
  ok "nothing changed: the shadow's version stays $v1" || bad "shadow rewritten: version $v1 -> $(shadow "$thing" | jq -r .version)"
[ "$(st sh | jq -r .checkin.next)" != null ] && ok "agentctl status: checkin {last $(st sh | jq -r .checkin.last), next $(st sh | jq -r .checkin.next)}" ||
  bad "status checkin: $(st sh | jq -c .checkin)"
[ "$(st sh | jq -r .state)" = onboarded ] && [ "$(st sh | jq -r .last_error)" = null ] &&
  ok "idle between check-ins, no error" || bad "status: $(st sh | jq -c '{state, last_error}')"

# agentctl rotate: the shadow follows the new certificate
"$ctl" --config "$OB_WORLD_DIR/gw-sh/config.json" rotate >/dev/null && ok "agentctl rotate accepted" || bad "agentctl rotate"
wait_for sh ".certificate_id != \"$first\" and .state == \"onboarded\" and .rotation == null" 30 ||
  { bad "no rotation"; log_tail sh 30; }
second=$(st sh | jq -r .certificate_id)
wait_shadow "$thing" certificate_id "$second"
rep=$(shadow "$thing" | jq -c '.state.reported')
[ "$(echo "$rep" | jq -r .certificate_id)" = "$second" ] && [ "$second" != "$first" ] &&
  ok "after the rotation the shadow's certificate_id is the new one (${second%"${second#????????????}"}...)" ||
  { bad "shadow after rotation: $rep"; log_tail sh 30; }
[ "$(echo "$rep" | jq -r .generation)" = 2 ] && ok "generation 2" || bad "generation: $rep"
[ "$(shadow "$thing" | jq -r .version)" -gt "$v1" ] && ok "the shadow's version moved: $v1 -> $(shadow "$thing" | jq -r .version)" ||
  bad "version did not move"

# a rotation the cloud refuses (the template makes every new certificate INACTIVE, as in
# test-rotate): it rolls back and waits for its retry, and the check-ins go on meanwhile with
# the current identity, so the shadow shows the failure; then the cloud accepts again
jq '.templates.OnboardTemplate.body | .Resources.certificate.Properties.Status = "INACTIVE"' \
  "$OB_EMULATOR_STATE_DIR/registry.json" >"$OB_WORLD_DIR/inactive.json"
jq '.templates.OnboardTemplate.body' "$OB_EMULATOR_STATE_DIR/registry.json" >"$OB_WORLD_DIR/active.json"
"$admin" put-template OnboardTemplate "$OB_WORLD_DIR/inactive.json" >/dev/null
"$ctl" --config "$OB_WORLD_DIR/gw-sh/config.json" rotate >/dev/null
wait_for sh '.last_error.code == "rotation-rolled-back"' 30 || { bad "no rollback: $(st sh | jq -c .last_error)"; log_tail sh 30; }
wait_shadow "$thing" last_error.code rotation-rolled-back
rep=$(shadow "$thing" | jq -c '.state.reported')
[ "$(echo "$rep" | jq -r .last_error.code)" = rotation-rolled-back ] &&
  [ "$(echo "$rep" | jq -r .certificate_id)" = "$second" ] && [ "$(echo "$rep" | jq -r .state)" = onboarded ] &&
  ok "a rolled-back rotation: the shadow shows last_error rotation-rolled-back ($(echo "$rep" | jq -r .last_error.class)) within $((i / 10)).$((i % 10)) s, the certificate still ${second%"${second#????????????}"}..." ||
  { bad "shadow after the rollback: $rep"; log_tail sh 30; }
s=$(st sh)
[ "$(echo "$s" | jq -r .certificate_id)" = "$second" ] && [ "$(echo "$s" | jq -r .generation)" = 2 ] &&
  ok "agentctl status: still generation 2 (rotation $(echo "$s" | jq -r '.rotation.stage // "-"'), next retry $(echo "$s" | jq -r .next_retry))" ||
  bad "status after the rollback: $(echo "$s" | jq -c '{certificate_id, generation, rotation, next_retry}')"
"$admin" put-template OnboardTemplate "$OB_WORLD_DIR/active.json" >/dev/null
wait_for sh ".certificate_id != \"$second\" and .state == \"onboarded\" and .rotation == null" 90 ||
  { bad "no rotation after the cloud accepted again: $(st sh | jq -c '{state, last_error}')"; log_tail sh 30; }
third=$(st sh | jq -r .certificate_id)
wait_shadow "$thing" certificate_id "$third"
rep=$(shadow "$thing" | jq -c '.state.reported')
[ "$(echo "$rep" | jq -r .certificate_id)" = "$third" ] && [ "$(echo "$rep" | jq -r .last_error)" = null ] &&
  ok "the cloud accepts again: rotated, the shadow shows the new certificate and no error" ||
  { bad "shadow after the retry: $rep"; log_tail sh 30; }

wait_for sw '.state == "onboarded"' 30 || { bad "software-key gateway onboarding: $(st sw | jq -c .)"; log_tail sw; }
swthing=$(st sw | jq -r .thing_name)
wait_shadow "$swthing" state onboarded
# a null in reported deletes the field (AWS's shadow semantics, the emulator's too): no tpm
shadow "$swthing" | jq -e '.state.reported | has("state") and .tpm == null' >/dev/null &&
  ok "software keys: \"tpm\": null (no tpm in the shadow)" || bad "software keys: $(shadow "$swthing" | jq -c .state.reported)"
stop sw
stop sh

# a thing name of AWS's longest, 128 characters (the template puts a 61-character prefix before
# "ob-" and a 64-character serial): its shadow topics are 182 bytes, its jobs' 165, one
# SUBSCRIBE packet each. Last: the template change applies to every gateway onboarding after it.
jq '.templates.OnboardTemplate.body | .Resources.thing.Properties.ThingName =
      {"Fn::Join": ["", ["site-0042-building-north-floor-07-cabinet-b-rack-12-gateways-", .Resources.thing.Properties.ThingName]]}' \
  "$OB_EMULATOR_STATE_DIR/registry.json" >"$OB_WORLD_DIR/long.json"
"$admin" put-template OnboardTemplate "$OB_WORLD_DIR/long.json" >/dev/null || bad "put-template (long thing names)"
long=$(printf 'SN-long-%s-%064d' "$$" 0 | cut -c1-64)
gw_config lg serial="$long" backend=software top='"jobs": { "poll_interval_minutes": 0.05 }, "shadow": { "report": true }'
start lg
wait_for lg '.state == "onboarded"' 30 || { bad "128-character thing: onboarding: $(st lg | jq -c .last_error)"; log_tail lg; }
lgthing=$(st lg | jq -r .thing_name)
wait_shadow "$lgthing" state onboarded
[ "${#lgthing}" = 128 ] && [ "$(shadow "$lgthing" | jq -r .state.reported.thing_name)" = "$lgthing" ] &&
  ok "a 128-character thing name: the shadow shows it" ||
  { bad "128-character thing ($lgthing, ${#lgthing}): $(shadow "$lgthing" | jq -c .state.reported 2>&1 | cut -c1-200)"; log_tail lg 20; }
wait_for lg '.checkin.last != null and .activity != "checking-in"' 20 || true
grep 'check-in: checked in' "$OB_WORLD_DIR/gw-lg/agent.log" | tail -1 | grep -q 'jobs: idle$' &&
  ok "a 128-character thing name: the check-in's jobs part subscribed and asked (jobs: idle)" ||
  bad "128-character thing, jobs: $(grep 'check-in:' "$OB_WORLD_DIR/gw-lg/agent.log" | tail -1)"
stop lg
exit $fail
