/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the checks of `agentctl check` share (agent/check.c has the table, agent/check-*.c the
 * checks that need a file of their own): the context with its inputs computed once, on first use
 * (the configuration, state.json, the TPM, the device key, the endpoint's addresses), the
 * outcome helpers, and a verified TLS session to the endpoint. Internal to agentctl.
 */
#pragma once

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "check.h"
#include "config-file.h"
#include "macro.h"
#include "store.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif

#define OB_CHECK_ADDR_MAX 64                   /* a numeric IPv6 address in brackets and a port */
#define OB_CHECK_ALPN_AWS "\x0ex-amzn-mqtt-ca" /* endpoint.alpn: MQTT on 443 */

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(SSL_CTX *, SSL_CTX_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(SSL *, SSL_free)
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

/* A value computed once: not yet tried, or tried with result r (0 ok, negative errno). */
typedef struct ObCheckLazy {
        bool tried;
        int r;
} ObCheckLazy;

struct ObCheckContext {
        char *config_path;
        int64_t now_s;
        ObConfig *config;  /* NULL: invalid (the config check says why) */
        ObConfig *lenient; /* then: as far as it is valid (where the daemon's socket is) */
        ObCheckLazy config_lazy;
        char config_err[OB_CHECK_DETAIL_MAX];
        size_t config_warnings;

        ObCheckLazy state_lazy; /* -ENOENT: a fresh device */
        json_object *state;
        ObStoreLoadInfo info;
        const char *stage; /* "new" when there is no state */
        uint64_t gen;      /* the generation whose key and certificate count, 0 none */
        bool onboarded;
        bool decommissioned; /* agentctl decommission: no identity, by intent */

#ifdef HAVE_TPM
        ObCheckLazy tpm_lazy;
        ObTpm *tpm;
        char tpm_err[256];
        bool tpm_no_access; /* the device node exists, this user may not open it */
#endif
        ObCheckLazy key_lazy; /* -ENOENT: no device key yet */
        char key_path[512], cert_path[512];
        EVP_PKEY *device_pub;
        char key_err[OB_CHECK_DETAIL_MAX + 600];

        ObCheckLazy dns_lazy;
        struct addrinfo *addrs;
        char port[16];
        ObCheckLazy tcp_lazy;
        char tcp_detail[256];

        ObCheckLazy daemon_lazy;    /* -ENOENT/-ECONNREFUSED: no daemon; -EACCES: not allowed */
        json_object *daemon_status; /* the daemon's status reply */
        char *daemon_version;       /* its ping reply */
};

/* Set the outcome's result and detail; its hint. */
_printf_(3, 4) void ob_check_say(ObCheckOutcome *o, ObHealthResult r, const char *fmt, ...);
_printf_(2, 3) void ob_check_hint(ObCheckOutcome *o, const char *fmt, ...);
/* -EACCES or -EPERM: this user may not look. */
bool ob_check_access_error(int r);
/* The public half of a PEM private key file (software keys: the claim, a software device key). */
int ob_check_read_key_pub(const char *path, EVP_PKEY **ret);

/* The configuration: 0, or negative (ctx->config_err says why). */
int ob_check_need_config(ObCheckContext *ctx);
/* True, with o saying skip, when the configuration is not usable. */
bool ob_check_no_config(ObCheckContext *ctx, ObCheckOutcome *o);
/* state.json: 0, -ENOENT (a fresh device) or negative errno. Needs the configuration. */
int ob_check_need_state(ObCheckContext *ctx);
#ifdef HAVE_TPM
/* True when key.backend is tpm; else o says skip. */
bool ob_check_tpm_backend(ObCheckContext *ctx, ObCheckOutcome *o);
int ob_check_need_tpm(ObCheckContext *ctx);
/* For the checks that need an open TPM: true when it is there, else o says skip. */
bool ob_check_have_tpm(ObCheckContext *ctx, ObCheckOutcome *o);
#endif
bool ob_check_tpm_key(const ObCheckContext *ctx);
bool ob_check_factory_method(const ObCheckContext *ctx);
/* ctx->key_path and ctx->cert_path: 0, or -ENOENT: none yet. */
int ob_check_locate_device_files(ObCheckContext *ctx);
/* The device key loaded (ctx->device_pub): 0, -ENOENT, -ENODEV (no TPM) or negative errno
 * (ctx->key_err says why). */
int ob_check_need_device_key(ObCheckContext *ctx);

/* The endpoint's addresses: 0 or an EAI_ code. */
int ob_check_need_dns(ObCheckContext *ctx);
/* True when the endpoint resolves, else o says skip. */
bool ob_check_have_addresses(ObCheckContext *ctx, ObCheckOutcome *o);
/* One TCP connection was made: 0 or negative errno (ctx->tcp_detail says how it went). */
int ob_check_need_tcp(ObCheckContext *ctx);
/* endpoint.connect_timeout_ms, at most 10 s. */
int ob_check_timeout_ms(const ObCheckContext *ctx);
/* A connected blocking socket to the first address that answers (ret_addr names it), or
 * negative errno. */
int ob_check_connect_endpoint(ObCheckContext *ctx, char *ret_addr, size_t n);

/* OpenSSL's last error line (or errno's text), and the queue cleared. */
const char *ob_check_ssl_error_text(char *buf, size_t n);
/* The subjects of the server's chain, "leaf <- intermediate <- ...". */
void ob_check_chain_text(SSL *ssl, char *buf, size_t size);
/* Which client certificate TLS presents: the device's when onboarded, else the factory
 * certificate (static, jitp, jitr), else the claim's, else none. what says which and why. */
void ob_check_client_credentials(ObCheckContext *ctx, const char **ret_cert, const char **ret_key,
                                 bool *ret_tpm, char *what, size_t n);
/* The provider OpenSSL must prefer for the key: 0, or -ENOPKG when the tpm2 provider is not
 * installed. */
int ob_check_select_provider(ObCheckContext *ctx, bool tpm);
/* The tpm2 provider once ob_check_select_provider() loaded it, else NULL. */
OSSL_PROVIDER *ob_check_tpm2_provider(void);

/* The daemon's runtime directory: the configuration's, or as far as an invalid one says. */
const char *ob_check_runtime_dir(ObCheckContext *ctx);
/* The running daemon's status and version (ping) over the control socket: 0, or negative errno
 * (ob_control_call()'s: -ENOENT or -ECONNREFUSED when no daemon listens). */
int ob_check_need_daemon(ObCheckContext *ctx);

/* A TLS session to the endpoint with the client credentials, the server verified. */
typedef struct ObCheckTls {
        SSL_CTX *sctx;
        SSL *ssl;
        int fd;
        const char *cert; /* the client certificate presented, NULL none */
        bool tpm;         /* its key is in the TPM */
        char addr[OB_CHECK_ADDR_MAX];
        char who[128]; /* which client certificate: "device (TPM key)", "none (...)" */
} ObCheckTls;

/*
 * Connect and handshake with the endpoint (SNI, ALPN when configured, the server verified
 * against endpoint.root_ca), presenting the client credentials; socket timeouts are the connect
 * timeout. 0 with t open, or negative with o saying what failed (skip or fail, with a hint); the
 * server's TLS alert is named from the daemon's table (lib/conn-outcome.c).
 */
int ob_check_tls_open(ObCheckContext *ctx, ObCheckOutcome *o, ObCheckTls *t);
void ob_check_tls_close(ObCheckTls *t);
