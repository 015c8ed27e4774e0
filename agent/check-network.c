/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check dns, tcp, tls-provider, tls (agent/check-network.h): the way to the endpoint: its name
 * resolves, its port accepts TCP, OpenSSL's tpm2 provider can do TLS with the TPM key, and a TLS
 * session with the device's (or claim's, or factory) certificate is verified.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "check-network.h"
#include "check-private.h"
#include "check-tpm.h"
#include "cli.h"
#include "key-provider.h"
#include "provider-info.h"

#define ALERT_WAIT_MS 300

/* ------------------------------------------------------------------ dns, tcp */

void ob_check_dns(ObCheckContext *ctx, ObCheckOutcome *o)
{
        char ip[INET6_ADDRSTRLEN];
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        r = ob_check_need_dns(ctx);
        if (r != 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s: %s", ctx->config->endpoint.host,
                             r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
                ob_check_hint(o, "check endpoint.host (aws iot describe-endpoint --endpoint-type "
                                 "iot:Data-ATS) and the resolver (/etc/resolv.conf)");
                return;
        }
        if (getnameinfo(ctx->addrs->ai_addr, ctx->addrs->ai_addrlen, ip, sizeof(ip), NULL, 0,
                        NI_NUMERICHOST) != 0)
                snprintf(ip, sizeof(ip), "?");
        ob_check_say(o, OB_HEALTH_PASS, "%s resolves to %s%s", ctx->config->endpoint.host, ip,
                     ctx->addrs->ai_next ? " (and more)" : "");
}

void ob_check_tcp(ObCheckContext *ctx, ObCheckOutcome *o)
{
        if (!ob_check_have_addresses(ctx, o))
                return;
        if (ob_check_need_tcp(ctx) >= 0) {
                ob_check_say(o, OB_HEALTH_PASS, "%s", ctx->tcp_detail);
                return;
        }
        ob_check_say(o, OB_HEALTH_FAIL, "%s", ctx->tcp_detail);
        ob_check_hint(o,
                      "a firewall or proxy in the way? outbound TCP %u must be open (endpoint.alpn "
                      "uses 443)",
                      ctx->config->endpoint.port);
}

/* ------------------------------------------------------------------ tls */

#ifdef HAVE_TPM
/* The tpm2 provider OpenSSL uses for TLS with the TPM key loads, and is not a version known
 * to be unusable here (tpm2-openssl < 1.2.0 with a 32-bit long: lib/provider-compat.h). */
void ob_check_tls_provider(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *cert = NULL, *key = NULL;
        char who[96], version[32];
        bool tpm = false;

        if (!ob_check_tpm_backend(ctx, o))
                return;
        /* before onboarding TLS still uses the claim, but the device key will be made in the
         * TPM: an operator checking a new gateway learns now that it could never connect */
        ob_check_client_credentials(ctx, &cert, &key, &tpm, who, sizeof(who));
        if (ob_check_select_provider(ctx, true) < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "the OpenSSL tpm2 provider cannot be loaded");
                ob_check_hint(o,
                              "install tpm2-openssl (the agent needs it for TLS with the TPM key)");
                return;
        }
        if (ob_provider_tpm2_unusable(ob_check_tpm2_provider(), version, sizeof(version))) {
                ob_check_say(
                        o, OB_HEALTH_FAIL,
                        "tpm2-openssl %s cannot use persistent TPM handles with a %zu-bit long "
                        "(\"handle value is out of range\"): no TLS with the TPM key works",
                        version, sizeof(long) * 8);
                ob_check_hint(o, "upgrade tpm2-openssl to 1.2.0 or later (docs/tpm.md, supported "
                                 "versions)");
                return;
        }
        ob_check_say(o, OB_HEALTH_PASS, "tpm2-openssl %s%s", version,
                     tpm ? "" : " (for the device key; TLS presents no TPM key yet)");
}
#endif

void ob_check_tls(ObCheckContext *ctx, ObCheckOutcome *o)
{
        _cleanup_(ob_check_tls_close) ObCheckTls t = {.fd = -1};
        char chain[OB_CHECK_DETAIL_MAX / 2], err[256];
        bool refused = false;
        struct timeval tv;
        int r;

        if (ob_check_tls_open(ctx, o, &t) < 0)
                return;
        ob_check_chain_text(t.ssl, chain, sizeof(chain));

        /* TLS 1.3: a refused client certificate comes as an alert after the handshake. Wait
         * briefly for one; nothing is sent (no MQTT CONNECT, it would kick the daemon off). */
        tv = (struct timeval){.tv_sec = 0, .tv_usec = ALERT_WAIT_MS * 1000};
        (void)setsockopt(t.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        {
                char b;
                errno = 0;
                r = SSL_peek(t.ssl, &b, 1);
                if (r <= 0) {
                        int e = SSL_get_error(t.ssl, r);
                        refused =
                                e == SSL_ERROR_SSL || e == SSL_ERROR_ZERO_RETURN ||
                                (e == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
                        if (refused)
                                ob_check_ssl_error_text(err, sizeof(err));
                }
                ERR_clear_error();
        }
        if (refused && t.cert) {
                ob_check_say(o, OB_HEALTH_FAIL, "%s, server %s, refused the %s certificate: %s",
                             SSL_get_version(t.ssl), chain, t.who, err);
                ob_check_hint(o, ctx->onboarded
                                         ? "is the device certificate still ACTIVE in AWS IoT?"
                                         : "is the claim certificate registered and ACTIVE?");
                return;
        }
        (void)SSL_shutdown(t.ssl);
        ob_check_say(o, OB_HEALTH_PASS,
                     "%s with %s (SNI %s), server %s; verified; client certificate: %s%s",
                     SSL_get_version(t.ssl), t.addr, ctx->config->endpoint.host, chain, t.who,
                     refused ? " (the server wants one)" : "");
}
