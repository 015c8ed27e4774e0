#!/bin/sh
# Every state of the onboarding machine exercised (issue 10, docs/testing.md "Coverage"): reads
# the daemons' logs the test worlds kept (OB_WORLD_LOGS, tests/world-logs), the unit test's
# transitions (*.transitions there) and the state names of
# lib/onboard.c (stage_names, activity_names), prints each distinct transition the suite went
# through ("from -> to", with a count), and fails when a stage or an activity never occurs in a
# transition.  Usage: check-transitions.sh SRCDIR LOGDIR
set -u
src=${1:?usage: check-transitions.sh SRCDIR LOGDIR}
logs=${2:?usage: check-transitions.sh SRCDIR LOGDIR}

names() { # ARRAY: the quoted names of a `const char *const ob_onboard_ARRAY[...] = { ... };` table
  sed -n "/[ _]$1\[[A-Z_]*\] = {/,/^};/p" "$src/lib/onboard.c" | sed -n 's/.*= "\([a-z-]*\)",.*/\1/p'
}
stages=$(names stage_names)
acts=$(names activity_names)
[ -n "$stages" ] && [ -n "$acts" ] || { echo "check-transitions: no state names in $src/lib/onboard.c"; exit 2; }
files=$(find "$logs" \( -name agent.log -o -name '*.transitions' \) 2>/dev/null)
[ -n "$files" ] || { echo "check-transitions: no agent logs in $logs"; exit 2; }

# the daemon logs each change once at info level: "onboarding: A -> B", "onboarding: stage A -> B
# (saved)"; the unit test of the machine (OB_TEST_VERBOSE=1 tests/unit/test-onboard, saved as
# *.transitions) prints "  [0] A -> B" and "  [1] stage A -> B"
seen=$(printf '%s\n' $files | xargs grep -hoE 'info: (onboarding|rotation): (stage )?[a-z-]+ -> [a-z-]+|\[[01]\] (stage )?[a-z-]+ -> [a-z-]+$' |
  sed -E 's/^(info: (onboarding|rotation): |\[[01]\] )//' | sort | uniq -c | sort -rn)
echo "check-transitions: $(echo "$seen" | wc -l) distinct transitions in $(echo "$files" | wc -l) logs:"
echo "$seen" | sed 's/^/  /'
missing=""
for s in $stages; do
  echo "$seen" | grep -Eq "stage ($s -> |[a-z-]+ -> $s\$)" || missing="$missing stage:$s"
done
for a in $acts; do
  echo "$seen" | grep -v ' stage ' | grep -Eq "[0-9] ($a -> |[a-z-]+ -> $a\$)" || missing="$missing activity:$a"
done
if [ -n "$missing" ]; then
  echo "check-transitions: never exercised:$missing"
  exit 1
fi
echo "check-transitions: every stage ($(echo $stages | wc -w)) and activity ($(echo $acts | wc -w)) exercised"
