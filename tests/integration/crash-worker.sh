#!/usr/bin/env bash
# One batch of the crash campaign (tests/integration/crash-campaign.sh), inside a test world:
#   crash-worker.sh measure OUT          each flow once without kills: duration and save points
#   crash-worker.sh runs PLAN TIMES OUT  the runs of PLAN (lines "RUN id flow backend kill...")
# Writes parseable lines to OUT (docs/testing.md, "Crash campaign"); failures also leave
# OUT.fail-<id>.log with the agent's log.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
probe=$top_builddir/tests/integration/ob-mqtt-probe
export TPM2OPENSSL_TCTI=$OB_TCTI
reg=$OB_EMULATOR_STATE_DIR/registry.json

now_us() { echo "${EPOCHREALTIME/./}"; }

# the cloud side: device certificates may call the provisioning API for their own thing
# (rotation, docs/rotation.md); no per-client-id CONNECT throttle, so the harness's own probe
# right after a kill is not refused (the agent keeps its own 1 s floor, tested elsewhere)
setup_cloud() {
  device_policy &&
    "$admin" set throttle.connectPerClientId 0 >/dev/null &&
    "$admin" set throttle.CreateCertificateFromCsr 0 >/dev/null &&
    "$admin" set throttle.CreateKeysAndCertificate 0 >/dev/null &&
    "$admin" set throttle.RegisterThing 0 >/dev/null
}

# gw NAME FLOW BACKEND: a gateway for flow claim | keys | trusted | rotate
gw() {
  local g=$OB_WORLD_DIR/gw-$1 method=fleet-claim extra=""
  rm -rf "$g"
  [ "$2" = trusted ] && method=fleet-trusted-user
  [ "$2" = keys ] && extra='"create_keys": true'
  gw_config "$1" serial="SN-crash-$1-$$" method="$method" provisioning="$extra" backend="$3" \
    retry="$(retry_all '"100ms"' 1)"
}

# launch NAME: the daemon (when measuring, its log lines stamped with the wall clock in us)
launch() {
  local g=$OB_WORLD_DIR/gw-$1
  if [ "${stamp:-0}" = 1 ]; then
    "$agent" --config "$g/config.json" --log-level debug \
      > >(while IFS= read -r l; do printf '%s %s\n' "${EPOCHREALTIME/./}" "$l"; done >>"$g/agent.log") 2>&1 &
  else
    "$agent" --config "$g/config.json" --log-level debug >>"$g/agent.log" 2>&1 &
  fi
  echo $! >"$g/pid"
}
pid_of() { cat "$OB_WORLD_DIR/gw-$1/pid" 2>/dev/null; }
alive() { local p; p=$(pid_of "$1") && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
kill9() {
  local p; p=$(pid_of "$1") || return 0
  kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; rm -f "$OB_WORLD_DIR/gw-$1/pid"
}
# graceful stop: SIGTERM (agent-lib's stop)

# connects NAME THING: the credentials credentials/current points at get in, as the thing
connects() {
  local g=$OB_WORLD_DIR/gw-$1 thing=$2 prov=default
  [ -n "$thing" ] && [ "$thing" != - ] || thing=$(st "$1" | jq -r .thing_name)
  head -1 "$g/state/credentials/current/device.key" 2>/dev/null | grep -q TSS2 && prov=tpm2
  "$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" \
    --cert "$g/state/credentials/current/device.crt" --key "$g/state/credentials/current/device.key" \
    --provider $prov --tcti "$OB_TCTI" --id "$thing" --connect-only >"$g/probe.log" 2>&1
}

# trusted user: hand the claim over whenever the daemon waits for one (the trusted user's app)
claim_for() {
  local g=$OB_WORLD_DIR/gw-$1
  [ -s "$g/tclaim.crt" ] && return 0
  local j; j=$("$admin" create-claim) || return 1
  printf '%s\n' "$j" | jq -r '.certificatePem // .result.certificatePem' >"$g/tclaim.crt"
  printf '%s\n' "$j" | jq -r '.keyPair.PrivateKey // .result.keyPair.PrivateKey // .privateKey // .result.privateKey' >"$g/tclaim.key"
  printf '%s\n' "$j" | jq -r '.certificateId // .result.certificateId' >>"$OB_WORLD_DIR/claim-ids"
}
# provider NAME (background): until the daemon dies or leaves the waiting state, answer
# waiting-for-claim with agentctl provision; a claim the daemon accepted and then asks for
# again was lost (claim-lost)
provider() {
  local g=$OB_WORLD_DIR/gw-$1 s
  while alive "$1"; do
    s=$(st "$1" | jq -r '"\(.state) \(.stage)"' 2>/dev/null)
    case $s in
    waiting-for-claim*)
      if [ -e "$g/claim-given" ]; then echo lost >"$g/claim-lost"; return; fi
      "$ctl" --config "$g/config.json" provision --claim-cert "$g/tclaim.crt" \
        --claim-key "$g/tclaim.key" >/dev/null 2>&1 && { : >"$g/claim-given"; return; } ;;
    ""|*" new"|*" key-ready") ;;
    *) return ;;
    esac
    sleep 0.02
  done
}

# active NAME: ACTIVE certificates attached to the thing, sorted
active_of() {
  jq -r --arg t "$1" '.certificates | to_entries[] | select(.value.status == "ACTIVE") |
                      select((.value.things // []) | index($t)) | .key' "$reg" | sort
}

# ------------------------------------------------------------------ measure
# measure_flow FLOW BACKEND: one clean run; prints "measure flow=F backend=B ms=D points=a,b,c"
# (points: when each stage was saved, ms after the start of the flow)
measure_flow() {
  local n=m-$1-$2 g t0 first pp=""
  g=$OB_WORLD_DIR/gw-$n
  gw "$n" "$1" "$2"
  [ "$1" = trusted ] && claim_for "$n"
  if [ "$1" = rotate ]; then
    launch "$n"
    wait_for "$n" '.state == "onboarded"' 60 || { echo "measure-error flow=$1 backend=$2 onboarding"; return 1; }
    first=$(st "$n" | jq -r .certificate_id)
    t0=$(now_us); : >"$g/agent.log.mark"; echo "$t0" >"$g/t0"
    "$ctl" --config "$g/config.json" rotate >/dev/null || { echo "measure-error flow=$1 rotate"; return 1; }
    wait_for "$n" ".certificate_id != \"$first\" and .state == \"onboarded\" and .rotation == null" 60 ||
      { echo "measure-error flow=$1 backend=$2 rotation"; return 1; }
  else
    t0=$(now_us); echo "$t0" >"$g/t0"
    launch "$n"
    pp=""; if [ "$1" = trusted ]; then provider "$n" & pp=$!; fi
    wait_for "$n" '.state == "onboarded"' 60 || { echo "measure-error flow=$1 backend=$2"; return 1; }
    [ -n "$pp" ] && wait "$pp"
  fi
  stop "$n"
  # save points after t0 ("... (saved)"), the last one is the commit
  awk -v t0="$t0" '$1 >= t0 && /\(saved\)$/ { printf "%s%s@%d", sep, $(NF - 1), ($1 - t0) / 1000; sep = "," }' \
    "$g/agent.log" >"$g/points"
  local pts; pts=$(cat "$g/points")
  echo "measure flow=$1 backend=$2 ms=${pts##*@} points=$pts"
}

# ------------------------------------------------------------------ one run
# run_one ID FLOW BACKEND KILL...   (KILL: u:FRACTION or p:FRACTION:JITTER_MS)
# times: "FLOW BACKEND MS POINTS" lines in $times
run_one() {
  local id=$1 flow=$2 be=$3; shift 3
  local n=r$id g dur pts first="" k d t0 el kills=0 st_k why="" fin want got pp="" dn prev=none t_run stg rst cid thing=-
  g=$OB_WORLD_DIR/gw-$n
  read -r dur pts < <(awk -v f="$flow" -v b="$be" '$1 == f && $2 == b { print $3, $4 }' "$times")
  t_run=$(now_us)
  gw "$n" "$flow" "$be"
  [ "$flow" = trusted ] && { claim_for "$n" || { echo "run id=$id flow=$flow backend=$be kills=0 result=fail why=create-claim"; return; }; }
  if [ "$flow" = rotate ]; then
    launch "$n"
    if ! wait_for "$n" '.state == "onboarded"' 60; then
      echo "run id=$id flow=$flow backend=$be kills=0 result=fail why=pre-rotation-onboarding"
      cp "$g/agent.log" "$out.fail-$id.log"; kill9 "$n"; return
    fi
    IFS=$'\t' read -r first thing < <(st "$n" | jq -r '[.certificate_id, .thing_name] | @tsv')
  fi
  for k in "$@"; do
    # the moment: uniform over what is left of the flow (from the last stage saved before the
    # previous kill), or around one of the save points still ahead; nothing left: done
    d=$(awk -v k="$k" -v dur="$dur" -v pts="$pts" -v prev="$prev" 'BEGIN {
          n = split(pts, p, ","); off = 0; m = 0
          for (i = 1; i <= n; i++) { split(p[i], q, "@"); t[i] = q[2]; if (q[1] == prev) off = q[2] }
          for (i = 1; i <= n; i++) if (t[i] > off) r[++m] = t[i] - off
          if (m == 0) { print "skip"; exit }
          split(k, a, ":")
          if (a[1] == "u") ms = a[2] * (dur - off)
          else { ms = r[int(a[2] * m) + 1] + a[3]; if (ms < 0) ms = 0 }
          printf "%d", ms }')
    [ "$d" = skip ] && break
    t0=$(now_us)
    if ! alive "$n"; then launch "$n"; fi
    if [ "$flow" = rotate ]; then
      wait_for "$n" '.daemon_running == true' 20
      if st "$n" | jq -e ".rotation == null and .certificate_id == \"$first\"" >/dev/null; then
        t0=$(now_us)
        "$ctl" --config "$g/config.json" rotate >/dev/null 2>&1
      fi
    fi
    pp=""; if [ "$flow" = trusted ]; then provider "$n" & pp=$!; fi
    el=$(( ($(now_us) - t0) / 1000 ))
    [ "$d" -gt "$el" ] && sleep "$(awk -v ms=$((d - el)) 'BEGIN { printf "%.3f", ms / 1000 }')"
    kill9 "$n"; [ -n "$pp" ] && wait "$pp"
    kills=$((kills + 1))
    IFS=$'\t' read -r stg rst cid thing < <(st "$n" | tee "$g/status.json" |
      jq -r '[.stage // "none", .rotation.stage // "-", .certificate_id // "-", .thing_name // "-"] | @tsv')
    st_k="${stg:-none}/${rst:--}"
    # done=1: the kill came after the flow's last save (onboarded; rotation committed)
    dn=0
    if [ "$flow" = rotate ]; then
      [ "$cid" != "$first" ] && dn=1
      prev=$rst; [ "$prev" = - ] && { [ $dn = 1 ] && prev=onboarded || prev=none; }
    else
      [ "$stg" = onboarded ] && dn=1
      prev=$stg
    fi
    echo "kill id=$id flow=$flow backend=$be ms=$d at=$st_k done=$dn"
    # the invariant at every kill: whatever credentials/current names must work
    if [ -e "$g/state/credentials/current" ] || [ "$flow" = rotate ]; then
      if ! connects "$n" "$thing"; then
        why="${why:+$why,}no-working-credential-after-kill-$kills"
        { echo "# kill $kills at $st_k (${d} ms)"; cat "$g/probe.log"; } >>"$out.fail-$id.log"
      fi
    fi
  done
  # let it finish
  launch "$n"
  pp=""; if [ "$flow" = trusted ]; then provider "$n" & pp=$!; fi
  if [ "$flow" = rotate ]; then
    wait_for "$n" '.daemon_running == true' 20
    st "$n" | jq -e ".rotation == null and .certificate_id == \"$first\"" >/dev/null &&
      "$ctl" --config "$g/config.json" rotate >/dev/null 2>&1
    fin=".certificate_id != \"$first\" and .state == \"onboarded\" and .rotation == null"
  else
    fin='.state == "onboarded"'
  fi
  wait_for "$n" "$fin" 60 || why="${why:+$why,}did-not-finish"
  [ -n "$pp" ] && wait "$pp"
  stop "$n"
  local cur
  IFS=$'\t' read -r cur thing < <(st "$n" | tee "$g/status.json" | jq -r '[.certificate_id // "-", .thing_name // "-"] | @tsv')
  [ -e "$g/claim-lost" ] && why="${why:+$why,}claim-lost"
  connects "$n" "$thing" || why="${why:+$why,}final-credential-refused"
  # the registry: exactly one ACTIVE certificate on the thing (rotation: the old one stays
  # ACTIVE until the cloud acts on old_cert_topic, docs/rotation.md: so old + exactly one new)
  want=$(printf '%s\n' "$cur" ${first:+"$first"} | sort -u)
  got=$(active_of "$thing")
  [ "$got" = "$want" ] || why="${why:+$why,}active-certificates-$(echo "$got" | grep -c .)"
  printf '%s\n' $want >>"$OB_WORLD_DIR/ours"
  if [ -n "$why" ]; then
    echo "run id=$id flow=$flow backend=$be kills=$kills ms=$(( ($(now_us) - t_run) / 1000 )) result=fail why=$why"
    { echo "# run $id $flow $be: $why"; cat "$g/status.json"; sed 's/^/#   /' "$g/agent.log" | tail -60; } >>"$out.fail-$id.log"
  else
    echo "run id=$id flow=$flow backend=$be kills=$kills ms=$(( ($(now_us) - t_run) / 1000 )) result=ok"
  fi
}

# orphans: certificates in the registry that are neither ours (device certificates of finished
# runs), nor the world's own (claim, admin), nor trusted-user claims
orphans() {
  local known
  known=$( { cat "$OB_WORLD_DIR/ours" "$OB_WORLD_DIR/claim-ids" 2>/dev/null
             cert_id "$OB_CLAIM_CERT"; cert_id "$OB_WORLD_DIR/emulator/admin.crt"; } | sort -u | jq -R . | jq -s .)
  jq -r --argjson known "$known" '.certificates | to_entries[] | select(.key as $k | $known | index($k) | not) |
      "orphan id=\(.key) status=\(.value.status) things=\((.value.things // []) | length)"' "$reg"
}

mode=$1; shift
[ "${OB_EMULATOR:-0}" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built"; exit 77; }
case $mode in
measure)
  out=$1 stamp=1
  setup_cloud || { echo "measure-error setup" >"$out"; exit 1; }
  for fb in ${CRASH_MEASURE:-claim:software keys:software trusted:software rotate:software claim:tpm trusted:tpm rotate:tpm}; do
    measure_flow "${fb%%:*}" "${fb##*:}"
  done >"$out"
  ;;
runs)
  plan=$1 times=$2 out=$3
  setup_cloud || { echo "setup-error" >"$out"; exit 1; }
  : >"$out"
  while read -r _ id flow be kl; do
    # shellcheck disable=SC2086
    run_one "$id" "$flow" "$be" $kl >>"$out"
  done <"$plan"
  orphans >>"$out"
  ;;
esac
exit 0
