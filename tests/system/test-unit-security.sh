#!/bin/sh
# The systemd unit's exposure, as systemd-analyze security --offline scores it, stays <= 2.0
# (docs/operations.md "The systemd unit"). Also checks the unit with systemd-analyze verify's
# parser for unknown directives. Runs in `make check`; no root, no systemd as PID 1 needed.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
MAX=${OB_UNIT_MAX_EXPOSURE:-2.0}

command -v systemd-analyze >/dev/null 2>&1 ||
        { echo "# SKIP: systemd-analyze is not installed"; exit 77; }
systemd-analyze --help 2>/dev/null | grep -q -- '--offline' ||
        { echo "# SKIP: this systemd-analyze has no --offline (systemd < 250)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ob-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unit=$tmp/onboard-agent.service
sed -e 's|@sbindir@|/usr/sbin|g' -e 's|@sysconfdir@|/etc|g' -e 's|@TPM@$||' \
        "$top_srcdir/config/onboard-agent.service.in" >"$unit"

fail=0
out=$(cd "$tmp" && systemd-analyze security --offline=yes --no-pager "$unit" 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\) .*/\1/p')
if [ -z "$score" ]; then
        echo "FAIL - no exposure score in the output of systemd-analyze security:"
        printf '%s\n' "$out" | sed 's/^/#   /'
        exit 1
fi
if awk -v s="$score" -v m="$MAX" 'BEGIN { exit !(s + 0 <= m + 0) }'; then
        echo "ok - exposure $score <= $MAX"
else
        echo "FAIL - exposure $score > $MAX; the points:"
        printf '%s\n' "$out" | grep '✗' | sed 's/^/#   /'
        fail=1
fi
# what still costs points, for the log
printf '%s\n' "$out" | grep '✗' | sed 's/^/# /'

# Unknown or misspelt directives: systemd-analyze verify's parser warns "Unknown key name"
# (the missing binary and user of an uninstalled unit are expected and ignored).
v=$(cd "$tmp" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$unit" 2>&1 |
        grep -i 'unknown\|invalid\|failed to parse\|ignoring' || true)
if [ -z "$v" ]; then
        echo "ok - systemd-analyze verify: no unknown or invalid directive"
else
        echo "FAIL - systemd-analyze verify:"
        printf '%s\n' "$v" | sed 's/^/#   /'
        fail=1
fi
exit $fail
