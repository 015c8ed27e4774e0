/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How a failed connection to IoT Core is understood: the one table from what the transport
 * observed (a CONNACK code, OpenSSL's last error line, a close, the time it took) to an error
 * class (the retry schedule, lib/errclass.h) and a cause, which says whether the refusal can be
 * a just-in-time registration in progress (docs/errors.md, "Connection outcomes"). Pure.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "errclass.h"

typedef enum ObConnCause {
        OB_CONN_UNKNOWN,         /* nothing observed (e.g. a fake transport) */
        OB_CONN_CONNACK_REFUSED, /* a CONNACK with a refusal code */
        OB_CONN_CLOSED,          /* TLS up, closed before CONNACK, no alert: how AWS refuses a
                                    certificate it does not (yet) accept: JITP/JITR pending,
                                    inactive, revoked, or not allowed by the policy */
        OB_CONN_THROTTLED,       /* closed before CONNACK within 1 s of the previous CONNECT of the
                                    same client id: AWS's one CONNECT per second */
        OB_CONN_TLS_ALERT,       /* the server sent an alert naming our certificate or key */
        OB_CONN_SERVER_CERT,     /* our verification of the server's certificate failed */
        OB_CONN_TLS,             /* any other handshake failure (protocol, cipher) */
        OB_CONN_NO_CONNACK,      /* TLS up, the CONNECT unanswered for the whole timeout */
        OB_CONN_NETWORK,         /* DNS or TCP */
        OB_CONN_TIMEOUT,         /* TCP or TLS did not finish in time */
        _OB_CONN_CAUSE_MAX,
} ObConnCause;

/* A TLS alert the server sent, as OpenSSL names it in its error line. */
typedef struct ObTlsAlert {
        const char *name;  /* OpenSSL's words: "unknown ca", "bad certificate", ... */
        ObErrClass cls;    /* refused (our certificate), or tls (a misconfiguration) */
        const char *means; /* what it says about this device, for the status text */
} ObTlsAlert;

/* The alert in OpenSSL's error line (e.g. "...:tlsv1 alert unknown ca:..."), or NULL when the
 * line names none. An alert not in the table is returned as {name "alert", cls tls}. */
const ObTlsAlert *ob_conn_tls_alert(const char *ssl_line);

/* Stable names ("closed", "tls-alert", ...) for status and the journal; NULL out of range. */
const char *ob_conn_cause_to_string(ObConnCause c);

/* The class of a cause. */
ObErrClass ob_conn_cause_class(ObConnCause c);

/*
 * A connection closed before CONNACK without an alert, elapsed_ms after it began, which began
 * since_prev_ms after the previous CONNECT of the same client id (< 0: none known), with a
 * connect timeout of timeout_ms: OB_CONN_NO_CONNACK when the whole timeout passed (a broker that
 * takes TLS and never answers is not refusing us), OB_CONN_THROTTLED within a second of the
 * previous CONNECT, else OB_CONN_CLOSED.
 */
ObConnCause ob_conn_classify_close(int64_t elapsed_ms, int64_t timeout_ms, int64_t since_prev_ms);

/* Whether a refusal with this cause may be a just-in-time registration (JITP) or an activation
 * (JITR) in progress: only a plain close or a CONNACK refusal; never an alert, a throttle or a
 * timeout. */
bool ob_conn_cause_may_be_pending(ObConnCause c);
