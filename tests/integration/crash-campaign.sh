#!/usr/bin/env bash
# The crash campaign (docs/testing.md, "Crash campaign"): SIGKILL the real daemon at random
# moments of onboarding (fleet-claim with CreateCertificateFromCsr, CreateKeysAndCertificate,
# trusted user) and rotation, restart it, let it finish, and check that every run ends
# onboarded with a working identity, one ACTIVE certificate per thing, and that whatever
# credentials/current names works after every kill. Orphaned certificates are counted.
#
# Environment (make check-crash passes the variables of the same names):
#   CRASH_KILLS=1000   kills to make (runs are added until the campaign has this many)
#   CRASH_RUNS=N       plan exactly N runs instead
#   CRASH_SEED=N       the plan's seed (default: random; always printed)
#   CRASH_JOBS=4       test worlds in parallel (each with its own broker, emulator and TPM)
#   CRASH_BATCH=30     runs per world (a fresh world keeps the emulator's registry small)
#   CRASH_TPM_SHARE=10 percent of the claim, trusted and rotate runs with TPM keys
#   CRASH_TIMES=FILE   use these flow durations instead of measuring (the "times" file of a
#                      previous campaign: with the seed, the same kill delays)
#   CRASH_ONLY="3 17"  run only these run ids of the plan
#   CRASH_MEASURE      flows to measure (default: all; a TPM flow not measured uses the
#                      software figures)
#   CRASH_OUT=DIR      where plans, results and failure logs go (default: a temp dir, kept
#                      when a run fails)
# Exit: 0 all runs passed, 1 a failure, 77 the test world or the emulator is not available.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
here=$top_srcdir/tests/integration
world=$top_srcdir/tests/world/world.sh
t_start=${EPOCHREALTIME/./}

for p in onboard-agent agentctl tests/integration/ob-mqtt-probe; do
  [ -x "$top_builddir/$p" ] || { echo "# SKIP: $p not built"; exit 77; }
done
command -v python3 >/dev/null || { echo "# SKIP: python3 missing"; exit 77; }

seed=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
jobs=${CRASH_JOBS:-4} batch=${CRASH_BATCH:-30}
out=${CRASH_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ob-crash.XXXXXX")}
mkdir -p "$out"
echo "crash: seed=$seed kills=${CRASH_KILLS:-1000} runs=${CRASH_RUNS:-auto} jobs=$jobs batch=$batch tpm_share=${CRASH_TPM_SHARE:-10} out=$out"
echo "# repeat: make check-crash CRASH_SEED=$seed CRASH_TIMES=$out/times${CRASH_RUNS:+ CRASH_RUNS=$CRASH_RUNS}${CRASH_KILLS:+ CRASH_KILLS=$CRASH_KILLS} (one run: CRASH_ONLY=ID)"

# ---------------------------------------------------------------- the plan (seeded)
# One endless stream of runs per seed; run i is always the same. "RUN id flow backend kill...";
# kill = u:F (at F x what is left of the flow) or p:F:J (J ms around the save point F picks
# among those still ahead). A kill that finds the flow already finished ends its run early, so
# rounds of further runs follow until the campaign has CRASH_KILLS kills.
# plan FIRST_ID COUNT | plan FIRST_ID 0 KILLS: runs from FIRST_ID on, COUNT of them or until
# they plan KILLS kills
plan() {
  python3 - "$seed" "$1" "$2" "${3:-0}" "${CRASH_TPM_SHARE:-10}" <<'PY'
import random, sys
seed, first, count, kills, tpm = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                  int(sys.argv[4]), float(sys.argv[5]))
r = random.Random(seed)
flows = [("claim", 3), ("keys", 2), ("trusted", 2), ("rotate", 3)]
total = 0
i = 0
while True:
    i += 1
    x = r.random() * sum(w for _, w in flows)
    for f, w in flows:
        if x < w:
            break
        x -= w
    be = "tpm" if f != "keys" and r.random() * 100 < tpm else "software"
    k = 1 + int(r.random() * 4)
    ks = []
    for _ in range(k):
        if r.random() < 0.5:
            ks.append("u:%.4f" % r.random())
        else:
            ks.append("p:%.4f:%d" % (r.random(), int(r.random() * 41) - 20))
    if i < first:
        continue
    total += k
    print("RUN", i, f, be, " ".join(ks))
    if (count and i >= first + count - 1) or (not count and total >= kills):
        break
PY
}

# ---------------------------------------------------------------- flow durations
if [ -n "${CRASH_TIMES:-}" ]; then
  grep -v '^#' "$CRASH_TIMES" >"$out/times" 2>/dev/null || { echo "crash: cannot read CRASH_TIMES=$CRASH_TIMES"; exit 1; }
else
  "$world" run -- bash "$here/crash-worker.sh" measure "$out/measure" 2>"$out/measure.world.log"
  rc=$?
  [ $rc = 77 ] && { echo "# SKIP: the test world cannot start or has no emulator"; sed 's/^/#   /' "$out/measure.world.log"; exit 77; }
  grep -q "^measure-error\|^setup" "$out/measure" 2>/dev/null || [ $rc != 0 ] &&
    { echo "crash: measuring failed (rc $rc)"; cat "$out/measure" "$out/measure.world.log"; exit 1; }
  awk '{ for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } print v["flow"], v["backend"], v["ms"], v["points"] }' \
    "$out/measure" >"$out/times"
fi
# a TPM flow not measured: the software figures
for f in claim trusted rotate; do
  grep -q "^$f tpm " "$out/times" || awk -v f="$f" '$1 == f && $2 == "software" { $2 = "tpm"; print }' "$out/times" >>"$out/times"
done
while read -r f b ms pts; do echo "crash: measure flow=$f backend=$b ms=$ms points=$pts"; done <"$out/times"

# ---------------------------------------------------------------- the runs, in parallel worlds
# round PLAN: its runs in batches of CRASH_BATCH, CRASH_JOBS worlds at a time
nb=0
round() {
  local running=0 b n
  # batches of CRASH_BATCH, or fewer runs so that every world has work
  n=$(( ($(wc -l <"$1") + jobs - 1) / jobs ))
  [ "$n" -gt "$batch" ] && n=$batch
  split -d -a 3 -l "$n" "$1" "$1.b"
  for b in "$1".b[0-9][0-9][0-9]; do
    while [ "$running" -ge "$jobs" ]; do wait -n; running=$((running - 1)); done
    nb=$((nb + 1))
    { "$world" run -- bash "$here/crash-worker.sh" runs "$b" "$out/times" "$out/batch-$nb.out" \
        >"$out/batch-$nb.world.log" 2>&1; echo $? >"$out/batch-$nb.rc"; } &
    running=$((running + 1))
  done
  wait
}
if [ -n "${CRASH_ONLY:-}" ]; then
  for id in $CRASH_ONLY; do plan "$id" 1; done >"$out/plan.1"
elif [ -n "${CRASH_RUNS:-}" ]; then
  plan 1 "$CRASH_RUNS" >"$out/plan.1"
else
  # about one planned kill in five comes after its flow finished and is not made: plan more
  plan 1 0 $(( ${CRASH_KILLS:-1000} * 5 / 4 )) >"$out/plan.1"
fi
echo "crash: plan round=1 runs=$(wc -l <"$out/plan.1") kills=$(awk '{ n += NF - 4 } END { print n + 0 }' "$out/plan.1")"
round "$out/plan.1"
r=1
while [ -z "${CRASH_ONLY:-}${CRASH_RUNS:-}" ] && [ $r -lt 5 ]; do
  have=$(cat "$out"/batch-*.out 2>/dev/null | grep -c '^kill ')
  [ "$have" -ge "${CRASH_KILLS:-1000}" ] && break
  last=$(tail -1 "$out/plan.$r" | awk '{ print $2 }')
  r=$((r + 1))
  plan $((last + 1)) 0 $(( (${CRASH_KILLS:-1000} - have) * 5 / 4 + 1 )) >"$out/plan.$r"
  echo "crash: plan round=$r runs=$(wc -l <"$out/plan.$r") kills=$(awk '{ n += NF - 4 } END { print n + 0 }' "$out/plan.$r") (kills so far $have)"
  round "$out/plan.$r"
done
cat "$out"/plan.[0-9] >"$out/plan"
planned_runs=$(wc -l <"$out/plan")

# ---------------------------------------------------------------- figures
if ! grep -qs '^run ' "$out"/batch-*.out && grep -qsx 77 "$out"/batch-*.rc; then
  echo "# SKIP: the test world cannot start or has no emulator"
  sed 's/^/#   /' "$out/batch-1.world.log" | tail -5
  exit 77
fi
cat "$out"/batch-*.out >"$out/results" 2>/dev/null
wall=$(( (${EPOCHREALTIME/./} - t_start) / 1000000 ))
awk -v seed="$seed" -v wall="$wall" -v planned="$planned_runs" '
  function kv(   i, a) { delete v; for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
  $1 == "kill" { kv(); kills++; kf[v["flow"]]++; at[v["at"]]++; if (v["done"] == 0) live++ }
  $1 == "run" { kv(); runs++; rf[v["flow"]]++; rb[v["flow"] " " v["backend"]]++
                ms[v["flow"]] += v["ms"]; if (v["ms"] > mx[v["flow"]]) mx[v["flow"]] = v["ms"]
                if (v["result"] == "ok") ok[v["flow"]]++
                else { fails++; ff[v["flow"]]++; print "crash: FAIL run=" v["id"] " flow=" v["flow"] " backend=" v["backend"] " why=" v["why"] } }
  $1 == "orphan" { kv(); orph++; if (v["status"] == "PENDING_ACTIVATION" && v["things"] == 0) pend++
                   else if (v["status"] == "ACTIVE") act++; else other++ }
  END {
    n = split("claim keys trusted rotate", fl, " ")
    for (i = 1; i <= n; i++) { f = fl[i]
      printf "crash: flow=%s runs=%d software=%d tpm=%d kills=%d ok=%d fail=%d run_ms_mean=%d run_ms_max=%d\n", f, rf[f], rb[f " software"], rb[f " tpm"], kf[f], ok[f], ff[f], rf[f] ? ms[f] / rf[f] : 0, mx[f] }
    for (s in at) printf "crash: kills-at stage=%s n=%d\n", s, at[s] | "sort"
    close("sort")
    printf "crash: orphans total=%d pending=%d active=%d other=%d\n", orph, pend, act, other
    if (runs < planned) { printf "crash: FAIL %d planned runs did not report\n", planned - runs; fails++ }
    printf "crash: result runs=%d kills=%d kills_before_done=%d failures=%d orphans=%d orphans_active=%d wall_s=%d seed=%s\n", runs, kills, live, fails, orph, act, wall, seed
    exit fails > 0 }' "$out/results"
rc=$?
if [ $rc != 0 ]; then
  echo "# kept $out (failure logs: $out/batch-*.out.fail-*.log; worlds: $out/batch-*.world.log)"
  for f in "$out"/batch-*.out.fail-*.log; do [ -e "$f" ] && sed 's/^/#   /' "$f" | head -80; done
  exit 1
fi
[ -n "${CRASH_OUT:-}" ] || rm -rf "$out"
exit 0
