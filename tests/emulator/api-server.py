#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""AWS IoT's control-plane REST API in front of the emulator, for the real AWS CLI:

    aws --endpoint-url https://127.0.0.1:PORT --ca-bundle ROOT.crt --region us-east-1 iot ...

HTTPS with the given server certificate; requests must carry a SigV4 Authorization header of the
right form (AWS4-HMAC-SHA256, scope .../REGION/execute-api/aws4_request, SignedHeaders with host,
a 64-hex Signature) and an X-Amz-Date within 15 minutes; the signature itself is not checked, so
any access key and secret do. Errors are AWS's: status code, `x-amzn-ErrorType` header and a
`{"message": ...}` body. See docs/emulator-cli.md.

    api-server.py --state DIR --cert server.crt --key server.key [--port N | --port-file F] ...
    api-server.py --routes     (the route table as JSON, for the test against the botocore model)
"""
import argparse
import os
import socket
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", help="the plugin's state directory (plugin_opt_state_dir)")
    ap.add_argument("--cert", help="server certificate (PEM)")
    ap.add_argument("--key", help="its private key")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: any free port (see --port-file)")
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--endpoint-address", default="localhost",
                    help="DescribeEndpoint's answer (the MQTT host devices use)")
    ap.add_argument("--lambda-dir", help="pre-provisioning hooks: Lambda function NAME runs "
                    "LAMBDA_DIR/NAME (event on stdin, answer on stdout)")
    ap.add_argument("--issuer-cert", help="the emulator's issuer CA (certificateMode of "
                    "certificates without a CA: DEFAULT if issued here, else SNI_ONLY)")
    ap.add_argument("--mqtt-host", default="localhost")
    ap.add_argument("--mqtt-port", help="the broker, for CreateKeysAndCertificate and "
                    "CreateCertificateFromCsr (issued by the plugin, as for devices)")
    ap.add_argument("--mqtt-ca", help="the broker's root CA")
    ap.add_argument("--mqtt-cert", help="a client certificate allowed $aws/certificates/#")
    ap.add_argument("--mqtt-key")
    ap.add_argument("--routes", action="store_true", help="print the route table and exit")
    a = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if a.routes:
        import json
        from api_http import ROUTES
        json.dump([{"operation": o, "method": m, "requestUri": u} for o, m, u in ROUTES],
                  sys.stdout, indent=1)
        return 0
    for k in ("state", "cert", "key"):
        if not getattr(a, k):
            ap.error("--%s is required" % k)
    # the world waits for the port file: listen first, import the HTTP side (~100 ms) after;
    # connections made meanwhile wait in the backlog
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    sock.listen(64)
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % sock.getsockname()[1])
        os.rename(a.port_file + ".tmp", a.port_file)
    import api_http
    api_http.serve(sock, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
