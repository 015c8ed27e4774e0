/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the Paho transport's files share (agent/transport-paho.c: the ObTransport over Paho and
 * its callbacks; agent/transport-diagnosis.c: why a connection failed; agent/transport-probe.c:
 * the probe, a connection made with OpenSSL alone). Not an API. Only transport-paho.c includes
 * Paho (make check-layering).
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn-outcome.h"
#include "transport.h"

typedef struct Node {
        struct Node *next;
        ObTransportEvent ev;
} Node;

#define OB_PAHO_MAX_FILTERS 8   /* subscribe_many */
#define SSL_LINE_MAX        200 /* one OpenSSL error line kept (ob_paho_keep_ssl_line()) */

typedef struct Paho {
        void *client; /* MQTTAsync (a void *): only transport-paho.c includes Paho */
        int efd;
        pthread_mutex_t lock;
        Node *head, *tail;
        size_t queued;
        char ssl_error[SSL_LINE_MAX]; /* last OpenSSL error seen during the handshake */
        unsigned char alpn[64];
        char host[256]; /* of the connection being made, for classifying failures */
        int port;
        char ca_file[512];
        /* the last diagnosis of the server's certificate (ob_paho_server_cert_check): reused for a
         * while so a streak of refusals costs one extra handshake, not one per attempt */
        char diag_for[300];
        uint64_t diag_at_ms;
        bool diag_bad;
        char diag_why[120];
        /* the filters of the subscribe_many in flight, to name a refused one */
        size_t many_n;
        char many_topics[OB_PAHO_MAX_FILTERS][256]; /* AWS: a topic is at most 256 bytes */
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

/* ---- transport-paho.c */

/* Queue an event for the loop thread (any thread). Bounded: overflow drops it. */
void ob_paho_push_simple(Paho *p, ObTransportEventType type, ObErrClass c, int token,
                         const char *detail);
void ob_paho_push_connect_failed(Paho *p, ObErrClass c, ObConnCause cause, const char *detail);

/* ---- transport-diagnosis.c: telling failures apart that Paho reports alike (Paho's thread) */

/* Can a TCP connection to host:port be made now (bounded wait)? */
bool ob_paho_tcp_reachable(const char *host, int port);
/* Does host resolve now? 0 or an EAI_* code. */
int ob_paho_resolve(const char *host);
/* True, with the reason, when the server's certificate does not verify for p's connection
 * (cached for a while when it does). */
bool ob_paho_server_cert_check(Paho *p, char *reason, size_t size);
/* One OpenSSL error line into buf (SSL_LINE_MAX bytes), without its newline. */
void ob_paho_keep_ssl_line(char *buf, const char *str, size_t len);
/* A TLS failure's class, cause and text from OpenSSL's last line. */
ObConnCause ob_paho_ssl_line_outcome(const char *line, ObErrClass *c, char *detail, size_t size);
/* The text of a server certificate that does not verify. */
void ob_paho_server_cert_text(char *detail, size_t size, const char *why, const char *host);

/* ---- transport-probe.c */

/* Start a probe of o's server on a thread of its own (begin_connection() done); its outcome
 * comes as an OB_TEV_CONNECTED or OB_TEV_CONNECT_FAILED event. 0, -ENOMEM, -errno. */
int ob_paho_probe_start(Paho *p, const ObConnectOptions *o);
/* Join the probe thread, if any. */
void ob_paho_probe_wait(Paho *p);
