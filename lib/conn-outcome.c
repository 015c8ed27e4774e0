/* SPDX-License-Identifier: Apache-2.0 */
#include "conn-outcome.h"

#include <string.h>

#include "macro.h"

/* Alerts a TLS server sends about a client (RFC 8446 6.2, RFC 5246 7.2.2), as OpenSSL spells them
 * in "sslv3 alert ..." / "tlsv1 alert ..." / "tlsv13 alert ..." lines. */
static const ObTlsAlert alerts[] = {
        {"unknown ca", OB_ERR_TLS,
         "the server does not know the CA of the client certificate (CA not registered, or a "
         "certificate from another account or region)"},
        {"bad certificate", OB_ERR_REFUSED, "the server refused the client certificate"},
        {"certificate unknown", OB_ERR_REFUSED, "the server refused the client certificate"},
        {"unsupported certificate", OB_ERR_TLS,
         "the server cannot use the client certificate (its type or usage)"},
        {"certificate revoked", OB_ERR_REFUSED, "the client certificate is revoked"},
        {"certificate expired", OB_ERR_REFUSED,
         "the client certificate is expired (or the server's clock says so)"},
        {"certificate required", OB_ERR_TLS, "the server wants a client certificate"},
        {"decrypt error", OB_ERR_TLS,
         "the server could not verify our signature: the key does not match the certificate, or "
         "the key signs wrongly"},
        {"access denied", OB_ERR_REFUSED, "the server denied access to this client"},
        {"handshake failure", OB_ERR_TLS, "no common TLS parameters (version, cipher, curve)"},
        {"protocol version", OB_ERR_TLS, "the server does not speak our TLS versions"},
        {"illegal parameter", OB_ERR_TLS, "the server found a bad handshake field"},
        {"internal error", OB_ERR_TLS, "the server had an internal error"},
};

static const ObTlsAlert other_alert = {"alert", OB_ERR_TLS, "the server ended the handshake"};

const ObTlsAlert *ob_conn_tls_alert(const char *ssl_line)
{
        const char *a;

        if (!ssl_line || !(a = strstr(ssl_line, " alert ")))
                return NULL;
        a += strlen(" alert ");
        for (size_t i = 0; i < OB_ELEMENTSOF(alerts); i++)
                if (strncmp(a, alerts[i].name, strlen(alerts[i].name)) == 0)
                        return &alerts[i];
        return &other_alert;
}

static const struct {
        const char *name;
        ObErrClass cls;
} causes[_OB_CONN_CAUSE_MAX] = {
        [OB_CONN_UNKNOWN] = {"unknown", OB_ERR_REFUSED},
        [OB_CONN_CONNACK_REFUSED] = {"connack-refused", OB_ERR_REFUSED},
        [OB_CONN_CLOSED] = {"closed", OB_ERR_REFUSED},
        [OB_CONN_THROTTLED] = {"throttled", OB_ERR_THROTTLED},
        [OB_CONN_TLS_ALERT] = {"tls-alert", OB_ERR_REFUSED},
        [OB_CONN_SERVER_CERT] = {"server-certificate", OB_ERR_TLS},
        [OB_CONN_TLS] = {"tls", OB_ERR_TLS},
        [OB_CONN_NO_CONNACK] = {"no-connack", OB_ERR_TIMEOUT},
        [OB_CONN_NETWORK] = {"network", OB_ERR_NETWORK},
        [OB_CONN_TIMEOUT] = {"timeout", OB_ERR_TIMEOUT},
};

const char *ob_conn_cause_to_string(ObConnCause c)
{
        return c >= 0 && c < _OB_CONN_CAUSE_MAX ? causes[c].name : NULL;
}

ObErrClass ob_conn_cause_class(ObConnCause c)
{
        return c >= 0 && c < _OB_CONN_CAUSE_MAX ? causes[c].cls : OB_ERR_REFUSED;
}

/* A close this near the end of the timeout is the timeout (Paho closes the socket itself). */
#define NEAR_TIMEOUT_MS 250

ObConnCause ob_conn_classify_close(int64_t elapsed_ms, int64_t timeout_ms, int64_t since_prev_ms)
{
        if (timeout_ms > 0 && elapsed_ms >= timeout_ms - NEAR_TIMEOUT_MS)
                return OB_CONN_NO_CONNACK;
        if (since_prev_ms >= 0 && since_prev_ms < 1000)
                return OB_CONN_THROTTLED;
        return OB_CONN_CLOSED;
}

bool ob_conn_cause_may_be_pending(ObConnCause c)
{
        return c == OB_CONN_CLOSED || c == OB_CONN_CONNACK_REFUSED || c == OB_CONN_UNKNOWN;
}
