#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The command-line mains and the configuration: exit codes 0 / 64 / 78 and messages that name
# the file and the key. Needs no test world.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-$top_srcdir}
agent=$top_builddir/onboard-agent
ctl=$top_builddir/agentctl
for b in "$agent" "$ctl"; do
        if [ ! -x "$b" ]; then
                echo "SKIP: $b not built"
                exit 77
        fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-cli-config.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $1"; sed 's/^/#   /' "$tmp/out" | head -20; }

# expect CODE DESCRIPTION [NEEDLE...] -- CMD...: exit code CODE and every NEEDLE in the output
expect() {
        code=$1 desc=$2
        shift 2
        needles=""
        while [ "$1" != "--" ]; do
                needles="$needles
$1"
                shift
        done
        shift
        "$@" >"$tmp/out" 2>&1
        rc=$?
        if [ "$rc" -ne "$code" ]; then
                echo "#   exit $rc, expected $code: $*" >>"$tmp/out"
                not_ok "$desc"
                return
        fi
        missing=""
        old_ifs=$IFS
        IFS='
'
        for n in $needles; do
                grep -qF -- "$n" "$tmp/out" || missing="$missing [$n]"
        done
        IFS=$old_ifs
        if [ -n "$missing" ]; then
                echo "#   output lacks:$missing" >>"$tmp/out"
                not_ok "$desc"
        else
                ok "$desc"
        fi
}

# ---- good configurations
expect 0 "shipped example passes --check-config" "configuration is valid" -- \
        "$agent" --check-config --config "$top_srcdir/config/config.json"
expect 0 "shipped example passes agentctl config check" "configuration is valid" -- \
        "$ctl" --config "$top_srcdir/config/config.json" config check
expect 0 "agentctl config check --json" '"valid": true' -- \
        "$ctl" --config "$top_srcdir/config/config.json" config check --json

mkdir -p "$tmp/good/config.d"
cat >"$tmp/good/config.json" <<'JSON'
/* minimal, with comments */
{
  "endpoint": { "host": "localhost" },   // the only required keys
  "provisioning": { "method": "static" }
}
JSON
echo '{ "endpoint": { "port": 18883 } }' >"$tmp/good/config.d/50-port.json"
expect 0 "minimal config with a drop-in" "configuration is valid" -- \
        "$agent" --check-config -c "$tmp/good/config.json"
expect 0 "config show names defaults and sources" \
        "endpoint.port" "18883" "$tmp/good/config.d/50-port.json" \
        "endpoint.host" "$tmp/good/config.json" "tpm.srk_handle" "0x81000001" "# default" -- \
        "$ctl" -c "$tmp/good/config.json" config show
expect 0 "config show --json" '"source": "'"$tmp/good/config.d/50-port.json"'"' -- \
        "$ctl" --json -c "$tmp/good/config.json" config show
# a good config but no TPM: the daemon waits for it (naming the TCTI), alive, and a SIGTERM
# ends the wait cleanly (exit 0): no exit into a restart loop (docs/operations.md)
"$agent" -c "$tmp/good/config.json" --log-level debug >"$tmp/notpm.out" 2>&1 &
notpm=$!
for _ in $(seq 100); do grep -q "Waiting for the TPM" "$tmp/notpm.out" && break; sleep 0.1; done
if grep -q 'Waiting for the TPM (device:/dev/tpmrm0)' "$tmp/notpm.out" && kill -0 "$notpm" 2>/dev/null; then
        ok "daemon with a good config but no TPM: waits for it, naming the TCTI"
else
        sed 's/^/#   /' "$tmp/notpm.out"
        not_ok "daemon with a good config but no TPM: waits for it, naming the TCTI"
fi
kill -TERM "$notpm" 2>/dev/null
for _ in $(seq 50); do kill -0 "$notpm" 2>/dev/null || break; sleep 0.1; done
kill -0 "$notpm" 2>/dev/null && { kill -KILL "$notpm"; not_ok "no TPM: SIGTERM ends the wait"; } || {
        wait "$notpm"; rc=$?
        [ "$rc" -eq 0 ] && grep -q "Stopped while waiting for the TPM" "$tmp/notpm.out" &&
                ok "no TPM: SIGTERM ends the wait, exit 0" || not_ok "no TPM: SIGTERM: exit $rc"
}
expect 0 "config keys lists the table" "retry.throttled.cap" "provisioning.method" -- \
        "$ctl" config keys

# ---- bad configurations: exit 78, the message names the file and the key
bad() {
        name=$1 key=$2 text=$3
        mkdir -p "$tmp/$name"
        printf '%s\n' "$text" >"$tmp/$name/config.json"
        expect 78 "$name: --check-config exits 78 naming file and key" \
                "$tmp/$name/config.json" "$key" -- \
                "$agent" --check-config --config "$tmp/$name/config.json"
        expect 78 "$name: agentctl config check exits 78 naming file and key" \
                "$tmp/$name/config.json" "$key" -- \
                "$ctl" --config "$tmp/$name/config.json" config check
}
base='"endpoint": {"host": "localhost"}, "provisioning": {"method": "static"}'
bad unknown-key "endpoint.prot" "{ $base, \"endpoint\": {\"host\": \"h\", \"prot\": 1} }"
bad wrong-type "endpoint.alpn" "{ \"provisioning\": {\"method\": \"static\"}, \"endpoint\": {\"host\": \"h\", \"alpn\": \"yes\"} }"
bad out-of-range "endpoint.port" "{ \"provisioning\": {\"method\": \"static\"}, \"endpoint\": {\"host\": \"h\", \"port\": 99999} }"
bad bad-enum "provisioning.method" "{ \"endpoint\": {\"host\": \"h\"}, \"provisioning\": {\"method\": \"magic\"} }"
bad bad-duration "retry.network.cap" "{ $base, \"retry\": {\"network\": {\"cap\": \"forever\"}} }"
bad bad-handle "tpm.srk_handle" "{ $base, \"tpm\": {\"srk_handle\": \"81000001\"} }"
bad missing-required "endpoint.host" "{ \"provisioning\": {\"method\": \"static\"} }"
bad cross-key "provisioning.claim_cert" "{ \"endpoint\": {\"host\": \"h\"}, \"provisioning\": {\"method\": \"fleet-claim\", \"template\": \"T\", \"claim_key\": \"/k\"} }"
bad malformed ":3:" "{
  \"endpoint\": {\"host\": \"h\"},
  \"provisioning\": {\"method\": stat}
}"

expect 78 "missing file exits 78 naming it" "$tmp/nope.json" "cannot open" -- \
        "$agent" --check-config --config "$tmp/nope.json"
expect 78 "daemon without --check-config exits 78 on a bad config" "endpoint.port" -- \
        "$agent" --config "$tmp/out-of-range/config.json"
expect 78 "config show exits 78 on a bad config" "endpoint.port" -- \
        "$ctl" --config "$tmp/out-of-range/config.json" config show

mkdir -p "$tmp/dropin/config.d"
cp "$tmp/good/config.json" "$tmp/dropin/config.json"
echo '{ "log": { "level": "chatty" } }' >"$tmp/dropin/config.d/10-log.json"
expect 78 "an error in a drop-in names the drop-in and the key" \
        "$tmp/dropin/config.d/10-log.json" "log.level" -- \
        "$agent" --check-config -c "$tmp/dropin/config.json"
expect 78 "config check --json reports the error" '"key": "log.level"' '"valid": false' -- \
        "$ctl" -c "$tmp/dropin/config.json" config check --json

# ---- usage errors: exit 64 and the message names what was wrong
expect 64 "onboard-agent: unknown option" "--bogus" -- "$agent" --bogus
expect 64 "onboard-agent: missing argument" "--config" -- "$agent" --config
expect 64 "onboard-agent: bad --log-level" "loud" -- "$agent" --log-level loud
expect 64 "onboard-agent: stray argument" "extra" -- "$agent" extra
expect 64 "agentctl: unknown option" "--bogus" -- "$ctl" --bogus config check
expect 64 "agentctl: unknown command" "frobnicate" -- "$ctl" frobnicate
expect 64 "agentctl: unknown subcommand" "config frob" -- "$ctl" config frob
expect 64 "agentctl: group without subcommand" "config" -- "$ctl" config
expect 64 "agentctl: unknown command option" "--bogus" -- "$ctl" config check --bogus
expect 64 "agentctl: no command" "Usage" -- "$ctl"
# ---- --json: every outcome is one JSON document on stdout, errors included (issue 17 item 4):
# {"ok":false,"error":{"code","message","source","exit"}} with the documented exit code
# expect_json EXIT CODE DESCRIPTION -- CMD...: exit EXIT, stdout one document with error.code CODE
expect_json() {
        code=$1 ecode=$2 desc=$3
        shift 4
        "$@" >"$tmp/json" 2>"$tmp/err"
        rc=$?
        { cat "$tmp/json"; sed 's/^/stderr: /' "$tmp/err"; } >"$tmp/out"
        if [ "$rc" -ne "$code" ]; then
                echo "#   exit $rc, expected $code: $*" >>"$tmp/out"
                not_ok "$desc"
        elif ! jq -e -s --arg c "$ecode" --argjson x "$code" 'length == 1 and (.[0] |
                .ok == false and .error.code == $c and .error.exit == $x and
                (.error.message | length > 0))' "$tmp/json" >/dev/null 2>&1; then
                echo "#   stdout is not one error document with code $ecode" >>"$tmp/out"
                not_ok "$desc"
        else
                ok "$desc: $(jq -r '.error.message' "$tmp/json")"
        fi
}
if command -v jq >/dev/null 2>&1; then
        expect_json 64 usage "--json: unknown command" -- "$ctl" --json frobnicate
        expect_json 64 usage "--json after an unknown command" -- "$ctl" frobnicate --json
        expect_json 64 usage "--json: unknown global option" -- "$ctl" --json --bogus status
        expect_json 64 usage "--json: unknown command option" -- "$ctl" config check --bogus --json
        expect_json 64 usage "--json: group without subcommand" -- "$ctl" --json config
        expect_json 64 usage "--json: no command" -- "$ctl" --json
        expect_json 64 usage "--json: decommission without --yes" -- "$ctl" --json decommission
        expect_json 64 usage "--json: check --skip of an unknown id" -- "$ctl" --json check --skip nope
        expect_json 78 config-invalid "--json: config show of an invalid config" -- \
                "$ctl" --json -c "$tmp/out-of-range/config.json" config show
        grep -q 'endpoint.port' "$tmp/json" && ok "... the message names the first error" ||
                not_ok "config-invalid: the message does not name endpoint.port"
        expect_json 78 config-invalid "--json: factory status of an invalid config" -- \
                "$ctl" -c "$tmp/out-of-range/config.json" factory status --json
        # the daemon: not running (no socket in a runtime directory of our own)
        mkdir -p "$tmp/nodaemon/run"
        printf '{ %s, "paths": { "runtime_dir": "%s", "state_dir": "%s" } }\n' "$base" \
                "$tmp/nodaemon/run" "$tmp/nodaemon/state" >"$tmp/nodaemon/config.json"
        if [ "$(id -u)" = 0 ]; then
                expect_json 1 daemon-unreachable "--json rotate, no daemon" -- \
                        "$ctl" --json -c "$tmp/nodaemon/config.json" rotate
                expect_json 1 daemon-unreachable "reprovision --dry-run --json, no daemon" -- \
                        "$ctl" -c "$tmp/nodaemon/config.json" reprovision --dry-run --json
                expect_json 78 config-invalid "--json rotate, invalid config" -- \
                        "$ctl" --json -c "$tmp/out-of-range/config.json" rotate
        fi
        # permission denied: a root command as another user
        if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
                expect_json 77 permission-denied "--json rotate as nobody" -- setpriv \
                        --reuid=nobody --regid=nogroup --clear-groups "$ctl" --json \
                        -c "$tmp/nodaemon/config.json" rotate
                # no daemon, and state.json in a directory only root may read
                mkdir -p "$tmp/nodaemon/state"
                echo '{}' >"$tmp/nodaemon/state/state.json"
                chmod 700 "$tmp/nodaemon/state"
                chmod 755 "$tmp" "$tmp/nodaemon"
                chmod 644 "$tmp/nodaemon/config.json"
                expect_json 77 permission-denied "--json status as nobody, no daemon, state.json root's" -- \
                        setpriv --reuid=nobody --regid=nogroup --clear-groups "$ctl" --json \
                        -c "$tmp/nodaemon/config.json" status
                chmod 700 "$tmp"
        elif [ "$(id -u)" != 0 ]; then
                expect_json 77 permission-denied "--json rotate as a user" -- \
                        "$ctl" --json -c "$tmp/nodaemon/config.json" rotate
        fi
        # help and --version are documents too
        "$ctl" --json help >"$tmp/json" 2>/dev/null &&
                jq -e -s 'length == 1 and (.[0].commands | map(.name) | index("config check")) and
                        (.[0].commands[] | select(.name == "rotate") | .root)' "$tmp/json" >/dev/null 2>&1 &&
                ok "--json help: the command table" || not_ok "--json help"
        "$ctl" --version --json >"$tmp/json" 2>/dev/null &&
                jq -e -s 'length == 1 and (.[0].version | length > 0)' "$tmp/json" >/dev/null 2>&1 &&
                ok "--version --json" || not_ok "--version --json"
        # successes stay as they were: one document, not an error
        "$ctl" --json -c "$tmp/good/config.json" config check >"$tmp/json" 2>/dev/null
        jq -e -s 'length == 1 and .[0].valid == true' "$tmp/json" >/dev/null 2>&1 &&
                ok "--json config check: one document, as before" || not_ok "--json config check"
else
        echo "# SKIP (--json errors): jq not found"
fi
expect 0 "agentctl help" "config check" -- "$ctl" help
expect 0 "agentctl --version" "agentctl " -- "$ctl" --version
# StrictModes (issue 19 item 8): a drop-in another user owns or can write, or a folder others
# can write, is an error of the configuration: the daemon refuses to start (78), config check
# names the file, who owns it and the remedy. A uid without a user is enough to own a file.
if [ "$(id -u)" = 0 ]; then
        mkdir -p "$tmp/strict/config.d"
        cp "$tmp/good/config.json" "$tmp/strict/config.json"
        chmod 0755 "$tmp/strict" "$tmp/strict/config.d"
        printf '{ "paths": { "state_dir": "/tmp/evil" } }\n' >"$tmp/strict/config.d/90-evil.json"
        chown 4242 "$tmp/strict/config.d/90-evil.json"
        chmod 0666 "$tmp/strict/config.d/90-evil.json"
        expect 78 "a drop-in owned by another user: refused" "90-evil.json" "owned by uid 4242, not root" \
                "chown root and chmod go-w" -- "$agent" --check-config -c "$tmp/strict/config.json"
        expect 78 "... config check says the same" "90-evil.json" "owned by uid 4242" -- \
                "$ctl" -c "$tmp/strict/config.json" config check
        expect 78 "... and the daemon does not start" "owned by uid 4242" -- \
                "$agent" -c "$tmp/strict/config.json"
        chown 0 "$tmp/strict/config.d/90-evil.json"
        expect 78 "root's drop-in, writable by others: refused" "writable by group and others (mode 0666)" -- \
                "$agent" --check-config -c "$tmp/strict/config.json"
        chmod 0644 "$tmp/strict/config.d/90-evil.json"
        chmod 0777 "$tmp/strict/config.d"
        expect 78 "a config.d anyone can write: refused" "config.d: error: folder writable by group and others" -- \
                "$agent" --check-config -c "$tmp/strict/config.json"
        chmod 0755 "$tmp/strict/config.d"
        rm "$tmp/strict/config.d/90-evil.json"
        expect 0 "root's files, folders not writable by others: accepted" -- \
                "$agent" --check-config -c "$tmp/strict/config.json"
else
        echo "# SKIP (StrictModes): needs root to give a file to another uid"
fi

expect 0 "onboard-agent --help" "--check-config" -- "$agent" --help
expect 0 "onboard-agent --version" "onboard-agent " -- "$agent" --version

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
