#!/bin/sh
# The test world comes up and each part answers: the TPM behind tpm2-abrmd, the TLS listener
# with client-certificate authentication (a trusted claim cert gets in, an untrusted one and a
# wrong server root do not), and the variables of the contract (docs/testing.md) are all set.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
exec "$top_srcdir/tests/world/world.sh" run -- sh -c '
fail=0
check() { if "$@" >/dev/null 2>&1; then echo "ok: $*"; else echo "FAIL: $*"; fail=1; fi; }
refuse() { if "$@" >/dev/null 2>&1; then echo "FAIL (accepted): $*"; fail=1; else echo "ok (refused): $*"; fi; }
for v in OB_WORLD_DIR OB_TCTI DBUS_SESSION_BUS_ADDRESS OB_SWTPM_PORT OB_MQTT_HOST OB_MQTT_PORT \
         OB_ROOT_CA OB_SERVER_CERT OB_DEVICE_CA_CERT OB_DEVICE_CA_KEY OB_CLAIM_CA_CERT \
         OB_CLAIM_CERT OB_CLAIM_KEY OB_ISSUER_CA_CERT OB_ISSUER_CA_KEY OB_MOSQ_LOG OB_EMULATOR; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || { echo "FAIL: $v not set"; fail=1; }
done
check tpm2_getrandom -T "$OB_TCTI" 16
check openssl verify -CAfile "$OB_CLAIM_CA_CERT" "$OB_CLAIM_CERT"
check openssl verify -CAfile "$OB_ROOT_CA" "$OB_SERVER_CERT"
# a topic the claim policy allows: with the emulator, a QoS 1 PUBLISH the policy forbids closes
# the connection with no PUBACK, as at AWS (docs/emulator.md)
pub() { mosquitto_pub -h "$OB_MQTT_HOST" -p "$OB_MQTT_PORT" -i "t-$$" -m hi -q 1 \
  -t "\$aws/provisioning-templates/OnboardTemplate/provision/json" "$@"; }
check pub --cafile "$OB_ROOT_CA" --cert "$OB_CLAIM_CERT" --key "$OB_CLAIM_KEY"
# a client certificate from a CA the broker does not trust
d=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=rogue \
  -keyout "$d/k" -out "$d/c" -days 1 2>/dev/null
refuse pub --cafile "$OB_ROOT_CA" --cert "$d/c" --key "$d/k"
# the right client certificate, but the device does not trust the server
refuse pub --cafile "$OB_CLAIM_CA_CERT" --cert "$OB_CLAIM_CERT" --key "$OB_CLAIM_KEY"
rm -rf "$d"
exit $fail
'
