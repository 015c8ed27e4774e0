#!/bin/sh
# The manufacturing-line commands (agentctl factory csr | install-cert | status) against swtpm
# behind tpm2-abrmd and real OpenSSL (docs/manufacturing.md): the CSR's key is made in the TPM
# with non-exportable attributes and reused by a second run; the CSR verifies; a certificate
# signed from it by the device maker's CA installs and makes the box ready to ship (exit 0,
# JSON); a certificate for another key, a chain that does not verify, an expired certificate,
# garbage, a missing file, an onboarded device and a running daemon are refused with nothing
# changed; the software backend, the ownership of what root creates, and (once the daemon
# implements jitp) first-boot JITP onboarding from the factory files.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
command -v jq >/dev/null || { echo "# SKIP: no jq"; exit 77; }
export TPM2OPENSSL_TCTI=$OB_TCTI
w=$OB_WORLD_DIR/factory
mkdir -p "$w"

# gw NAME BACKEND [METHOD] [TPM_EXTRA_JSON]: a gateway directory with a serial and a configuration
gw() {
  gw_config "$1" serial="SN-$1" prov="\"method\": \"${3:-jitp}\"" backend="$2" tpm="${4:-}" \
    identity='"csr_subject": "CN=ob-{serial},O=Acme"' \
    retry='"network": { "base": 1, "cap": 2 }, "tls": { "base": 1, "cap": 2 },
             "refused": { "base": 1, "cap": 2 }, "timeout": { "base": 1, "cap": 2 }'
}
fctl() { n=$1; shift; "$ctl" --config "$OB_WORLD_DIR/gw-$n/config.json" factory "$@"; }
# snapshot NAME: names, modes, owners and contents of the state directory
snapshot() {
  (cd "$OB_WORLD_DIR/gw-$1/state" && find . | sort | while read -r f; do
     echo "$f $(stat -c '%a %u' "$f") $( [ -f "$f" ] && sha256sum <"$f")"; done)
}
# refused NAME DESCRIPTION SUBSTRING ARGS...: the command fails naming why, nothing changes
refused() {
  rn=$1 rwhat=$2 rwant=$3; shift 3
  before=$(snapshot "$rn")
  expect "$rwhat" "$rwant" "$ctl" --config "$OB_WORLD_DIR/gw-$rn/config.json" factory install-cert "$@"
  [ "$(snapshot "$rn")" = "$before" ] || bad "$rwhat: the state directory changed"
}
# pubhash PEM-CSR-OR-KEY: SHA-256 of the DER public key
pubhash() { openssl pkey -pubin -in "$1" -outform DER 2>/dev/null | sha256sum | cut -d" " -f1; }

# ---------------------------------------------------------------- TPM backend
gw tpm tpm
f=$OB_WORLD_DIR/gw-tpm/state/factory
fctl tpm csr --subject "CN=ob-SN1,O=Acme" --out "$w/tpm.csr" 2>"$w/err" &&
  ok "csr: $(cat "$w/err")" || bad "csr: $(cat "$w/err")"
head -1 "$f/device.key" | grep -q "BEGIN TSS2 PRIVATE KEY" && [ "$(stat -c %a "$f/device.key")" = 600 ] &&
  [ "$(stat -c %a "$f")" = 750 ] && ok "TSS2 PRIVATE KEY 0600 in factory/ 0750" ||
  bad "key file: $(ls -la "$f")"
openssl pkey -provider tpm2 -provider default -in "$f/device.key" -text -noout >"$w/text" 2>&1
for a in fixedTPM fixedParent sensitiveDataOrigin; do
  grep -qi "$a" "$w/text" && ok "key attribute $a" || bad "attribute $a missing: $(head -20 "$w/text")"
done
openssl req -in "$w/tpm.csr" -noout -verify 2>&1 | grep -q "verify OK" &&
  openssl req -in "$w/tpm.csr" -noout -subject | grep -q "CN = ob-SN1, O = Acme" &&
  ok "openssl req -verify accepts the CSR; subject from --subject" || bad "CSR: $(openssl req -in "$w/tpm.csr" -noout -subject -verify 2>&1)"
openssl req -in "$w/tpm.csr" -noout -pubkey >"$w/tpm.pub"
k1=$(sha256sum <"$f/device.key")
fctl tpm csr >"$w/tpm2.csr" 2>"$w/err" || bad "second csr: $(cat "$w/err")"
[ "$(sha256sum <"$f/device.key")" = "$k1" ] && grep -q reused "$w/err" &&
  [ "$(openssl req -in "$w/tpm2.csr" -noout -pubkey)" = "$(cat "$w/tpm.pub")" ] &&
  ok "second csr reuses the key: same public key, key file untouched" || bad "second csr: $(cat "$w/err")"
openssl req -in "$w/tpm2.csr" -noout -subject | grep -q "CN = ob-SN-tpm, O = Acme" &&
  ok "default subject from identity.csr_subject and the serial" || bad "subject $(openssl req -in "$w/tpm2.csr" -noout -subject)"
# --json: the CSR and what was done, or the error, as one document on stdout (issue 17 item 4)
fctl tpm csr --json >"$w/csr.json" 2>"$w/err" &&
  jq -e --arg fp "$(pubhash "$w/tpm.pub")" '.key_created == false and .key_backend == "tpm" and
    .public_key_sha256 == $fp and (.subject | test("ob-SN-tpm")) and .out == null and
    (.csr | startswith("-----BEGIN CERTIFICATE REQUEST-----"))' "$w/csr.json" >/dev/null &&
  ok "csr --json: the CSR, its key and fingerprint in one document" || bad "csr --json: $(cat "$w/csr.json" "$w/err")"
# jerr EXIT CODE DESCRIPTION ARGS...: agentctl --json factory ARGS fails with EXIT and one error
# document with CODE
jerr() {
  jx=$1 jc=$2 jd=$3; shift 3
  "$ctl" --json --config "$OB_WORLD_DIR/gw-tpm/config.json" factory "$@" >"$w/err.json" 2>/dev/null; jrc=$?
  [ $jrc = "$jx" ] && jq -e -s --arg c "$jc" --argjson x "$jx" 'length == 1 and .[0].ok == false and
    .[0].error.code == $c and .[0].error.exit == $x' "$w/err.json" >/dev/null &&
    ok "$jd: $(jq -r .error.message "$w/err.json")" || bad "$jd: rc=$jrc: $(cat "$w/err.json")"
}
jerr 1 failed "--json csr with a bad subject: failed" csr --subject "nonsense"
jerr 64 usage "--json csr with an unknown option: usage" csr --bogus
jerr 1 io "--json install-cert of a missing file: io" install-cert --cert "$w/missing.crt"
expect "a bad --subject is refused" "bad subject" "$ctl" --config "$OB_WORLD_DIR/gw-tpm/config.json" factory csr --subject "nonsense"
expect "an unknown option is a usage error" "unknown option" "$ctl" --config "$OB_WORLD_DIR/gw-tpm/config.json" factory csr --bogus

fctl tpm status --json >"$w/st0.json"; rc=$?
[ $rc = 4 ] && jq -e '.ready == false and .key.loads == true and .certificate.installed == false and .tpm_reachable == true' "$w/st0.json" >/dev/null &&
  ok "status before the certificate: exit 4, not ready" || bad "status rc=$rc: $(cat "$w/st0.json")"

# refusals: nothing changes
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -keyout "$w/other.key" \
  -out "$w/other.csr" 2>/dev/null
sign_device_csr "$w/other.csr" "$w/other.crt"
refused tpm "a certificate for another key is refused" "not for this device's key" --cert "$w/other.crt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=Rogue CA" -days 30 \
  -keyout "$w/rogue.key" -out "$w/rogue.crt" 2>/dev/null
openssl x509 -req -in "$w/tpm.csr" -CA "$OB_DEVICE_CA_CERT" -CAkey "$OB_DEVICE_CA_KEY" -CAcreateserial \
  -CAserial "$w/ca.srl" -days 30 -out "$w/tpm.crt" 2>/dev/null || bad "signing the CSR"
refused tpm "a chain that does not verify is refused" "does not verify against the chain" --cert "$w/tpm.crt" --chain "$w/rogue.crt"
echo "garbage" >"$w/garbage.pem"
refused tpm "a garbage certificate is refused" "not a PEM certificate" --cert "$w/garbage.pem"
refused tpm "a garbage chain is refused" "holds no PEM certificate" --cert "$w/tpm.crt" --chain "$w/garbage.pem"
cat "$w/tpm.crt" "$OB_DEVICE_CA_CERT" >"$w/fullchain.pem"
refused tpm "a chain holding the certificate itself is refused" "holds the device certificate itself" --cert "$w/tpm.crt" --chain "$w/fullchain.pem"
refused tpm "the certificate as its own chain is refused" "holds the device certificate itself" --cert "$w/tpm.crt" --chain "$w/tpm.crt"
refused tpm "a missing file is named" "$w/missing.crt: No such file" --cert "$w/missing.crt"
cat "$w/tpm.crt" "$OB_DEVICE_CA_CERT" >"$w/bundle.pem"
refused tpm "a bundle as --cert is refused" "holds 2 certificates" --cert "$w/bundle.pem"
refused tpm "--cert is required" "needs --cert" --chain "$OB_DEVICE_CA_CERT"
# an expired certificate for our key (openssl ca can backdate)
mkdir -p "$w/ca"; : >"$w/ca/index.txt"; echo 01 >"$w/ca/serial"
printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
  "$w/ca" "$w/ca" "$w/ca" >"$w/ca/ca.cnf"
openssl ca -batch -config "$w/ca/ca.cnf" -cert "$OB_DEVICE_CA_CERT" -keyfile "$OB_DEVICE_CA_KEY" -in "$w/tpm.csr" \
  -startdate 20200101000000Z -enddate 20200102000000Z -out "$w/expired.crt" >/dev/null 2>&1 || bad "expired cert"
refused tpm "an expired certificate is refused" "expired 2020-01-02" --cert "$w/expired.crt" --chain "$OB_DEVICE_CA_CERT"
[ ! -e "$f/device.crt" ] && ok "no certificate installed after the refusals" || bad "a certificate got installed"

# a daemon answering on the control socket: mutating commands refused
mkdir -p "$OB_WORLD_DIR/gw-tpm/run"
"$top_builddir/tests/integration/ob-ctl-server" "$OB_WORLD_DIR/gw-tpm/run/control.sock" >"$w/srv.out" 2>&1 &
srv=$!
i=0; while ! grep -q READY "$w/srv.out" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
refused tpm "install-cert refused while the daemon runs" "the daemon is running" --cert "$w/tpm.crt" --chain "$OB_DEVICE_CA_CERT"
expect "csr refused while the daemon runs" "the daemon is running" "$ctl" --config "$OB_WORLD_DIR/gw-tpm/config.json" factory csr
jerr 1 daemon-running "--json csr while the daemon runs: daemon-running" csr
fctl tpm status --json >/dev/null; [ $? = 4 ] && ok "status still answers while the daemon runs" || bad "status with the daemon"
kill $srv; wait $srv 2>/dev/null

fctl tpm install-cert --cert "$w/tpm.crt" --chain "$OB_DEVICE_CA_CERT" >"$w/inst.out" 2>&1 &&
  ok "install-cert: $(head -1 "$w/inst.out")" || bad "install-cert: $(cat "$w/inst.out")"
cmp -s "$f/device.crt" "$w/tpm.crt" && cmp -s "$f/chain.pem" "$OB_DEVICE_CA_CERT" &&
  ok "device.crt and chain.pem installed" || bad "installed files differ"
fctl tpm status --json >"$w/st1.json"; rc=$?
fp=$(pubhash "$w/tpm.pub")
[ $rc = 0 ] && jq -e --arg fp "$fp" '.ready == true and .problems == [] and .method == "jitp" and
    (.endpoint | test(":[0-9]+$")) and .tpm_reachable == true and .key.present and .key.loads and
    .key.public_key_sha256 == $fp and .certificate.installed and .certificate.matches_key and
    .certificate.valid_now and (.certificate.days_left | . >= 29 and . <= 30) and
    .certificate.subject == "CN=ob-SN1,O=Acme" and (.certificate.issuer | test("Acme Device CA")) and
    .chain.present and .chain.verifies and .onboarded == false' "$w/st1.json" >/dev/null &&
  ok "status: ready to ship (exit 0), key fingerprint, days left $(jq .certificate.days_left "$w/st1.json")" ||
  bad "status rc=$rc: $(cat "$w/st1.json")"
fctl tpm status | grep -q "Ready to ship:  true" && ok "status in words" || bad "status text"

# a key file that does not load is an error, never silently replaced
cp "$f/device.key" "$w/good.key"
sed -i '2s/^./A/' "$f/device.key"; sed -i '3s/^./B/' "$f/device.key"
k2=$(sha256sum <"$f/device.key")
expect "a corrupt key file is a clear error" "exists but does not load" "$ctl" --config "$OB_WORLD_DIR/gw-tpm/config.json" factory csr
[ "$(sha256sum <"$f/device.key")" = "$k2" ] && ok "the corrupt key is left as it was" || bad "corrupt key replaced"
fctl tpm status --json >"$w/st2.json"; rc=$?
[ $rc = 4 ] && jq -e '.ready == false and .key.loads == false' "$w/st2.json" >/dev/null &&
  ok "status with a corrupt key: not ready" || bad "status rc=$rc: $(cat "$w/st2.json")"
cp "$w/good.key" "$f/device.key"

# an onboarded device refuses install-cert unless --force
python3 - "$OB_WORLD_DIR/gw-tpm/state/state.json" <<'PY'
import hashlib, json, sys
p = json.dumps({"stage": "onboarded", "current": {"generation": 1}}, separators=(",", ":")).encode()
open(sys.argv[1], "wb").write(b"ONBOARD-STATE 1 1 sha256:%s %d\n" % (hashlib.sha256(p).hexdigest().encode(), len(p)) + p + b"\n")
PY
refused tpm "install-cert refused on an onboarded device" "already onboarded" --cert "$w/tpm.crt"
fctl tpm install-cert --force --cert "$w/tpm.crt" --json >"$w/force.json" 2>&1 &&
  jq -e '.forced == true' "$w/force.json" >/dev/null && [ ! -e "$f/chain.pem" ] &&
  ok "--force installs on an onboarded device (no --chain: the old chain.pem removed)" || bad "--force: $(cat "$w/force.json")"
rm -f "$OB_WORLD_DIR/gw-tpm/state/state.json"

# ---------------------------------------------------------------- software backend, root installs
gw soft software static
s=$OB_WORLD_DIR/gw-soft/state
if [ "$(id -u)" = 0 ]; then mkdir -p "$s"; chmod 700 "$s"; chown 65534:65534 "$s"; fi
fctl soft csr --out "$w/soft.csr" 2>"$w/err" || bad "software csr: $(cat "$w/err")"
openssl req -in "$w/soft.csr" -noout -verify 2>&1 | grep -q "verify OK" && grep -q "BEGIN PRIVATE KEY\|BEGIN EC PRIVATE KEY" "$s/factory/device.key" &&
  [ "$(stat -c %a "$s/factory/device.key")" = 600 ] && ok "software: PEM key 0600, CSR verifies" || bad "software csr: $(cat "$w/err")"
grep -q "PRIVATE KEY" "$w/soft.csr" "$w/err" && bad "the CSR output contains a private key"
sign_device_csr "$w/soft.csr" "$w/soft.crt"
fctl soft install-cert --cert "$w/soft.crt" >"$w/inst.out" 2>&1 || bad "software install-cert: $(cat "$w/inst.out")"
fctl soft status --json >"$w/st3.json"; rc=$?
[ $rc = 0 ] && jq -e '.ready and .key_backend == "software" and .tpm_reachable == null and .chain.present == false' "$w/st3.json" >/dev/null &&
  ok "software: ready to ship (static, no chain needed)" || bad "software status rc=$rc: $(cat "$w/st3.json")"
# configured paths win over the factory folder's, in status as in the daemon
jq --arg c "$w/soft.crt" '.provisioning.device_cert = $c' "$OB_WORLD_DIR/gw-soft/config.json" >"$w/soft-cfg.json"
"$ctl" --config "$w/soft-cfg.json" factory status --json >"$w/st5.json"; rc=$?
[ $rc = 0 ] && jq -e --arg c "$w/soft.crt" '.certificate.path == $c and .certificate.matches_key and (.warnings | length) == 1' "$w/st5.json" >/dev/null &&
  ok "status reads a configured provisioning.device_cert, with a warning" || bad "configured cert rc=$rc: $(cat "$w/st5.json")"
if [ "$(id -u)" = 0 ]; then
  own=$(stat -c '%u:%g %a' "$s/factory" "$s/factory/device.key" "$s/factory/device.crt" | tr "\n" " ")
  [ "$own" = "65534:65534 750 65534:65534 600 65534:65534 644 " ] &&
    ok "run as root: factory/ and its files belong to the state directory's owner ($own)" || bad "ownership: $own"
else
  echo "# not root: the ownership case is not run"
fi

# ---------------------------------------------------------------- a vendor key at a persistent handle
tpm2_createprimary -T "$OB_TCTI" -C o -G ecc256:ecdsa-sha256 -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" \
  -c "$w/vendor.ctx" >/dev/null 2>&1 && tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$w/vendor.ctx" 0x81000003 >/dev/null 2>&1 ||
  bad "could not set up a vendor key at 0x81000003"
tpm2_readpublic -T "$OB_TCTI" -c 0x81000003 -f pem -o "$w/vendor.pub" >/dev/null 2>&1
gw vendor tpm static '"vendor_key_handle": "0x81000003"'
fctl vendor csr --out "$w/vendor.csr" 2>"$w/err" || bad "vendor csr: $(cat "$w/err")"
openssl req -in "$w/vendor.csr" -noout -verify 2>&1 | grep -q "verify OK" &&
  [ "$(openssl req -in "$w/vendor.csr" -noout -pubkey)" = "$(cat "$w/vendor.pub")" ] &&
  [ ! -e "$OB_WORLD_DIR/gw-vendor/state/factory/device.key" ] &&
  ok "vendor key: the CSR is signed by the key at 0x81000003, no key file made" || bad "vendor csr: $(cat "$w/err")"
refused vendor "vendor key: a certificate for our file key is refused" "not for this device's key" --cert "$w/tpm.crt"
sign_device_csr "$w/vendor.csr" "$w/vendor.crt"
fctl vendor install-cert --cert "$w/vendor.crt" >"$w/inst.out" 2>&1 || bad "vendor install-cert: $(cat "$w/inst.out")"
fctl vendor status --json >"$w/st4.json"; rc=$?
[ $rc = 0 ] && jq -e '.ready and .key.path == "handle:0x81000003" and .key.loads' "$w/st4.json" >/dev/null &&
  ok "vendor key: ready to ship" || bad "vendor status rc=$rc: $(cat "$w/st4.json")"

# ---------------------------------------------------------------- first boot: JITP from the factory files
if [ -x "$agent" ] && [ "${OB_EMULATOR:-0}" = 1 ]; then
  "$admin" update-ca "$(cert_id "$OB_DEVICE_CA_CERT")" autoRegistration=true >/dev/null
  rm -f "$OB_WORLD_DIR/gw-tpm/state/state.json"*
  fctl tpm install-cert --cert "$w/tpm.crt" --chain "$OB_DEVICE_CA_CERT" >/dev/null 2>&1 || bad "install for JITP"
  start tpm
  if wait_for tpm '.state == "onboarded" or .last_error.code == "method-not-supported"' 40 dead-ok &&
     [ "$(st tpm | jq -r .last_error.code)" = method-not-supported ]; then
    echo "# SKIP (JITP end to end): this daemon does not implement jitp yet (method-not-supported)"
  elif [ "$(st tpm | jq -r .state)" = onboarded ]; then
    ok "first boot onboards with JITP from the factory files: thing $(st tpm | jq -r .thing_name)"
    [ "$("$admin" list-things | jq -r 'has("ob-SN1")')" = true ] && ok "JITP template made the thing from the CN" ||
      bad "things: $("$admin" list-things)"
  else
    bad "JITP from the factory files: $(st tpm)"; log_tail tpm
  fi
  stop tpm
else
  echo "# SKIP (JITP end to end): no onboard-agent or no emulator"
fi
exit $fail
