#!/bin/sh
# Power loss and filesystem faults inside the real daemon (issue 10, docs/testing.md "Power
# loss"). tests/powerloss/ob-fault.so is preloaded into onboard-agent; each case is one fresh
# gateway (fleet-claim, software key) that onboards and rotates once while the shim fails one
# filesystem call under the state dir (EIO, ENOSPC, EROFS), tears the state file at byte K and
# cuts the power, or lets a lying disk tear state.json after its rename. The daemon is then
# stopped and checked on disk, restarted without the fault, and must finish.
#
# Checks per case:
#   - the faulted run does not crash (only the shim's own SIGKILL ends it), and a failed call
#     is reported in the log naming the file (or it did not matter: the flow went on);
#   - on disk: state.json (when present) is one complete save (header, length and SHA-256
#     verified here with openssl, independently of lib/store.c), from the save the fault hit
#     or the one before; a state.json torn by the lying disk is reported at restart and the
#     previous copy is used; credentials/current/* are complete PEM files of one key pair, and
#     no non-temporary credential file is half-written;
#   - after the restart without the fault: onboarded, generation 2 (rotated), the current
#     certificate is ACTIVE in the emulator's registry and is the one in credentials/current,
#     and only the certificates of generations 1 and 2 are ACTIVE on the thing (any extra
#     one is counted as an orphan).
#
# Default (make check, about 50 s): the first call and one random call of every kind, each with
# an errno picked by the seed, power cuts and the lying disk at sampled offsets, and the first
# save torn with no previous copy (refused, naming why). Full sweep
# (OB_POWERLOSS_FULL=1, make check-powerloss): every ordinal of every kind with each errno, and
# every byte boundary of one state save for both the power cut and the lying disk.
# OB_POWERLOSS_JOBS (default 4) cases run side by side; OB_TEST_SEED picks the default sample;
# OB_POWERLOSS_CASES=REGEX selects cases by name; OB_POWERLOSS_KEEP=1 keeps passing gateways.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
shim=$top_builddir/tests/powerloss/.libs/ob-fault.so
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
[ -f "$shim" ] || { echo "# SKIP: $shim not built (make check builds it)"; exit 77; }
if grep -q '^#define OB_SANITIZED 1' "$top_builddir/config.h" 2>/dev/null; then
  # the sanitizer runtime must come first in the library list; a preloaded shim ahead of it
  # makes ASan abort at start, and its interceptors would hide ours
  echo "# SKIP: built with sanitizers: the LD_PRELOAD shim cannot go ahead of their runtime"
  exit 77
fi
full=${OB_POWERLOSS_FULL:-0}
jobs=${OB_POWERLOSS_JOBS:-4}
seed=${OB_TEST_SEED:-$(date +%s)}
echo "# seed $seed (OB_TEST_SEED), full sweep: $full, $jobs cases at a time"
res=$OB_WORLD_DIR/results
: >"$res"

device_policy || bad "put-policy"

# gw NAME: a gateway with a software key (fast) that onboards with the claim certificate.
# No check-ins: the campaign numbers the file calls of one onboarding and one rotation in a
# reference run and fails the Nth of them in each case, so the calls must come in the same order
# every time; a check-in 3 s after a commit (docs/shadow.md) lands among them at a moment that
# depends on timing (a CI run failed the wrong call). The check-in's saves are the same atomic
# store as every other (tests/unit/test-store.c).
gw() {
  rm -rf "$OB_WORLD_DIR/gw-$1"
  gw_config "$1" serial="SN-pl-$1-$$" backend=software \
    top="$NO_CHECKINS"
}
alive() { pid=$(cat "$OB_WORLD_DIR/gw-$1/pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }
# drive NAME SECONDS [stop-at-fault]: ask for a rotation once onboarded at generation 1, until
# finished (0), the daemon died (2), the fault fired and was answered (3) or time ran out (1)
drive() {
  n=$1 lim=$(( $2 * 10 )) i=0 g=$OB_WORLD_DIR/gw-$1
  while [ $i -lt $lim ]; do
    alive "$n" || return 2
    s=$(st "$n")
    echo "$s" | jq -e '.daemon_running and .state == "onboarded" and .generation == 2 and .rotation == null' >/dev/null 2>&1 && return 0
    if echo "$s" | jq -e '.state == "onboarded" and .generation == 1 and .rotation == null' >/dev/null 2>&1 &&
       [ ! -e "$g/rotate-asked" ]; then
      "$ctl" --config "$g/config.json" rotate >/dev/null 2>&1 && : >"$g/rotate-asked"
    fi
    if [ "${3:-}" = stop-at-fault ] && grep -q '^fired' "$g/counts" 2>/dev/null; then
      # give the daemon a moment to answer the failure, then stop
      [ -z "${fired_at:-}" ] && fired_at=$i
      echo "$s" | jq -e '.last_error != null' >/dev/null 2>&1 && return 3
      [ $((i - fired_at)) -ge 10 ] && return 3
    fi
    sleep 0.1; i=$((i + 1))
  done
  return 1
}

# pem_ok FILE: a complete PEM object (what OpenSSL can read back)
pem_ok() {
  case $(head -1 "$1" 2>/dev/null) in
    *CERTIFICATE*) openssl x509 -in "$1" -noout 2>/dev/null ;;
    *) openssl pkey -in "$1" -noout 2>/dev/null ;;
  esac
}
# state_ok FILE: prints the generation when FILE is one complete save (header, length, SHA-256)
state_ok() {
  hdr=$(head -1 "$1")
  set -- "$1" $hdr
  [ $# = 6 ] && [ "$2 $3" = "ONBOARD-STATE 1" ] || return 1
  [ "$(wc -c <"$1")" = "$(( ${#hdr} + 1 + $6 + 1 ))" ] || return 1
  [ "$(tail -c +$(( ${#hdr} + 2 )) "$1" | head -c "$6" | openssl dgst -sha256 -r | cut -d' ' -f1)" = "${5#sha256:}" ] || return 1
  echo "$4"
}

# what a report must name: the file, the credential slot or the state dir
names='state\.json|credentials|credential slot|device\.(key|crt)|/state'
# case_run NAME KIND DESCRIPTION ENV...: one case; appends "KIND OUTCOME ok|FAIL DETAIL" to $res
case_run() {
  n=$1 kind=$2 what=$3; shift 3
  g=$OB_WORLD_DIR/gw-$n
  gw "$n"
  problems="" outcome="" refused=""
  start "$n" LD_PRELOAD="$shim" OB_FAULT_DIR="$g/state" OB_FAULT_REPORT="$g/counts" "$@"
  fired_at=
  drive "$n" 15 stop-at-fault; rc=$?
  fired=$(sed -n 's/^fired //p' "$g/counts" 2>/dev/null)
  if alive "$n"; then
    stop "$n"
  else
    wait "$(cat "$g/pid")" 2>/dev/null; code=$?
    rm -f "$g/pid"
    case $fired in
      *cut\ at*|*disk\ lied*)
        [ $code = 137 ] || problems="$problems; died with $code, not by the cut" ;;
      *)
        # refusing to run is fine when it says why (a clean exit with an error naming the file)
        why=$(grep -E '^([0-9T:.-]+Z )?(err|crit|alert|emerg):' "$g/agent.log" | tail -1)
        if [ $code -gt 128 ] || [ -z "$why" ]; then
          problems="$problems; the daemon died (exit $code) after: ${fired:-no fault}"
        else
          refused=$why
        fi ;;
    esac
  fi
  grep -q 'AddressSanitizer\|runtime error\|Segmentation' "$g/agent.log" && problems="$problems; crash in the log"
  if [ -z "$fired" ]; then
    outcome=not-reached
  else
    case $fired in
      *cut\ at*) outcome=power-cut ;;
      *disk\ lied*) outcome=torn-state.json ;;
      *)
        [ -n "$refused" ] && outcome=refused
        # the answer to the failure: an error or warning after the shim's line, naming the file
        after=$(sed -n '/^ob-fault:/,$p' "$g/agent.log" | grep -E '^([0-9T:.-]+Z )?(error|warning|err|warn|crit)' | head -3)
        [ -z "$after" ] && after=$(sed -n '/^ob-fault:/,$p' "$g/agent.log" | grep -iE 'error|cannot|failed' | grep -v ' debug: ' | head -3)
        if [ -n "$refused" ]; then
          echo "$refused" | grep -qE "$names" || problems="$problems; the refusal does not name the file: $refused"
        elif [ -n "$after" ]; then
          outcome=reported
          echo "$after" | grep -qE "$names" ||
            problems="$problems; the report does not name the file: $(echo "$after" | head -1)"
        elif [ $rc = 0 ]; then
          outcome=absorbed # the failed call did not matter: the flow finished
        else
          outcome=silent
          problems="$problems; a failed call was not reported (${fired})"
        fi ;;
    esac
  fi
  [ $rc = 0 ] && outcome="$outcome,finished-in-run"

  # on disk, with the daemon down
  sgen=""
  f=$g/state/state.json
  if [ -e "$f" ]; then
    sgen=$(state_ok "$f")
    if [ -z "$sgen" ]; then
      case $fired in
        *disk\ lied*) ;;
        *) problems="$problems; state.json is not a complete save" ;;
      esac
    fi
  fi
  case $fired:$what in
    *cut\ at*:cut:save*)
      # the temp file was torn: the save before it is what is on disk
      sv=${what#cut:save}; sv=${sv%%@*}
      [ "$sgen" = $((sv - 1)) ] || [ $sv = 1 ] ||
        problems="$problems; state.json generation ${sgen:-none} after tearing save $sv (want $((sv - 1)))" ;;
    *disk\ lied*)
      sv=${what#lie:save}; sv=${sv%%@*}
      [ "$(state_ok "$g/state/state.json.prev")" = $((sv - 1)) ] ||
        problems="$problems; state.json.prev is not save $((sv - 1))" ;;
  esac
  for c in "$g"/state/credentials/[0-9]*/device.crt "$g"/state/credentials/[0-9]*/device.key; do
    [ -e "$c" ] || continue
    pem_ok "$c" || problems="$problems; half-written ${c#$g/state/}"
  done
  cur=$g/state/credentials/current
  if [ -e "$cur" ] || [ -L "$cur" ]; then
    k=$(openssl pkey -in "$cur/device.key" -pubout 2>/dev/null)
    c=$(openssl x509 -in "$cur/device.crt" -noout -pubkey 2>/dev/null)
    [ -n "$k" ] && [ "$k" = "$c" ] || problems="$problems; credentials/current is not one complete key pair"
  fi
  off=$("$ctl" --config "$g/config.json" --json status 2>&1)
  echo "$off" | jq -e .state >/dev/null 2>&1 || echo "$off" | grep -q 'state.json' ||
    problems="$problems; agentctl status offline: $off"

  # restart without the fault: must finish
  : >>"$g/agent.log"; echo "---- restart without the fault" >>"$g/agent.log"
  rm -f "$g/rotate-asked"
  start "$n"
  drive "$n" 25; rc2=$?
  if [ $rc2 != 0 ]; then
    problems="$problems; did not finish after the restart (rc $rc2: $(st "$n" | jq -c '{state,stage,generation,rotation,last_error}'))"
  else
    s=$(st "$n")
    thing=$(echo "$s" | jq -r .thing_name) id=$(echo "$s" | jq -r .certificate_id)
    [ "$(cert_id "$cur/device.crt")" = "$id" ] || problems="$problems; credentials/current is not the certificate in the state"
    reg=$OB_EMULATOR_STATE_DIR/registry.json
    [ "$(jq -r --arg id "$id" '.certificates[$id].status' "$reg")" = ACTIVE ] || problems="$problems; current certificate not ACTIVE"
    active=$(jq --arg t "$thing" '[.certificates[] | select(.status == "ACTIVE") | select((.things // []) | index($t))] | length' "$reg")
    [ "$active" -gt 2 ] && outcome="$outcome,orphans=$((active - 2))"
    [ "$active" -lt 2 ] && problems="$problems; $active ACTIVE certificates on the thing"
    case $fired in
      *disk\ lied*) grep -q "was damaged.*using the previous copy (generation $((sv - 1)))" "$g/agent.log" ||
        problems="$problems; the torn state.json was not reported at the restart" ;;
    esac
  fi
  stop "$n"
  if [ -n "$problems" ]; then
    echo "$kind $outcome FAIL $what:$problems" >>"$res"
    { echo "# $what:$problems"; log_tail "$n" 12; } >>"$res.log"
  else
    echo "$kind $outcome ok $what${sgen:+ (state.json generation $sgen after the fault)}" >>"$res"
    [ -n "${OB_POWERLOSS_KEEP:-}" ] || rm -rf "$g"
  fi
}

# ---------------------------------------------------------------- count the calls once
t_start=$(date +%s)
g=$OB_WORLD_DIR/gw-count
gw count
start count LD_PRELOAD="$shim" OB_FAULT_DIR="$g/state" OB_FAULT_REPORT="$g/counts" OB_FAULT_TRACE="$g/trace"
if drive count 30; then
  ok "an onboarding and a rotation under the shim: $(tr '\n' ' ' <"$g/counts")"
else
  bad "the counting run did not finish"; log_tail count 30; exit 1
fi
stop count
count() { sed -n "s/^$1 //p" "$OB_WORLD_DIR/gw-count/counts"; }
saves=$(grep -c '^open .*/\.state\.json\.tmp$' "$g/trace")
# the size of each save, in order (the daemon's state is deterministic enough: the same sizes
# within a few bytes from run to run; a K past the end simply does not fire)
size_of_save() { # N: the size of save N is not known in advance; take the final file's size
  wc -c <"$g/state/state.json"
}
ssize=$(size_of_save)
[ "$saves" -ge 5 ] && ok "$saves state saves, the last one $ssize bytes" || bad "saves: $saves"

# ---------------------------------------------------------------- the cases
cases=$OB_WORLD_DIR/cases
: >"$cases"
errnos="EIO ENOSPC EROFS"
i=0
rnd() { # R=deterministic pseudo-random number in [1, $1] from the seed and a counter
  i=$((i + 1)); R=$(( ( (seed + i * 7919) * 1103515245 + 12345 ) % 2147483648 % $1 + 1 ))
}
for k in open write fsync dirfsync rename link mkdir symlink unlink; do
  total=$(count "$k")
  [ "${total:-0}" -gt 0 ] || continue
  if [ "$full" = 1 ]; then
    nth=1
    while [ $nth -le "$total" ]; do
      for e in $errnos; do echo "$k $k-$nth-$e $k#$nth=$e OB_FAULT=$k:$nth:$e" >>"$cases"; done
      nth=$((nth + 1))
    done
  else
    # the first call and one other, each with another errno
    rnd "$total"
    for nth in 1 $R; do
      rnd 3; e=$(echo $errnos | cut -d' ' -f$R)
      echo "$k $k-$nth-$e $k#$nth=$e OB_FAULT=$k:$nth:$e" >>"$cases"
    done
  fi
done
# one disk that goes read-only for good at a state save in the middle of the rotation
w=$(count write)
echo "write sticky-erofs write#$((w - 6))=EROFS,sticky OB_FAULT=write:$((w - 6)):EROFS OB_FAULT_STICKY=1" >>"$cases"
# torn writes and the lying disk: every byte boundary of one save in the middle of the
# rotation (full), or sampled offsets of sampled saves
mid=$((saves - 3))
if [ "$full" = 1 ]; then
  kk=0
  while [ $kk -le "$ssize" ]; do
    echo "cut cut-$mid-$kk cut:save$mid@$kk OB_FAULT_CUT=state.json:$mid:$kk" >>"$cases"
    echo "lie lie-$mid-$kk lie:save$mid@$kk OB_FAULT_LIE=state.json:$mid:$kk" >>"$cases"
    kk=$((kk + 1))
  done
  for sv in $(seq 1 "$saves"); do
    echo "cut cutd-$sv cut:save$sv@100,drop OB_FAULT_CUT=state.json:$sv:100:drop" >>"$cases"
  done
  for name in device.key device.crt; do
    for sv in 1 2; do
      for kk in 0 64 500; do
        # (the case name becomes part of the serial and the thing name: no dots)
        echo "cut cut-${name#device.}-$sv-$kk cut:$name#$sv@$kk OB_FAULT_CUT=$name:$sv:$kk" >>"$cases"
      done
    done
  done
else
  rnd 400; k2=$((100 + R))
  for kk in 0 $k2 "$ssize"; do
    rnd "$saves"; sv=$R
    echo "cut cut-$sv-$kk cut:save$sv@$kk OB_FAULT_CUT=state.json:$sv:$kk" >>"$cases"
  done
  echo "cut cutd-$mid cut:save$mid@100,drop OB_FAULT_CUT=state.json:$mid:100:drop" >>"$cases"
  echo "cut cut-crt cut:device.crt#2@64 OB_FAULT_CUT=device.crt:2:64" >>"$cases"
  rnd 80; k1=$R; rnd 400; k2=$((80 + R))
  for kk in $k1 $k2 $((ssize - 1)); do
    rnd $((saves - 1)); sv=$((R + 1))
    echo "lie lie-$sv-$kk lie:save$sv@$kk OB_FAULT_LIE=state.json:$sv:$kk" >>"$cases"
  done
fi
awk '!seen[$2]++' "$cases" >"$cases.u" && mv "$cases.u" "$cases" # the sample may repeat one
# OB_POWERLOSS_CASES=REGEX: only the cases whose name matches (e.g. "^rename-4-")
if [ -n "${OB_POWERLOSS_CASES:-}" ]; then
  awk -v re="$OB_POWERLOSS_CASES" '$2 ~ re' "$cases" >"$cases.sel" && mv "$cases.sel" "$cases"
fi
ncases=$(wc -l <"$cases")
echo "# $ncases cases"

running=0
while read -r kind name what env; do
  # shellcheck disable=SC2086
  case_run "$name" "$kind" "$what" $env &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then wait; running=0; fi
done <"$cases"
wait

# ---------------------------------------------------------------- no previous copy
# The lying disk at the very first save: there is no state.json.prev to fall back to. The next
# start must refuse, saying which file and why (torn), and leave the file as it is.
if [ -z "${OB_POWERLOSS_CASES:-}" ] || echo lie1 | grep -qE "$OB_POWERLOSS_CASES"; then
  gw lie1
  g=$OB_WORLD_DIR/gw-lie1
  start lie1 LD_PRELOAD="$shim" OB_FAULT_DIR="$g/state" OB_FAULT_LIE=state.json:1:50
  wait "$(cat "$g/pid")" 2>/dev/null
  cp "$g/state/state.json" "$g/torn"
  start lie1
  wait "$(cat "$g/pid")" 2>/dev/null; code=$?
  rm -f "$g/pid"
  why=$(grep ' err: ' "$g/agent.log" | tail -1)
  if [ $code -ge 1 ] && [ $code -lt 128 ] && echo "$why" | grep -q 'state\.json.*torn' &&
     cmp -s "$g/torn" "$g/state/state.json"; then
    ok "the first save torn, no previous copy: refused, file untouched: $why"
  else
    bad "the first save torn: exit $code, $why"
  fi
fi

# ---------------------------------------------------------------- figures
t_end=$(date +%s)
echo "# kind       cases  reported refused absorbed power-cut torn-state.json not-reached  failed"
for k in open write fsync dirfsync rename link mkdir symlink unlink cut lie; do
  c=$(grep -c "^$k " "$res")
  [ "$c" -gt 0 ] || continue
  printf '# %-10s %5d %9d %7d %8d %9d %15d %11d %7d\n' "$k" "$c" \
    "$(grep -c "^$k reported" "$res")" "$(grep -c "^$k refused" "$res")" "$(grep -c "^$k absorbed" "$res")" \
    "$(grep -c "^$k power-cut" "$res")" "$(grep -c "^$k torn-state.json" "$res")" \
    "$(grep -c "^$k not-reached" "$res")" "$(grep -c "^$k [^ ]* FAIL" "$res")"
done
nfail=$(grep -c ' FAIL ' "$res")
norph=$(grep -o 'orphans=[0-9]*' "$res" | cut -d= -f2 | paste -sd+ - | bc 2>/dev/null)
echo "# $(wc -l <"$res") cases, $nfail failed, ${norph:-0} orphaned certificates, $((t_end - t_start)) s"
[ "$(wc -l <"$res")" = "$ncases" ] || bad "$ncases cases planned, $(wc -l <"$res") ran"
if [ "$nfail" -gt 0 ]; then
  bad "$nfail cases failed:"
  grep ' FAIL ' "$res" | sed 's/^/#   /'
  sed 's/^/#   /' "$res.log" | head -200
else
  ok "$ncases power-loss and fault cases: old or new state, no half-written credential, finished after the restart"
fi
exit $fail
