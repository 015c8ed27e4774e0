#!/bin/sh
# Cloud-steered operations through AWS IoT Jobs, end to end (docs/jobs.md): three fleet-claim
# gateways with TPM keys onboard, the template putting their things in the thing group
# jobs-fleet, and check in every 3 s (jobs.poll_interval_minutes 0.05). The operator creates
# jobs with ob-emu-admin create-job:
#   - rotate {"force": true} at thinggroup/jobs-fleet: every execution SUCCEEDED, its
#     statusDetails.certificateId the gateway's new certificate (agentctl status), generation + 1;
#   - reprovision at the three thing/NAME: SUCCEEDED with new certificate ids, healed through the
#     claim (heal_reason "job"), the same things;
#   - an unknown operation: REJECTED with a reason, nothing rotated;
#   - set-rotation-policy: SUCCEEDED, agentctl status shows rotation_policy.
# agentctl status --json shows "job" {id, phase, operation} while a job is in hand.
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
gws="j1 j2 j3"

# the template puts every thing it registers in the thing group jobs-fleet
jq '.templates.OnboardTemplate.body | .Resources.thing.Properties.ThingGroups = ["jobs-fleet"]' \
  "$OB_EMULATOR_STATE_DIR/registry.json" >"$OB_WORLD_DIR/group-template.json"
"$admin" put-template OnboardTemplate "$OB_WORLD_DIR/group-template.json" >/dev/null &&
  ok "OnboardTemplate puts the things in the thing group jobs-fleet" || bad "put-template"

for n in $gws; do
  gw_config "$n" serial="SN-jobs-$n-$$" top='"jobs": { "poll_interval_minutes": 0.05 }'
  start "$n"
done
for n in $gws; do
  wait_for "$n" '.state == "onboarded"' 30 || { bad "onboarding $n: $(st "$n" | jq -c .)"; log_tail "$n"; }
done
thing() { st "$1" | jq -r .thing_name; }
cert() { st "$1" | jq -r .certificate_id; }
gen() { st "$1" | jq -r .generation; }
for n in $gws; do
  eval "thing_$n=\$(thing $n) cert_$n=\$(cert $n) gen_$n=\$(gen $n)"
done
# shellcheck disable=SC2154 # set by the eval above
[ "$("$admin" list-things | jq -r --arg t "$thing_j1" '.[$t].thingGroups | index("jobs-fleet")')" = 0 ] &&
  ok "$thing_j1 is in jobs-fleet" || bad "thing groups: $("$admin" list-things | jq -c .)"

exe() { "$admin" describe-job-execution "$1" "$2" 2>/dev/null; }
# wait_job JOB STATUS SECONDS: until every gateway's execution of JOB has STATUS; meanwhile
# remembers in $seen a status "job" member of a gateway with the job in hand
wait_job() {
  end=$(($(date +%s) + $3)) seen="" seen_txt=""
  while [ "$(date +%s)" -lt $end ]; do
    all=1
    for n in $gws; do
      t=$(thing "$n")
      [ "$(exe "$1" "$t" | jq -r .status)" = "$2" ] || all=0
      [ -n "$seen" ] || { seen=$(st "$n" | jq -c --arg j "$1" 'select(.job.id == $j) | .job')
        [ -z "$seen" ] || seen_txt=$("$ctl" --config "$OB_WORLD_DIR/gw-$n/config.json" status | grep '^Job:'); }
    done
    [ $all = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

# ---------------------------------------------------------------- rotate, at the thing group
"$admin" create-job rot-1 '{"operation": "rotate", "force": true}' thinggroup/jobs-fleet |
  jq -e '.things | length == 3' >/dev/null &&
  ok "create-job rot-1 at thinggroup/jobs-fleet: three executions QUEUED" || bad "create-job rot-1"
if wait_job rot-1 SUCCEEDED 45; then
  ok "rot-1: the three executions SUCCEEDED"
else
  bad "rot-1: $("$admin" list-job-executions rot-1 | jq -c 'map({thingName, status, statusDetails})')"
  for n in $gws; do log_tail "$n" 20; done
fi
[ -n "$seen" ] && echo "$seen" | jq -e '.id == "rot-1" and .operation == "rotate" and (.phase | type == "string")' >/dev/null 2>&1 &&
  ok "agentctl status --json while in hand: job $seen" || bad "no status \"job\" seen during rot-1 ($seen)"
# (the text form a moment later: the job may have just ended)
case $seen_txt in Job:*rot-1\ rotate\ \(*\)) ok "agentctl status: $seen_txt" ;;
  "") echo "# the text form was read after the job ended" ;; *) bad "text form: $seen_txt" ;; esac
for n in $gws; do
  eval "t=\$thing_$n old=\$cert_$n g0=\$gen_$n"
  wait_for "$n" '.rotation == null and .job == null' 10 || true
  id=$(exe rot-1 "$t" | jq -r '.statusDetails.certificateId // empty')
  [ -n "$id" ] && [ "$id" = "$(cert "$n")" ] && [ "$id" != "$old" ] &&
    ok "$n: statusDetails.certificateId is the new certificate (${id%"${id#????????????}"}...)" ||
    bad "$n: certificateId '$id', status $(cert "$n"), before $old"
  [ "$(gen "$n")" = $((g0 + 1)) ] && ok "$n: generation $g0 -> $((g0 + 1))" || bad "$n: generation $g0 -> $(gen "$n")"
  [ "$(active_certs "$t")" -ge 1 ] || bad "$n: no ACTIVE certificate on $t"
  eval "cert_$n=\$(cert $n) gen_$n=\$(gen $n)"
done

# ---------------------------------------------------------------- reprovision, at the things
# shellcheck disable=SC2154
"$admin" create-job repro-1 '{"operation": "reprovision"}' "thing/$thing_j1" "thing/$thing_j2" "thing/$thing_j3" |
  jq -e '.things | length == 3' >/dev/null &&
  ok "create-job repro-1 at the three things" || bad "create-job repro-1"
if wait_job repro-1 SUCCEEDED 45; then
  ok "repro-1: the three executions SUCCEEDED"
else
  bad "repro-1: $("$admin" list-job-executions repro-1 | jq -c 'map({thingName, status, statusDetails})')"
  for n in $gws; do log_tail "$n" 20; done
fi
for n in $gws; do
  eval "t=\$thing_$n old=\$cert_$n"
  wait_for "$n" '.rotation == null and .job == null' 10 || true
  id=$(exe repro-1 "$t" | jq -r '.statusDetails.certificateId // empty')
  [ -n "$id" ] && [ "$id" = "$(cert "$n")" ] && [ "$id" != "$old" ] &&
    ok "$n: reprovisioned, new certificate (${id%"${id#????????????}"}...)" ||
    bad "$n: certificateId '$id', status $(cert "$n"), before $old"
  [ "$(st "$n" | jq -r .heal_reason)" = job ] && [ "$(st "$n" | jq -r .healed_at)" != null ] &&
    ok "$n: healed through the claim (heal_reason job)" || bad "$n: heal $(st "$n" | jq -c '{healed_at, heal_reason}')"
  [ "$(thing "$n")" = "$t" ] && ok "$n: same thing $t" || bad "$n: thing $(thing "$n"), was $t"
  eval "cert_$n=\$(cert $n)"
done

# ---------------------------------------------------------------- unknown operation
"$admin" create-job bad-1 '{"operation": "format-disk"}' thinggroup/jobs-fleet >/dev/null ||
  bad "create-job bad-1"
if wait_job bad-1 REJECTED 20; then
  ok "bad-1 (operation format-disk): the three executions REJECTED"
  r=$(exe bad-1 "$thing_j1" | jq -r '.statusDetails.reason // empty')
  [ -n "$r" ] && ok "with a reason: $r" || bad "no reason: $(exe bad-1 "$thing_j1" | jq -c .)"
else
  bad "bad-1: $("$admin" list-job-executions bad-1 | jq -c 'map({thingName, status, statusDetails})')"
fi
moved=""
for n in $gws; do
  eval "old=\$cert_$n"
  [ "$(cert "$n")" = "$old" ] || moved="$moved $n"
done
[ -z "$moved" ] && ok "nothing rotated by the rejected job" || bad "rotated by a rejected job:$moved"

# ---------------------------------------------------------------- set-rotation-policy
"$admin" create-job pol-1 '{"operation": "set-rotation-policy", "lifetime_fraction": 0.5, "max_age_days": 90}' \
  thinggroup/jobs-fleet >/dev/null || bad "create-job pol-1"
if wait_job pol-1 SUCCEEDED 20; then
  ok "pol-1: the three executions SUCCEEDED ($(exe pol-1 "$thing_j1" | jq -c .statusDetails))"
  for n in $gws; do
    st "$n" | jq -e '.rotation_policy.lifetime_fraction == 0.5 and .rotation_policy.max_age_days == 90' >/dev/null &&
      ok "$n: agentctl status: rotation_policy $(st "$n" | jq -c .rotation_policy)" ||
      bad "$n: rotation_policy $(st "$n" | jq -c .rotation_policy)"
  done
  p=$("$ctl" --config "$OB_WORLD_DIR/gw-j1/config.json" status | grep '^Policy:')
  [ "$p" = "Policy:       lifetime_fraction 0.5, days_before_expiry 30, max_age_days 90 (set by a job)" ] &&
    ok "agentctl status: $p" || bad "text form: '$p'"
else
  bad "pol-1: $("$admin" list-job-executions pol-1 | jq -c 'map({thingName, status, statusDetails})')"
fi

for n in $gws; do
  # (a check-in every 3 s: checking-in is onboarded too)
  case $(st "$n" | jq -r .state) in onboarded | checking-in) ;; *) bad "$n: state $(st "$n" | jq -r .state)" ;; esac
  stop "$n"
done
exit $fail
