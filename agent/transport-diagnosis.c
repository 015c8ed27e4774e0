/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Why a connection failed, where Paho reports different causes alike: a name that does not
 * resolve, a refused TCP connection, a server certificate that does not verify (Paho's own host
 * name check reports no OpenSSL error), a server that ended the TLS session. Small checks of
 * our own (a resolve, a TCP connect, a handshake without client certificate) and the texts the
 * transport and its probe report (transport-paho-private.h). Runs on Paho's and the probe's
 * threads.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "macro.h"
#include "transport-paho-private.h"

/* Can a TCP connection to host:port be made now (bounded wait)? Paho reports a refused TCP
 * connection and a TLS connection the server closed (unknown or unregistered client
 * certificate, JITP) with the same text; this tells them apart. Runs on Paho's thread. */
bool ob_paho_tcp_reachable(const char *host, int port)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        char service[8];
        bool ok = false;

        snprintf(service, sizeof(service), "%d", port);
        if (getaddrinfo(host, service, &hints, &res) != 0)
                return false;
        for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
                int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
                        ok = true;
                else if (errno == EINPROGRESS) {
                        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                        int err = 0;
                        socklen_t len = sizeof(err);
                        if (poll(&pfd, 1, 2000) == 1 &&
                            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0)
                                ok = true;
                }
                close(fd);
        }
        freeaddrinfo(res);
        return ok;
}

/* Paho checks the server's host name after the handshake and then fails without an OpenSSL
 * error, like a server that closed the connection. A handshake of our own (no client
 * certificate) tells them apart: true, with the reason, when the server's certificate does
 * not verify for host. Runs on Paho's thread; bounded by 2 s socket timeouts. */
static bool server_cert_refused(const char *host, int port, const char *ca_file, char *reason,
                                size_t size)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        struct timeval tv = {.tv_sec = 2};
        char service[8];
        SSL_CTX *ctx = NULL;
        SSL *ssl = NULL;
        long v = X509_V_OK;
        int fd = -1;

        snprintf(service, sizeof(service), "%d", port);
        if (getaddrinfo(host, service, &hints, &res) != 0)
                return false;
        fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
            connect(fd, res->ai_addr, res->ai_addrlen) < 0)
                goto out;
        ctx = SSL_CTX_new_ex(NULL, "provider=default", TLS_client_method());
        if (!ctx || !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) ||
            SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
                goto out;
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* finish, then read the result */
        ssl = SSL_new(ctx);
        if (!ssl || !SSL_set1_host(ssl, host) || !SSL_set_tlsext_host_name(ssl, host) ||
            !SSL_set_fd(ssl, fd))
                goto out;
        (void)SSL_connect(ssl); /* a server that wants a client certificate may end it here */
        if (SSL_get0_peer_certificate(ssl))
                v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
                snprintf(reason, size, "%s", X509_verify_cert_error_string(v));
out:
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        if (fd >= 0)
                close(fd);
        freeaddrinfo(res);
        ERR_clear_error();
        return v != X509_V_OK;
}

/* Does host resolve now? Paho reports a name that does not resolve as a bare failure (code -1,
 * no message), like a server that closed the connection before CONNACK. 0 or an EAI_* code. */
int ob_paho_resolve(const char *host)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
        int r = getaddrinfo(host, NULL, &hints, &res);

        if (r == 0)
                freeaddrinfo(res);
        return r;
}

#define DIAGNOSIS_REUSE_MS (10 * 60 * 1000)

static uint64_t monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* server_cert_refused() for the connection being made. A verdict of "the server's certificate
 * is fine" is reused for DIAGNOSIS_REUSE_MS for the same server and trust anchor, so a streak of
 * refused client certificates (or a dead stand-in) costs one extra handshake, not one per
 * attempt; a bad server certificate is checked again each time (it may have been fixed).
 * Runs on Paho's thread. */
bool ob_paho_server_cert_check(Paho *p, char *reason, size_t size)
{
        char key[sizeof(p->diag_for)];
        uint64_t now = monotonic_ms();

        snprintf(key, sizeof(key), "%.200s:%d:%.90s", p->host, p->port, p->ca_file);
        if (p->diag_at_ms && !p->diag_bad && strcmp(key, p->diag_for) == 0 &&
            now - p->diag_at_ms < DIAGNOSIS_REUSE_MS) {
                snprintf(reason, size, "%s", p->diag_why);
                return p->diag_bad;
        }
        p->diag_why[0] = 0;
        p->diag_bad =
                server_cert_refused(p->host, p->port, p->ca_file, p->diag_why, sizeof(p->diag_why));
        snprintf(p->diag_for, sizeof(p->diag_for), "%s", key);
        p->diag_at_ms = now;
        snprintf(reason, size, "%s", p->diag_why);
        return p->diag_bad;
}

/* ---------------------------------------------------------------- failure texts */

/* Keep one OpenSSL error line in buf (SSL_LINE_MAX bytes); its newline is not part of a status
 * text. */
void ob_paho_keep_ssl_line(char *buf, const char *str, size_t len)
{
        while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
                len--;
        snprintf(buf, SSL_LINE_MAX, "%.*s", (int)OB_MIN(len, (size_t)SSL_LINE_MAX - 1), str);
}

/* A TLS failure from OpenSSL's last line: an alert from the server is looked up in the one
 * table (lib/conn-outcome.c: its class, and what it means, in the text); our side's
 * verification, a protocol mismatch, or anything without an alert is a TLS problem. */
ObConnCause ob_paho_ssl_line_outcome(const char *line, ObErrClass *c, char *detail, size_t size)
{
        const ObTlsAlert *a =
                strstr(line, "certificate verify failed") ? NULL : ob_conn_tls_alert(line);

        if (!a) {
                *c = OB_ERR_TLS;
                snprintf(detail, size, "TLS: %s", line);
                return OB_CONN_TLS;
        }
        *c = a->cls;
        snprintf(detail, size, "TLS alert \"%s\" from the server: %s (%s)", a->name, a->means,
                 line);
        return OB_CONN_TLS_ALERT;
}

void ob_paho_server_cert_text(char *detail, size_t size, const char *why, const char *host)
{
        snprintf(detail, size, "TLS: server certificate verify failed: %.100s (for %.100s)", why,
                 host);
}
