#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A CA registered at run time is trusted by the broker's TLS at once, with no edit or restart
# of the world (docs/emulator.md, "CA trust"): a CA made here is unknown to the broker (its
# devices fail the handshake), `register-ca` puts it into the plugin's capath and the next
# handshake succeeds; JITP and JITR then work with it. INACTIVE: no new certificate of that CA
# is registered, the registered ones keep connecting (AWS's deactivate-ca-cert.html); delete-ca
# refused while ACTIVE, then the CA leaves the capath and its devices are refused.
# Runs inside tests/world/world.sh, every connection through the SNI front.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/emu-test-lib.sh"
[ -n "${OB_WORLD_DIR:-}" ] || OB_EMULATOR_SNI=1 exec "$top_srcdir/tests/world/world.sh" run -- "$0" "$@"
[ "${OB_EMULATOR:-0}" = 1 ] || skip "world has no emulator"
[ -n "${OB_EMULATOR_TRUST_DIR:-}" ] || skip "world has no emulator trust directory"

t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
# mkca NAME SUBJECT: a device maker's CA the world does not know
mkca() {
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$t/$1.key" \
                -subj "$2" -days 30 -out "$t/$1.crt" -addext basicConstraints=critical,CA:TRUE \
                -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# dev NAME CA: a device key and certificate (CN=NAME) signed by CA
dev() {
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
                -keyout "$t/$1.key" -out "$t/$1.csr" 2>/dev/null
        openssl x509 -req -in "$t/$1.csr" -CA "$t/$2.crt" -CAkey "$t/$2.key" -CAcreateserial \
                -days 2 -out "$t/$1.crt" 2>/dev/null
}
conn() { sleep 1.1; cli --id "$1" --cert "$t/$1.crt" --key "$t/$1.key" connect 2>/dev/null | jq -r .result; }
hashfile() { echo "$OB_EMULATOR_TRUST_DIR/$(openssl x509 -in "$t/$1.crt" -noout -hash).0"; }

mkca jitp-ca "/O=Example Devices Ltd/CN=Example JITP CA"
mkca jitr-ca "/O=Example Devices Ltd/CN=Example JITR CA"
dev jitp-dev-1 jitp-ca
dev jitr-dev-1 jitr-ca

# --- an unregistered CA: TLS refuses its devices ---------------------------------------------
check "CA not registered: the device's TLS handshake fails" [ "$(conn jitp-dev-1)" != connected ]
check "... and the emulator saw no CONNECT (refused by TLS, not by the plugin)" \
        sh -c "! grep -q jitp-dev-1 '$OB_EMULATOR_STATE_DIR/events.jsonl'"
check "the world's CAs are in the capath" [ -e "$OB_EMULATOR_TRUST_DIR/$(openssl x509 -in "$OB_DEVICE_CA_CERT" -noout -hash).0" ]

# --- JITP with a CA registered now -----------------------------------------------------------
pca=$(certid "$t/jitp-ca.crt")
check "register-ca (auto-registration, JitpTemplate)" sh -c "sh '$here/ob-emu-admin' register-ca '$t/jitp-ca.crt' DEFAULT true JitpTemplate >/dev/null"
check "... written to the capath as <subject hash>.0" cmp -s "$(hashfile jitp-ca)" "$t/jitp-ca.crt"
check "register-ca again: ResourceAlreadyExistsException" sh -c \
        "sh '$here/ob-emu-admin' register-ca '$t/jitp-ca.crt' | jq -e '.errorCode == \"ResourceAlreadyExistsException\"' >/dev/null"
check "JITP: first connect refused (after a successful handshake: the plugin registered it)" \
        [ "$(conn jitp-dev-1)" != connected ]
check "JITP: the template ran, thing jitp-dev-1" [ "$(admin list-things | jq -r 'has("jitp-dev-1")')" = true ]
check "JITP: next connect accepted" [ "$(conn jitp-dev-1)" = connected ]

# --- JITR with a second CA, activated by a function ------------------------------------------
printf '%s\n' 'cat >/dev/null' 'echo "{\"status\":\"ACTIVE\",\"policies\":[\"AllowAll\"]}"' >"$t/jitr-fn.sh"
rca=$(jq -r .caCertificateId "$(admin register-ca "$t/jitr-ca.crt" DEFAULT true >"$t/reg.json"; echo "$t/reg.json")")
check "register-ca of a second CA (JITR: no template)" [ "$rca" = "$(certid "$t/jitr-ca.crt")" ]
admin update-ca "$rca" "jitrFunction=\"sh $t/jitr-fn.sh\"" >/dev/null
check "JITR: first connect refused" [ "$(conn jitr-dev-1)" != connected ]
check "JITR: registered PENDING_ACTIVATION, then activated by the function; connect accepted" \
        [ "$(conn jitr-dev-1)" = connected ]

# --- INACTIVE: no new registrations; the registered devices keep connecting -------------------
admin update-ca "$pca" 'status="INACTIVE"' >/dev/null
dev jitp-dev-2 jitp-ca
check "CA INACTIVE: a new device is refused" [ "$(conn jitp-dev-2)" != connected ]
check "... and not registered" [ "$(admin show-cert "$(certid "$t/jitp-dev-2.crt")")" = null ]
check "CA INACTIVE: an already registered device still connects (AWS: until revoked)" [ "$(conn jitp-dev-1)" = connected ]
check "CA INACTIVE: still in the capath (AWS ends the handshake and refuses at CONNECT)" [ -e "$(hashfile jitp-ca)" ]
admin update-ca "$pca" 'status="ACTIVE"' >/dev/null
check "CA ACTIVE again: the new device is registered by JITP (refused once)" [ "$(conn jitp-dev-2)" != connected ]
check "... then accepted" [ "$(conn jitp-dev-2)" = connected ]

# --- delete-ca -----------------------------------------------------------------------------------
check "delete-ca of an ACTIVE CA: CertificateStateException" sh -c \
        "sh '$here/ob-emu-admin' delete-ca '$pca' | jq -e '.ok == false and .errorCode == \"CertificateStateException\"' >/dev/null"
admin update-ca "$pca" 'status="INACTIVE"' >/dev/null
check "delete-ca of the INACTIVE CA" sh -c "sh '$here/ob-emu-admin' delete-ca '$pca' >/dev/null"
check "... gone from the registry and from the capath" sh -c \
        "[ \"\$(sh '$here/ob-emu-admin' list-cas | jq --arg id '$pca' 'map(select(.caCertificateId == \$id)) | length')\" = 0 ] && [ ! -e '$(hashfile jitp-ca)' ]"
check "CA deleted: its registered devices are refused" [ "$(conn jitp-dev-1)" != connected ]
check "the other CA's device still connects" [ "$(conn jitr-dev-1)" = connected ]

emu_done
