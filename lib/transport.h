/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The transport seam: how the agent talks MQTT over TLS to IoT Core. The state machines in
 * lib/ see only this interface; agent/transport-paho.c implements it with Paho MQTTAsync (the
 * only file that includes Paho), unit tests use fakes.
 *
 * Everything is asynchronous: calls start an operation and return; results arrive as events.
 * The implementation queues events (bounded) and makes event_fd readable while any are queued,
 * so the daemon's event loop stays single-threaded.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "conn-outcome.h"
#include "errclass.h"

#define OB_TRANSPORT_MAX_PAYLOAD (128 * 1024) /* larger messages are dropped with an event */
#define OB_TRANSPORT_MAX_EVENTS  64

typedef enum ObTransportEventType {
        OB_TEV_CONNECTED,        /* CONNACK accepted */
        OB_TEV_CONNECT_FAILED,   /* err_class + detail */
        OB_TEV_SUBSCRIBED,       /* token */
        OB_TEV_SUBSCRIBE_FAILED, /* token, detail */
        OB_TEV_PUBLISHED,        /* token (QoS 1: PUBACK received) */
        OB_TEV_PUBLISH_FAILED,   /* token, detail */
        OB_TEV_MESSAGE,          /* topic + payload */
        OB_TEV_MESSAGE_DROPPED,  /* a message was too large or the queue was full; detail */
        OB_TEV_CONNECTION_LOST,  /* detail */
} ObTransportEventType;

typedef struct ObTransportEvent {
        ObTransportEventType type;
        ObErrClass err_class; /* OB_TEV_CONNECT_FAILED */
        ObConnCause cause;    /* OB_TEV_CONNECT_FAILED: what was seen (lib/conn-outcome.h) */
        int token;            /* subscribe/publish token */
        char detail[256];     /* human text, never secrets */
        char *topic;          /* OB_TEV_MESSAGE, owned by the event */
        uint8_t *payload;     /* OB_TEV_MESSAGE, owned by the event */
        size_t payload_len;
} ObTransportEvent;

/* Free what the event owns; the event can be reused. */
void ob_transport_event_clear(ObTransportEvent *e);

typedef struct ObConnectOptions {
        const char *host;      /* endpoint host name; also the TLS SNI and verified name */
        int port;              /* 8883, or 443 with alpn */
        const char *alpn;      /* e.g. "x-amzn-mqtt-ca", NULL for none */
        const char *ca_file;   /* server trust anchor(s) */
        const char *cert_file; /* client certificate (may be followed by its chain, for JITP) */
        const char *key_file;  /* PEM key or TSS2 PRIVATE KEY */
        const char *provider;  /* "tpm2" for a TPM key, "default" (or NULL) for a software key */
        const char *tcti;      /* TCTI for the tpm2 provider */
        const char *client_id;
        int keepalive_s;
        int timeout_ms; /* connect timeout */
} ObConnectOptions;

typedef struct ObTransportOps {
        /* Start connecting (disconnects first if connected). Result: CONNECTED or CONNECT_FAILED.
         */
        int (*connect)(void *impl, const ObConnectOptions *o);
        /* Start a QoS 0/1 subscription; *ret_token identifies the SUBSCRIBED event. */
        int (*subscribe)(void *impl, const char *topic, int qos, int *ret_token);
        /* Optional (NULL: subscribe one by one): one SUBSCRIBE for n (<= 8) filters, so one round
         * trip. One event for *ret_token: SUBSCRIBED when every filter was granted, else
         * SUBSCRIBE_FAILED whose detail is the first refused filter (empty if the SUBSCRIBE
         * failed as a whole). */
        int (*subscribe_many)(void *impl, const char *const *topics, size_t n, int qos,
                              int *ret_token);
        int (*publish)(void *impl, const char *topic, const void *payload, size_t len, int qos,
                       int *ret_token);
        /* Optional (NULL: connect, then disconnect): prove that these credentials are accepted
         * (TLS handshake, CONNECT, CONNACK) and close again; no connection is kept, nothing
         * can be subscribed or published. One event: CONNECTED or CONNECT_FAILED, classified
         * like connect's. For the verification before a commit, which needs nothing more. */
        int (*probe)(void *impl, const ObConnectOptions *o);
        /* Disconnect and wait (bounded) until the connection is gone. */
        int (*disconnect)(void *impl);
        /* Readable while events are queued. */
        int (*event_fd)(void *impl);
        /* Pop the next event: 0, or -EAGAIN when the queue is empty. */
        int (*next_event)(void *impl, ObTransportEvent *ret);
        void (*free)(void *impl);
} ObTransportOps;

typedef struct ObTransport {
        const ObTransportOps *ops;
        void *impl;
} ObTransport;
