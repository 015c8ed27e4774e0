#!/usr/bin/env python3
"""A TLS-1.2-only front for the broker (tests/integration/test-transport.sh).

tls12-proxy.py PORT CERT KEY CLIENT_CA FORWARD_PORT READY_FILE [CURVE]

Listens on 127.0.0.1:PORT with CERT/KEY (an ECDSA or an RSA server certificate), speaks TLS 1.2
at most, asks for a client certificate signed by CLIENT_CA (so the client signs a
CertificateVerify with its key) and does ECDHE on one curve only (CURVE, default prime256v1),
like AWS IoT Core security policies that negotiate TLS 1.2. An OpenSSL TLS 1.2 server also
accepts a client's ECDSA key only on a curve of its own list, so a P-384 client key needs
CURVE secp384r1 here. Each accepted connection is forwarded in plain text to
127.0.0.1:FORWARD_PORT (a broker listener without TLS). Writes READY_FILE once listening and
prints one line per handshake to stdout ("handshake ok TLSv1.2 CIPHER" or "handshake failed:
REASON").
"""
import socket
import ssl
import sys
import threading

from tcppipe import splice

port, cert, key, client_ca, fwd, ready = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                          sys.argv[4], int(sys.argv[5]), sys.argv[6])
curve = sys.argv[7] if len(sys.argv) > 7 else "prime256v1"

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(client_ca)
ctx.verify_mode = ssl.CERT_REQUIRED
ctx.set_ecdh_curve(curve)


def serve(raw):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("handshake failed: %s" % e, flush=True)
        raw.close()
        return
    print("handshake ok %s %s" % (tls.version(), tls.cipher()[0]), flush=True)
    splice(tls, socket.create_connection(("127.0.0.1", fwd)), wait=True)


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(8)
open(ready, "w").close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
