#!/bin/sh
# The TPM key provider against swtpm behind tpm2-abrmd (no mocks): the SRK is created once and
# then reused; a device key made by our code has the non-exportable attributes, reloads in a
# new process, interoperates with the tpm2-openssl provider (same public key; it signs a CSR
# that verifies), and completes a TLS handshake + MQTT CONNECT to the broker. A handle holding
# another object, a corrupt blob and a key of another parent are refused with their own errors.
# Every key type (ec-p256, ec-p384, rsa-2048) makes a CSR that verifies and connects over TLS; a
# vendor key at a persistent handle loads and signs, and keys unfit for it are refused; a TPM
# without a resource manager that runs out of object memory is reported as such (-ENOMEM).
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
exec "$top_srcdir/tests/world/world.sh" run -- sh -c '
kt="$top_builddir/tests/integration/ob-keytool"
d=$OB_WORLD_DIR/keys; mkdir -p "$d"
export TPM2OPENSSL_TCTI=$OB_TCTI
. "$top_srcdir/tests/integration/common.sh"

[ "$("$kt" srk)" = created ] && ok "SRK created at 0x81000001" || bad "SRK not created"
[ "$("$kt" srk)" = present ] && ok "SRK found and accepted on the second run" || bad "SRK not reused"
# each use of the SRK gives its ESYS object back (ob_tpm_ensure_srk and ob_tpm_check_srk kept
# theirs open until 2026-12: one stale object per context, never closed under the reference
# counting of tpm2-tss 4.1)
o=$("$kt" srk-open)
[ "$o" = "ensure 0 check 0" ] && ok "ensure and check give the ESYS object of the SRK back" || bad "SRK objects left open: $o"
# the manufacturer and firmware of the shadow (docs/shadow.md): what tpm2-tools reads
want=$(getcap_tpm_info) && o=$("$kt" info) && [ "$o" = "$want" ] &&
  ok "info: $o, as tpm2_getcap properties-fixed says" || bad "info: ${o:-?}, tpm2_getcap: ${want:-?}"
tpm2_readpublic -T "$OB_TCTI" -c 0x81000001 >"$d/srk.txt" 2>&1
grep -q "restricted" "$d/srk.txt" && grep -q "decrypt" "$d/srk.txt" && ok "SRK is a restricted decrypt key" || bad "SRK attributes: $(cat "$d/srk.txt")"

t0=$(date +%s%N)
"$kt" create "$d/device.key" >"$d/pub1.pem" || bad "create"
t1=$(date +%s%N)
"$kt" pubkey "$d/device.key" >"$d/pub2.pem" || bad "reload"
t2=$(date +%s%N)
echo "# key create $(( (t1 - t0) / 1000000 )) ms, load $(( (t2 - t1) / 1000000 )) ms (process start included)"
cmp -s "$d/pub1.pem" "$d/pub2.pem" && ok "key reloads in a new process with the same public key" || bad "reload gave another key"
[ "$(stat -c %a "$d/device.key")" = 600 ] && ok "key file is 0600" || bad "key file mode $(stat -c %a "$d/device.key")"
head -1 "$d/device.key" | grep -q "BEGIN TSS2 PRIVATE KEY" && ok "TSS2 PRIVATE KEY PEM" || bad "not a TSS2 PEM"
openssl asn1parse -in "$d/device.key" | grep -q "BOOLEAN *:255" && ok "emptyAuth TRUE" || bad "emptyAuth not TRUE"

openssl pkey -provider tpm2 -provider default -in "$d/device.key" -pubout >"$d/pub3.pem" 2>"$d/err" &&
  cmp -s "$d/pub1.pem" "$d/pub3.pem" && ok "tpm2-openssl loads it: same public key" || bad "tpm2 provider: $(cat "$d/err")"
openssl pkey -provider tpm2 -provider default -in "$d/device.key" -text -noout >"$d/text" 2>&1
for a in fixedTPM fixedParent sensitiveDataOrigin noDA; do
  grep -qi "$a" "$d/text" && ok "attribute $a" || bad "attribute $a missing: $(head -20 "$d/text")"
done
openssl req -new -provider tpm2 -provider default -key "$d/device.key" -subj /CN=gw-test \
  -out "$d/device.csr" 2>"$d/err" && openssl req -in "$d/device.csr" -noout -verify 2>&1 | grep -q "verify OK" &&
  ok "CSR signed inside the TPM verifies" || bad "CSR: $(cat "$d/err")"

t0=$(date +%s%N)
"$kt" csr "$d/device.key" "CN=gw-ours,O=Acme" >"$d/ours.csr" || bad "our CSR"
t1=$(date +%s%N)
echo "# CSR built by lib/csr.c and signed in the TPM: $(( (t1 - t0) / 1000000 )) ms (process start included)"
openssl req -in "$d/ours.csr" -noout -verify 2>&1 | grep -q "verify OK" &&
  [ "$(openssl req -in "$d/ours.csr" -noout -pubkey)" = "$(cat "$d/pub1.pem")" ] &&
  openssl req -in "$d/ours.csr" -noout -subject | grep -q "CN = gw-ours, O = Acme" &&
  ok "CSR built by our code and signed in the TPM verifies (openssl req -verify), right key and subject" ||
  bad "our CSR: $(openssl req -in "$d/ours.csr" -noout -verify 2>&1 | head -2)"

# every key type: our code creates it, tpm2-openssl loads it (same public key), our CSR verifies
# with the right signature algorithm, and TLS + MQTT CONNECT work through the tpm2 provider
# (openssl s_client and Paho in ob-mqtt-probe)
probe="$top_builddir/tests/integration/ob-mqtt-probe"

# CONNACK bytes (hex) of an MQTT 3.1.1 CONNECT sent through `openssl s_client ARGS...`: waits up
# to 20 s for the 4 bytes (a TPM handshake on a loaded machine can take seconds), returns as soon
# as they are there or s_client has ended (refused). Each call has its own 3-character client id
# ("t01", "t02", ...): the broker allows one CONNECT per second per client id.
s_connack() {
  local out sl pid id n
  n=$(($(cat "$d/connack.n" 2>/dev/null || echo 0) + 1)) && echo "$n" >"$d/connack.n"
  id=$(printf "t%02d" $((n % 100)))
  out=$(mktemp -p "$d" connack.XXXXXX) sl=$out.sleep
  { printf "\020\017\000\004MQTT\004\002\000\074\000\003%s" "$id"; sleep 20 & echo $! >"$sl"; wait; } |
    openssl s_client -quiet -no_ign_eof "$@" >"$out" &
  pid=$!
  for _ in $(seq 400); do
    [ "$(stat -c %s "$out")" -ge 4 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill "$pid" 2>/dev/null
  [ -s "$sl" ] && kill "$(cat "$sl")" 2>/dev/null
  wait "$pid" 2>/dev/null
  head -c 4 "$out" | od -An -tx1 | tr -d " \n"
}

for spec in ec-p256:ecdsa-with-SHA256 ec-p384:ecdsa-with-SHA384 rsa-2048:sha256WithRSAEncryption; do
  ty=${spec%%:*} alg=${spec#*:}
  "$kt" --time --type "$ty" create "$d/$ty.key" >"$d/$ty.pub" 2>"$d/$ty.time" || bad "$ty: create: $(cat "$d/$ty.time")"
  "$kt" --time pubkey "$d/$ty.key" 2>>"$d/$ty.time" | cmp -s - "$d/$ty.pub" || bad "$ty: reload"
  "$kt" --time csr "$d/$ty.key" "CN=gw-$ty" 2>>"$d/$ty.time" >"$d/$ty.csr" || bad "$ty: csr"
  echo "# $ty on swtpm + tpm2-abrmd (key operation only):" $(cat "$d/$ty.time")
  openssl pkey -provider tpm2 -provider default -in "$d/$ty.key" -pubout 2>"$d/err" | cmp -s - "$d/$ty.pub" &&
    ok "$ty: tpm2-openssl loads our TSS2 PEM: same public key" || bad "$ty: tpm2 provider: $(cat "$d/err")"
  openssl req -in "$d/$ty.csr" -noout -verify 2>&1 | grep -q "verify OK" &&
    openssl req -in "$d/$ty.csr" -noout -text | grep -q "Signature Algorithm: $alg" &&
    [ "$(openssl req -in "$d/$ty.csr" -noout -pubkey)" = "$(cat "$d/$ty.pub")" ] &&
    ok "$ty: CSR signed in the TPM verifies, $alg" || bad "$ty: CSR: $(openssl req -in "$d/$ty.csr" -noout -text 2>&1 | grep -i signature | head -2)"
  sign_device_csr "$d/$ty.csr" "$d/$ty.crt" && register_cert "$d/$ty.crt" || bad "$ty: certificate"
  connack=$(s_connack -provider tpm2 -provider default -connect "127.0.0.1:$OB_MQTT_PORT" \
      -servername "$OB_MQTT_HOST" -CAfile "$OB_ROOT_CA" -cert "$d/$ty.crt" -key "$d/$ty.key" \
      -verify_return_error 2>"$d/tls.err")
  [ "$connack" = 20020000 ] && ok "$ty: openssl s_client TLS + MQTT CONNECT accepted" || bad "$ty: CONNACK \"$connack\": $(tail -3 "$d/tls.err")"
  out=$("$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" --cert "$d/$ty.crt" \
         --key "$d/$ty.key" --provider tpm2 --tcti "$OB_TCTI" --id "gw-$ty" --connect-only 2>&1) &&
    ok "$ty: Paho (ob-mqtt-probe) connects: $out" || bad "$ty: ob-mqtt-probe: $out"
done
expect "unknown key type refused" "" "$kt" --type ec-p521 create "$d/p521.key"

# a key made by tpm2-openssl itself (as a factory tool might) loads through our code
openssl genpkey -provider tpm2 -provider default -algorithm EC -pkeyopt group:P-256 \
  -pkeyopt parent:0x81000001 -out "$d/foreign.key" 2>/dev/null || bad "tpm2-openssl genpkey"
"$kt" pubkey "$d/foreign.key" >"$d/foreign.pub" 2>"$d/err" &&
  cmp -s "$d/foreign.pub" "$(openssl pkey -provider tpm2 -provider default -in "$d/foreign.key" -pubout >"$d/foreign2.pub"; echo "$d/foreign2.pub")" &&
  ok "a tpm2-openssl key (emptyAuth written as BER 0x01) loads through our code" ||
  bad "foreign key: $(cat "$d/err")"

# TLS + MQTT CONNECT with the key in the TPM (CONNECT 3.1.1; CONNACK 20 02 00 00)
sign_device_csr "$d/device.csr" "$d/device.crt"
register_cert "$d/device.crt" || bad "could not register the device certificate with the emulator"
connack=$(s_connack -provider tpm2 -provider default -connect "127.0.0.1:$OB_MQTT_PORT" \
    -servername "$OB_MQTT_HOST" -CAfile "$OB_ROOT_CA" -cert "$d/device.crt" -key "$d/device.key" \
    -verify_return_error 2>"$d/tls.err")
[ "$connack" = 20020000 ] && ok "TLS + MQTT CONNECT accepted with the TPM key" || bad "CONNACK \"$connack\": $(tail -3 "$d/tls.err")"
# the same certificate with a key that is not its own must not get in
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/other.key" 2>/dev/null
connack=$(s_connack -connect "127.0.0.1:$OB_MQTT_PORT" -servername "$OB_MQTT_HOST" \
    -CAfile "$OB_ROOT_CA" -cert "$d/device.crt" -key "$d/other.key" 2>/dev/null)
[ -z "$connack" ] && ok "a different key with the same certificate is refused" || bad "other key got $connack"

# errors
cp "$d/device.key" "$d/corrupt.key"
python3 - "$d/corrupt.key" <<PY
import base64, sys
p = sys.argv[1]; lines = open(p).read().split("\n")
der = bytearray(base64.b64decode("".join(lines[1:-2])))
der[-5] ^= 0xff          # inside the private blob
b64 = base64.b64encode(bytes(der)).decode()
open(p, "w").write(lines[0] + "\n" + "\n".join(b64[i:i+64] for i in range(0, len(b64), 64)) + "\n" + lines[-2] + "\n")
PY
expect "corrupt blob refused" "EBADMSG" "$kt" pubkey "$d/corrupt.key"
echo "not a key" >"$d/junk.key"
expect "junk file refused" "not a TSS2 PRIVATE KEY" "$kt" pubkey "$d/junk.key"
expect "missing file" "ENOENT" "$kt" pubkey "$d/missing.key"
expect "key of another parent refused" "EXDEV" "$kt" --srk 0x81000005 pubkey "$d/device.key"
tpm2_createprimary -T "$OB_TCTI" -C o -G ecc256:ecdsa-sha256 -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign" -c "$d/p.ctx" >/dev/null 2>&1 &&
  tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$d/p.ctx" 0x81000002 >/dev/null 2>&1 ||
  bad "could not set up a signing key at 0x81000002"
expect "SRK handle holding a signing key refused" "handle collision" "$kt" --srk 0x81000002 create "$d/x.key"
[ ! -e "$d/x.key" ] && ok "nothing written after the refusal" || bad "key written despite refusal"
# a vendor key at a persistent handle: the signing primary at 0x81000002 above (fixedTPM,
# scheme fixed to ECDSA-SHA256) stands in for one; it loads, signs our CSR, and TLS works with
# the openssl store URI, and through Paho in a program linked with agent/tls-handle-key.c (the
# daemon; docs/tpm.md); Paho alone loads keys only from files
tpm2_readpublic -T "$OB_TCTI" -c 0x81000002 -f pem -o "$d/vendor.ref" >/dev/null 2>&1 || bad "vendor readpublic"
"$kt" --time pubkey handle:0x81000002 2>"$d/vendor.time" | cmp -s - "$d/vendor.ref" &&
  ok "vendor key: public key read at handle:0x81000002" || bad "vendor key: $(cat "$d/vendor.time")"
"$kt" --time csr handle:0x81000002 CN=gw-vendor >"$d/vendor.csr" 2>>"$d/vendor.time" &&
  openssl req -in "$d/vendor.csr" -noout -verify 2>&1 | grep -q "verify OK" &&
  ok "vendor key: CSR signed with it verifies" || bad "vendor CSR: $(cat "$d/vendor.time")"
echo "# vendor key (persistent, ECC P-256):" $(cat "$d/vendor.time")
sign_device_csr "$d/vendor.csr" "$d/vendor.crt" && register_cert "$d/vendor.crt" || bad "vendor certificate"
connack=$(s_connack -provider tpm2 -provider default -connect "127.0.0.1:$OB_MQTT_PORT" \
    -servername "$OB_MQTT_HOST" -CAfile "$OB_ROOT_CA" -cert "$d/vendor.crt" -key handle:0x81000002 \
    -verify_return_error 2>"$d/tls.err")
[ "$connack" = 20020000 ] && ok "vendor key: openssl s_client -key handle:0x81000002 connects" || bad "vendor TLS: \"$connack\": $(tail -3 "$d/tls.err")"
out=$("$probe-handle" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" --cert "$d/vendor.crt" \
       --key handle:0x81000002 --provider tpm2 --tcti "$OB_TCTI" --id gw-vendor --connect-only 2>&1)
[ $? -eq 0 ] && ok "vendor key (fixed scheme ECDSA-SHA256): Paho connects with handle:0x81000002: $out" ||
  bad "Paho with handle:0x81000002: $out"
out=$("$probe" --host "$OB_MQTT_HOST" --port "$OB_MQTT_PORT" --cafile "$OB_ROOT_CA" --cert "$d/vendor.crt" \
       --key handle:0x81000002 --provider tpm2 --tcti "$OB_TCTI" --id gw-vendor --connect-only 2>&1)
[ $? -ne 0 ] && echo "$out" | grep -q "Operation not supported" &&
  ok "without agent/tls-handle-key.c the transport refuses handle:0x81000002: $out" ||
  bad "plain transport with handle:0x81000002: $out"
expect "vendor key cannot be created" "EOPNOTSUPP" "$kt" create handle:0x81000002
expect "nothing at the vendor handle" "ENOENT" "$kt" pubkey handle:0x81000009
expect "the SRK is not a vendor key" "is the SRK" "$kt" pubkey handle:0x81000001
expect "not a persistent handle" "EINVAL" "$kt" pubkey handle:0x01000002
# keys unfit as device keys: restricted signing (an attestation key), duplicable, decrypt only
tpm2_createprimary -T "$OB_TCTI" -C o -G ecc256:ecdsa-sha256:null -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign" -c "$d/r.ctx" >/dev/null 2>&1 &&
  tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$d/r.ctx" 0x81000004 >/dev/null 2>&1 || bad "restricted key setup"
expect "restricted signing key refused" "restricted signing key" "$kt" pubkey handle:0x81000004
tpm2_create -T "$OB_TCTI" -C 0x81000001 -G ecc256 -a "sensitivedataorigin|userwithauth|sign" -u "$d/dup.pub" -r "$d/dup.priv" >/dev/null 2>&1 &&
  tpm2_load -T "$OB_TCTI" -C 0x81000001 -u "$d/dup.pub" -r "$d/dup.priv" -c "$d/dup.ctx" >/dev/null 2>&1 &&
  tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$d/dup.ctx" 0x81000005 >/dev/null 2>&1 || bad "duplicable key setup"
expect "key without fixedTPM refused" "not fixedTPM" "$kt" csr handle:0x81000005 CN=x
tpm2_create -T "$OB_TCTI" -C 0x81000001 -G ecc256 -a "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|decrypt" -u "$d/dec.pub" -r "$d/dec.priv" >/dev/null 2>&1 &&
  tpm2_load -T "$OB_TCTI" -C 0x81000001 -u "$d/dec.pub" -r "$d/dec.priv" -c "$d/dec.ctx" >/dev/null 2>&1 &&
  tpm2_evictcontrol -T "$OB_TCTI" -C o -c "$d/dec.ctx" 0x81000006 >/dev/null 2>&1 || bad "decrypt key setup"
expect "decrypt-only key refused" "not a signing key" "$kt" pubkey handle:0x81000006
expect "no TPM" "ENODEV" "$kt" --tcti "swtpm:host=127.0.0.1,port=1" srk

# hardware token: stable, and the SHA-256 of the EK point exactly as tpm2-tools reports the EK
t1=$("$kt" token) && t2=$("$kt" token) || bad "token"
tpm2_createek -T "$OB_TCTI" -G ecc -c "$d/ek.ctx" -u "$d/ek.pub" >/dev/null 2>&1 &&
  tpm2_readpublic -T "$OB_TCTI" -c "$d/ek.ctx" -f der -o "$d/ek.der" >/dev/null 2>&1 || bad "tpm2_createek"
ref=$(tail -c 64 "$d/ek.der" | sha256sum | cut -d" " -f1)
[ "$t1" = "$t2" ] && [ "$t1" = "$ref" ] && ok "hardware token stable and = SHA-256(EK x||y) ($t1)" ||
  bad "token $t1 / $t2, reference $ref"

# dictionary-attack lockout: another application guesses a password wrongly. Our key (noDA,
# empty auth) still signs and connects; a key without noDA (as made before, or by the genpkey of
# tpm2-openssl: foreign.key above) gets a clear lockout error
tpm2_dictionarylockout -T "$OB_TCTI" -s -n 1 -t 600 -l 600 >/dev/null 2>&1 || bad "DA setup"
tpm2_create -T "$OB_TCTI" -C 0x81000001 -p goodpass -u "$d/a.pub" -r "$d/a.priv" >/dev/null 2>&1 &&
  tpm2_load -T "$OB_TCTI" -C 0x81000001 -u "$d/a.pub" -r "$d/a.priv" -c "$d/a.ctx" >/dev/null 2>&1 ||
  bad "auth key setup"
echo x >"$d/msg"
tpm2_sign -T "$OB_TCTI" -c "$d/a.ctx" -p badpass -g sha256 -o "$d/sig" "$d/msg" >/dev/null 2>&1
tpm2_sign -T "$OB_TCTI" -c "$d/a.ctx" -p badpass -g sha256 -o "$d/sig" "$d/msg" >/dev/null 2>&1
tpm2_getcap -T "$OB_TCTI" properties-variable | grep -q "inLockout: *1" || bad "the TPM is not in lockout"
"$kt" csr "$d/device.key" "CN=x" >/dev/null 2>"$d/err" && ok "in lockout our noDA key still signs a CSR" ||
  bad "noDA key in lockout: $(cat "$d/err")"
connack=$(s_connack -provider tpm2 -provider default -connect "127.0.0.1:$OB_MQTT_PORT" \
    -servername "$OB_MQTT_HOST" -CAfile "$OB_ROOT_CA" -cert "$d/device.crt" -key "$d/device.key" \
    -verify_return_error 2>"$d/tls.err")
[ "$connack" = 20020000 ] && ok "in lockout TLS + MQTT CONNECT with our noDA key accepted" || bad "TLS in lockout: \"$connack\": $(tail -3 "$d/tls.err")"
expect "DA lockout reported as lockout for a key without noDA" "ENOLCK" "$kt" csr "$d/foreign.key" "CN=x"
tpm2_dictionarylockout -T "$OB_TCTI" -c >/dev/null 2>&1 || bad "DA reset"
"$kt" csr "$d/foreign.key" "CN=x" >/dev/null 2>&1 && ok "signing works again after the lockout is cleared" ||
  bad "still locked out"

# the SRK changes underneath (TPM cleared: new owner seed): the old key no longer loads
tpm2_clear -T "$OB_TCTI" -c p >/dev/null 2>&1 || bad "tpm2_clear"
[ "$("$kt" srk)" = created ] && ok "new SRK after a TPM clear" || bad "SRK after clear"
expect "key whose parent changed refused" "EBADMSG" "$kt" pubkey "$d/device.key"
[ "$("$kt" token)" = "$t1" ] && ok "hardware token survives a TPM clear" || bad "token changed by clear"

# owner hierarchy with an authorization value: wrong value refused, right value creates the SRK
tpm2_evictcontrol -T "$OB_TCTI" -C o -c 0x81000001 >/dev/null 2>&1 &&
  tpm2_changeauth -T "$OB_TCTI" -c o ownerpass >/dev/null 2>&1 || bad "owner auth setup"
expect "wrong owner authorization" "EACCES" "$kt" --owner-auth wrong srk
[ "$("$kt" --owner-auth ownerpass srk)" = created ] && ok "SRK created with the owner authorization" ||
  bad "SRK with owner auth"
tpm2_evictcontrol -T "$OB_TCTI" -C o -P ownerpass -c 0x81000001 >/dev/null 2>&1 || bad "evict SRK"
echo ownerpass >"$d/owner.auth"; chmod 644 "$d/owner.auth"
expect "owner auth file readable by others refused" "readable by group or others" "$kt" --owner-auth-file "$d/owner.auth" srk
chmod 600 "$d/owner.auth"
[ "$("$kt" --owner-auth-file "$d/owner.auth" srk)" = created ] && ok "owner authorization read from a 0600 file" ||
  bad "owner auth file"
# TPM out of object memory: swtpm without a resource manager holds three objects. Other clients
# talking to it directly (TCTI swtpm:, bypassing tpm2-abrmd) leave objects loaded until it is
# full; our load then fails with -ENOMEM and a message naming the cure. The objects are flushed
# afterwards so the TPM behind tpm2-abrmd works again.
direct="swtpm:host=127.0.0.1,port=$OB_SWTPM_PORT"
"$kt" create "$d/oom.key" >/dev/null || bad "oom key"
tpm2_create -T "$OB_TCTI" -C 0x81000001 -G ecc256 -u "$d/f.pub" -r "$d/f.priv" >/dev/null 2>&1 || bad "filler key"
i=0
while [ $i -lt 6 ] && tpm2_load -T "$direct" -C 0x81000001 -u "$d/f.pub" -r "$d/f.priv" -c "$d/f$i.ctx" >/dev/null 2>&1; do
  i=$((i + 1))
done
echo "# swtpm took $i leftover objects before it was full"
expect "TPM out of object memory reported as ENOMEM" "ENOMEM.*TPM out of object memory: is a resource manager (tpmrm0/tpm2-abrmd) in front of the TPM?" \
  "$kt" --tcti "$direct" pubkey "$d/oom.key"
tpm2_flushcontext -T "$direct" -t >/dev/null 2>&1
[ -z "$(tpm2_getcap -T "$direct" handles-transient 2>/dev/null)" ] &&
  "$kt" pubkey "$d/oom.key" >/dev/null 2>&1 && ok "leftover objects flushed: the TPM works again" ||
  bad "TPM still full after the flush"
exit $fail
'
