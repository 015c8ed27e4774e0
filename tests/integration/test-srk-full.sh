#!/bin/sh
# The SRK must be made again while the TPM's persistent handles are full (issue 19, item 4;
# docs/tpm.md "No free persistent handle"): an onboarded gateway, its SRK evicted, the
# persistent handles filled until the TPM answers TPM_RC_NV_SPACE. Before, the daemon exited 1
# at every start ("insufficient space for NV allocation") and systemd restarted it into the same
# wall. Now it carries on with a transient SRK (the primary is deterministic: the device key
# loads under it), warns once, says so in status and in agentctl check srk; a rotation waits
# with error srk-not-persistent (TLS through the tpm2 provider needs the SRK at its handle),
# and once a handle is freed the daemon persists the SRK by itself and the rotation completes.
# The filler handles are evicted at the end.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
command -v tpm2_evictcontrol >/dev/null || { echo "# SKIP: tpm2-tools not installed"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI TPM2TOOLS_TCTI=$OB_TCTI
g=$OB_WORLD_DIR/gw-srk
FILL=0x81000100 # filler handles from here on
filled=0
cleanup() {
  stop srk
  i=0
  while [ $i -lt $filled ]; do
    tpm2_evictcontrol -C o -c "$(printf 0x%08x $((FILL + i)))" >/dev/null 2>&1
    i=$((i + 1))
  done
}
trap cleanup EXIT
check_srk() {
  out=$("$ctl" --config "$g/config.json" check --json --skip tls --skip dns --skip tcp 2>/dev/null)
  rc=$?
}
res() { echo "$out" | jq -r --arg id "$1" '.checks[] | select(.id == $id) | "\(.result): \(.detail) -> \(.hint)"'; }

gw_config srk retry="$(retry_all 1 2), \"local\": 1"
start srk
wait_for srk '.state == "onboarded"' 30 && ok "onboarded" || { bad "onboarding"; log_tail srk; exit 1; }
stop srk

# the SRK is gone and every persistent handle is taken (swtpm: 65 objects)
tpm2_evictcontrol -C o -c 0x81000001 >/dev/null 2>&1 || bad "evict the SRK"
tpm2_createprimary -Q -C o -G ecc -c "$OB_WORLD_DIR/fill.ctx" || bad "filler primary"
t0=$(date +%s%N)
while tpm2_evictcontrol -C o -c "$OB_WORLD_DIR/fill.ctx" "$(printf 0x%08x $((FILL + filled)))" \
      >/dev/null 2>"$OB_WORLD_DIR/fill.err"; do
  filled=$((filled + 1))
  [ $filled -lt 1000 ] || break
done
echo "# $filled persistent handles filled in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
grep -q "insufficient space for NV allocation" "$OB_WORLD_DIR/fill.err" &&
  ok "persistent handles full after $filled: $(grep -o 'Esys_EvictControl.*' "$OB_WORLD_DIR/fill.err" | head -1)" ||
  bad "the TPM did not fill up: $(cat "$OB_WORLD_DIR/fill.err")"

# the daemon starts, stays up, and says why the SRK is transient (once)
start srk
wait_for srk '.state == "onboarded"' 20 && sleep 1 && kill -0 "$(cat "$g/pid")" 2>/dev/null &&
  ok "the daemon runs onboarded on a transient SRK (no exit, no restart loop)" ||
  { bad "the daemon did not stay up"; log_tail srk; }
st srk | jq -r '.tpm_note // empty' | grep -q "transient SRK" &&
  ok "status: $(st srk | jq -r .tpm_note)" || bad "status has no tpm_note: $(st srk | jq -c .)"
check_srk
case "$(res srk)" in
  warn:*"no free persistent handle"*"tpm2_evictcontrol"*) ok "check srk: $(res srk)" ;;
  *) bad "check srk: $(res srk)" ;;
esac
case "$(res device-key)" in
  pass:*) ok "check device-key under the transient SRK: $(res device-key)" ;;
  *) bad "check device-key: $(res device-key)" ;;
esac

# a rotation: the new key is made and signed under the transient SRK, but TLS through the tpm2
# provider waits for the SRK's handle, with a status that says so
first=$(st srk | jq -r .certificate_id)
out=$("$ctl" --config "$g/config.json" rotate 2>&1) || bad "agentctl rotate: $out"
wait_for srk '.last_error.code == "srk-not-persistent"' 15 &&
  ok "rotation waits: $(st srk | jq -r '.last_error.code + ": " + .last_error.text')" ||
  { bad "no srk-not-persistent: $(st srk | jq -c .last_error)"; log_tail srk; }
sleep 2
kill -0 "$(cat "$g/pid")" 2>/dev/null && ok "still running while it waits" || bad "the daemon died"
n=$(grep -c "No free persistent TPM handle for the storage root key" "$g/agent.log")
[ "$n" = 1 ] && ok "warned once: $(grep -o 'No free persistent TPM handle.*' "$g/agent.log" | cut -c1-150)..." ||
  bad "warned $n times"

# a handle freed: the daemon persists the SRK at its next TPM use and the rotation completes
filled=$((filled - 1))
tpm2_evictcontrol -C o -c "$(printf 0x%08x $((FILL + filled)))" >/dev/null 2>&1 || bad "free a handle"
wait_for srk ".certificate_id != \"$first\" and .state == \"onboarded\" and .rotation == null" 30 &&
  ok "a handle freed: rotated to generation $(readlink "$g/state/credentials/current")" ||
  { bad "no rotation after a handle was freed: $(st srk | jq -c .last_error)"; log_tail srk 20; }
tpm2_getcap handles-persistent | grep -q "0x81000001" && grep -q "persistent at 0x81000001 again" "$g/agent.log" &&
  ok "the SRK is persistent again (logged)" || bad "SRK not persisted: $(tpm2_getcap handles-persistent | head -3)"
[ -z "$(st srk | jq -r '.tpm_note // empty')" ] && ok "status: no tpm_note any more" || bad "tpm_note stays"
check_srk
case "$(res srk)" in pass:*) ok "check srk: $(res srk)" ;; *) bad "check srk: $(res srk)" ;; esac
exit $fail
