/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error classes: what kind of failure an attempt to talk to IoT Core ended in. The class picks
 * the retry rule (lib/backoff.h); the names are the config's retry.<class> keys and appear in
 * status output, so they are stable.
 */
#pragma once

typedef enum ObErrClass {
        OB_ERR_NETWORK,   /* DNS, TCP: the network or the endpoint is unreachable */
        OB_ERR_TLS,       /* TLS handshake or server verification failed */
        OB_ERR_REFUSED,   /* credentials refused (CONNACK refusal, or closed right after TLS) */
        OB_ERR_THROTTLED, /* 429 or connect rate exceeded */
        OB_ERR_REJECTED,  /* the cloud answered 400/403/404 */
        OB_ERR_TIMEOUT,   /* no answer in time */
        _OB_ERR_CLASS_MAX,
} ObErrClass;

/* "network", "tls", ...; NULL for an out-of-range value. */
const char *ob_err_class_to_string(ObErrClass c);
/* Returns 0 or -EINVAL. */
int ob_err_class_from_string(const char *s, ObErrClass *ret);
