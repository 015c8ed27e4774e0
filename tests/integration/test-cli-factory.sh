#!/bin/sh
# Factory certificates with the cloud side done by the real AWS CLI, as AWS documents it
# (docs/emulator-cli.md): the daemon with TPM keys against the emulator, its control plane
# driven by `aws iot ...` (Debian's awscli).
#   JITP: a device maker's CA registered with register-ca-certificate --allow-auto-registration
#         --registration-config (templateBody): the device onboards, the template made the thing.
#   JITR: a CA with auto-registration and no template; the device's certificate is registered
#         PENDING_ACTIVATION on its first connect; the "JITR function" (this script) creates a
#         policy and a thing, attaches both, update-certificate --new-status ACTIVE; it onboards.
#   MAR:  register-certificate-without-ca --status ACTIVE, create-thing, attach-thing-principal,
#         attach-policy; the device onboards with method static.
# The CAs are intermediates under the world's device-maker CA, which the broker's TLS trusts:
# the broker needs no change for them. (With a broker that trusts CAs as they are registered,
# self-signed CAs work the same way.)
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_builddir top_srcdir
[ "${1:-}" = --inside ] || exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/integration/agent-lib.sh"
[ -x "$agent" ] || { echo "# SKIP: onboard-agent not built (needs libsystemd)"; exit 77; }
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }
. "$top_srcdir/tests/integration/cli-lib.sh"
export TPM2OPENSSL_TCTI=$OB_TCTI
kt="$top_builddir/tests/integration/ob-keytool"
[ -x "$kt" ] || { echo "# SKIP: ob-keytool not built (needs the TPM libraries)"; exit 77; }
"$kt" --tcti "$OB_TCTI" srk >/dev/null || { bad "SRK"; exit 1; }
d=$OB_WORLD_DIR

# device NAME METHOD CN CA: a gateway whose TPM key has a certificate signed by CA
# ($d/CA.{crt,key}, or OB_DEVICE_CA), with the CA as chain; started
device() {
  gw_config "$1" prov="\"method\": \"$2\"" \
    retry='"network": { "base": 1, "cap": 2 }, "refused": { "base": 1, "cap": 2 }'
  f=$g/state/factory
  mkdir -p "$f" && chmod 700 "$g/state"
  if [ "$4" = OB_DEVICE_CA ]; then ca=$OB_DEVICE_CA_CERT cakey=$OB_DEVICE_CA_KEY; else ca=$d/$4.crt cakey=$d/$4.key; fi
  "$kt" --tcti "$OB_TCTI" create "$f/device.key" >/dev/null &&
    "$kt" --tcti "$OB_TCTI" csr "$f/device.key" "CN=$3" >"$g/device.csr" &&
    openssl x509 -req -in "$g/device.csr" -CA "$ca" -CAkey "$cakey" -CAcreateserial -days 30 \
      -out "$f/device.crt" 2>/dev/null || bad "factory identity for $1"
  cp "$ca" "$f/chain.pem"
}

# the device policy of the JITR function and of MAR (AWS's JITR example attaches one like it)
cat >"$d/jitr-policy.json" <<'JSON'
{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": "iot:Connect",
    "Resource": "arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}" } ] }
JSON

code=$(aws iot get-registration-code --query registrationCode --output text) &&
  echo "$code" | grep -Eq '^[0-9a-f]{64}$' && ok "get-registration-code: $code" || bad "registration code: $code"

# ---------------------------------------------------------------- JITP
if want jitp; then
device_ca jitp-ca "/O=Acme Devices/CN=Acme Line 2 JITP CA" OB_DEVICE_CA
verification_cert jitp-ca "$code"
cat >"$d/jitp-template-body.json" <<'JSON'
{
  "Parameters": {
    "AWS::IoT::Certificate::CommonName": { "Type": "String" },
    "AWS::IoT::Certificate::Id": { "Type": "String" }
  },
  "Resources": {
    "thing": { "Type": "AWS::IoT::Thing",
      "Properties": { "ThingName": { "Ref": "AWS::IoT::Certificate::CommonName" },
                      "AttributePayload": { "line": "2" } } },
    "certificate": { "Type": "AWS::IoT::Certificate",
      "Properties": { "CertificateId": { "Ref": "AWS::IoT::Certificate::Id" }, "Status": "ACTIVE" } },
    "policy": { "Type": "AWS::IoT::Policy",
      "Properties": { "PolicyDocument": "{ \"Version\": \"2012-10-17\", \"Statement\": [ { \"Effect\": \"Allow\", \"Action\": \"iot:Connect\", \"Resource\": \"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}\" } ] }" } }
  }
}
JSON
jq -n --rawfile body "$d/jitp-template-body.json" \
  '{templateBody: $body, roleArn: "arn:aws:iam::123456789012:role/JITPRole"}' >"$d/jitp-registration.json"
if cli "register-ca-certificate --allow-auto-registration --registration-config (JITP)" \
  aws iot register-ca-certificate --ca-certificate "file://$d/jitp-ca.crt" \
  --verification-certificate "file://$d/jitp-ca-verification.crt" --set-as-active \
  --allow-auto-registration --registration-config "file://$d/jitp-registration.json"; then
  jitp_ca=$(printf "%s\n" "$out" | jq -r .certificateId)
  [ "$jitp_ca" = "$(cert_id "$d/jitp-ca.crt")" ] && ok "the CA's id is the SHA-256 of its DER" || bad "CA id $jitp_ca"
fi
device jitp jitp "jitp-cli-$$" jitp-ca
start jitp
if wait_for jitp '.state == "onboarded"' 30; then
  ok "jitp: onboarded as $(st jitp | jq -r .thing_name)"
  id=$(cert_id "$OB_WORLD_DIR/gw-jitp/state/factory/device.crt")
  # (the CLI's reads are tested in tests/emulator/test-emu-api.sh; here the registry says it)
  jq -e --arg id "$id" --arg ca "$jitp_ca" --arg t "jitp-cli-$$" '.certificates[$id] as $c |
      $c.status == "ACTIVE" and $c.caCertificateId == $ca and ($c.things | index($t)) and
      .things[$t].attributes.line == "2"' "$OB_EMULATOR_STATE_DIR/registry.json" >/dev/null &&
    ok "JITP: the certificate is ACTIVE under the CA, the template made the thing" ||
    bad "JITP registry: $(jq -c --arg id "$id" '.certificates[$id] | del(.pem)' "$OB_EMULATOR_STATE_DIR/registry.json")"
else
  bad "jitp did not onboard: $(st jitp | jq -c .last_error)"; log_tail jitp 20
fi
stop jitp
fi

# ---------------------------------------------------------------- JITR
if want jitr; then
device_ca jitr-ca "/O=Acme Devices/CN=Acme Line 3 JITR CA" OB_DEVICE_CA
verification_cert jitr-ca "$code"
cli "register-ca-certificate --allow-auto-registration (JITR: no template)" \
  aws iot register-ca-certificate --ca-certificate "file://$d/jitr-ca.crt" \
  --verification-certificate "file://$d/jitr-ca-verification.crt" --set-as-active \
  --allow-auto-registration && jitr_ca=$(printf "%s\n" "$out" | jq -r .certificateId)
device jitr jitr "jitr-cli-$$" jitr-ca
id=$(cert_id "$g/state/factory/device.crt")
start jitr
if wait_for jitr '.state == "waiting-for-activation"' 20; then
  ok "jitr: waiting for activation"
  cli "describe-certificate: registered PENDING_ACTIVATION under the CA" \
    aws iot describe-certificate --certificate-id "$id" &&
    { printf "%s\n" "$out" | jq -e --arg ca "$jitr_ca" '.certificateDescription |
        .status == "PENDING_ACTIVATION" and .caCertificateId == $ca' >/dev/null ||
      bad "JITR registration: $out"; }
  # what AWS's JITR Lambda example does, with the CLI
  cli "create-policy" aws iot create-policy --policy-name JitrDevicePolicy \
    --policy-document "file://$d/jitr-policy.json"
  cli "create-thing" aws iot create-thing --thing-name "jitr-cli-$$"
  cli "attach-thing-principal" aws iot attach-thing-principal --thing-name "jitr-cli-$$" \
    --principal "$ARN_PREFIX:cert/$id"
  cli "attach-policy" aws iot attach-policy --policy-name JitrDevicePolicy --target "$ARN_PREFIX:cert/$id"
  cli "update-certificate --new-status ACTIVE" aws iot update-certificate --certificate-id "$id" \
    --new-status ACTIVE
  wait_for jitr '.state == "onboarded"' 30 && ok "jitr: onboarded once activated" ||
    { bad "jitr did not onboard: $(st jitr | jq -c .last_error)"; log_tail jitr 20; }
else
  bad "jitr: not waiting for activation: $(st jitr | jq -c .)"; log_tail jitr 20
fi
stop jitr
fi

# ---------------------------------------------------------------- MAR (static)
if want mar; then
device mar static "mar-cli-$$" OB_DEVICE_CA
rm -f "$g/state/factory/chain.pem"
id=$(cert_id "$g/state/factory/device.crt")
cli "register-certificate-without-ca --status ACTIVE" aws iot register-certificate-without-ca \
  --certificate-pem "file://$g/state/factory/device.crt" --status ACTIVE &&
  { [ "$(printf "%s\n" "$out" | jq -r .certificateArn)" = "$ARN_PREFIX:cert/$id" ] || bad "MAR arn: $out"; }
[ -n "${jitr_ca:-}" ] || cli "create-policy (MAR)" aws iot create-policy \
  --policy-name JitrDevicePolicy --policy-document "file://$d/jitr-policy.json"
cli "create-thing (MAR)" aws iot create-thing --thing-name "mar-cli-$$"
cli "attach-thing-principal (MAR)" aws iot attach-thing-principal --thing-name "mar-cli-$$" \
  --principal "$ARN_PREFIX:cert/$id"
cli "attach-policy (MAR)" aws iot attach-policy --policy-name JitrDevicePolicy --target "$ARN_PREFIX:cert/$id"
start mar
wait_for mar '.state == "onboarded"' 30 && ok "MAR: static onboarded" ||
  { bad "MAR did not onboard: $(st mar | jq -c .last_error)"; log_tail mar 20; }
cli "describe-certificate (MAR: no CA, SNI_ONLY)" aws iot describe-certificate --certificate-id "$id" &&
  { printf "%s\n" "$out" | jq -e '.certificateDescription | .status == "ACTIVE" and
      (has("caCertificateId") | not) and .certificateMode == "SNI_ONLY"' >/dev/null ||
    bad "MAR certificate: $out"; }
stop mar
fi

exit $fail
