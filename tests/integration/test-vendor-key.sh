#!/bin/sh
# A vendor pre-provisioned TPM key (tpm.vendor_key_handle) used end to end by the daemon
# (docs/tpm.md, "Vendor keys at a persistent handle"): a signing key persisted at a handle the
# way a vendor leaves it; `agentctl factory csr` signs the CSR with it; a test CA signs the
# certificate, registered without its CA (MAR); `agentctl factory install-cert`; the daemon
# onboards with the key at the handle (no key file anywhere), credentials/current holds the
# certificate and device.key-handle; `agentctl check` passes with the handle key, tls included;
# kill -9 after certificate-issued, the restart connects with the handle from the slot; a restart
# when onboarded, then `agentctl rotate` connects with the handle key and moves to a key the
# agent made under the SRK (slot 2 has a device.key); JITP with a second vendor key.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
command -v jq >/dev/null || { echo "# SKIP: no jq"; exit 77; }
command -v tpm2_createprimary >/dev/null || { echo "# SKIP: no tpm2-tools (they play the vendor)"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI
kt="$top_builddir/tests/integration/ob-keytool"
w=$OB_WORLD_DIR/vendor
mkdir -p "$w"
"$kt" --tcti "$OB_TCTI" srk >/dev/null || { bad "SRK"; exit 1; }

# vendor_key HANDLE: an ECC P-256 signing key with its scheme fixed (ECDSA-SHA256), persisted
# at HANDLE: what a vendor's line leaves in the TPM
vendor_key() {
  tpm2_createprimary -T "$OB_TCTI" -C o -G ecc256:ecdsa-sha256 \
    -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" -c "$w/$1.ctx" >/dev/null 2>&1 &&
    tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$w/$1.ctx" "$1" >/dev/null 2>&1 &&
    tpm2_readpublic -T "$OB_TCTI" -c "$1" -f pem -o "$w/$1.pub" >/dev/null 2>&1 ||
    bad "could not set up a vendor key at $1"
}
# gw NAME METHOD HANDLE [EXTRA_JSON]
gw() {
  g=$OB_WORLD_DIR/gw-$1
  mkdir -p "$g/state"
  chmod 700 "$g/state"
  echo "SN-$1-$$" >"$g/serial"
  cat >"$g/config.json" <<JSON
{
  "endpoint": { "host": "$OB_MQTT_HOST", "port": $OB_MQTT_PORT, "root_ca": "$OB_ROOT_CA",
                "connect_timeout": 5, "step_timeout": 5 },
  "provisioning": { "method": "$2" },
  "identity": { "serial_sources": ["file:$g/serial"], "csr_subject": "CN=vk-{serial}" },
  "key": { "backend": "tpm" },
  "tpm": { "tcti": "$OB_TCTI", "vendor_key_handle": "$3" },
  "retry": { "network": { "base": 1, "cap": 2 }, "tls": { "base": 1, "cap": 2 },
             "timeout": { "base": 1, "cap": 2 }, "refused": { "base": 1, "cap": 2 },
             "rejected": { "base": 1, "cap": 2 } },
  "paths": { "state_dir": "$g/state", "runtime_dir": "$g/run" }${4:+, $4}
}
JSON
}
fctl() { n=$1; shift; "$ctl" --config "$OB_WORLD_DIR/gw-$n/config.json" factory "$@"; }
cur() { echo "$OB_WORLD_DIR/gw-$1/state/credentials/current"; }
# chk NAME ID: "result: detail" of one agentctl check
chk() {
  "$ctl" --config "$OB_WORLD_DIR/gw-$1/config.json" check --json 2>/dev/null |
    jq -r --arg id "$2" '.checks[] | select(.id == $id) | "\(.result): \(.detail)"'
}
# checks_pass NAME WHAT: device-key, key-cert-match, cert-expiry and tls pass with the handle key
checks_pass() {
  for k in device-key key-cert-match cert-expiry tls; do
    c=$(chk "$1" $k)
    case $c in pass:*) ok "$2: agentctl check $k: $c" ;; *) bad "$2: check $k: $c" ;; esac
  done
}
# factory_identity NAME: agentctl factory csr with the vendor key, the device CA signs it,
# agentctl factory install-cert (with the chain when given)
factory_identity() {
  fctl "$1" csr --out "$w/$1.csr" 2>"$w/$1.err" || bad "$1: factory csr: $(cat "$w/$1.err")"
  sign_device_csr "$w/$1.csr" "$w/$1.crt" || bad "$1: signing"
  fctl "$1" install-cert --cert "$w/$1.crt" ${2:+--chain "$2"} >"$w/$1.inst" 2>&1 ||
    bad "$1: install-cert: $(cat "$w/$1.inst")"
}

# ---------------------------------------------------------------- static (MAR) with the vendor key
vh=0x81000020
vendor_key $vh
gw vs static $vh '"rotation": { "template": "OnboardTemplate" }'
factory_identity vs
[ ! -e "$OB_WORLD_DIR/gw-vs/state/factory/device.key" ] &&
  [ "$(openssl x509 -in "$w/vs.crt" -noout -pubkey)" = "$(cat "$w/$vh.pub")" ] &&
  ok "factory csr + install-cert: the certificate is for the key at $vh, no key file" ||
  bad "factory identity: $(ls "$OB_WORLD_DIR/gw-vs/state/factory")"
register_cert "$w/vs.crt" # multi-account registration: no CA
id=$(cert_id "$w/vs.crt")
checks_pass vs "before onboarding (factory certificate)"
start vs OB_TEST_CRASH_AFTER_STAGE=certificate-issued
if wait_for vs '.stage == "certificate-issued" and .daemon_running == false' 20 dead-ok; then
  ok "killed after certificate-issued (slot 1 made from the vendor key)"
else
  bad "no crash after certificate-issued: $(st vs)"; log_tail vs 20
fi
slot=$OB_WORLD_DIR/gw-vs/state/credentials/1
[ ! -e "$slot/device.key" ] && [ "$(cat "$slot/device.key-handle" 2>/dev/null)" = "handle:$vh" ] &&
  [ "$(stat -c %a "$slot/device.key-handle")" = 644 ] &&
  ok "slot 1: no device.key; device.key-handle says handle:$vh (0644)" ||
  bad "slot 1: $(ls -l "$slot")"
sleep 1.1 # one CONNECT per second per client id
start vs
if wait_for vs '.state == "onboarded"' 20; then
  s=$(st vs)
  ok "restarted after the kill: onboarded with the key at $vh"
  [ "$(echo "$s" | jq -r .thing_name)" = "vk-SN-vs-$$" ] && [ "$(echo "$s" | jq -r .certificate_id)" = "$id" ] &&
    ok "thing from the CN, certificate id ${id%"${id#????????????}"}..." || bad "status: $s"
  grep '"event":"connect' "$OB_EMULATOR_STATE_DIR/events.jsonl" | grep -q "$id" &&
    ok "the emulator saw the connect with the vendor certificate" || bad "no connect event for $id"
  c=$(cur vs)
  cmp -s "$w/vs.crt" "$c/device.crt" && [ ! -e "$c/device.key" ] &&
    [ "$(cat "$c/device.key-handle")" = "handle:$vh" ] &&
    ok "credentials/current: the certificate, no device.key, device.key-handle" || bad "current: $(ls "$c")"
  # what an application does with it (docs/state.md)
  [ "$(openssl pkey -provider tpm2 -provider default -in "$(cat "$c/device.key-handle")" -pubout 2>/dev/null)" = \
    "$(openssl x509 -in "$c/device.crt" -noout -pubkey)" ] &&
    ok "an application loads the key named by device.key-handle (tpm2-openssl)" || bad "openssl pkey with the handle"
  checks_pass vs "onboarded"
  # the slot's device.key-handle names the key even when the config no longer does
  jq 'del(.tpm.vendor_key_handle)' "$OB_WORLD_DIR/gw-vs/config.json" >"$w/novendor.json"
  c=$("$ctl" --config "$w/novendor.json" check --json 2>/dev/null |
    jq -r '[.checks[] | select(.id == "device-key" or .id == "tls") | .result] | join(" ")')
  [ "$c" = "pass pass" ] && ok "without tpm.vendor_key_handle: check device-key and tls pass (device.key-handle)" ||
    bad "without tpm.vendor_key_handle: $c"
else
  bad "static with the vendor key did not onboard"; log_tail vs 30
fi
stop vs

# restart when onboarded: stays onboarded; agentctl rotate connects with the handle key (slot 1
# has no key file) and moves to a key the agent makes under the SRK: a vendor key cannot be
# replaced in place (docs/tpm.md)
start vs
if wait_for vs '.state == "onboarded" and .daemon_running' 10; then
  ok "restarted when onboarded: onboarded, generation $(readlink "$(cur vs)")"
  sleep 1.1
  "$ctl" --config "$OB_WORLD_DIR/gw-vs/config.json" rotate >/dev/null 2>&1 || bad "agentctl rotate refused"
  if wait_for vs ".certificate_id != \"$id\" and .state == \"onboarded\"" 30; then
    c=$(cur vs)
    [ "$(readlink "$c")" = 2 ] && head -1 "$c/device.key" | grep -q "TSS2 PRIVATE KEY" && [ ! -e "$c/device.key-handle" ] &&
      ok "rotated with the vendor key's identity to generation 2: a TPM key of the agent's (TSS2 PEM)" ||
      bad "after the rotation: $(ls -l "$c/")"
    [ "$(openssl x509 -in "$c/device.crt" -noout -pubkey)" != "$(cat "$w/$vh.pub")" ] &&
      ok "the new certificate is not for the vendor key" || bad "new certificate has the vendor key"
    tpm2_readpublic -T "$OB_TCTI" -c $vh >/dev/null 2>&1 && ok "the vendor key is still at $vh" ||
      bad "the vendor key is gone"
    n=$(grep '"event":"connected"' "$OB_EMULATOR_STATE_DIR/events.jsonl" | grep -c "$id")
    [ "$n" -ge 2 ] && ok "the rotation connected with the vendor certificate (and its handle key): $n connects" ||
      bad "connects with the vendor certificate: $n"
    checks_pass vs "after the rotation"
  else
    bad "agentctl rotate did not rotate: $(st vs)"; log_tail vs 30
  fi
else
  bad "restart when onboarded: $(st vs)"; log_tail vs 20
fi
stop vs

# ---------------------------------------------------------------- JITP with a vendor key
if want jitp; then
vj=0x81000021
vendor_key $vj
"$admin" update-ca "$(cert_id "$OB_DEVICE_CA_CERT")" autoRegistration=true 'template="JitpTemplate"' >/dev/null ||
  bad "CA update for JITP"
gw vj jitp $vj
factory_identity vj "$OB_DEVICE_CA_CERT"
start vj
if wait_for vj '.state == "onboarded"' 20; then
  c=$(cur vj)
  [ "$(st vj | jq -r .thing_name)" = "vk-SN-vj-$$" ] && [ ! -e "$c/device.key" ] &&
    [ "$(cat "$c/device.key-handle")" = "handle:$vj" ] &&
    ok "jitp with the vendor key at $vj: onboarded as the CN, device.key-handle" || bad "jitp: $(st vj)"
else
  bad "jitp with the vendor key did not onboard"; log_tail vj 30
fi
stop vj
fi
exit $fail
