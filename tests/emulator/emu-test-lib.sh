# SPDX-License-Identifier: Apache-2.0
# Sourced by tests/emulator/test-emu-*.sh once `here` (their directory) is set: the skip rule,
# the requirements, and helpers: cli (emu-client.py), admin (ob-emu-admin), check DESCRIPTION
# COMMAND..., certid FILE, emu_done (the closing "N passed, N failed" line and the status).
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-$top_srcdir}
export top_srcdir top_builddir
skip() { echo "SKIP: $*"; if [ "${OB_REQUIRE_WORLD:-0}" = 1 ]; then exit 1; fi; exit 77; }

[ -f "$top_builddir/tests/emulator/.libs/ob_emulator.so" ] || skip "emulator plugin not built"
/usr/bin/python3 -c 'import paho.mqtt' 2>/dev/null || skip "python3-paho-mqtt missing"
command -v jq >/dev/null || skip "jq missing"

cli() { /usr/bin/python3 "$here/emu-client.py" "$@"; }
admin() { sh "$here/ob-emu-admin" "$@"; }
fails=0 n=0
check() { # description, then a command
        d=$1
        shift
        n=$((n + 1))
        if "$@"; then echo "ok   - $d"; else echo "FAIL - $d"; fails=$((fails + 1)); fi
}
certid() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }
emu_done() {
        echo "$((n - fails)) passed, $fails failed"
        [ "$fails" = 0 ]
}
