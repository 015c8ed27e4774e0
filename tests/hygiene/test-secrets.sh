#!/bin/sh
# The suite's secret scan (issue 10, docs/security.md): runs after every other test (tests/local.mk
# makes its log depend on all the others) and reads every log the suite left: the test logs
# (tests/**/*.log) and the logs of every test world (OB_WORLD_LOGS, tests/world-logs/: the agents'
# debug logs, mosquitto with the emulator, swtpm, tpm2-abrmd). Fails when a log holds
#   - a private key PEM header (plain, EC, RSA, encrypted or TSS2 PRIVATE KEY),
#   - any line of any private key of a world (PKI, claim keys, device keys, TSS2 blobs),
#   - any certificate ownership token the emulator issued,
# the last two listed by tests/world/world.sh in each world's secrets.lst.
set -u
: "${top_builddir:=.}"
logs_dir=${OB_WORLD_LOGS:-$top_builddir/tests/world-logs}
fail=0
self=$(basename "$0" .sh)

if [ ! -d "$logs_dir" ] || [ -z "$(find "$logs_dir" -name secrets.lst 2>/dev/null | head -1)" ]; then
  echo "# SKIP: no test world ran (no $logs_dir/*/secrets.lst): nothing to scan"
  exit 77
fi

list=$(mktemp); secrets=$(mktemp)
trap 'rm -f "$list" "$secrets"' EXIT
{
  find "$top_builddir/tests" -path "$logs_dir" -prune -o -name '*.log' -type f ! -name "$self.log" -print
  find "$logs_dir" -name '*.log' -type f
} | sort -u >"$list"
find "$logs_dir" -name secrets.lst -exec cat {} + | sort -u >"$secrets"
nlogs=$(wc -l <"$list")
nsec=$(wc -l <"$secrets")
worlds=$(find "$logs_dir" -name secrets.lst | wc -l)
bytes=$(xargs -d '\n' cat <"$list" | wc -c)
echo "# scanning $nlogs logs ($bytes bytes, $worlds test worlds) for $nsec secret strings"

hits=$(xargs -d '\n' grep -HnE -e '-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----' <"$list" | head -5)
[ -z "$hits" ] && echo "ok - no private key PEM header in any log" ||
  { echo "FAIL - private key PEM headers in logs:"; echo "$hits" | cut -c1-200 | sed 's/^/#   /'; fail=1; }

if [ "$nsec" -gt 0 ]; then
  hits=$(xargs -d '\n' grep -HnF -f "$secrets" <"$list" | head -5)
  [ -z "$hits" ] && echo "ok - none of the $nsec key lines and ownership tokens of the worlds is in a log" ||
    { echo "FAIL - secrets in logs:"; echo "$hits" | cut -c1-200 | sed 's/^/#   /'; fail=1; }
else
  echo "FAIL - the worlds listed no secrets (world.sh archive broken?)"; fail=1
fi
exit $fail
