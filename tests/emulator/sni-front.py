#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""TLS server-name (SNI) gate in front of the emulator's mosquitto listener.

AWS IoT Core refuses TLS connections that do not send SNI = the endpoint host name
(reference/aws-iot-protocol.md §6.4). mosquitto 2.0 neither checks SNI nor shows it to a
plugin, so this front reads the ClientHello, checks its server_name extension and either closes
the connection or forwards every byte, unchanged, to mosquitto. TLS is not terminated here: the
broker still does the handshake and sees the client certificate.

  sni-front.py --listen 127.0.0.1:0 --upstream 127.0.0.1:PORT --server-name HOST --port-file F

Writes the port it listens on to F (atomically) once it accepts connections. Logs one line per
refused connection to stderr, and for every forwarded TLS 1.2 connection one line naming the
certificates the client presented (their ids: SHA-256 of the DER, as IoT Core's certificate and
CA ids), so tests can tell whether a device sent its CA chain (JITP/JITR) or the certificate
alone:

  sni-front: ('127.0.0.1', 40000): client certificates: 2 <cert id> <ca id>
"""
import argparse, asyncio, hashlib, os, sys

MAX_HELLO = 65536
HELLO_TIMEOUT = 10.0


def parse_sni(hs):
    """Server name from a ClientHello handshake body (no handshake header); None if absent.
    Raises ValueError on a malformed hello."""
    p = 2 + 32  # client_version, random
    p += 1 + hs[p]  # session_id
    p += 2 + int.from_bytes(hs[p:p + 2], "big")  # cipher_suites
    p += 1 + hs[p]  # compression_methods
    if p == len(hs):
        return None  # no extensions
    end = p + 2 + int.from_bytes(hs[p:p + 2], "big")
    p += 2
    if end > len(hs):
        raise ValueError("extensions overrun the hello")
    while p + 4 <= end:
        etype = int.from_bytes(hs[p:p + 2], "big")
        elen = int.from_bytes(hs[p + 2:p + 4], "big")
        body = hs[p + 4:p + 4 + elen]
        p += 4 + elen
        if etype != 0:  # server_name
            continue
        q = 2  # server_name_list length
        while q + 3 <= len(body):
            ntype, nlen = body[q], int.from_bytes(body[q + 1:q + 3], "big")
            name = body[q + 3:q + 3 + nlen]
            q += 3 + nlen
            if ntype == 0:  # host_name
                return name.decode("ascii", "replace")
        return None
    return None


async def read_hello(reader):
    """Read TLS records until the whole ClientHello is in; return (raw bytes, SNI or None)."""
    raw = b""
    hs = b""
    while True:
        hdr = await reader.readexactly(5)
        if hdr[0] != 0x16:  # handshake record
            raise ValueError("not a TLS handshake")
        body = await reader.readexactly(int.from_bytes(hdr[3:5], "big"))
        raw += hdr + body
        hs += body
        if len(raw) > MAX_HELLO:
            raise ValueError("ClientHello too large")
        if len(hs) >= 4:
            if hs[0] != 1:
                raise ValueError("first handshake message is not a ClientHello")
            n = int.from_bytes(hs[1:4], "big")
            if len(hs) >= 4 + n:
                return raw, parse_sni(hs[4:4 + n])


class ChainObserver:
    """Reads the client's TLS 1.2 handshake records after the hello (sent in the clear) and
    reports the certificates of its Certificate message once."""

    def __init__(self, peer):
        self.peer, self.buf, self.hs, self.done = peer, b"", b"", False

    def feed(self, data):
        if self.done:
            return
        self.buf += data
        while len(self.buf) >= 5 and not self.done:
            n = int.from_bytes(self.buf[3:5], "big")
            if len(self.buf) < 5 + n:
                return
            ctype, body, self.buf = self.buf[0], self.buf[5:5 + n], self.buf[5 + n:]
            if ctype != 0x16:  # ChangeCipherSpec or anything else: the clear part is over
                self.done = True
                return
            self.hs += body
            while len(self.hs) >= 4 and not self.done:
                mlen = int.from_bytes(self.hs[1:4], "big")
                if len(self.hs) < 4 + mlen:
                    break
                mtype, msg, self.hs = self.hs[0], self.hs[4:4 + mlen], self.hs[4 + mlen:]
                if mtype == 11:  # Certificate
                    self.report(msg)

    def report(self, msg):
        ids, p, end = [], 3, 3 + int.from_bytes(msg[0:3], "big")
        while p + 3 <= end:
            n = int.from_bytes(msg[p:p + 3], "big")
            ids.append(hashlib.sha256(msg[p + 3:p + 3 + n]).hexdigest())
            p += 3 + n
        print(f"sni-front: {self.peer}: client certificates: {len(ids)} {' '.join(ids)}",
              file=sys.stderr, flush=True)
        self.done = True


async def pump(reader, writer, observer=None):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if observer:
                try:
                    observer.feed(data)
                except (IndexError, ValueError):
                    observer.done = True
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(reader, writer, args):
    peer = writer.get_extra_info("peername")
    try:
        raw, sni = await asyncio.wait_for(read_hello(reader), HELLO_TIMEOUT)
    except (ValueError, IndexError, asyncio.IncompleteReadError, asyncio.TimeoutError,
            ConnectionError) as e:
        print(f"sni-front: {peer}: refused: {e or type(e).__name__}", file=sys.stderr, flush=True)
        writer.close()
        return
    if sni != args.server_name:
        print(f"sni-front: {peer}: refused: server name {sni!r}, want {args.server_name!r}",
              file=sys.stderr, flush=True)
        writer.close()
        return
    try:
        ur, uw = await asyncio.open_connection(args.up_host, args.up_port)
    except OSError as e:
        print(f"sni-front: {peer}: broker unreachable: {e}", file=sys.stderr, flush=True)
        writer.close()
        return
    uw.write(raw)
    await asyncio.gather(pump(reader, uw, ChainObserver(peer)), pump(ur, writer))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--server-name", required=True)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    lhost, lport = args.listen.rsplit(":", 1)
    args.up_host, up_port = args.upstream.rsplit(":", 1)
    args.up_port = int(up_port)
    server = await asyncio.start_server(lambda r, w: handle(r, w, args), lhost, int(lport))
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.rename(tmp, args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
