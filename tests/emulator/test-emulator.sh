#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Integration test of the AWS IoT Core emulator, driven by an independent client
# (python3-paho-mqtt, emu-client.py). Runs inside tests/world/world.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-$top_srcdir/build}
export top_srcdir top_builddir
skip() { echo "SKIP: $*"; if [ "${OB_REQUIRE_WORLD:-0}" = 1 ]; then exit 1; fi; exit 77; }

[ -f "$top_builddir/tests/emulator/.libs/ob_emulator.so" ] || skip "emulator plugin not built"
/usr/bin/python3 -c 'import paho.mqtt' 2>/dev/null || skip "python3-paho-mqtt missing"
command -v jq >/dev/null || skip "jq missing"

if [ -z "${OB_WORLD_DIR:-}" ]; then
        # with the SNI front (world-hook.sh): every check goes through it, as to AWS
        OB_EMULATOR_SNI=${OB_EMULATOR_SNI:-1} exec "$top_srcdir/tests/world/world.sh" run -- "$0" "$@"
fi
[ "${OB_EMULATOR:-0}" = 1 ] || skip "world has no emulator"

t=$(mktemp -d)
cli() { /usr/bin/python3 "$here/emu-client.py" "$@"; }
admin() { sh "$here/ob-emu-admin" "$@"; }
adm() { cli --cert "$OB_EMULATOR_ADMIN_CERT" --key "$OB_EMULATOR_ADMIN_KEY" "$@"; }
fails=0
exec 3>&1
check() { # description, then a shell condition
        d=$1; shift
        if "$@"; then echo "ok   - $d" >&3; else echo "FAIL - $d" >&3; fails=$((fails + 1)); fi
}
certid() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }
CSR_T='$aws/certificates/create-from-csr/json'
KEYS_T='$aws/certificates/create/json'
REG_T='$aws/provisioning-templates/OnboardTemplate/provision/json'

# --- 1. CreateCertificateFromCsr + RegisterThing ------------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=dev1 \
        -keyout "$t/dev1.key" -out "$t/dev1.csr" 2>/dev/null
req=$(jq -nc --rawfile c "$t/dev1.csr" '{certificateSigningRequest:$c}')
cli --id dev1 rr "$CSR_T" "$req" >"$t/csr.out"
check "CreateCertificateFromCsr accepted" [ "$(jq -rs '.[0].result' "$t/csr.out")" = accepted ]
id=$(jq -r .payload.certificateId "$t/csr.out")
tok=$(jq -r .payload.certificateOwnershipToken "$t/csr.out")
jq -r .payload.certificatePem "$t/csr.out" >"$t/dev1.crt"
check "certificateId is the 64-hex SHA-256 of the DER cert" [ "$id" = "$(certid "$t/dev1.crt")" ]
check "new cert is PENDING_ACTIVATION" [ "$(admin show-cert "$id" | jq -r .status)" = PENDING_ACTIVATION ]
check "issued cert chains to the issuer CA" openssl verify -CAfile "$OB_ISSUER_CA_CERT" "$t/dev1.crt" >/dev/null
sleep 1.1
cli --id dev1 rr "$REG_T" "$(jq -nc --arg t "$tok" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"0001"}}')" >"$t/reg.out"
check "RegisterThing accepted with thingName" [ "$(jq -r .payload.thingName "$t/reg.out")" = ob-0001 ]
check "deviceConfiguration returned" [ "$(jq -r .payload.deviceConfiguration.serial "$t/reg.out")" = 0001 ]
check "cert ACTIVE after RegisterThing" [ "$(admin show-cert "$id" | jq -r .status)" = ACTIVE ]
check "device connects with its new cert" [ "$(cli --id ob-0001 --cert "$t/dev1.crt" --key "$t/dev1.key" connect | jq -r .result)" = connected ]

# --- 1b. the same in CBOR ---------------------------------------------------------------------
cli --id cbor1 rr '$aws/certificates/create-from-csr/cbor' "$req" >"$t/cbor.out"
check "CBOR CreateCertificateFromCsr accepted (CBOR map answer)" \
        jq -e '.result == "accepted" and (.payload.cbor.certificateId | length) == 64 and (.payload.cbor.certificateOwnershipToken | length) > 0' "$t/cbor.out" >/dev/null
ctok=$(jq -r .payload.cbor.certificateOwnershipToken "$t/cbor.out")
sleep 1.1
cli --id cbor1 rr '$aws/provisioning-templates/OnboardTemplate/provision/cbor' \
        "$(jq -nc --arg t "$ctok" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"c1"}}')" >"$t/cbor2.out"
check "CBOR RegisterThing accepted" jq -e '.payload.cbor.thingName == "ob-c1"' "$t/cbor2.out" >/dev/null
cli --id cbor2 rr '$aws/certificates/create-from-csr/cbor' '"just a string"' >"$t/cbor3.out"
check "CBOR rejected: statusCode is a CBOR unsigned int 400" jq -e '.payload.cbor.statusCode == 400' "$t/cbor3.out" >/dev/null

# --- 2. rejections ---------------------------------------------------------------------------
cli --id dev2 rr "$CSR_T" 'not json' >"$t/bad.out"
check "bad payload: rejected {statusCode:400 (number), errorCode, errorMessage}" \
        jq -e '.result == "rejected" and (.payload.statusCode == 400) and (.payload.errorCode|type) == "string" and (.payload.errorMessage|type) == "string"' "$t/bad.out" >/dev/null
cli --id dev3 rr "$CSR_T" '{"certificateSigningRequest":"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}' >"$t/badcsr.out"
check "bad CSR: 400" jq -e '.payload.statusCode == 400' "$t/badcsr.out" >/dev/null
cli --id dev4 rr "$REG_T" '{"certificateOwnershipToken":"nope","parameters":{"SerialNumber":"9"}}' >"$t/tok.out"
check "bad token: 400 InvalidCertificateOwnershipToken" \
        jq -e '.payload.statusCode == 400 and .payload.errorCode == "InvalidCertificateOwnershipToken"' "$t/tok.out" >/dev/null
adm --id adm1 rr '$aws/provisioning-templates/NoSuchTemplate/provision/json' "{\"certificateOwnershipToken\":\"$tok\"}" >"$t/404.out"
check "missing template: 404" jq -e '.payload.statusCode == 404' "$t/404.out" >/dev/null

# --- 3. two devices sharing the claim cert do not see each other's replies -------------------
cli --id shareA rr "$CSR_T" "$req" >"$t/a.out" &
pa=$!
cli --id shareB rr "$CSR_T" "$req" >"$t/b.out" &
pb=$!
wait $pa $pb
check "device A got exactly one reply" [ "$(wc -l <"$t/a.out")" -eq 1 ]
check "device B got exactly one reply" [ "$(wc -l <"$t/b.out")" -eq 1 ]
check "A and B got different certificates" [ "$(jq -r .payload.certificateId "$t/a.out")" != "$(jq -r .payload.certificateId "$t/b.out")" ]

# --- 4. a claim policy with only create/* does not allow create-from-csr ---------------------
cat >"$t/createonly.json" <<'P'
{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"*"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*"]},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":["arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*"]}]}
P
admin put-policy CreateOnly "$t/createonly.json" >/dev/null
admin create-claim CreateOnly >"$t/claim.json"
check "create-claim mints a temporary claim" jq -e '.ok and (.expiration > 0)' "$t/claim.json" >/dev/null
jq -r .certificatePem "$t/claim.json" >"$t/tclaim.crt"
jq -r .privateKey "$t/claim.json" >"$t/tclaim.key"
# the temporary claim is issued by the issuer CA, which the broker trusts
cli --id tclaim1 --cert "$t/tclaim.crt" --key "$t/tclaim.key" rr "$KEYS_T" '{}' >"$t/keys.out"
check "create/* allows CreateKeysAndCertificate (with privateKey)" \
        jq -e '.result == "accepted" and (.payload.privateKey | startswith("-----BEGIN"))' "$t/keys.out" >/dev/null
sleep 1.1
cli --id tclaim1 --cert "$t/tclaim.crt" --key "$t/tclaim.key" rr "$CSR_T" "$req" >"$t/deny.out"
check "create/* does NOT allow create-from-csr: connection closed, no reply" \
        [ "$(jq -r .result "$t/deny.out")" = closed ]

# --- 5. REVOKED never comes back --------------------------------------------------------------
aid=$(jq -r .payload.certificateId "$t/a.out")
admin revoke "$id" >/dev/null
sleep 1.1
check "REVOKED cert refused" [ "$(cli --id ob-0001 --cert "$t/dev1.crt" --key "$t/dev1.key" connect | jq -r .result)" != connected ]
check "refusal=close: no CONNACK, plain close" [ "$(cli --id ob-0001 --cert "$t/dev1.crt" --key "$t/dev1.key" connect | jq -r .result)" = closed ]
admin set refusal '"connack"' >/dev/null
sleep 1.1
check "refusal=connack: CONNACK not authorised (5)" [ "$(cli --id ob-0001 --cert "$t/dev1.crt" --key "$t/dev1.key" connect | jq -c '[.result, .rc]')" = '["refused",5]' ]
admin set refusal '"close"' >/dev/null
check "client id longer than 128 bytes refused" [ "$(cli --id "$(printf 'x%.0s' $(seq 1 129))" connect | jq -r .result)" != connected ]
check "connect rate per client id: second CONNECT within 1 s refused" \
        [ "$(cli --id rate1 connect | jq -r .result) $(cli --id rate1 connect | jq -r .result)" = "connected closed" ]
adm --id dup1 listen 'nothing/here' 3 >"$t/dup.out" 2>/dev/null &
pd=$!
sleep 1.5
adm --id dup1 connect >/dev/null
wait $pd
check "duplicate client id: the older connection is kicked" [ "$(tail -n1 "$t/dup.out" | jq -r .result)" = closed ]
admin activate "$id" >/dev/null || true
check "REVOKED cannot be re-activated" [ "$(admin show-cert "$id" | jq -r .status)" = REVOKED ]

# --- 6. JITP: refuse the first connect, accept the next ---------------------------------------
dca=$(certid "$OB_DEVICE_CA_CERT")
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=jitp-dev-1 \
        -keyout "$t/jitp.key" -out "$t/jitp.csr" 2>/dev/null
openssl x509 -req -in "$t/jitp.csr" -CA "$OB_DEVICE_CA_CERT" -CAkey "$OB_DEVICE_CA_KEY" -CAcreateserial \
        -CAserial "$t/dca.srl" -days 2 -out "$t/jitp.crt" 2>/dev/null
check "JITP off: unknown device cert refused" [ "$(cli --id jitp-dev-1 --cert "$t/jitp.crt" --key "$t/jitp.key" connect | jq -r .result)" != connected ]
check "JITP off: nothing registered" [ "$(admin show-cert "$(certid "$t/jitp.crt")")" = null ]
admin update-ca "$dca" autoRegistration=true >/dev/null
sleep 1.1
check "JITP: first connect refused" [ "$(cli --id jitp-dev-1 --cert "$t/jitp.crt" --key "$t/jitp.key" connect | jq -r .result)" != connected ]
check "JITP: thing created from the CommonName" [ "$(admin list-things | jq -r 'has("jitp-dev-1")')" = true ]
sleep 1.1
check "JITP: next connect accepted" [ "$(cli --id jitp-dev-1 --cert "$t/jitp.crt" --key "$t/jitp.key" connect | jq -r .result)" = connected ]

# --- 7. JITR: event published, activation by the admin tool ----------------------------------
admin update-ca "$dca" template=null >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=jitr-dev-1 \
        -keyout "$t/jitr.key" -out "$t/jitr.csr" 2>/dev/null
openssl x509 -req -in "$t/jitr.csr" -CA "$OB_DEVICE_CA_CERT" -CAkey "$OB_DEVICE_CA_KEY" \
        -CAserial "$t/dca.srl" -days 2 -out "$t/jitr.crt" 2>/dev/null
jid=$(certid "$t/jitr.crt")
adm --id watcher listen "\$aws/events/certificates/registered/$dca" 3 >"$t/jitr-events.out" 2>"$t/listen.err" &
pw=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q ready "$t/listen.err" 2>/dev/null && break; sleep 0.2; done
check "JITR: first connect refused" [ "$(cli --id jitr-dev-1 --cert "$t/jitr.crt" --key "$t/jitr.key" connect | jq -r .result)" != connected ]
wait $pw
check "JITR: registered event with the documented fields" jq -se --arg id "$jid" --arg ca "$dca" \
        '.[0].payload | .certificateId == $id and .caCertificateId == $ca and .certificateStatus == "PENDING_ACTIVATION" and (.timestamp|type) == "number" and (.awsAccountId|length) == 12 and (.certificateRegistrationTimestamp|type) == "string"' "$t/jitr-events.out" >/dev/null
admin attach-policy "$jid" AllowAll >/dev/null
admin activate "$jid" >/dev/null
sleep 1.1
check "JITR: connect after activation" [ "$(cli --id jitr-dev-1 --cert "$t/jitr.crt" --key "$t/jitr.key" connect | jq -r .result)" = connected ]

# --- 8. pre-provisioning hook denial -----------------------------------------------------------
jq '.templates.OnboardTemplate.body' "$OB_EMULATOR_STATE_DIR/registry.json" >"$t/tpl.json"
admin put-template HookDeny "$t/tpl.json" 'cat >/dev/null; echo "{\"allowProvisioning\":false}"' >/dev/null
bid=$(jq -r .payload.certificateOwnershipToken "$t/b.out")
adm --id adm2 rr '$aws/provisioning-templates/HookDeny/provision/json' "$(jq -nc --arg t "$bid" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"7"}}')" >"$t/hook.out"
check "hook denial: 403 ACCESS_DENIED" jq -e '.payload.statusCode == 403 and .payload.errorCode == "ACCESS_DENIED"' "$t/hook.out" >/dev/null
admin put-template HookAllow "$t/tpl.json" 'cat >/dev/null; echo "{\"allowProvisioning\":true,\"parameterOverrides\":{\"SerialNumber\":\"from-hook\"}}"' >/dev/null
adm --id adm3 rr '$aws/provisioning-templates/HookAllow/provision/json' "$(jq -nc --arg t "$bid" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"7"}}')" >"$t/hook2.out"
check "hook parameterOverrides applied" [ "$(jq -r .payload.thingName "$t/hook2.out")" = ob-from-hook ]

admin put-template HookSlow "$t/tpl.json" 'cat >/dev/null; sleep 30' >/dev/null
adm --id adm7 --timeout 9 rr '$aws/provisioning-templates/HookSlow/provision/json' "$(jq -nc --arg t "$bid" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"8"}}')" >"$t/slow.out" &
ps=$!
sleep 1
start=$(date +%s%N)
cli --id busy1 rr "$CSR_T" "$req" >"$t/busy.out"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "broker keeps serving while a hook runs ($ms ms incl. client start-up)" [ "$ms" -lt 2500 ] && [ "$(jq -r .result "$t/busy.out")" = accepted ]
wait $ps
check "hook timeout (5 s): 403 ACCESS_DENIED" jq -e '.payload.statusCode == 403' "$t/slow.out" >/dev/null

# --- 8b. bad templates fail with an error reply, never crash ----------------------------------
echo '{"Parameters":{"SerialNumber":{"Type":"String"}},"Resources":{"t":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Fn::Select":[9,{"Fn::Split":[",",{"Ref":"SerialNumber"}]}]}}}}}' >"$t/badtpl.json"
admin put-template BadTemplate "$t/badtpl.json" >/dev/null
adm --id adm5 rr '$aws/provisioning-templates/BadTemplate/provision/json' "$(jq -nc --arg t "$bid" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"a,b"}}')" >"$t/badtpl.out"
check "bad template (Fn::Select out of range): 400 with a message" \
        jq -e '.payload.statusCode == 400 and (.payload.errorMessage | test("range"))' "$t/badtpl.out" >/dev/null

# --- 8c. ownership tokens expire; unclaimed certificates are deleted ---------------------------
admin set ownershipTokenLifetime 1 >/dev/null
admin set issuedCertValidity 120 >/dev/null
adm --id adm6 rr "$CSR_T" "$req" >"$t/exp.out"
eid=$(jq -r .payload.certificateId "$t/exp.out")
jq -r .payload.certificatePem "$t/exp.out" >"$t/exp.crt"
expires_within() { ! openssl x509 -in "$1" -noout -checkend "$2" >/dev/null; }
check "issuedCertValidity: certificate expires within 2 minutes" expires_within "$t/exp.crt" 121
check "issuedCertValidity: ... and not within 1 minute" openssl x509 -in "$t/exp.crt" -noout -checkend 60 >/dev/null
sleep 2.5
check "expired token: unregistered certificate deleted" [ "$(admin show-cert "$eid")" = null ]
adm --id adm6 rr "$REG_T" "$(jq -nc --arg t "$(jq -r .payload.certificateOwnershipToken "$t/exp.out")" '{certificateOwnershipToken:$t,parameters:{SerialNumber:"x"}}')" >"$t/exp2.out"
check "expired token: 400" jq -e '.payload.statusCode == 400' "$t/exp2.out" >/dev/null
admin set ownershipTokenLifetime 3600 >/dev/null

# --- 8d. JITR activation by an external function -----------------------------------------------
cat >"$t/jitr-fn.sh" <<'FN'
cat >/dev/null
echo '{"status":"ACTIVE","policies":["AllowAll"]}'
FN
admin update-ca "$dca" "jitrFunction=\"sh $t/jitr-fn.sh\"" >/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=jitr-dev-2 \
        -keyout "$t/jitr2.key" -out "$t/jitr2.csr" 2>/dev/null
openssl x509 -req -in "$t/jitr2.csr" -CA "$OB_DEVICE_CA_CERT" -CAkey "$OB_DEVICE_CA_KEY" \
        -CAserial "$t/dca.srl" -days 2 -out "$t/jitr2.crt" 2>/dev/null
check "JITR function: first connect refused" [ "$(cli --id jitr-dev-2 --cert "$t/jitr2.crt" --key "$t/jitr2.key" connect | jq -r .result)" != connected ]
sleep 1.1
check "JITR function activated the certificate" [ "$(cli --id jitr-dev-2 --cert "$t/jitr2.crt" --key "$t/jitr2.key" connect | jq -r .result)" = connected ]

# --- 8e. replies only to subscribers -----------------------------------------------------------
cli --id nosub1 --subs '' --timeout 1.5 rr "$KEYS_T" '{}' >"$t/nosub.out"
check "request without subscribing: no reply at all" [ "$(jq -r .result "$t/nosub.out")" = timeout ]
cli --id nosub2 --subs "$CSR_T/accepted" --timeout 1.5 rr "$CSR_T" 'not json' >"$t/nosub2.out"
check "subscribed to /accepted only: a rejection is not delivered" [ "$(jq -r .result "$t/nosub2.out")" = timeout ]
cli --id wild1 --subs '$aws/certificates/create/json/+' rr "$KEYS_T" '{}' >"$t/wild.out"
check "subscribed through a wildcard filter: reply delivered" [ "$(jq -r .result "$t/wild.out")" = accepted ]

# --- 8f. limits: client id, payload size ---------------------------------------------------------
check "client id of exactly 128 bytes accepted" [ "$(cli --id "$(printf 'y%.0s' $(seq 1 128))" connect | jq -r .result)" = connected ]
check "client id starting with \$ refused" [ "$(cli --id '$reserved' connect | jq -r .result)" != connected ]
check "publish of 128 KiB accepted" [ "$(adm --id big1 pub things/big 131072 1 | jq -r .result)" = still-connected ]
check "publish over 128 KiB: connection closed" [ "$(adm --id big2 pub things/big 131073 2 | jq -r .result)" = closed ]

# --- 8g. MQTT 5: forbidden actions answer 0x87 and keep the connection ---------------------------
check "MQTT 5 forbidden subscribe: SUBACK 0x87, connection stays" \
        [ "$(cli --mqtt5 --id v5sub sub not/allowed | jq -c '[.result, .granted]')" = '["subscribed",[135]]' ]
check "MQTT 5 forbidden publish: PUBACK 0x87, connection stays" \
        [ "$(cli --mqtt5 --id v5pub pub not/allowed 10 1 | jq -c '[.result, .puback]')" = '["still-connected",135]' ]
check "MQTT 3.1.1 forbidden subscribe: connection closed at once, no SUBACK (AWS)" \
        [ "$(cli --id v3sub sub not/allowed | jq -c '[.result, .granted]')" = '["closed",null]' ]
check "MQTT 3.1.1 forbidden publish: connection closed, no PUBACK (AWS)" \
        [ "$(cli --id v3pub pub not/allowed 10 2 | jq -c '[.result, .puback]')" = '["closed",null]' ]

# --- 8h. lifecycle events and the keep-alive clamp ----------------------------------------------
adm --id watch-lc --keepalive 1 listen '$aws/events/presence/#' 8 >"$t/lc.out" 2>"$t/lc.err" &
pl=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q ready "$t/lc.err" 2>/dev/null && break; sleep 0.2; done
cli --id lc1 connect >/dev/null
cli --id lc-forbidden pub not/allowed 10 1 >/dev/null
adm --id lc-big pub things/big 131073 1 >/dev/null
admin set keepAliveMax 1 >/dev/null
adm --id lc-ka0 --keepalive 0 listen nothing/here 3 >"$t/ka0.out" 2>/dev/null
admin set keepAliveMax 1200 >/dev/null
wait $pl
ev() { jq -sc --arg c "$1" --arg e "$2" '[.[] | select(.topic == "$aws/events/presence/\($e)/\($c)") | .payload] | .[0]' "$t/lc.out"; }
claim_id=$(certid "$OB_CLAIM_CERT")
check "lifecycle: connected event with AWS's fields" sh -c "echo '$(ev lc1 connected)' | jq -e --arg p '$claim_id' '.clientId == \"lc1\" and .eventType == \"connected\" and (.timestamp|type) == \"number\" and (.sessionIdentifier|length) == 36 and .principalIdentifier == \$p and .ipAddress == \"127.0.0.1\" and (.versionNumber|type) == \"number\"' >/dev/null"
check "lifecycle: disconnected event of the same session" sh -c "echo '$(ev lc1 disconnected)' | jq -e --arg s '$(ev lc1 connected | jq -r .sessionIdentifier)' '.eventType == \"disconnected\" and .sessionIdentifier == \$s and (.clientInitiatedDisconnect|type) == \"boolean\" and (.disconnectReason|type) == \"string\"' >/dev/null"
check "lifecycle: forbidden publish -> FORBIDDEN_ACCESS" [ "$(ev lc-forbidden disconnected | jq -r .disconnectReason)" = FORBIDDEN_ACCESS ]
check "lifecycle: oversize publish -> CLIENT_ERROR" [ "$(ev lc-big disconnected | jq -r .disconnectReason)" = CLIENT_ERROR ]
check "keep-alive 0 is clamped to the maximum: idle connection closed" [ "$(tail -n1 "$t/ka0.out" | jq -r .result)" = closed ]
check "lifecycle: keep-alive clamp -> MQTT_KEEP_ALIVE_TIMEOUT" [ "$(ev lc-ka0 disconnected | jq -r .disconnectReason)" = MQTT_KEEP_ALIVE_TIMEOUT ]
check "MQTT 5 keep-alive 0: CONNACK Server Keep Alive 1200" \
        [ "$(cli --mqtt5 --keepalive 0 --id v5ka0 connect | jq -r .serverKeepAlive)" = 1200 ]
check "MQTT 5 keep-alive 1300: CONNACK Server Keep Alive 1200" \
        [ "$(cli --mqtt5 --keepalive 1300 --id v5ka1 connect | jq -r .serverKeepAlive)" = 1200 ]
check "lifecycle: the watcher (keep-alive 1 s, pinging) was not kicked" [ "$(tail -n1 "$t/lc.out" | jq -r .result)" = still-connected ]
check "lifecycle: duplicate client id -> DUPLICATE_CLIENTID" \
        jq -se 'map(select(.event == "disconnected" and .clientId == "dup1" and .disconnectReason == "DUPLICATE_CLIENTID")) | length == 1' "$OB_EMULATOR_STATE_DIR/events.jsonl" >/dev/null

# --- 8i. SNI (through tests/emulator/sni-front.py) -------------------------------------------------
if [ -n "${OB_EMULATOR_SNI:-}" ] && [ "$OB_EMULATOR_SNI" != 1 ]; then
        check "SNI: connect without SNI refused" [ "$(cli --sni '' --id sni0 connect | jq -r .result)" = closed ]
        check "SNI: connect with a wrong SNI refused" [ "$(cli --sni other.example --id sni1 connect | jq -r .result)" = closed ]
        check "SNI: connect with SNI = endpoint host accepted" [ "$(cli --sni "$OB_EMULATOR_SNI" --id sni2 connect | jq -r .result)" = connected ]
else
        echo "skip - SNI checks: this world has no SNI front (OB_EMULATOR_SNI=1 in world.sh's environment)"
fi

# --- 8j. named shadows: the Device Shadow service's MQTT API (docs/emulator.md, "Shadows") ------
cat >"$t/shadow-policy.json" <<'JSON'
{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource":
    "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*" },
  { "Effect": "Allow", "Action": "iot:Subscribe", "Resource":
    "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*" } ] }
JSON
admin put-policy ShadowPolicy "$t/shadow-policy.json" >/dev/null
admin attach-policy "$(certid "$t/jitp.crt")" ShadowPolicy >/dev/null
S='$aws/things/jitp-dev-1/shadow/name/onboard-agent'
# one CONNECT per second per client id (the emulator throttles like IoT Core)
jd() { sleep 1.1; cli --id jitp-dev-1 --cert "$t/jitp.crt" --key "$t/jitp.key" "$@"; }
jd rr "$S/get" - >"$t/sh0.out"
check "shadow get before any update: rejected 404 naming thing~shadow" \
        jq -e '.result == "rejected" and .payload.code == 404 and .payload.message == "No shadow exists with name: '"'"'jitp-dev-1~onboard-agent'"'"'"' "$t/sh0.out" >/dev/null
jd rr "$S/update" '{"state":{"reported":{"state":"onboarded","generation":1}},"clientToken":"c1"}' >"$t/sh1.out"
check "shadow update accepted: version 1, clientToken, metadata timestamps" \
        jq -e '.result == "accepted" and .payload.version == 1 and .payload.clientToken == "c1" and (.payload.metadata.reported.generation.timestamp | type) == "number"' "$t/sh1.out" >/dev/null
check "the emulator keeps the shadow (ob-emu-admin get-shadow)" \
        [ "$(admin get-shadow jitp-dev-1 onboard-agent | jq -r '.state.reported.state')" = onboarded ]
jd rr "$S/update" '{"state":{"reported":{"generation":2}},"version":7}' >"$t/sh2.out"
check "shadow update with a stale version: rejected 409" \
        jq -e '.result == "rejected" and .payload.code == 409' "$t/sh2.out" >/dev/null
jd --subs "$S/update/delta" rr "$S/update" '{"state":{"desired":{"generation":3}}}' >"$t/sh3.out"
check "desired that differs from reported publishes update/delta" \
        jq -se 'map(select(.result == "delta"))[0].payload.state == {"generation":3}' "$t/sh3.out" >/dev/null
jd rr "$S/get" - >"$t/sh4.out"
check "shadow get: reported, desired, delta, version 2" \
        jq -e '.payload.state.reported.state == "onboarded" and .payload.state.delta.generation == 3 and .payload.version == 2' "$t/sh4.out" >/dev/null
check "another thing's shadow is forbidden by the policy (connection closed)" \
        [ "$(jd --subs "" rr '$aws/things/ob-0001/shadow/name/onboard-agent/update' '{"state":{"reported":{"a":1}}}' | jq -rs '.[-1].result')" = closed ]
check "... by the policy, not by chance: the emulator logged the publish forbidden" \
        jq -se 'map(select(.event == "forbidden" and .action == "iot:Publish" and .resource == "topic/$aws/things/ob-0001/shadow/name/onboard-agent/update")) | length == 1' \
        "$OB_EMULATOR_STATE_DIR/events.jsonl" >/dev/null

# --- 8k. AWS IoT Jobs: the device MQTT API (docs/emulator.md, "Jobs device MQTT API") --------
# Two gateways with the world's DevicePolicy: jitp-dev-1 (section 6) and ob-c1 (section 1b).
jq -r .payload.cbor.certificatePem "$t/cbor.out" >"$t/c1.crt"
jdev() { # THING ARGS...: the thing's own client, one CONNECT per second
        dt=$1; shift; sleep 1.1
        case $dt in
        jitp-dev-1) cli --id "$dt" --cert "$t/jitp.crt" --key "$t/jitp.key" "$@" ;;
        *) cli --id "$dt" --cert "$t/c1.crt" --key "$t/dev1.key" "$@" ;;
        esac
}
jdev ob-c1 listen '$aws/things/ob-c1/jobs/notify-next' 3 >"$t/nn.out" 2>"$t/nn.err" &
pn=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do grep -q ready "$t/nn.err" 2>/dev/null && break; sleep 0.2; done
admin create-job rot-1 '{"operation":"rotate","force":true}' thing/jitp-dev-1 thing/ob-c1 >"$t/cj.out"
check "create-job: one QUEUED execution per target thing" \
        [ "$(jq -c .things "$t/cj.out") $(admin list-job-executions rot-1 | jq -c 'map(.status + "/" + (.versionNumber|tostring))')" = '["jitp-dev-1","ob-c1"] ["QUEUED/1","QUEUED/1"]' ]
wait $pn
check "notify-next: the device hears of its new job, with the document" \
        jq -se 'map(select(.topic == "$aws/things/ob-c1/jobs/notify-next"))[0].payload | .execution.jobId == "rot-1" and .execution.status == "QUEUED" and .execution.jobDocument.operation == "rotate" and (.timestamp|type) == "number"' "$t/nn.out" >/dev/null
for dt in jitp-dev-1 ob-c1; do
        JT="\$aws/things/$dt/jobs"
        jdev "$dt" rr "$JT/start-next" '{"stepTimeoutInMinutes":10,"clientToken":"sn-'"$dt"'"}' >"$t/sn-$dt.out"
        check "$dt: start-next accepted: rot-1 IN_PROGRESS, versionNumber 2, the job document" \
                jq -e --arg d "$dt" '.result == "accepted" and .payload.clientToken == "sn-" + $d and (.payload.execution | .jobId == "rot-1" and .thingName == $d and .status == "IN_PROGRESS" and .versionNumber == 2 and .executionNumber == 1 and .jobDocument.force == true and (.startedAt|type) == "number")' "$t/sn-$dt.out" >/dev/null
        jdev "$dt" rr "$JT/rot-1/update" '{"status":"SUCCEEDED","statusDetails":{"certificateId":"new-'"$dt"'"},"expectedVersion":2,"includeJobExecutionState":true,"clientToken":"up"}' >"$t/up-$dt.out"
        check "$dt: update SUCCEEDED with expectedVersion 2 accepted, executionState versionNumber 3" \
                jq -e '.result == "accepted" and .payload.executionState.status == "SUCCEEDED" and .payload.executionState.versionNumber == 3 and .payload.clientToken == "up"' "$t/up-$dt.out" >/dev/null
done
check "describe-job-execution: SUCCEEDED, the device's statusDetails, versionNumber 3" \
        [ "$(admin describe-job-execution rot-1 ob-c1 | jq -c '[.status, .statusDetails.certificateId, .versionNumber]')" = '["SUCCEEDED","new-ob-c1",3]' ]
check "list-jobs: rot-1 COMPLETED" [ "$(admin list-jobs | jq -r '.[] | select(.jobId == "rot-1") | .status')" = COMPLETED ]
admin create-job grp-1 '{}' thinggroup/nobody >"$t/grp.out"
check "create-job for a thing group no thing is in: refused (exit 1), saying why" \
        jq -e --argjson rc "$?" '$rc == 1 and .errorCode == "ResourceNotFoundException" and (.error | test("names no thing"))' "$t/grp.out" >/dev/null
admin create-job grp-2 '{oops' thing/ob-c1 >/dev/null 2>"$t/grp2.err"
check "create-job with a document that is not JSON: refused before the emulator (exit 2)" \
        [ "$? $(grep -c 'the document is not JSON' "$t/grp2.err")" = "2 1" ]
admin create-job rot-2 @/dev/stdin thing/jitp-dev-1 <<'JSON' >/dev/null
{"operation": "report"}
JSON
jdev jitp-dev-1 rr '$aws/things/jitp-dev-1/jobs/rot-2/update' '{"status":"IN_PROGRESS","expectedVersion":5}' >"$t/vm.out"
check "a stale expectedVersion: update/rejected VersionMismatch with the executionState" \
        jq -e '.result == "rejected" and .payload.code == "VersionMismatch" and .payload.executionState.versionNumber == 1 and (.payload.message|type) == "string"' "$t/vm.out" >/dev/null
jdev jitp-dev-1 rr '$aws/things/jitp-dev-1/jobs/rot-1/update' '{"status":"FAILED"}' >"$t/ist.out"
check "a finished execution: update/rejected InvalidStateTransition" \
        jq -e '.result == "rejected" and .payload.code == "InvalidStateTransition" and .payload.executionState.status == "SUCCEEDED"' "$t/ist.out" >/dev/null
check "the emulator logged a job event per operation" \
        jq -se 'map(select(.event == "job" and .jobId == "rot-1" and (.op == "start-next" or .op == "update"))) | length == 5' \
        "$OB_EMULATOR_STATE_DIR/events.jsonl" >/dev/null
check "another thing's job topics: publishing is forbidden by the policy (connection closed)" \
        [ "$(jdev jitp-dev-1 --subs "" rr '$aws/things/ob-c1/jobs/rot-2/update' '{"status":"SUCCEEDED"}' | jq -rs '.[-1].result')" = closed ]
check "... and so is subscribing to its notify-next" \
        [ "$(jdev jitp-dev-1 sub '$aws/things/ob-c1/jobs/notify-next' | jq -r .result)" = closed ]
check "... by the policy: the emulator logged both forbidden" \
        jq -se 'map(select(.event == "forbidden" and (.resource == "topic/$aws/things/ob-c1/jobs/rot-2/update" or .resource == "topicfilter/$aws/things/ob-c1/jobs/notify-next"))) | length == 2' \
        "$OB_EMULATOR_STATE_DIR/events.jsonl" >/dev/null

# --- 9. throttling answers 429 -----------------------------------------------------------------
admin set throttle.CreateKeysAndCertificate 0.1 >/dev/null
adm --id adm4 rr "$KEYS_T" - 2 >"$t/thr.out"
check "second request within the bucket: 429" jq -se 'map(.payload.statusCode) | index(429) != null' "$t/thr.out" >/dev/null

# --- 10. the registry survives a broker restart -----------------------------------------------
kill "$(cat "$OB_MOSQ_PID")"
for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$(cat "$OB_MOSQ_PID" 2>/dev/null)" 2>/dev/null || break; sleep 0.2; done
# Restart in the background (not -d) and record the new PID where the world's stop looks.
if ldd "$top_builddir/tests/emulator/.libs/ob_emulator.so" 2>/dev/null | grep -q libasan; then
        LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
                mosquitto -c "$OB_MOSQ_CONF" >>"${OB_MOSQ_LOG:-/dev/null}" 2>&1 &
else
        mosquitto -c "$OB_MOSQ_CONF" >>"${OB_MOSQ_LOG:-/dev/null}" 2>&1 &
fi
echo $! >"$OB_MOSQ_PID"
sleep 1
check "after restart: JITP device still connects" [ "$(cli --id jitp-dev-1 --cert "$t/jitp.crt" --key "$t/jitp.key" connect | jq -r .result)" = connected ]
check "after restart: things kept" [ "$(admin list-things | jq -r 'has("ob-0001") and has("jitp-dev-1")')" = true ]
check "after restart: REVOKED kept" [ "$(admin show-cert "$id" | jq -r .status)" = REVOKED ]
check "after restart: jobs and their executions kept" [ "$(admin describe-job-execution rot-1 ob-c1 | jq -r .status)" = SUCCEEDED ]

rm -rf "$t"
echo "$fails failure(s)"
[ "$fails" -eq 0 ]
