#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The certificates the emulator issues look like AWS IoT's by default (docs/emulator.md,
# "Issued certificates"), and each part can be changed per test: notAfter 2049-12-31T23:59:59Z
# (UTCTime), notBefore = the time of issue, the issuer DN AWS uses, the CSR's subject kept,
# CreateKeysAndCertificate with RSA 2048 and CN=AWS IoT Certificate, AKI/SKI/keyUsage and no
# extendedKeyUsage; issuedCertNotAfter 9999-12-31T23:59:59Z (GeneralizedTime),
# issuedCertValidity (short-lived, wins over issuedCertNotAfter), issuedCertSubject,
# createKeysKeyType; bad settings refused. Runs inside tests/world/world.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/emu-test-lib.sh"
[ -n "${OB_WORLD_DIR:-}" ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" "$@"
[ "${OB_EMULATOR:-0}" = 1 ] || skip "world has no emulator"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
CSR_T='$aws/certificates/create-from-csr/json'
KEYS_T='$aws/certificates/create/json'
epoch() { date -u -d "$1" +%s; }
# csr N: a CSR from a fresh P-256 key with a subject of the device's own
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/O=Example Devices Ltd/CN=sn-0001" -keyout "$t/dev.key" -out "$t/dev.csr" 2>/dev/null
req=$(jq -nc --rawfile c "$t/dev.csr" '{certificateSigningRequest:$c}')
# issue NAME: CreateCertificateFromCsr, the certificate into $t/NAME.crt
issue() {
        cli --id "c-$1" rr "$CSR_T" "$req" >"$t/$1.out"
        jq -r .payload.certificatePem "$t/$1.out" >"$t/$1.crt"
}
# keys NAME: CreateKeysAndCertificate, certificate and key into $t/NAME.{crt,key}
keys() {
        cli --id "k-$1" rr "$KEYS_T" '{}' >"$t/$1.out"
        jq -r .payload.certificatePem "$t/$1.out" >"$t/$1.crt"
        jq -r .payload.privateKey "$t/$1.out" >"$t/$1.key"
}
aws_issuer='OU=Amazon Web Services O=Amazon.com Inc. L=Seattle ST=Washington C=US'

# --- defaults: AWS's profile ------------------------------------------------------------------
t0=$(date -u +%s)
issue csr
t1=$(date -u +%s)
nb=$(epoch "$(openssl x509 -in "$t/csr.crt" -noout -startdate | cut -d= -f2)")
check "CreateCertificateFromCsr accepted" jq -e '.result == "accepted"' "$t/csr.out" >/dev/null
check "notAfter 2049-12-31T23:59:59Z" [ "$(openssl x509 -in "$t/csr.crt" -noout -enddate)" = "notAfter=Dec 31 23:59:59 2049 GMT" ]
check "notAfter as UTCTime (RFC 5280: up to 2049)" sh -c "openssl asn1parse -in '$t/csr.crt' | grep -q 'UTCTIME *:491231235959Z'"
check "notBefore = the time of issue ($nb in [$t0, $t1])" [ "$nb" -ge "$t0" ] && [ "$nb" -le "$t1" ]
check "issuer: $aws_issuer (one OU attribute, as AWS's)" \
        [ "$(openssl x509 -in "$t/csr.crt" -noout -issuer -nameopt RFC2253)" = "issuer=$aws_issuer" ]
check "CreateCertificateFromCsr keeps the CSR's subject" \
        [ "$(openssl x509 -in "$t/csr.crt" -noout -subject -nameopt RFC2253)" = "subject=CN=sn-0001,O=Example Devices Ltd" ]
check "extensions as AWS's: AKI, SKI, critical CA:FALSE, critical keyUsage digitalSignature, no EKU" \
        sh -c "text() { openssl x509 -in '$t/csr.crt' -noout -text; }
               text | grep -q 'Authority Key Identifier' && text | grep -q 'Subject Key Identifier' &&
               text | grep -A1 'Basic Constraints: critical' | grep -q CA:FALSE &&
               text | grep -A1 'Key Usage: critical' | grep -qx ' *Digital Signature' &&
               ! text | grep -q 'Extended Key Usage'"
check "20-byte serial, signed with sha256WithRSAEncryption" sh -c \
        "[ \$(openssl x509 -in '$t/csr.crt' -noout -serial | cut -d= -f2 | tr -d '\n' | wc -c) = 40 ] &&
         openssl x509 -in '$t/csr.crt' -noout -text | grep -q 'Signature Algorithm: sha256WithRSAEncryption'"
check "chains to the world's issuer CA" openssl verify -CAfile "$OB_ISSUER_CA_CERT" "$t/csr.crt" >/dev/null
keys k
check "CreateKeysAndCertificate: RSA 2048 key" sh -c "openssl pkey -in '$t/k.key' -noout -text | grep -q 'Private-Key: (2048 bit'"
check "... in PKCS#1 PEM, as AWS sends it" [ "$(head -n1 "$t/k.key")" = "-----BEGIN RSA PRIVATE KEY-----" ]
check "CreateKeysAndCertificate: subject CN=AWS IoT Certificate" \
        [ "$(openssl x509 -in "$t/k.crt" -noout -subject -nameopt RFC2253)" = "subject=CN=AWS IoT Certificate" ]
check "CreateKeysAndCertificate: the key is the certificate's" \
        [ "$(openssl x509 -in "$t/k.crt" -noout -pubkey | openssl sha256)" = "$(openssl pkey -in "$t/k.key" -pubout | openssl sha256)" ]
check "CreateKeysAndCertificate: notAfter 2049-12-31T23:59:59Z" [ "$(openssl x509 -in "$t/k.crt" -noout -enddate)" = "notAfter=Dec 31 23:59:59 2049 GMT" ]

# --- overrides ----------------------------------------------------------------------------------
admin set issuedCertNotAfter '"9999-12-31T23:59:59Z"' >/dev/null
issue far
check "issuedCertNotAfter 9999-12-31T23:59:59Z" [ "$(openssl x509 -in "$t/far.crt" -noout -enddate)" = "notAfter=Dec 31 23:59:59 9999 GMT" ]
check "... as GeneralizedTime (after 2049)" sh -c "openssl asn1parse -in '$t/far.crt' | grep -q 'GENERALIZEDTIME *:99991231235959Z'"
check "... and it still verifies" openssl verify -CAfile "$OB_ISSUER_CA_CERT" "$t/far.crt" >/dev/null
admin set issuedCertNotAfter '"2050-01-01T00:00:00Z"' >/dev/null
issue y2050
check "issuedCertNotAfter 2050-01-01: GeneralizedTime from 2050" sh -c "openssl asn1parse -in '$t/y2050.crt' | grep -q 'GENERALIZEDTIME *:20500101000000Z'"
admin set issuedCertValidity 300 >/dev/null
issue short
check "issuedCertValidity 300 wins: expires within 5 minutes" sh -c "! openssl x509 -in '$t/short.crt' -noout -checkend 301 >/dev/null"
check "... and not within 4" openssl x509 -in "$t/short.crt" -noout -checkend 240 >/dev/null
admin set issuedCertValidity null >/dev/null
admin set issuedCertNotAfter null >/dev/null
admin set issuedCertNotBeforeOffset 172800 >/dev/null
issue ahead
check "issuedCertNotBeforeOffset 172800: not valid for two days" sh -c "openssl x509 -in '$t/ahead.crt' -noout -checkend 0 >/dev/null && ! openssl verify -CAfile '$OB_ISSUER_CA_CERT' '$t/ahead.crt' >/dev/null 2>&1 && openssl verify -attime \$((\$(date +%s) + 172801)) -CAfile '$OB_ISSUER_CA_CERT' '$t/ahead.crt' >/dev/null"
admin set issuedCertNotBeforeOffset null >/dev/null
issue back
check "both null: back to 2049-12-31T23:59:59Z" [ "$(openssl x509 -in "$t/back.crt" -noout -enddate)" = "notAfter=Dec 31 23:59:59 2049 GMT" ]
admin set issuedCertSubject '"/CN=AWS IoT Certificate"' >/dev/null
issue subj
check "issuedCertSubject replaces the CSR's subject" \
        [ "$(openssl x509 -in "$t/subj.crt" -noout -subject -nameopt RFC2253)" = "subject=CN=AWS IoT Certificate" ]
admin set issuedCertSubject null >/dev/null
admin set createKeysKeyType '"EC"' >/dev/null
keys ec
check "createKeysKeyType EC: a P-256 key" sh -c "openssl pkey -in '$t/ec.key' -noout -text | grep -q 'NIST CURVE: P-256'"
admin set createKeysKeyType null >/dev/null
for bad in 'issuedCertNotAfter "2049-02-30T00:00:00Z"' 'issuedCertNotAfter "2049-12-31"' \
        'issuedCertNotAfter "10000-01-01T00:00:00Z"' 'issuedCertValidity "300"' 'issuedCertValidity -1' \
        'issuedCertNotBeforeOffset "1d"' 'issuedCertNotBeforeOffset 400000000' \
        'issuedCertSubject "CN=no-slash"' 'createKeysKeyType "DSA"'; do
        # shellcheck disable=SC2086
        check "refused: set $bad" sh -c "! sh '$here/ob-emu-admin' set $(printf '%s' "$bad" | sed 's/ / '"'"'/; s/$/'"'"'/') >/dev/null 2>&1"
done
issue after
check "after the refusals: still AWS's notAfter" [ "$(openssl x509 -in "$t/after.crt" -noout -enddate)" = "notAfter=Dec 31 23:59:59 2049 GMT" ]

emu_done
