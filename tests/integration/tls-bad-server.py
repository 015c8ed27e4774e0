#!/usr/bin/env python3
"""A TLS server that a device must refuse (tests/integration/test-hostile.sh).

tls-bad-server.py PORT CERT KEY LOG FORWARD_PORT [tls1.1[:CIPHERS]]

Listens on 127.0.0.1:PORT with CERT/KEY (made by the test: wrong CA, wrong host name,
expired) and, with "tls1.1", offers only TLS 1.1 (security level 0, or OpenSSL 3 on Debian 12
would not even start such a server). Writes one line per TCP connection to LOG ("accept"), then
"handshake ok VERSION" or "handshake failed: REASON", so the test can count connection
attempts. Never speaks MQTT: a handshake that succeeds is closed after a read.
While the file LOG.off exists, it stops being hostile: each connection is forwarded unchanged
to 127.0.0.1:FORWARD_PORT (the real broker), logged as "forward".
"""
import os
import socket
import ssl
import sys
import warnings

from tcppipe import splice

port, cert, key, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
fwd = int(sys.argv[5])
mode = sys.argv[6] if len(sys.argv) > 6 else ""
old = mode.startswith("tls1.1")


def forward(conn):
    splice(conn, socket.create_connection(("127.0.0.1", fwd)))


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
if old:
    warnings.simplefilter("ignore", DeprecationWarning)
    ctx.set_ciphers((mode[7:] or "DEFAULT") + ":@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(16)
with open(log, "a", buffering=1) as out:
    print("listening", flush=True)
    out.write("listening\n")
    while True:
        conn, _ = srv.accept()
        if os.path.exists(log + ".off"):
            out.write("forward\n")
            forward(conn)
            continue
        out.write("accept\n")
        conn.settimeout(5)
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
            out.write("handshake ok %s\n" % tls.version())
            try:
                tls.recv(1024)
            except OSError:
                pass
            tls.close()
        except (ssl.SSLError, OSError) as e:
            out.write("handshake failed: %s\n" % e)
            conn.close()
