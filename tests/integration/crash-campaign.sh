#!/usr/bin/env bash
# The crash campaign (docs/testing.md, "Crash campaign"): SIGKILL the real daemon at random
# moments of onboarding (fleet-claim with CreateCertificateFromCsr, CreateKeysAndCertificate,
# trusted user) and rotation, restart it, let it finish, and check that every run ends
# onboarded with a working identity, one ACTIVE certificate per thing, and that whatever
# credentials/current names works after every kill. Orphaned certificates are counted.
#
# Environment (make check-crash passes the variables of the same names):
#   CRASH_KILLS=1000   kills to plan (runs are added until the plan has this many)
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
echo "# repeat: make check-crash CRASH_SEED=$seed CRASH_TIMES=$out/times${CRASH_RUNS:+ CRASH_RUNS=$CRASH_RUNS}${CRASH_KILLS:+ CRASH_KILLS=$CRASH_KILLS}"

# ---------------------------------------------------------------- the plan (seeded)
# RUN id flow backend kill...; kill = u:F (at F x the flow's duration) or p:F:J (J ms around
# the save point F picks)
python3 - "$seed" "${CRASH_KILLS:-1000}" "${CRASH_RUNS:-0}" "${CRASH_TPM_SHARE:-10}" >"$out/plan" <<'PY'
import random, sys
seed, kills, runs, tpm = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
r = random.Random(seed)
flows = [("claim", 3), ("keys", 2), ("trusted", 2), ("rotate", 3)]
total = i = 0
while (runs and i < runs) or (not runs and total < kills):
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
    total += k
    print("RUN", i, f, be, " ".join(ks))
PY
if [ -n "${CRASH_ONLY:-}" ]; then
  awk -v only=" $CRASH_ONLY " 'index(only, " " $2 " ")' "$out/plan" >"$out/plan.only" && mv "$out/plan.only" "$out/plan"
fi
planned_runs=$(wc -l <"$out/plan")
planned_kills=$(awk '{ n += NF - 4 } END { print n + 0 }' "$out/plan")
echo "crash: plan runs=$planned_runs kills=$planned_kills"

# ---------------------------------------------------------------- flow durations
if [ -n "${CRASH_TIMES:-}" ]; then
  cp "$CRASH_TIMES" "$out/times" 2>/dev/null || { echo "crash: cannot read CRASH_TIMES=$CRASH_TIMES"; exit 1; }
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
split -d -a 3 -l "$batch" "$out/plan" "$out/batch-"
running=0
for b in "$out"/batch-[0-9][0-9][0-9]; do
  while [ "$running" -ge "$jobs" ]; do wait -n; running=$((running - 1)); done
  "$world" run -- bash "$here/crash-worker.sh" runs "$b" "$out/times" "$b.out" >"$b.world.log" 2>&1 &
  running=$((running + 1))
done
wait

# ---------------------------------------------------------------- figures
cat "$out"/batch-*.out >"$out/results" 2>/dev/null
wall=$(( (${EPOCHREALTIME/./} - t_start) / 1000000 ))
awk -v seed="$seed" -v wall="$wall" -v planned="$planned_runs" '
  function kv(   i, a) { delete v; for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] } }
  $1 == "kill" { kv(); kills++; kf[v["flow"]]++; at[v["at"]]++; if (v["done"] == 0) live++ }
  $1 == "run" { kv(); runs++; rf[v["flow"]]++; rb[v["flow"] " " v["backend"]]++
                if (v["result"] == "ok") ok[v["flow"]]++
                else { fails++; ff[v["flow"]]++; print "crash: FAIL run=" v["id"] " flow=" v["flow"] " backend=" v["backend"] " why=" v["why"] } }
  $1 == "orphan" { kv(); orph++; if (v["status"] == "PENDING_ACTIVATION" && v["things"] == 0) pend++
                   else if (v["status"] == "ACTIVE") act++; else other++ }
  END {
    n = split("claim keys trusted rotate", fl, " ")
    for (i = 1; i <= n; i++) { f = fl[i]
      printf "crash: flow=%s runs=%d software=%d tpm=%d kills=%d ok=%d fail=%d\n", f, rf[f], rb[f " software"], rb[f " tpm"], kf[f], ok[f], ff[f] }
    for (s in at) printf "crash: kills-at stage=%s n=%d\n", s, at[s] | "sort"
    close("sort")
    printf "crash: orphans total=%d pending=%d active=%d other=%d\n", orph, pend, act, other
    if (runs < planned) { printf "crash: FAIL %d planned runs did not report\n", planned - runs; fails++ }
    printf "crash: result runs=%d kills=%d kills_before_done=%d failures=%d orphans=%d wall_s=%d seed=%s\n", runs, kills, live, fails, orph, wall, seed
    exit fails > 0 }' "$out/results"
rc=$?
if [ $rc != 0 ]; then
  echo "# kept $out (failure logs: $out/batch-*.out.fail-*.log)"
  for f in "$out"/batch-*.out.fail-*.log; do [ -e "$f" ] && sed 's/^/#   /' "$f" | head -80; done
  exit 1
fi
[ -n "${CRASH_OUT:-}" ] || rm -rf "$out"
exit 0
