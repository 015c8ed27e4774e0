/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ObTransport over Paho MQTT C's asynchronous client (paho-mqtt3as). The only file that
 * includes Paho. Paho's callbacks run on Paho's threads: they only queue events (mutex +
 * eventfd) and never call into the rest of the agent.
 *
 * Facts this relies on (DESIGN.md §2): MQTTVersion is set to 3.1.1 explicitly (the default
 * silently retries a refused CONNECT with 3.1); the tpm2 and default OpenSSL providers are
 * loaded into the default library context before Paho creates its SSL_CTX, and the default
 * property query is set per connection so a TPM key and a software key both work in one
 * process (connections never overlap). A key at a persistent TPM handle ("handle:0x81000002")
 * is passed to Paho as it is and always uses the tpm2 provider; agent/tls-handle-key.c (the
 * daemon only) makes Paho's key loading understand it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <MQTTAsync.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "key-provider.h"
#include "macro.h"
#include "tls-handle-key.h"
#include "tls-provider.h"
#include "transport-paho.h"

typedef struct Node {
        struct Node *next;
        ObTransportEvent ev;
} Node;

#define OB_PAHO_MAX_FILTERS 8   /* subscribe_many */
#define SSL_LINE_MAX        200 /* one OpenSSL error line kept (keep_ssl_line()) */

typedef struct Paho {
        MQTTAsync client;
        int efd;
        pthread_mutex_t lock;
        Node *head, *tail;
        size_t queued;
        char ssl_error[SSL_LINE_MAX]; /* last OpenSSL error seen during the handshake */
        unsigned char alpn[64];
        char host[256]; /* of the connection being made, for classifying failures */
        int port;
        char ca_file[512];
        /* the last diagnosis of the server's certificate (server_cert_check): reused for a while
         * so a streak of refusals costs one extra handshake, not one per attempt */
        char diag_for[300];
        uint64_t diag_at_ms;
        bool diag_bad;
        char diag_why[120];
        /* the filters of the subscribe_many in flight, to name a refused one */
        size_t many_n;
        char many_topics[OB_PAHO_MAX_FILTERS][160];
        /* the thread destroying the last client (reap()), joined before the next is made */
        pthread_t reaper;
        bool reaping;
        /* the probe in flight (do_probe()); its event is dropped once generation moved on */
        pthread_t prober;
        bool probing;
        unsigned generation;
        int probe_fd; /* the probe's socket while it has one, else -1; do_disconnect() shuts it
                         down so a probe never holds up a disconnect or the daemon's stop */
        /* a "handle:" key, and the seam's count of them before this connection (seam_missed()) */
        bool handle_key;
        unsigned handle_calls;
#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
        char cert_file[512], key_file[32]; /* a "handle:" key's, for on_ssl_ctx() */
#endif
} Paho;

/* Paho ignores sslVersion with OpenSSL >= 1.1 (it always uses TLS_client_method), and Debian
 * 12's OpenSSL still negotiates TLS 1.1 with an RSA key exchange: so no cipher suite that
 * TLS < 1.2 can use is offered (TLS 1.3 suites are configured apart and stay). */
#define TLS12_CIPHERS "DEFAULT:!SSLv3:!TLSv1"

/* Queue an event (takes ownership of topic/payload). Bounded: overflow drops the event. */
static void push(Paho *p, const ObTransportEvent *ev)
{
        Node *n = calloc(1, sizeof(*n));
        pthread_mutex_lock(&p->lock);
        if (!n || p->queued >= OB_TRANSPORT_MAX_EVENTS) {
                pthread_mutex_unlock(&p->lock);
                free(n);
                ObTransportEvent copy = *ev;
                ob_transport_event_clear(&copy);
                return;
        }
        n->ev = *ev;
        if (p->tail)
                p->tail->next = n;
        else
                p->head = n;
        p->tail = n;
        p->queued++;
        pthread_mutex_unlock(&p->lock);
        uint64_t one = 1;
        (void)!write(p->efd, &one, sizeof(one));
}

static void push_simple(Paho *p, ObTransportEventType type, ObErrClass c, int token,
                        const char *detail)
{
        ObTransportEvent ev = {.type = type, .err_class = c, .token = token};
        snprintf(ev.detail, sizeof(ev.detail), "%s", detail ? detail : "");
        push(p, &ev);
}

static void push_connect_failed(Paho *p, ObErrClass c, ObConnCause cause, const char *detail)
{
        ObTransportEvent ev = {.type = OB_TEV_CONNECT_FAILED, .err_class = c, .cause = cause};
        snprintf(ev.detail, sizeof(ev.detail), "%s", detail);
        push(p, &ev);
}

static int next_event(void *impl, ObTransportEvent *ret)
{
        Paho *p = impl;
        uint64_t v;

        pthread_mutex_lock(&p->lock);
        Node *n = p->head;
        if (n) {
                p->head = n->next;
                if (!p->head)
                        p->tail = NULL;
                p->queued--;
        }
        if (!p->head)
                (void)!read(p->efd, &v, sizeof(v)); /* drain: not readable while empty */
        pthread_mutex_unlock(&p->lock);
        if (!n)
                return -EAGAIN;
        *ret = n->ev;
        free(n);
        return 0;
}

static int event_fd(void *impl)
{
        return ((Paho *)impl)->efd;
}

/* Can a TCP connection to host:port be made now (bounded wait)? Paho reports a refused TCP
 * connection and a TLS connection the server closed (unknown or unregistered client
 * certificate, JITP) with the same text; this tells them apart. Runs on Paho's thread. */
static bool tcp_reachable(const char *host, int port)
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
static int resolve(const char *host)
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
static bool server_cert_check(Paho *p, char *reason, size_t size)
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
static void keep_ssl_line(char *buf, const char *str, size_t len)
{
        while (len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r'))
                len--;
        snprintf(buf, SSL_LINE_MAX, "%.*s", (int)OB_MIN(len, (size_t)SSL_LINE_MAX - 1), str);
}

/* A TLS failure from OpenSSL's last line: an alert from the server is looked up in the one
 * table (lib/conn-outcome.c: its class, and what it means, in the text); our side's
 * verification, a protocol mismatch, or anything without an alert is a TLS problem. */
static ObConnCause ssl_line_outcome(const char *line, ObErrClass *c, char *detail, size_t size)
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

static void server_cert_text(char *detail, size_t size, const char *why, const char *host)
{
        snprintf(detail, size, "TLS: server certificate verify failed: %.100s (for %.100s)", why,
                 host);
}

/* ---------------------------------------------------------------- Paho callbacks */

static int on_ssl_error(const char *str, size_t len, void *u)
{
        Paho *p = u;
        pthread_mutex_lock(&p->lock);
        keep_ssl_line(p->ssl_error, str, len);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

/* The runtime check of the seam (agent/tls-handle-key.h): Paho set up TLS with a "handle:" key
 * but its SSL_CTX_use_PrivateKey_file call never reached the agent's replacement (a libssl or
 * Paho bound differently): the connection used no TPM key, or failed on a "file" that is none.
 * True after reporting that as the connection's failure. Runs on Paho's thread. */
static bool seam_missed(Paho *p)
{
#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
        (void)p;
        return false; /* the key is loaded in on_ssl_ctx(), not through the seam */
#else
        if (!p->handle_key || ob_tls_handle_key_reached(p->handle_calls))
                return false;
        push_connect_failed(p, OB_ERR_TLS, OB_CONN_TLS, OB_TLS_SEAM_UNBOUND_TEXT);
        return true;
#endif
}

#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
/* Paho's SSL_CTX, set up but for a "handle:" key's certificate and key (do_connect()) */
static int on_ssl_ctx(void *ctx, void *u)
{
        Paho *p = u;

        return ob_tls_use_handle_key_files(ctx, p->cert_file, p->key_file);
}
#endif

static void on_connected(void *ctx, MQTTAsync_successData *d)
{
        if (!seam_missed(ctx))
                push_simple(ctx, OB_TEV_CONNECTED, 0, 0, "connected");
}

static void on_connect_failed(void *ctx, MQTTAsync_failureData *d)
{
        Paho *p = ctx;
        char detail[256], ssl[SSL_LINE_MAX], why[120];
        bool reachable = false;
        ObErrClass c;
        ObConnCause cause;
        int code = d ? d->code : MQTTASYNC_FAILURE;
        const char *msg = d && d->message ? d->message : "";
        int gai;

        pthread_mutex_lock(&p->lock);
        snprintf(ssl, sizeof(ssl), "%s", p->ssl_error);
        pthread_mutex_unlock(&p->lock);

        /* TLS was set up (an OpenSSL error, or an MQTT answer): was the key the TPM's? */
        if ((ssl[0] || (code >= 1 && code <= 5)) && seam_missed(p))
                return;
        if (code >= 1 && code <= 5) {
                /* CONNACK refusal (3.1.1 return codes); 4/5 = bad credentials / not authorized */
                c = OB_ERR_REFUSED;
                cause = OB_CONN_CONNACK_REFUSED;
                snprintf(detail, sizeof(detail), "CONNACK refused with return code %d", code);
        } else if (ssl[0]) {
                /* our side's verification failures and the server's alerts (unknown CA,
                 * bad certificate) both surface as OpenSSL errors */
                cause = ssl_line_outcome(ssl, &c, detail, sizeof(detail));
                if (strstr(ssl, "certificate verify failed") &&
                    server_cert_check(p, why, sizeof(why))) {
                        /* OpenSSL's line does not say why: expired, unknown CA, ... */
                        cause = OB_CONN_SERVER_CERT;
                        server_cert_text(detail, sizeof(detail), why, p->host);
                }
        } else if ((gai = resolve(p->host)) != 0) {
                c = OB_ERR_NETWORK;
                cause = OB_CONN_NETWORK;
                snprintf(detail, sizeof(detail), "network: cannot resolve %.64s: %s", p->host,
                         gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        } else if (strstr(msg, "TCP") && (reachable = tcp_reachable(p->host, p->port)) &&
                   server_cert_check(p, why, sizeof(why))) {
                /* Paho's own host name check failed (it reports no OpenSSL error) */
                c = OB_ERR_TLS;
                cause = OB_CONN_SERVER_CERT;
                server_cert_text(detail, sizeof(detail), why, p->host);
        } else if (reachable) {
                /* TCP works, so the server ended the TLS session: it did not accept the
                 * client certificate (unregistered, inactive, revoked, JITP pending), or it
                 * never answered (the engine tells by the time: ob_conn_classify_close) */
                c = OB_ERR_REFUSED;
                cause = OB_CONN_CLOSED;
                snprintf(detail, sizeof(detail),
                         "the server closed the TLS connection: client certificate not accepted");
        } else if (strstr(msg, "TCP") || strstr(msg, "connect") || strstr(msg, "getaddrinfo") ||
                   strstr(msg, "resolve")) {
                c = strstr(msg, "timeout") ? OB_ERR_TIMEOUT : OB_ERR_NETWORK;
                cause = c == OB_ERR_TIMEOUT ? OB_CONN_TIMEOUT : OB_CONN_NETWORK;
                snprintf(detail, sizeof(detail), "network: %s (code %d)", msg, code);
        } else if (strstr(msg, "timeout") || code == MQTTASYNC_OPERATION_INCOMPLETE) {
                c = OB_ERR_TIMEOUT;
                cause = OB_CONN_TIMEOUT;
                snprintf(detail, sizeof(detail), "timeout: %s", msg);
        } else {
                /* closed after the TLS handshake, before CONNACK: how AWS refuses a JITP
                 * certificate on its first connection */
                c = OB_ERR_REFUSED;
                cause = OB_CONN_CLOSED;
                snprintf(detail, sizeof(detail), "connection closed before CONNACK: %s (code %d)",
                         msg[0] ? msg : "no reason given", code);
        }
        push_connect_failed(p, c, cause, detail);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *d)
{
        push_simple(ctx, OB_TEV_SUBSCRIBED, 0, d ? d->token : 0, "subscribed");
}

/* The SUBACK of do_subscribe_many: Paho calls it a success even when some return codes are
 * 0x80 (refused, MQTT 3.1.1 §3.9.3), so check each one. */
static void on_subscribed_many(void *ctx, MQTTAsync_successData *d)
{
        Paho *p = ctx;
        char refused[160] = "";

        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->many_n && !refused[0]; i++)
                if (!d || (p->many_n > 1 ? !d->alt.qosList || d->alt.qosList[i] == 0x80
                                         : d->alt.qos == 0x80))
                        snprintf(refused, sizeof(refused), "%s", p->many_topics[i]);
        pthread_mutex_unlock(&p->lock);
        if (refused[0])
                push_simple(p, OB_TEV_SUBSCRIBE_FAILED, 0, d ? d->token : 0, refused);
        else
                push_simple(p, OB_TEV_SUBSCRIBED, 0, d ? d->token : 0, "subscribed");
}

/* The SUBSCRIBE of do_subscribe_many failed as a whole (lost connection, timeout): no filter
 * to name */
static void on_subscribe_many_failed(void *ctx, MQTTAsync_failureData *d)
{
        push_simple(ctx, OB_TEV_SUBSCRIBE_FAILED, 0, d ? d->token : 0, "");
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *d)
{
        push_simple(ctx, OB_TEV_SUBSCRIBE_FAILED, 0, d ? d->token : 0,
                    d && d->message ? d->message : "subscription refused");
}

static void on_published(void *ctx, MQTTAsync_successData *d)
{
        push_simple(ctx, OB_TEV_PUBLISHED, 0, d ? d->token : 0, "published");
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *d)
{
        push_simple(ctx, OB_TEV_PUBLISH_FAILED, 0, d ? d->token : 0,
                    d && d->message ? d->message : "publish failed");
}

static void on_connection_lost(void *ctx, char *cause)
{
        push_simple(ctx, OB_TEV_CONNECTION_LOST, 0, 0, cause ? cause : "connection lost");
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *m)
{
        Paho *p = ctx;
        size_t tlen = topic_len > 0 ? (size_t)topic_len : strlen(topic);
        ObTransportEvent ev = {.type = OB_TEV_MESSAGE};

        if (m->payloadlen < 0 || (size_t)m->payloadlen > OB_TRANSPORT_MAX_PAYLOAD) {
                ev.type = OB_TEV_MESSAGE_DROPPED;
                snprintf(ev.detail, sizeof(ev.detail), "message of %d bytes on %.*s dropped",
                         m->payloadlen, (int)OB_MIN(tlen, (size_t)150), topic);
        } else {
                ev.topic = strndup(topic, tlen);
                ev.payload = malloc((size_t)m->payloadlen + 1);
                if (!ev.topic || !ev.payload) {
                        ob_transport_event_clear(&ev);
                        ev.type = OB_TEV_MESSAGE_DROPPED;
                        snprintf(ev.detail, sizeof(ev.detail), "out of memory");
                } else {
                        memcpy(ev.payload, m->payload, (size_t)m->payloadlen);
                        ev.payload[m->payloadlen] = 0; /* convenience for text payloads */
                        ev.payload_len = (size_t)m->payloadlen;
                }
        }
        push(p, &ev);
        MQTTAsync_freeMessage(&m);
        MQTTAsync_free(topic);
        return 1;
}

/* ---------------------------------------------------------------- operations */

/* A key at a persistent TPM handle ("handle:0x81000002", a vendor's) rather than a file. */
static bool handle_key(const char *key_file)
{
        return ob_key_path_is_handle(key_file);
}

/* Destroying the last client stops Paho's two threads, and Paho 1.3.12 (MQTTAsync_stop())
 * sleeps 100 ms before it first looks whether they ended. That wait runs on a thread of ours,
 * so the event loop, and a probe that follows, do not sit through it. */
static void *reap(void *arg)
{
        MQTTAsync client = arg;

        MQTTAsync_destroy(&client);
        /* Paho's threads are gone; glibc keeps the arenas they allocated from, resident
         * (~0.5 MiB after an onboarding): give their free pages back */
        (void)malloc_trim(0);
        return NULL;
}

/* The next client must not be made while Paho's threads are stopping (it would get none). */
static void reap_wait(Paho *p)
{
        if (p->reaping)
                (void)pthread_join(p->reaper, NULL);
        p->reaping = false;
}

static void probe_wait(Paho *p)
{
        if (p->probing)
                (void)pthread_join(p->prober, NULL);
        p->probing = false;
}

static int do_disconnect(void *impl)
{
        Paho *p = impl;

        pthread_mutex_lock(&p->lock);
        p->generation++; /* a probe still running reports to nobody, and ends now */
        if (p->probe_fd >= 0)
                (void)shutdown(p->probe_fd, SHUT_RDWR);
        pthread_mutex_unlock(&p->lock);
        if (!p->client)
                return 0;
        if (MQTTAsync_isConnected(p->client)) {
                MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
                d.timeout = 1000;
                if (MQTTAsync_disconnect(p->client, &d) == MQTTASYNC_SUCCESS)
                        for (int i = 0; i < 200 && MQTTAsync_isConnected(p->client); i++)
                                usleep(5000);
        }
        reap_wait(p);
        /* the signal mask is inherited: the reaper takes none of the daemon's signals */
        if (pthread_create(&p->reaper, NULL, reap, p->client) == 0)
                p->reaping = true;
        else
                MQTTAsync_destroy(&p->client);
        p->client = NULL;
        return 0;
}

/* ---------------------------------------------------------------- probe */

/* A probe: TLS handshake, CONNECT, CONNACK, DISCONNECT with OpenSSL on a thread of its own,
 * the way Paho would make the connection (same SSL_CTX settings: cipher list, trust anchor,
 * certificate chain file, key file through SSL_CTX_use_PrivateKey_file, so a "handle:" key
 * goes through agent/tls-handle-key.c; host name check; SNI; ALPN), without Paho's thread
 * start-up (up to 100 ms before the handshake begins) and teardown (100 ms). */
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
        keep_ssl_line(u, str, len);
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
                server_cert_text(detail, size, X509_verify_cert_error_string(v), q->host);
        } else if (ssl_line[0]) {
                *cause = ssl_line_outcome(ssl_line, c, detail, size);
        } else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
                   (e == SSL_ERROR_SYSCALL &&
                    (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))) {
                /* SO_RCVTIMEO / SO_SNDTIMEO ran out */
                *c = OB_ERR_TIMEOUT;
                *cause = handshaken ? OB_CONN_NO_CONNACK : OB_CONN_TIMEOUT;
                snprintf(detail, size, "timeout: no answer from %.64s:%d within %d ms%s", q->host,
                         q->port, q->timeout_ms, handshaken ? " after the TLS handshake" : "");
        } else if (!handshaken && server_cert_check(q->p, why, sizeof(why))) {
                *c = OB_ERR_TLS;
                *cause = OB_CONN_SERVER_CERT;
                server_cert_text(detail, size, why, q->host);
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
                push_simple(q->p, OB_TEV_CONNECTED, 0, 0, "connected (probe)");
        else if (current)
                push_connect_failed(q->p, c, cause, detail);
        probe_free(q);
        return NULL;
}

/* What a connection and a probe start with: the options checked, whatever ran before ended
 * (or handed to the reaper), the OpenSSL provider preference for this key, and the server
 * remembered for classifying failures (server_cert_check()). */
static int begin_connection(Paho *p, const ObConnectOptions *o)
{
        if (!o->host || !o->client_id || !o->ca_file || !o->cert_file || !o->key_file ||
            o->port <= 0 || o->port > 65535 ||
            (o->alpn && (!*o->alpn || strlen(o->alpn) >= sizeof(p->alpn))))
                return -EINVAL;
#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
        if (handle_key(o->key_file) && (strlen(o->cert_file) >= sizeof(p->cert_file) ||
                                        strlen(o->key_file) >= sizeof(p->key_file)))
                return -EINVAL;
#else
        /* a program without the seam (agentctl) cannot hand Paho a "handle:" key */
        if (handle_key(o->key_file) && !ob_tls_handle_key_active)
                return -EOPNOTSUPP;
#endif
        do_disconnect(p);
        probe_wait(p);
        snprintf(p->host, sizeof(p->host), "%s", o->host);
        snprintf(p->ca_file, sizeof(p->ca_file), "%s", o->ca_file);
        p->port = o->port;
        p->handle_key = handle_key(o->key_file);
#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
        snprintf(p->cert_file, sizeof(p->cert_file), "%s", o->cert_file);
        snprintf(p->key_file, sizeof(p->key_file), "%s", o->key_file);
#else
        p->handle_calls = ob_tls_handle_key_calls ? ob_tls_handle_key_calls() : 0;
        if (p->handle_key && !ob_tls_handle_key_active()) {
                /* the seam is linked, but libraries bind to libssl's function: say so loudly
                 * rather than let Paho open "handle:0x..." as a file */
                push_connect_failed(p, OB_ERR_TLS, OB_CONN_TLS, OB_TLS_SEAM_UNBOUND_TEXT);
                return 1;
        }
#endif
        return ob_tls_provider_select(o);
}

static int do_connect(void *impl, const ObConnectOptions *o)
{
        Paho *p = impl;
        char uri[300];
        int r;

        r = begin_connection(p, o);
        if (r != 0)
                return r < 0 ? r : 0; /* > 0: failed, and the failure queued */
        reap_wait(p);
        snprintf(uri, sizeof(uri), "ssl://%s:%d", o->host, o->port);

        MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
        co.MQTTVersion = MQTTVERSION_3_1_1;
        if (MQTTAsync_createWithOptions(&p->client, uri, o->client_id, MQTTCLIENT_PERSISTENCE_NONE,
                                        NULL, &co) != MQTTASYNC_SUCCESS)
                return -EINVAL;
        if (MQTTAsync_setCallbacks(p->client, p, on_connection_lost, on_message, NULL) !=
            MQTTASYNC_SUCCESS)
                return -EIO;

        pthread_mutex_lock(&p->lock);
        p->ssl_error[0] = 0;
        pthread_mutex_unlock(&p->lock);

        MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
        ssl.trustStore = o->ca_file;
        ssl.keyStore = o->cert_file;
        ssl.privateKey = o->key_file;
        ssl.enableServerCertAuth = 1;
        ssl.verify = 1;                            /* host name */
        ssl.sslVersion = MQTT_SSL_VERSION_TLS_1_2; /* ignored by Paho: see TLS12_CIPHERS */
        ssl.enabledCipherSuites = TLS12_CIPHERS;
        ssl.disableDefaultTrustStore = 1;
        ssl.ssl_error_cb = on_ssl_error;
        ssl.ssl_error_context = p;
        if (o->alpn) {
                size_t n = strlen(o->alpn); /* 1..63: begin_connection() */
                p->alpn[0] = (unsigned char)n;
                memcpy(p->alpn + 1, o->alpn, n);
                ssl.protos = p->alpn;
                ssl.protos_len = (unsigned)n + 1;
        }
#ifdef HAVE_PAHO_SSL_CTX_CALLBACK
        if (p->handle_key) {
                /* Paho would open both as files: on_ssl_ctx() loads them (tls-handle-key.h) */
                ssl.keyStore = NULL;
                ssl.privateKey = NULL;
                ssl.ssl_ctx_callback = on_ssl_ctx;
                ssl.ssl_ctx_callback_context = p;
        }
#endif

        MQTTAsync_connectOptions c = MQTTAsync_connectOptions_initializer;
        c.MQTTVersion = MQTTVERSION_3_1_1;
        c.keepAliveInterval = o->keepalive_s > 0 ? o->keepalive_s : 60;
        c.cleansession = 1;
        c.connectTimeout = o->timeout_ms > 0 ? (o->timeout_ms + 999) / 1000 : 30;
        c.automaticReconnect = 0;
        c.ssl = &ssl;
        c.onSuccess = on_connected;
        c.onFailure = on_connect_failed;
        c.context = p;
        if (MQTTAsync_connect(p->client, &c) != MQTTASYNC_SUCCESS)
                return -EIO;
        return 0;
}

static char *dup_or_null(const char *s, bool *failed)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                *failed = true;
        return d;
}

static int do_probe(void *impl, const ObConnectOptions *o)
{
        Paho *p = impl;
        bool failed = false;
        Probe *q;
        int r;

        /* (the session before goes; its teardown may still run on the reaper: it uses no key
         * any more, so the provider preference can change under it) */
        r = begin_connection(p, o);
        if (r != 0)
                return r < 0 ? r : 0; /* > 0: failed, and the failure queued */
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

static int do_subscribe(void *impl, const char *topic, int qos, int *ret_token)
{
        Paho *p = impl;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        ro.onSuccess = on_subscribed;
        ro.onFailure = on_subscribe_failed;
        ro.context = p;
        if (!p->client || qos < 0 || qos > 1)
                return -EINVAL;
        if (MQTTAsync_subscribe(p->client, topic, qos, &ro) != MQTTASYNC_SUCCESS)
                return -ENOTCONN;
        if (ret_token)
                *ret_token = ro.token;
        return 0;
}

static int do_subscribe_many(void *impl, const char *const *topics, size_t n, int qos,
                             int *ret_token)
{
        Paho *p = impl;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        int qoss[OB_PAHO_MAX_FILTERS];
        int r;

        if (!p->client || n == 0 || n > OB_PAHO_MAX_FILTERS || qos < 0 || qos > 1)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                if (!topics[i] || strlen(topics[i]) >= sizeof(p->many_topics[i]))
                        return -EINVAL;
                qoss[i] = qos;
        }
        /* recorded before the call: the SUBACK may come before it returns. One
         * subscribe_many at a time (per connection); never hold p->lock over a Paho call,
         * Paho holds its own lock when it calls on_message, which takes p->lock */
        pthread_mutex_lock(&p->lock);
        p->many_n = n;
        for (size_t i = 0; i < n; i++)
                snprintf(p->many_topics[i], sizeof(p->many_topics[i]), "%s", topics[i]);
        pthread_mutex_unlock(&p->lock);
        ro.onSuccess = on_subscribed_many;
        ro.onFailure = on_subscribe_many_failed;
        ro.context = p;
        r = MQTTAsync_subscribeMany(p->client, (int)n, (char *const *)topics, qoss, &ro);
        if (r != MQTTASYNC_SUCCESS)
                return -ENOTCONN;
        if (ret_token)
                *ret_token = ro.token;
        return 0;
}

static int do_publish(void *impl, const char *topic, const void *payload, size_t len, int qos,
                      int *ret_token)
{
        Paho *p = impl;
        MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
        ro.onSuccess = on_published;
        ro.onFailure = on_publish_failed;
        ro.context = p;
        if (!p->client || qos < 0 || qos > 1 || len > OB_TRANSPORT_MAX_PAYLOAD)
                return -EINVAL;
        if (MQTTAsync_send(p->client, topic, (int)len, payload, qos, 0, &ro) != MQTTASYNC_SUCCESS)
                return -ENOTCONN;
        if (ret_token)
                *ret_token = ro.token;
        return 0;
}

static void do_free(void *impl)
{
        Paho *p = impl;
        ObTransportEvent ev;
        if (!p)
                return;
        do_disconnect(p);
        probe_wait(p);
        reap_wait(p);
        while (next_event(p, &ev) == 0)
                ob_transport_event_clear(&ev);
        if (p->efd >= 0)
                close(p->efd);
        pthread_mutex_destroy(&p->lock);
        free(p);
}

static const ObTransportOps paho_ops = {
        .connect = do_connect,
        .subscribe = do_subscribe,
        .subscribe_many = do_subscribe_many,
        .publish = do_publish,
        .probe = do_probe,
        .disconnect = do_disconnect,
        .event_fd = event_fd,
        .next_event = next_event,
        .free = do_free,
};

int ob_transport_paho_new(ObTransport *ret)
{
        Paho *p;
        int r;

        r = ob_tls_provider_load_default();
        if (r < 0)
                return r;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->probe_fd = -1;
        p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (p->efd < 0) {
                r = ob_negative_errno();
                free(p);
                return r;
        }
        pthread_mutex_init(&p->lock, NULL);
        ret->ops = &paho_ops;
        ret->impl = p;
        return 0;
}

void ob_transport_free(ObTransport *t)
{
        if (t && t->ops) {
                t->ops->free(t->impl);
                t->ops = NULL;
                t->impl = NULL;
        }
}

int ob_transport_wait_event(ObTransport *t, int timeout_ms, ObTransportEvent *ret)
{
        for (;;) {
                int r = t->ops->next_event(t->impl, ret);
                if (r != -EAGAIN)
                        return r;
                struct pollfd pfd = {.fd = t->ops->event_fd(t->impl), .events = POLLIN};
                r = poll(&pfd, 1, timeout_ms);
                if (r < 0 && errno != EINTR)
                        return ob_negative_errno();
                if (r == 0)
                        return -ETIMEDOUT;
        }
}
