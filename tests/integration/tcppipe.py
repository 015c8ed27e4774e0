"""Byte forwarding for the test servers (tls-bad-server.py, tls12-proxy.py): copy what one socket
receives to another until either side ends, then shut both down."""
import socket
import threading


def pump(a, b):
    """Copy a -> b until a ends or either fails; then shut both down."""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def splice(a, b, wait=False):
    """Forward both ways between a and b; with wait, the b -> a direction runs in the caller."""
    threading.Thread(target=pump, args=(a, b), daemon=True).start()
    if wait:
        pump(b, a)
    else:
        threading.Thread(target=pump, args=(b, a), daemon=True).start()
