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
 * is passed to Paho as it is and always uses the tpm2 provider; the TLS-with-TPM-key seam
 * (agent/tls-handle-key.h, the daemon only) makes Paho's key loading understand it, and this
 * file checks that Paho's call really reached it (seam_missed()).
 *
 * Its neighbours (transport-paho-private.h): agent/tls-provider.c sets the OpenSSL providers
 * for each connection, agent/transport-diagnosis.c tells apart failures Paho reports alike,
 * agent/transport-probe.c makes the probe (OpenSSL alone, no Paho).
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <MQTTAsync.h>

#include "key-provider.h"
#include "macro.h"
#include "tls-handle-key.h"
#include "tls-provider.h"
#include "transport-paho-private.h"
#include "transport-paho.h"

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

void ob_paho_push_simple(Paho *p, ObTransportEventType type, ObErrClass c, int token,
                         const char *detail)
{
        ObTransportEvent ev = {.type = type, .err_class = c, .token = token};
        snprintf(ev.detail, sizeof(ev.detail), "%s", detail ? detail : "");
        push(p, &ev);
}

void ob_paho_push_connect_failed(Paho *p, ObErrClass c, ObConnCause cause, const char *detail)
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

/* ---------------------------------------------------------------- Paho callbacks */

static int on_ssl_error(const char *str, size_t len, void *u)
{
        Paho *p = u;
        pthread_mutex_lock(&p->lock);
        ob_paho_keep_ssl_line(p->ssl_error, str, len);
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
        ob_paho_push_connect_failed(p, OB_ERR_TLS, OB_CONN_TLS, OB_TLS_SEAM_UNBOUND_TEXT);
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
                ob_paho_push_simple(ctx, OB_TEV_CONNECTED, 0, 0, "connected");
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
                cause = ob_paho_ssl_line_outcome(ssl, &c, detail, sizeof(detail));
                if (strstr(ssl, "certificate verify failed") &&
                    ob_paho_server_cert_check(p, why, sizeof(why))) {
                        /* OpenSSL's line does not say why: expired, unknown CA, ... */
                        cause = OB_CONN_SERVER_CERT;
                        ob_paho_server_cert_text(detail, sizeof(detail), why, p->host);
                }
        } else if ((gai = ob_paho_resolve(p->host)) != 0) {
                c = OB_ERR_NETWORK;
                cause = OB_CONN_NETWORK;
                snprintf(detail, sizeof(detail), "network: cannot resolve %.64s: %s", p->host,
                         gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        } else if (strstr(msg, "TCP") && (reachable = ob_paho_tcp_reachable(p->host, p->port)) &&
                   ob_paho_server_cert_check(p, why, sizeof(why))) {
                /* Paho's own host name check failed (it reports no OpenSSL error) */
                c = OB_ERR_TLS;
                cause = OB_CONN_SERVER_CERT;
                ob_paho_server_cert_text(detail, sizeof(detail), why, p->host);
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
        ob_paho_push_connect_failed(p, c, cause, detail);
}

static void on_subscribed(void *ctx, MQTTAsync_successData *d)
{
        ob_paho_push_simple(ctx, OB_TEV_SUBSCRIBED, 0, d ? d->token : 0, "subscribed");
}

/* The SUBACK of do_subscribe_many: Paho calls it a success even when some return codes are
 * 0x80 (refused, MQTT 3.1.1 §3.9.3), so check each one. */
static void on_subscribed_many(void *ctx, MQTTAsync_successData *d)
{
        Paho *p = ctx;
        char refused[sizeof(p->many_topics[0])] = "";

        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->many_n && !refused[0]; i++)
                if (!d || (p->many_n > 1 ? !d->alt.qosList || d->alt.qosList[i] == 0x80
                                         : d->alt.qos == 0x80))
                        snprintf(refused, sizeof(refused), "%s", p->many_topics[i]);
        pthread_mutex_unlock(&p->lock);
        if (refused[0])
                ob_paho_push_simple(p, OB_TEV_SUBSCRIBE_FAILED, 0, d ? d->token : 0, refused);
        else
                ob_paho_push_simple(p, OB_TEV_SUBSCRIBED, 0, d ? d->token : 0, "subscribed");
}

/* The SUBSCRIBE of do_subscribe_many failed as a whole (lost connection, timeout): no filter
 * to name */
static void on_subscribe_many_failed(void *ctx, MQTTAsync_failureData *d)
{
        ob_paho_push_simple(ctx, OB_TEV_SUBSCRIBE_FAILED, 0, d ? d->token : 0, "");
}

static void on_subscribe_failed(void *ctx, MQTTAsync_failureData *d)
{
        ob_paho_push_simple(ctx, OB_TEV_SUBSCRIBE_FAILED, 0, d ? d->token : 0,
                            d && d->message ? d->message : "subscription refused");
}

static void on_published(void *ctx, MQTTAsync_successData *d)
{
        ob_paho_push_simple(ctx, OB_TEV_PUBLISHED, 0, d ? d->token : 0, "published");
}

static void on_publish_failed(void *ctx, MQTTAsync_failureData *d)
{
        ob_paho_push_simple(ctx, OB_TEV_PUBLISH_FAILED, 0, d ? d->token : 0,
                            d && d->message ? d->message : "publish failed");
}

static void on_connection_lost(void *ctx, char *cause)
{
        ob_paho_push_simple(ctx, OB_TEV_CONNECTION_LOST, 0, 0, cause ? cause : "connection lost");
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

/* What a connection and a probe start with: the options checked, whatever ran before ended
 * (or handed to the reaper), the OpenSSL provider preference for this key, and the server
 * remembered for classifying failures (ob_paho_server_cert_check()). */
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
        ob_paho_probe_wait(p);
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
                ob_paho_push_connect_failed(p, OB_ERR_TLS, OB_CONN_TLS, OB_TLS_SEAM_UNBOUND_TEXT);
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

static int do_probe(void *impl, const ObConnectOptions *o)
{
        Paho *p = impl;
        int r;

        /* (the session before goes; its teardown may still run on the reaper: it uses no key
         * any more, so the provider preference can change under it) */
        r = begin_connection(p, o);
        if (r != 0)
                return r < 0 ? r : 0; /* > 0: failed, and the failure queued */
        return ob_paho_probe_start(p, o);
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
        ob_paho_probe_wait(p);
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
