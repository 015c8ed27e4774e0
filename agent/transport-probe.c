/* SPDX-License-Identifier: Apache-2.0 */
/* A probe: TLS handshake, CONNECT, CONNACK, DISCONNECT with OpenSSL on a thread of its own,
 * the way Paho would make the connection (same SSL_CTX settings: cipher list, trust anchor,
 * certificate chain file, key file through SSL_CTX_use_PrivateKey_file, so a "handle:" key
 * goes through agent/tls-handle-key.c; host name check; SNI; ALPN), without Paho's thread
 * start-up (up to 100 ms before the handshake begins) and teardown (100 ms). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "macro.h"
#include "transport-paho-private.h"

void ob_paho_probe_wait(Paho *p)
{
        if (p->probing)
                (void)pthread_join(p->prober, NULL);
        p->probing = false;
}

typedef struct Probe {
        Paho *p;
        unsigned generation;
        char *host, *ca_file, *cert_file, *key_file, *client_id, *alpn;
        int port, keepalive_s, timeout_ms;
} Probe;

static void probe_free(Probe *q)
{
        if (!q)
                return;
        free(q->host);
        free(q->ca_file);
        free(q->cert_file);
        free(q->key_file);
        free(q->client_id);
        free(q->alpn);
        free(q);
}

/* The last OpenSSL error line of this thread, as Paho's ssl_error_cb would have kept it. */
static int last_ssl_line(const char *str, size_t len, void *u)
{
        ob_paho_keep_ssl_line(u, str, len);
        return 0;
}

/* Make fd the probe's socket (do_disconnect() can shut it down), unless the probe is already
 * called off: false then. */
static bool probe_own_fd(Probe *q, int fd)
{
        bool current;

        pthread_mutex_lock(&q->p->lock);
        current = q->generation == q->p->generation;
        q->p->probe_fd = current ? fd : -1;
        pthread_mutex_unlock(&q->p->lock);
        return current;
}

/* Close the probe's socket; never while do_disconnect() may shut it down. */
static void probe_close_fd(Probe *q, int fd)
{
        pthread_mutex_lock(&q->p->lock);
        if (q->p->probe_fd == fd)
                q->p->probe_fd = -1;
        pthread_mutex_unlock(&q->p->lock);
        close(fd);
}

/* A TCP connection to host:port within timeout_ms: the socket, or -1 with the failure's class
 * and text. */
static int probe_tcp(Probe *q, ObErrClass *c, char *detail, size_t size)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        char service[8];
        int fd = -1, err = 0, gai;

        snprintf(service, sizeof(service), "%d", q->port);
        gai = getaddrinfo(q->host, service, &hints, &res);
        if (gai != 0) {
                *c = OB_ERR_NETWORK;
                snprintf(detail, size, "network: cannot resolve %.64s: %s", q->host,
                         gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
                return -1;
        }
        for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
                struct pollfd pfd;
                socklen_t len = sizeof(err);
                int r;

                fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        err = errno;
                        continue;
                }
                if (!probe_own_fd(q, fd)) {
                        err = ECANCELED;
                        close(fd);
                        fd = -1;
                        break;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        break;
                err = errno;
                if (err == EINPROGRESS) {
                        pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
                        r = poll(&pfd, 1, q->timeout_ms);
                        err = r == 0                                                 ? ETIMEDOUT
                              : r < 0                                                ? errno
                              : getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? errno
                                                                                     : err;
                        if (err == 0)
                                break;
                }
                probe_close_fd(q, fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                *c = err == ETIMEDOUT ? OB_ERR_TIMEOUT : OB_ERR_NETWORK;
                snprintf(detail, size, "network: TCP connect to %.64s:%d failed: %s", q->host,
                         q->port, strerror(err));
        }
        return fd;
}

/* CONNECT's variable header up to the keepalive: protocol "MQTT", level 4 (3.1.1), flags
 * clean session */
static const unsigned char connect_header[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02};

/* Does the probe work? false with the failure's class and text (the same texts as a Paho
 * connection's, on_connect_failed()). */
static bool probe_once(Probe *q, ObErrClass *c, ObConnCause *cause, char *detail, size_t size)
{
        struct timeval tv = {.tv_sec = q->timeout_ms / 1000,
                             .tv_usec = (q->timeout_ms % 1000) * 1000};
        unsigned char pkt[300], ack[4];
        size_t id_len = strlen(q->client_id), rem, n = 0, got = 0;
        char ssl_line[SSL_LINE_MAX] = "", why[120];
        SSL_CTX *ctx = NULL;
        SSL *ssl = NULL;
        bool ok = false, handshaken = false;
        int fd, one = 1, e = SSL_ERROR_NONE, saved_errno = 0;

        if (id_len > 200) {
                *c = OB_ERR_REFUSED;
                *cause = OB_CONN_CONNACK_REFUSED; /* what a broker answers (code 2) */
                snprintf(detail, size, "client id too long (%zu bytes)", id_len);
                return false;
        }
        fd = probe_tcp(q, c, detail, size);
        if (fd < 0)
                return false;
        /* blocking from here on, each read and write bounded by the connect timeout */
        if (fcntl(fd, F_SETFL, 0) < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))) {
                *c = OB_ERR_NETWORK;
                snprintf(detail, size, "network: socket options: %s", strerror(errno));
                goto out;
        }
        ERR_clear_error();
        ctx = SSL_CTX_new(TLS_client_method()); /* default properties: ob_tls_provider_select() */
        if (!ctx || !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
            SSL_CTX_load_verify_locations(ctx, q->ca_file, NULL) != 1 ||
            SSL_CTX_use_certificate_chain_file(ctx, q->cert_file) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, q->key_file, SSL_FILETYPE_PEM) != 1 ||
            !(ssl = SSL_new(ctx)) || !SSL_set1_host(ssl, q->host) ||
            !SSL_set_tlsext_host_name(ssl, q->host) || !SSL_set_fd(ssl, fd) ||
            (q->alpn && SSL_set_alpn_protos(ssl, (const unsigned char *)q->alpn,
                                            (unsigned)strlen(q->alpn)) != 0))
                goto tls_failed;
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);

        ERR_clear_error();
        if (SSL_connect(ssl) != 1)
                goto tls_failed;
        handshaken = true;

        /* CONNECT, MQTT 3.1.1, clean session, the keepalive the session would have */
        rem = 10 + 2 + id_len;
        pkt[n++] = 0x10;
        do {
                pkt[n] = rem & 0x7f;
                rem >>= 7;
                pkt[n++] |= rem ? 0x80 : 0;
        } while (rem);
        memcpy(pkt + n, connect_header, sizeof(connect_header));
        n += sizeof(connect_header);
        pkt[n++] = (unsigned char)(q->keepalive_s >> 8);
        pkt[n++] = (unsigned char)q->keepalive_s;
        pkt[n++] = (unsigned char)(id_len >> 8);
        pkt[n++] = (unsigned char)id_len;
        memcpy(pkt + n, q->client_id, id_len);
        n += id_len;
        ERR_clear_error();
        if (SSL_write(ssl, pkt, (int)n) != (int)n)
                goto tls_failed;
        while (got < sizeof(ack)) {
                int r = SSL_read(ssl, ack + got, (int)(sizeof(ack) - got));
                if (r <= 0)
                        goto tls_failed;
                got += (size_t)r;
        }
        if (ack[0] != 0x20 || ack[1] != 2) {
                *c = OB_ERR_REFUSED;
                *cause = OB_CONN_CONNACK_REFUSED;
                snprintf(detail, size, "not a CONNACK: %02x %02x", ack[0], ack[1]);
        } else if (ack[3] != 0) {
                *c = OB_ERR_REFUSED;
                *cause = OB_CONN_CONNACK_REFUSED;
                snprintf(detail, size, "CONNACK refused with return code %d", ack[3]);
        } else {
                static const unsigned char disconnect[2] = {0xe0, 0x00};
                (void)SSL_write(ssl, disconnect, sizeof(disconnect));
                (void)SSL_shutdown(ssl);
                ok = true;
        }
        goto out;

tls_failed:
        saved_errno = errno;
        e = ssl ? SSL_get_error(ssl, -1) : SSL_ERROR_SSL;
        ERR_print_errors_cb(last_ssl_line, ssl_line);
        if (ssl && SSL_get_verify_result(ssl) != X509_V_OK) {
                long v = SSL_get_verify_result(ssl);
                *c = OB_ERR_TLS;
                *cause = OB_CONN_SERVER_CERT;
                ob_paho_server_cert_text(detail, size, X509_verify_cert_error_string(v), q->host);
        } else if (ssl_line[0]) {
                *cause = ob_paho_ssl_line_outcome(ssl_line, c, detail, size);
        } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
                   (e == SSL_ERROR_SYSCALL &&
                    (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))) {
                /* SO_RCVTIMEO / SO_SNDTIMEO ran out */
                *c = OB_ERR_TIMEOUT;
                *cause = handshaken ? OB_CONN_NO_CONNACK : OB_CONN_TIMEOUT;
                snprintf(detail, size, "timeout: no answer from %.64s:%d within %d ms%s", q->host,
                         q->port, q->timeout_ms, handshaken ? " after the TLS handshake" : "");
        } else if (!handshaken && ob_paho_server_cert_check(q->p, why, sizeof(why))) {
                *c = OB_ERR_TLS;
                *cause = OB_CONN_SERVER_CERT;
                ob_paho_server_cert_text(detail, size, why, q->host);
        } else {
                /* TCP works, the server ended the TLS session: it did not accept the client
                 * certificate (unknown CA, unregistered, revoked, JITP pending) */
                *c = OB_ERR_REFUSED;
                *cause = OB_CONN_CLOSED;
                snprintf(detail, size,
                         handshaken ? "connection closed before CONNACK: the "
                                      "client certificate was not accepted"
                                    : "the server closed the TLS connection: "
                                      "client certificate not accepted");
        }
out:
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        probe_close_fd(q, fd);
        ERR_clear_error();
        return ok;
}

static void *probe_run(void *arg)
{
        Probe *q = arg;
        char detail[256];
        ObErrClass c = OB_ERR_NETWORK;
        ObConnCause cause = OB_CONN_UNKNOWN;
        sigset_t pipe;
        bool ok, current;

        /* OpenSSL writes with write(): a server that closed (or a disconnect that shut the
         * socket down) must give EPIPE, not kill the process. Paho ignores SIGPIPE process-wide
         * once it has made a socket; the probe may come first (static, jitp, jitr). SIGPIPE is
         * sent to the thread that wrote; blocked here, it dies with this thread. */
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        (void)pthread_sigmask(SIG_BLOCK, &pipe, NULL);
        ok = probe_once(q, &c, &cause, detail, sizeof(detail));
        if (!ok && cause == OB_CONN_UNKNOWN) /* the TCP part: network or timeout */
                cause = c == OB_ERR_TIMEOUT ? OB_CONN_TIMEOUT : OB_CONN_NETWORK;

        pthread_mutex_lock(&q->p->lock);
        current = q->generation == q->p->generation;
        pthread_mutex_unlock(&q->p->lock);
        if (current && ok)
                ob_paho_push_simple(q->p, OB_TEV_CONNECTED, 0, 0, "connected (probe)");
        else if (current)
                ob_paho_push_connect_failed(q->p, c, cause, detail);
        probe_free(q);
        return NULL;
}

static char *dup_or_null(const char *s, bool *failed)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                *failed = true;
        return d;
}

int ob_paho_probe_start(Paho *p, const ObConnectOptions *o)
{
        bool failed = false;
        Probe *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->p = p;
        q->host = dup_or_null(o->host, &failed);
        q->ca_file = dup_or_null(o->ca_file, &failed);
        q->cert_file = dup_or_null(o->cert_file, &failed);
        q->key_file = dup_or_null(o->key_file, &failed);
        q->client_id = dup_or_null(o->client_id, &failed);
        if (o->alpn && !failed && (q->alpn = malloc(strlen(o->alpn) + 2))) {
                q->alpn[0] = (char)strlen(o->alpn); /* wire format: length, name */
                memcpy(q->alpn + 1, o->alpn, strlen(o->alpn) + 1);
        } else if (o->alpn)
                failed = true;
        q->port = o->port;
        q->keepalive_s = o->keepalive_s > 0 ? OB_MIN(o->keepalive_s, 65535) : 60;
        q->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
        if (failed) {
                probe_free(q);
                return -ENOMEM;
        }
        pthread_mutex_lock(&p->lock);
        q->generation = p->generation;
        pthread_mutex_unlock(&p->lock);
        r = -pthread_create(&p->prober, NULL, probe_run, q);
        if (r < 0) {
                probe_free(q);
                return r;
        }
        p->probing = true;
        return 0;
}
