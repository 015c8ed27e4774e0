#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Emulator hook for tests/world/world.sh (contracts.md §1): writes a default registry and prints
# the mosquitto.conf lines that load the plugin, plus `#ENV` lines for world.env.
# Needs: OB_WORLD_DIR, OB_EMULATOR_PLUGIN, OB_CLAIM_CA_CERT, OB_CLAIM_CA_KEY, OB_CLAIM_CERT,
# OB_DEVICE_CA_CERT, OB_ISSUER_CA_CERT, OB_ISSUER_CA_KEY, OB_MQTT_HOST, OB_MQTT_PORT.
# `#LISTENER` lines are options for the TLS listener (world.sh puts them after `listener`).
# Optional: OB_EMULATOR_SNI=1 puts sni-front.py in front of the broker, which refuses TLS
# connections without SNI = OB_MQTT_HOST (as AWS does); OB_MQTT_PORT then names the front and
# OB_MQTT_BROKER_PORT the broker itself. The front's PID goes into OB_WORLD_DIR/pids, so
# `world.sh stop` ends it.
set -eu

dir="$OB_WORLD_DIR/emulator"
state="$dir/state"
trust="$dir/trust"
mkdir -p "$state" "$trust"

certid() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'; }
jstr() { jq -Rs . <"$1"; }

# An observer/admin certificate (signed by the claim CA, which the broker trusts) allowed to do
# everything: tests use it to watch $aws/events/... topics.
if [ ! -f "$dir/admin.crt" ]; then
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=ob-emulator-admin" \
                -keyout "$dir/admin.key" -out "$dir/admin.csr" 2>/dev/null
        openssl x509 -req -in "$dir/admin.csr" -CA "$OB_CLAIM_CA_CERT" -CAkey "$OB_CLAIM_CA_KEY" \
                -CAcreateserial -days 30 -out "$dir/admin.crt" 2>/dev/null
fi

claim_id=$(certid "$OB_CLAIM_CERT")
admin_id=$(certid "$dir/admin.crt")
device_ca_id=$(certid "$OB_DEVICE_CA_CERT")
claim_ca_id=$(certid "$OB_CLAIM_CA_CERT")

jq -n \
        --arg claim_id "$claim_id" --arg admin_id "$admin_id" \
        --arg device_ca_id "$device_ca_id" --arg claim_ca_id "$claim_ca_id" \
        --argjson claim_pem "$(jstr "$OB_CLAIM_CERT")" --argjson admin_pem "$(jstr "$dir/admin.crt")" \
        --argjson device_ca_pem "$(jstr "$OB_DEVICE_CA_CERT")" --argjson claim_ca_pem "$(jstr "$OB_CLAIM_CA_CERT")" '
{
  account: "123456789012",
  region: "us-east-1",
  settings: {
    ownershipTokenLifetime: 3600,
    issuedCertNotAfter: "2049-12-31T23:59:59Z",
    createKeysKeyType: "RSA",
    refusal: "close",
    claimPolicy: "ClaimPolicy",
    throttle: { connectPerClientId: 1, connectPerAccount: 500,
                CreateCertificateFromCsr: 10, CreateKeysAndCertificate: 10, RegisterThing: 10 }
  },
  cas: {
    ($claim_ca_id): { pem: $claim_ca_pem, status: "ACTIVE", mode: "DEFAULT", autoRegistration: false },
    ($device_ca_id): { pem: $device_ca_pem, status: "ACTIVE", mode: "DEFAULT", autoRegistration: false,
                       template: "JitpTemplate" }
  },
  certificates: {
    ($claim_id): { pem: $claim_pem, status: "ACTIVE", caCertificateId: $claim_ca_id,
                   policies: ["ClaimPolicy"], things: [] },
    ($admin_id): { pem: $admin_pem, status: "ACTIVE", caCertificateId: $claim_ca_id,
                   policies: ["AllowAll"], things: [] }
  },
  things: {},
  policies: {
    AllowAll: { Version: "2012-10-17", Statement: [ { Effect: "Allow", Action: "iot:*", Resource: "*" } ] },
    ClaimPolicy: { Version: "2012-10-17", Statement: [
      { Effect: "Allow", Action: "iot:Connect", Resource: "*" },
      { Effect: "Allow", Action: ["iot:Publish", "iot:Receive"], Resource: [
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*",
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create-from-csr/*",
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/OnboardTemplate/provision/*" ] },
      { Effect: "Allow", Action: "iot:Subscribe", Resource: [
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*",
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create-from-csr/*",
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/OnboardTemplate/provision/*" ] } ] },
    DevicePolicy: { Version: "2012-10-17", Statement: [
      { Effect: "Allow", Action: "iot:Connect", Resource: [
          "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}",
          "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}-agentctl-check" ] },
      { Effect: "Allow", Action: ["iot:Publish", "iot:Receive"], Resource: [
          "arn:aws:iot:us-east-1:123456789012:topic/things/${iot:Connection.Thing.ThingName}/*",
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*",
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create-from-csr/*",
          "arn:aws:iot:us-east-1:123456789012:topic/$aws/provisioning-templates/OnboardTemplate/provision/*" ] },
      { Effect: "Allow", Action: "iot:Subscribe", Resource: [
          "arn:aws:iot:us-east-1:123456789012:topicfilter/things/${iot:Connection.Thing.ThingName}/*",
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/jobs/*",
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/things/${iot:Connection.Thing.ThingName}/shadow/name/onboard-agent/*",
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create-from-csr/*",
          "arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/provisioning-templates/OnboardTemplate/provision/*" ] } ] }
  },
  templates: {
    OnboardTemplate: { enabled: true, body: {
      Parameters: { SerialNumber: { Type: "String" }, "AWS::IoT::Certificate::Id": { Type: "String" } },
      Resources: {
        thing: { Type: "AWS::IoT::Thing", Properties: {
            ThingName: { "Fn::Join": ["", ["ob-", { Ref: "SerialNumber" }]] },
            AttributePayload: { serial: { Ref: "SerialNumber" } } },
          OverrideSettings: { AttributePayload: "MERGE" } },
        certificate: { Type: "AWS::IoT::Certificate",
          Properties: { CertificateId: { Ref: "AWS::IoT::Certificate::Id" }, Status: "ACTIVE" } },
        policy: { Type: "AWS::IoT::Policy", Properties: { PolicyName: "DevicePolicy" } } },
      DeviceConfiguration: { serial: { Ref: "SerialNumber" } } } },
    JitpTemplate: { enabled: true, type: "JITP", body: {
      Parameters: { "AWS::IoT::Certificate::CommonName": { Type: "String" },
                    "AWS::IoT::Certificate::Id": { Type: "String" } },
      Resources: {
        thing: { Type: "AWS::IoT::Thing", Properties: { ThingName: { Ref: "AWS::IoT::Certificate::CommonName" } } },
        certificate: { Type: "AWS::IoT::Certificate",
          Properties: { CertificateId: { Ref: "AWS::IoT::Certificate::Id" }, Status: "ACTIVE" } },
        policy: { Type: "AWS::IoT::Policy", Properties: { PolicyName: "DevicePolicy" } } } } }
  },
  tokens: {}
}' >"$dir/registry.json"

# mosquitto started as root drops to the "mosquitto" user unless the config says `user root`:
# let either of them write the state dir (the plugin persists there, the admin tool drops
# commands into it).
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
        chown -R mosquitto "$dir"
fi

if [ "${OB_EMULATOR_SNI:-0}" = 1 ]; then
        rm -f "$dir/sni-front.port"
        /usr/bin/python3 "$(dirname "$0")/sni-front.py" --upstream "127.0.0.1:$OB_MQTT_PORT" \
                --server-name "$OB_MQTT_HOST" --port-file "$dir/sni-front.port" \
                </dev/null >>"$dir/sni-front.log" 2>&1 &
        echo $! >>"$OB_WORLD_DIR/pids"
        i=0
        until [ -s "$dir/sni-front.port" ]; do
                i=$((i + 1))
                if [ $i -gt 500 ] || ! kill -0 $! 2>/dev/null; then
                        echo "world-hook: sni-front did not start; see $dir/sni-front.log" >&2
                        exit 1
                fi
                sleep 0.01
        done
        echo "#ENV OB_MQTT_BROKER_PORT=$OB_MQTT_PORT"
        echo "#ENV OB_MQTT_PORT=$(cat "$dir/sni-front.port")"
        echo "#ENV OB_EMULATOR_SNI=$OB_MQTT_HOST"
fi

# AWS IoT's control plane for the AWS CLI (api-server.py, docs/emulator-cli.md), on by default:
# OB_EMULATOR_API=0 leaves it out. Lambda functions of pre-provisioning hooks are the executables
# in emulator/lambda (function NAME runs lambda/NAME).
if [ "${OB_EMULATOR_API:-1}" = 1 ]; then
        mkdir -p "$dir/lambda"
        rm -f "$dir/api.port"
        /usr/bin/python3 "$(dirname "$0")/api-server.py" --state "$state" \
                --cert "$OB_SERVER_CERT" --key "$OB_SERVER_KEY" --port-file "$dir/api.port" \
                --endpoint-address "$OB_MQTT_HOST" --lambda-dir "$dir/lambda" \
                --issuer-cert "$OB_ISSUER_CA_CERT" --mqtt-host "$OB_MQTT_HOST" \
                --mqtt-port "$OB_MQTT_PORT" --mqtt-ca "$OB_ROOT_CA" \
                --mqtt-cert "$dir/admin.crt" --mqtt-key "$dir/admin.key" \
                </dev/null >>"$dir/api-server.log" 2>&1 &
        echo $! >>"$OB_WORLD_DIR/pids"
        i=0
        until [ -s "$dir/api.port" ]; do
                i=$((i + 1))
                if [ $i -gt 500 ] || ! kill -0 $! 2>/dev/null; then
                        echo "world-hook: api-server did not start; see $dir/api-server.log" >&2
                        exit 1
                fi
                sleep 0.01
        done
        echo "#ENV OB_EMU_API_URL=https://127.0.0.1:$(cat "$dir/api.port")"
        echo "#ENV OB_EMULATOR_LAMBDA_DIR=$dir/lambda"
fi

# AWS caps the keep-alive at 1200 s and takes 0 as 1200; mosquitto 2.0.11 applies this to MQTT 5
# clients (CONNACK Server Keep Alive), the plugin covers MQTT 3.1.1 (docs/emulator.md, Limits).
echo "max_keepalive 1200"
echo "plugin $OB_EMULATOR_PLUGIN"
echo "plugin_opt_registry $dir/registry.json"
echo "plugin_opt_state_dir $state"
echo "plugin_opt_issuer_cert $OB_ISSUER_CA_CERT"
echo "plugin_opt_issuer_key $OB_ISSUER_CA_KEY"
# every registered CA, kept by the plugin as a hashed directory the TLS listener trusts: a CA
# registered at run time is trusted by the next handshake (docs/emulator.md, "CA trust")
echo "plugin_opt_trust_dir $trust"
echo "#LISTENER capath $trust"
echo "#ENV OB_EMULATOR_TRUST_DIR=$trust"
echo "#ENV OB_EMULATOR_REGISTRY=$dir/registry.json"
echo "#ENV OB_EMULATOR_STATE_DIR=$state"
echo "#ENV OB_EMULATOR_ADMIN_CERT=$dir/admin.crt"
echo "#ENV OB_EMULATOR_ADMIN_KEY=$dir/admin.key"
