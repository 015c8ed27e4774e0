#!/usr/bin/env bash
# End-to-end onboarding of a foreign-architecture onboard-agent (run by qemu-user through
# binfmt_misc) against the native test world: fleet provisioning by claim, the emulator issuing
# certificates valid until 9999-12-31T23:59:59Z, then a rotation to a 2049-12-31T23:59:59Z
# certificate (AWS's default); `agentctl status` of the same foreign build must show both
# dates as they are (a 32-bit time_t showed 9999 as 1969-12-23 and 2049 as 1913-11-25).
#
#   tests/cross/test-cross-onboard.sh ARCH FOREIGN_BUILDDIR NATIVE_BUILDDIR
#
# FOREIGN_BUILDDIR: packaging/cross.sh's BUILDDIR/obj; NATIVE_BUILDDIR: a native build with the
# emulator plugin (the world, the broker and its plugin are native; only the agent is foreign).
#
# The key: in the TPM (the world's swtpm behind tpm2-abrmd, through the foreign tss2 libraries)
# where the foreign tpm2-openssl can use it for TLS; a software key where it cannot
# (tpm2-openssl < 1.2.0 with a 32-bit long, docs/tpm.md) — that case is checked on its own:
# the daemon says tls-provider-unusable instead of looping.
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ "${1:-}" != --inside ]; then
        arch=${1:?usage: test-cross-onboard.sh ARCH FOREIGN_BUILDDIR NATIVE_BUILDDIR}
        OB_CROSS_ARCH=$arch
        OB_CROSS_BUILD=$(cd "$2" && pwd) || exit 1
        native=$(cd "$3" && pwd) || exit 1
        top_srcdir=$(cd "$here/../.." && pwd)
        [ -f "$native/tests/emulator/.libs/ob_emulator.so" ] ||
                { echo "# SKIP: no native emulator plugin in $native (a native build first)"; exit 77; }
        export OB_CROSS_ARCH OB_CROSS_BUILD top_srcdir
        # packaging/cross.sh's build says where its sysroot is: qemu-user finds the target's
        # loader and libraries (and the tpm2 provider, the TCTI) there
        if [ -f "$OB_CROSS_BUILD/cross.env" ]; then
                QEMU_LD_PREFIX=$(sed -n 's/^QEMU_LD_PREFIX=//p' "$OB_CROSS_BUILD/cross.env")
                export QEMU_LD_PREFIX
        fi
        export top_builddir=$native OB_CROSS_NATIVE=$native
        export OB_EMULATOR_PLUGIN=$native/tests/emulator/.libs/ob_emulator.so
        exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside
fi

. "$top_srcdir/tests/integration/common.sh"
top_builddir=$OB_CROSS_BUILD # the agent and agentctl under test are the foreign ones
. "$top_srcdir/tests/integration/agent-lib.sh"
[ "${OB_EMULATOR:-0}" = 1 ] || { echo "# SKIP: the world has no emulator"; exit 77; }
echo "# $OB_CROSS_ARCH: $(file -b "$(readlink -f "$agent")" | cut -d, -f1-2)"
# Waiting polls with the native agentctl (the same socket and state file; a foreign one under
# qemu takes ~0.5 s a call); what is asserted is read with the foreign one. Deadlines in seconds.
nst() { "$OB_CROSS_NATIVE/agentctl" --config "$OB_WORLD_DIR/gw-$1/config.json" --json status 2>/dev/null; }
xwait() { # NAME JQ_EXPR SECONDS
  _end=$((SECONDS + $3))
  while [ $SECONDS -lt $_end ]; do
    nst "$1" | jq -e "$2" >/dev/null 2>&1 && return 0
    sleep 0.3
  done
  return 1
}

"$admin" set issuedCertNotAfter '"9999-12-31T23:59:59Z"' >/dev/null || bad "emulator: issuedCertNotAfter"
"$admin" set issuedCertValidity null >/dev/null 2>&1
device_policy || bad "device policy"

# which key: ask the foreign agentctl whether its tpm2 provider can use TPM keys
gw_config probe
pcheck=$("$ctl" --config "$g/config.json" --json check --skip dns --skip tcp --skip tls 2>/dev/null)
backend=tpm
if echo "$pcheck" | jq -e '.checks[] | select(.id == "tls-provider") | .detail' 2>/dev/null |
        grep -q "cannot use persistent TPM handles"; then
        backend=software
        echo "# $OB_CROSS_ARCH: tpm2-openssl cannot use TPM keys here: $(echo "$pcheck" |
                jq -r '.checks[] | select(.id == "tls-provider") | .detail')"
        # the daemon with a TPM key says so and waits, it does not loop
        gw_config tpmkey retry="$(retry_all 1 2)"
        start tpmkey
        if xwait tpmkey '.last_error.code == "tls-provider-unusable"' 60; then
                ok "TPM key with an unusable tpm2 provider: tls-provider-unusable, waiting ($(st tpmkey | jq -c '{state, next_retry}'))"
        else
                bad "TPM key with an unusable tpm2 provider: $(st tpmkey | jq -c .)"; log_tail tpmkey
        fi
        stop tpmkey
fi

# CBOR: the codec is where byte order would show (unit tests cover JSON and CBOR; the cloud's
# replies here come from the native emulator, little-endian)
gw_config gw backend=$backend provisioning='"payload_format": "cbor"'
start gw
if xwait gw '.state == "onboarded"' 120; then
        ok "$OB_CROSS_ARCH agent onboarded by fleet-claim in CBOR (key: $backend)"
else
        bad "$OB_CROSS_ARCH agent did not onboard: $(st gw | jq -c .)"; log_tail gw 30
fi
na=$(st gw | jq -r .certificate_not_after)
[ "$na" = "9999-12-31T23:59:59Z" ] && ok "status shows the 9999 certificate's notAfter: $na" ||
        bad "status notAfter: $na (want 9999-12-31T23:59:59Z)"
txt=$("$ctl" --config "$g/config.json" status 2>&1)
echo "$txt" | grep -q "9999-12-31T23:59:59Z" && ok "text status shows 9999-12-31T23:59:59Z" ||
        bad "text status: $(echo "$txt" | tr '\n' ' ')"
chk=$("$ctl" --config "$g/config.json" --json check --skip dns --skip tcp 2>/dev/null)
r=$(echo "$chk" | jq -r '.checks[] | select(.id == "cert-expiry") | .result')
[ "$r" = pass ] && ok "check cert-expiry passes for the 9999 certificate" ||
        bad "cert-expiry: $(echo "$chk" | jq -c '.checks[] | select(.id == "cert-expiry")')"

# rotation to AWS's default (2049): a 32-bit time_t build must verify and show it
"$admin" set issuedCertNotAfter '"2049-12-31T23:59:59Z"' >/dev/null
gen0=$(st gw | jq -r .generation)
"$ctl" --config "$g/config.json" rotate >/dev/null 2>&1 || bad "agentctl rotate"
if xwait gw ".generation > $gen0 and .state == \"onboarded\"" 120; then
        na=$(st gw | jq -r .certificate_not_after)
        [ "$na" = "2049-12-31T23:59:59Z" ] && ok "rotated (generation $(st gw | jq -r .generation)); notAfter $na" ||
                bad "after rotation notAfter: $na"
else
        bad "rotation did not commit: $(st gw | jq -c .)"; log_tail gw 30
fi
stop gw
exit $fail
