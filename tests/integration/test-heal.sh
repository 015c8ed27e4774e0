#!/bin/sh
# Self-healing identity end to end (docs/self-healing.md): a fleet-claim gateway onboards; the
# operator revokes its certificate in the cloud (ob-emu-admin revoke); agentctl rotate's step 2
# (connect with the current certificate) is refused, retried on retry.refused, and after
# recovery.refusals refusals the device heals through the claim: the same thing, a new ACTIVE
# certificate, the revoked one still REVOKED, healed_at and the reason in agentctl status and
# the journal's "healed" line. The operator's documented clean-up (aws iot
# detach-thing-principal + delete-certificate) leaves exactly one certificate on the thing,
# ACTIVE. A gateway nobody touches heals by itself: its check-ins are refused. Then
# recovery.reonboard off: the refused gateway waits with identity-refused on the
# long backoff and does not heal.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
. "$top_srcdir/tests/integration/cli-lib.sh"
export TPM2OPENSSL_TCTI=$OB_TCTI

cert_status() { jq -r --arg id "$1" '.certificates[$id].status // "none"' "$OB_EMULATOR_STATE_DIR/registry.json"; }
# certs_on THING: the certificates attached to the thing (any status)
certs_on() {
  "$admin" list-certs | jq --arg t "$1" '[.[] | select((.things // []) | index($t))] | length'
}

# up NAME: start the gateway and wait until it is onboarded; old and thing: its certificate
# id and thing name
up() {
  start "$1"
  wait_for "$1" '.state == "onboarded"' 30 || { bad "onboarding: $(st "$1" | jq -c .)"; log_tail "$1"; }
  old=$(st "$1" | jq -r .certificate_id)
  thing=$(st "$1" | jq -r .thing_name)
}

# ---------------------------------------------------------------- revoked -> heals
if want revoked; then
gw_config heal serial="SN-heal-$$" \
  top='"recovery": { "refusals": 3, "refusal_window_minutes": 0 }'
up heal
"$ctl" --config "$OB_WORLD_DIR/gw-heal/config.json" config show | grep -q 'recovery.reonboard.*true' &&
  ok "agentctl config: recovery.reonboard is true for fleet-claim (effective)" ||
  bad "agentctl config does not show recovery.reonboard true"
"$admin" revoke "$old" >/dev/null && ok "revoked $old in the cloud" || bad "ob-emu-admin revoke"
"$ctl" --config "$OB_WORLD_DIR/gw-heal/config.json" rotate >/dev/null && ok "agentctl rotate accepted" || bad "agentctl rotate"
if wait_for heal '.healed_at != null and .state == "onboarded"' 60; then
  new=$(st heal | jq -r .certificate_id)
  ok "healed at $(st heal | jq -r .healed_at) ($(st heal | jq -r .heal_reason))"
  [ "$(st heal | jq -r .heal_reason)" = refused ] && ok "heal_reason refused" || bad "heal_reason $(st heal | jq -r .heal_reason)"
  [ "$(st heal | jq -r .thing_name)" = "$thing" ] && ok "same thing $thing" || bad "thing $(st heal | jq -r .thing_name), was $thing"
  [ "$new" != "$old" ] && ok "new certificate ${new%"${new#????????????}"}..." || bad "same certificate"
  [ "$(cert_status "$new")" = ACTIVE ] && ok "new certificate ACTIVE" || bad "new certificate $(cert_status "$new")"
  [ "$(cert_status "$old")" = REVOKED ] && ok "revoked certificate still REVOKED" || bad "old certificate $(cert_status "$old")"
  [ "$(st heal | jq -r .generation)" = 2 ] && ok "generation 2" || bad "generation $(st heal | jq -r .generation)"
  n=$(grep -c 'connecting with the current certificate failed' "$OB_WORLD_DIR/gw-heal/agent.log")
  [ "$n" -ge 3 ] && ok "$n refusals of the current certificate before the heal" || bad "$n refusals before the heal"
  grep -q 'healed (refused)' "$OB_WORLD_DIR/gw-heal/agent.log" && ok "the log says healed (refused)" || bad "no 'healed' line"
  "$ctl" --config "$OB_WORLD_DIR/gw-heal/config.json" status | grep -q '^Healed: .*(refused)' &&
    ok "agentctl status: Healed line" || bad "agentctl status: no Healed line"
  # the operator's clean-up (docs/self-healing.md)
  [ "$(certs_on "$thing")" = 2 ] && ok "before the clean-up: 2 certificates on the thing" || bad "before: $(certs_on "$thing") certificates"
  cli "aws iot detach-thing-principal (the revoked certificate)" \
    aws iot detach-thing-principal --thing-name "$thing" --principal "$ARN_PREFIX:cert/$old"
  cli "aws iot delete-certificate (the revoked certificate)" aws iot delete-certificate --certificate-id "$old" --force-delete
  sleep 0.5
  [ "$(certs_on "$thing")" = 1 ] && [ "$(active_certs "$thing")" = 1 ] &&
    ok "after the clean-up: exactly one certificate on $thing, ACTIVE" ||
    bad "after the clean-up: $(certs_on "$thing") certificates, $(active_certs "$thing") ACTIVE: $("$admin" list-certs | jq -c .)"
  sleep 1.1
  "$ctl" --config "$OB_WORLD_DIR/gw-heal/config.json" rotate >/dev/null
  wait_for heal ".certificate_id != \"$new\" and .state == \"onboarded\"" 30 &&
    ok "the healed identity rotates as usual" || { bad "no rotation after the heal"; log_tail heal 20; }
else
  bad "no heal: $(st heal | jq -c .)"; log_tail heal 40
fi
stop heal
fi

# ---------------------------------------------------------------- by itself: the check-ins
# No operator at the gateway: its check-ins (jobs.poll_interval_minutes 0.05 = every 3 s, the
# refused ones retried on retry.refused) meet the revoked certificate, and after
# recovery.refusals of them it heals through the claim, within the configured window.
if want self; then
gw_config self serial="SN-heal-self-$$" \
  top='"jobs": { "poll_interval_minutes": 0.05 }, "shadow": { "report": false }, "recovery": { "refusals": 2, "refusal_window_minutes": 0 }'
up self
"$admin" revoke "$old" >/dev/null && ok "revoked $old; nobody touches the gateway" || bad "ob-emu-admin revoke"
t0=$(date +%s)
if wait_for self ".healed_at != null and .state == \"onboarded\" and .certificate_id != \"$old\"" 45; then
  ok "healed by itself $(( $(date +%s) - t0 )) s after the revocation ($(st self | jq -r .heal_reason))"
  [ "$(st self | jq -r .heal_reason)" = refused ] && [ "$(st self | jq -r .thing_name)" = "$thing" ] &&
    ok "reason refused, same thing $thing" || bad "reason/thing: $(st self | jq -c '{heal_reason, thing_name}')"
  n=$(grep -c 'checking in with the current certificate failed' "$OB_WORLD_DIR/gw-self/agent.log")
  [ "$n" -ge 2 ] && ok "$n refused check-ins before the heal" || bad "$n refused check-ins"
  ! grep -q 'control: rotate' "$OB_WORLD_DIR/gw-self/agent.log" && ok "no agentctl rotate involved" ||
    bad "a rotate request was seen"
  [ "$(cert_status "$(st self | jq -r .certificate_id)")" = ACTIVE ] && ok "the new certificate is ACTIVE" ||
    bad "new certificate $(cert_status "$(st self | jq -r .certificate_id)")"
else
  bad "did not heal by itself: $(st self | jq -c .)"; log_tail self 40
fi
stop self
fi

# ---------------------------------------------------------------- recovery.reonboard off
if want off; then
gw_config off serial="SN-heal-off-$$" \
  retry="$(retry_all 1 2 | sed 's/"refused": { "base": 1, "cap": 2 }/"refused": { "base": 1, "cap": 600 }/')" \
  top='"recovery": { "reonboard": false, "refusals": 2, "refusal_window_minutes": 0 }'
up off
"$admin" revoke "$old" >/dev/null
"$ctl" --config "$OB_WORLD_DIR/gw-off/config.json" rotate >/dev/null
if wait_for off '.last_error.code == "identity-refused"' 60; then
  ok "refused, no claim to heal with: identity-refused"
  st off | jq -r .last_error.text | grep -q 'identity refused by AWS IoT Core: revoked or inactive certificate' &&
    ok "last_error says what is needed" || bad "last_error: $(st off | jq -c .last_error)"
  n1=$(grep -c 'connecting with the current certificate failed' "$OB_WORLD_DIR/gw-off/agent.log")
  sleep 4
  n2=$(grep -c 'connecting with the current certificate failed' "$OB_WORLD_DIR/gw-off/agent.log")
  [ "$n1" = "$n2" ] && ok "no reconnect loop ($n2 attempts, then the long backoff)" || bad "still connecting: $n1 -> $n2"
  [ "$(st off | jq -r .healed_at)" = null ] && [ "$(st off | jq -r .certificate_id)" = "$old" ] &&
    ok "not healed (recovery.reonboard false)" || bad "healed although off"
else
  bad "no identity-refused status: $(st off | jq -c .)"; log_tail off 30
fi
stop off
fi

# ---------------------------------------------------------------- kill -9 during a heal
# after each saved stage of the heal (the daemon names them "rotation:STAGE"; the commit saves
# "onboarded"): the restart resumes the heal through the claim, once. After the kill the
# configuration asks for 1000 refusals, so a plain rotation resumed instead could not heal.
# The heal fires during agentctl rotate's rotation at key-ready (its step 2 is refused): the
# stages it saves are certificate-issued, thing-registered and onboarded (a heal from idle saves
# new and key-ready as well: tests/unit/test-onboard-heal.c kills it after each). Two by
# default (make check stays quick), all with
# OB_HEAL_STAGES="certificate-issued thing-registered onboarded".
if want crash; then
for stage in ${OB_HEAL_STAGES:-certificate-issued onboarded}; do
  n=k-$stage
  gw_config "$n" serial="SN-heal-$n-$$" top='"recovery": { "refusals": 1, "refusal_window_minutes": 0 }'
  start "$n"
  wait_for "$n" '.state == "onboarded"' 30 || { bad "onboarding ($n)"; continue; }
  stop "$n"
  old=$(st "$n" | jq -r .certificate_id)
  thing=$(st "$n" | jq -r .thing_name)
  "$admin" revoke "$old" >/dev/null
  [ "$stage" = onboarded ] && crash=onboarded || crash="rotation:$stage"
  start "$n" OB_TEST_CRASH_AFTER_STAGE=$crash
  wait_for "$n" '.daemon_running == true' 10
  "$ctl" --config "$OB_WORLD_DIR/gw-$n/config.json" rotate >/dev/null 2>&1
  i=0; while kill -0 "$(cat "$OB_WORLD_DIR/gw-$n/pid")" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
  kill -0 "$(cat "$OB_WORLD_DIR/gw-$n/pid")" 2>/dev/null && { bad "no crash after $crash"; log_tail "$n" 20; stop "$n"; continue; }
  gw_config "$n" serial="SN-heal-$n-$$" top='"recovery": { "refusals": 1000, "refusal_window_minutes": 0 }'
  start "$n"
  if wait_for "$n" '.healed_at != null and .state == "onboarded" and .rotation == null' 30; then
    [ "$(st "$n" | jq -r .generation)" = 2 ] && [ "$(st "$n" | jq -r .thing_name)" = "$thing" ] &&
      [ "$(active_certs "$thing")" = 1 ] &&
      ok "kill -9 after $crash: the heal resumed, generation 2, one ACTIVE certificate on $thing" ||
      bad "after $crash: generation $(st "$n" | jq -r .generation), $(active_certs "$thing") ACTIVE"
  else
    bad "after $crash: the heal did not finish: $(st "$n" | jq -c .)"; log_tail "$n" 30
  fi
  stop "$n"
done
fi

exit $fail
