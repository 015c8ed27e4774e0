# Example: how a product layer configures onboard-agent. Copy this file into your own layer
# (same path), replace the values, and add onboard-agent to IMAGE_INSTALL. The example layer
# is not parsed: packaging/yocto/meta-onboard-agent/conf/layer.conf only reads recipes-*/.

# aws iot describe-endpoint --endpoint-type iot:Data-ATS
ONBOARD_AGENT_ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"
ONBOARD_AGENT_METHOD = "fleet-claim"
ONBOARD_AGENT_TEMPLATE = "GatewayProvisioning"

# Everything else from docs/configuration.md, as one JSON object. The claim certificate and
# key are not part of the image recipe: install them at the factory (or from a separate,
# access-controlled recipe) at the paths named here.
ONBOARD_AGENT_CONFIG_JSON = '{ \
                            "provisioning": { \
                            "claim_cert": "${sysconfdir}/onboard-agent/claim/claim.crt", \
                            "claim_key": "${sysconfdir}/onboard-agent/claim/claim.key", \
                            "parameters": {"SerialNumber": "{serial}", "HardwareToken": "{hardware_token}"} \
                            }, \
                            "identity": {"serial_sources": ["devicetree", "machine-id"]} \
                            }'
