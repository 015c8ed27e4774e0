#!/bin/sh
# Fleet provisioning with the cloud side done by the real AWS CLI, as AWS documents it
# (docs/emulator-cli.md): the daemon with TPM keys against the emulator, its control plane
# driven by `aws iot ...` (Debian's awscli).
#   by claim: create-policy (claim and device policies), create-provisioning-template --enabled
#     --pre-provisioning-hook (a "Lambda function" in the world's lambda directory checks the
#     serial), create-keys-and-certificate --set-as-active + attach-policy for the claim; the
#     device onboards through the template; a serial the hook refuses gets 403.
#   rotation: the device policy made with create-policy allows the provisioning topics; agentctl
#     rotate gets a second certificate on the same thing (list-thing-principals).
#   trusted user: create-provisioning-claim handed to agentctl provision.
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
d=$OB_WORLD_DIR
tpl=CliTemplate
topics="\"$ARN_PREFIX:topic/\$aws/certificates/create-from-csr/*\",
        \"$ARN_PREFIX:topic/\$aws/provisioning-templates/$tpl/provision/*\""
filters="\"$ARN_PREFIX:topicfilter/\$aws/certificates/create-from-csr/*\",
         \"$ARN_PREFIX:topicfilter/\$aws/provisioning-templates/$tpl/provision/*\""

# ---------------------------------------------------------------- the cloud side
cat >"$d/claim-policy.json" <<JSON
{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": "iot:Connect", "Resource": "*" },
  { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [ $topics ] },
  { "Effect": "Allow", "Action": "iot:Subscribe", "Resource": [ $filters ] } ] }
JSON
# the device's own policy allows what rotation needs: the same provisioning calls
cat >"$d/device-policy.json" <<JSON
{ "Version": "2012-10-17", "Statement": [
  { "Effect": "Allow", "Action": "iot:Connect",
    "Resource": "$ARN_PREFIX:client/\${iot:Connection.Thing.ThingName}" },
  { "Effect": "Allow", "Action": ["iot:Publish", "iot:Receive"], "Resource": [ $topics ] },
  { "Effect": "Allow", "Action": "iot:Subscribe", "Resource": [ $filters ] } ] }
JSON
cat >"$d/template.json" <<'JSON'
{
  "Parameters": {
    "SerialNumber": { "Type": "String" },
    "AWS::IoT::Certificate::Id": { "Type": "String" }
  },
  "Resources": {
    "thing": { "Type": "AWS::IoT::Thing",
      "Properties": { "ThingName": { "Fn::Join": [ "", [ "cli-", { "Ref": "SerialNumber" } ] ] },
                      "AttributePayload": { "serial": { "Ref": "SerialNumber" } } },
      "OverrideSettings": { "AttributePayload": "MERGE" } },
    "certificate": { "Type": "AWS::IoT::Certificate",
      "Properties": { "CertificateId": { "Ref": "AWS::IoT::Certificate::Id" }, "Status": "ACTIVE" } },
    "policy": { "Type": "AWS::IoT::Policy", "Properties": { "PolicyName": "CliDevicePolicy" } }
  }
}
JSON
# the pre-provisioning hook's Lambda function: the event on stdin, the answer on stdout
cat >"$OB_EMULATOR_LAMBDA_DIR/check-serial" <<EOF
#!/bin/sh
ev=\$(cat)
printf '%s\n' "\$ev" >>"$d/hook-events.jsonl"
case \$(printf '%s' "\$ev" | jq -r '.parameters.SerialNumber // ""') in
SN-*) echo '{"allowProvisioning": true}' ;;
*) echo '{"allowProvisioning": false}' ;;
esac
EOF
chmod +x "$OB_EMULATOR_LAMBDA_DIR/check-serial"

cli "create-policy (claim)" aws iot create-policy --policy-name CliClaimPolicy \
  --policy-document "file://$d/claim-policy.json"
cli "create-policy (device, with the provisioning topics for rotation)" aws iot create-policy \
  --policy-name CliDevicePolicy --policy-document "file://$d/device-policy.json"
cli "create-provisioning-template --enabled --pre-provisioning-hook" \
  aws iot create-provisioning-template --template-name "$tpl" \
  --description "onboard-agent test fleet" --template-body "file://$d/template.json" --enabled \
  --provisioning-role-arn arn:aws:iam::123456789012:role/IoTProvisioningRole \
  --pre-provisioning-hook targetArn=arn:aws:lambda:us-east-1:123456789012:function:check-serial,payloadVersion=2020-04-01 &&
  { [ "$(printf '%s\n' "$out" | jq -r .templateArn)" = "$ARN_PREFIX:provisioningtemplate/$tpl" ] ||
    bad "templateArn: $out"; }
# the claim: AWS-made key and certificate (the outfiles as in AWS's fleet provisioning guide)
cli "create-keys-and-certificate --set-as-active (the claim)" \
  aws iot create-keys-and-certificate --set-as-active --certificate-pem-outfile "$d/claim.crt" \
  --private-key-outfile "$d/claim.key" --query certificateArn --output text &&
  claim_arn=$out
cli "attach-policy (claim)" aws iot attach-policy --policy-name CliClaimPolicy --target "$claim_arn"

# gw NAME METHOD [SERIAL]: a gateway with the CLI-made template (and claim, for fleet-claim)
gw() {
  p="\"method\": \"$2\", \"template\": \"$tpl\""
  [ "$2" = fleet-claim ] && p="$p, \"claim_cert\": \"$d/claim.crt\", \"claim_key\": \"$d/claim.key\""
  gw_config "$1" prov="$p" ${3:+serial=$3}
}

# ---------------------------------------------------------------- by claim, then rotation
if want claim; then
gw claim fleet-claim
start claim
if wait_for claim '.state == "onboarded"' 30; then
  thing=$(st claim | jq -r .thing_name)
  first=$(st claim | jq -r .certificate_id)
  [ "$thing" = "cli-SN-claim-$$" ] && ok "by claim: onboarded as $thing (the CLI's template)" ||
    bad "thing name $thing"
  jq -e --arg t "$ARN_PREFIX:provisioningtemplate/$tpl" --arg s "SN-claim-$$" \
    'select(.parameters.SerialNumber == $s) | .templateArn == $t' "$d/hook-events.jsonl" >/dev/null &&
    ok "the hook's Lambda function got the RegisterThing event" || bad "hook events: $(cat "$d/hook-events.jsonl")"
  "$ctl" --config "$d/gw-claim/config.json" rotate >/dev/null && ok "agentctl rotate accepted" || bad "agentctl rotate"
  if wait_for claim ".certificate_id != \"$first\" and .state == \"onboarded\" and .rotation == null" 30; then
    second=$(st claim | jq -r .certificate_id)
    cli "list-thing-principals: both certificates on the thing" \
      aws iot list-thing-principals --thing-name "$thing" &&
      { printf '%s\n' "$out" | jq -e --arg a "$ARN_PREFIX:cert/$first" --arg b "$ARN_PREFIX:cert/$second" \
          '.principals | index($a) and index($b)' >/dev/null || bad "principals: $out"; }
    ok "rotated with the device policy made by create-policy (generation $(readlink "$d/gw-claim/state/credentials/current"))"
  else
    bad "no rotation: $(st claim | jq -c .last_error)"; log_tail claim 20
  fi
else
  bad "by claim: not onboarded: $(st claim | jq -c .last_error)"; log_tail claim 20
fi
stop claim

# a serial the hook's function refuses: 403
gw deny fleet-claim "BAD-$$"
start deny
wait_for deny '.last_error.code == "rejected-403"' 20 &&
  ok "the hook's function refuses serial BAD-$$: $(st deny | jq -r .last_error.text)" ||
  { bad "no 403: $(st deny | jq -c .last_error)"; log_tail deny 20; }
stop deny
fi

# ---------------------------------------------------------------- trusted user
if want trusted; then
gw tu fleet-trusted-user
start tu
wait_for tu '.state == "waiting-for-claim"' 20 && ok "trusted user: waiting for a claim" ||
  { bad "not waiting for a claim"; log_tail tu 20; }
# (the answer holds the private key: never printed)
if aws iot create-provisioning-claim --template-name "$tpl" >"$d/claim.json" 2>"$d/claim.err"; then
  ok "create-provisioning-claim --template-name $tpl"
  jq -r .certificatePem "$d/claim.json" >"$d/tu-claim.crt"
  jq -r .keyPair.PrivateKey "$d/claim.json" >"$d/tu-claim.key"
  jq -e '(.expiration | type) == "string" and (.keyPair.PublicKey | startswith("-----BEGIN PUBLIC KEY"))' \
    "$d/claim.json" >/dev/null && ok "claim: expiration, public key" || bad "claim fields: $(jq -c 'del(.keyPair)' "$d/claim.json")"
else
  bad "create-provisioning-claim: $(cat "$d/claim.err")"
fi
out=$("$ctl" --config "$d/gw-tu/config.json" provision --claim-cert "$d/tu-claim.crt" \
  --claim-key "$d/tu-claim.key" 2>&1) && ok "agentctl provision: $out" || bad "agentctl provision: $out"
wait_for tu '.state == "onboarded"' 30 && ok "trusted user: onboarded as $(st tu | jq -r .thing_name)" ||
  { bad "trusted user: $(st tu | jq -c .last_error)"; log_tail tu 20; }
stop tu
fi

exit $fail
