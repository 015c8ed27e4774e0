/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check clock: the wall clock is after the build date (the daemon's floor), after the endpoint's
 * server certificate's notBefore (a lower bound any server gives), and within a minute of the
 * server's own time when the server tells it (TLS 1.2's gmt_unix_time, only where it is
 * plausibly a time: lib/health.h). The detail says which sources were used.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "check-clock.h"
#include "check-private.h"
#include "cli.h"
#include "health.h"
#include "onboard.h"
#include "x509.h"

/* What the endpoint said about time. */
typedef struct ServerTime {
        bool have_cert; /* the server certificate's dates */
        int64_t not_before, not_after;
        int64_t time; /* the server's time, -1 none */
} ServerTime;

/* Reads the leaf's dates and accepts every chain: nothing is trusted or sent on this session
 * (the tls check verifies; a forged certificate could only make this check fail). */
static int dates_cb(int ok, X509_STORE_CTX *x)
{
        SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
        ServerTime *st = ssl ? SSL_get_app_data(ssl) : NULL;
        X509 *c = X509_STORE_CTX_get_current_cert(x);

        (void)ok;
        if (st && !st->have_cert && c && X509_STORE_CTX_get_error_depth(x) == 0 &&
            ob_x509_validity(c, &st->not_before, &st->not_after) >= 0)
                st->have_cert = true;
        return 1;
}

/* A handshake with the endpoint for its dates: 0, or negative errno (no connection). */
static int probe(ObCheckContext *ctx, ServerTime *st)
{
        const ObConfig *c = ctx->config;
        _cleanup_(SSL_CTX_freep) SSL_CTX *sctx = NULL;
        _cleanup_(SSL_freep) SSL *ssl = NULL;
        _cleanup_close_ int fd = -1;
        char addr[OB_CHECK_ADDR_MAX];
        unsigned char rnd[32];
        struct timeval tv;
        int tmo;

        *st = (ServerTime){.time = -1};
        if (ob_check_select_provider(ctx, false) < 0 || !(sctx = SSL_CTX_new(TLS_client_method())))
                return -ENOMEM;
        (void)SSL_CTX_set_min_proto_version(sctx, TLS1_2_VERSION);
        SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER, dates_cb);
        ssl = SSL_new(sctx);
        if (!ssl || SSL_set_tlsext_host_name(ssl, c->endpoint.host) != 1 ||
            (c->endpoint.alpn && SSL_set_alpn_protos(ssl, (const unsigned char *)OB_CHECK_ALPN_AWS,
                                                     sizeof(OB_CHECK_ALPN_AWS) - 1))) {
                ERR_clear_error();
                return -ENOMEM;
        }
        SSL_set_app_data(ssl, st);
        fd = ob_check_connect_endpoint(ctx, addr, sizeof(addr));
        if (fd < 0)
                return fd;
        tmo = ob_check_timeout_ms(ctx);
        tv = (struct timeval){.tv_sec = tmo / 1000, .tv_usec = (tmo % 1000) * 1000};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        SSL_set_fd(ssl, fd);
        /* a server that wants a client certificate may end the handshake: the dates came first */
        (void)SSL_connect(ssl);
        if (st->have_cert && SSL_version(ssl) == TLS1_2_VERSION &&
            SSL_get_server_random(ssl, rnd, sizeof(rnd)) == sizeof(rnd))
                st->time =
                        ob_health_server_time(((uint32_t)rnd[0] << 24) | ((uint32_t)rnd[1] << 16) |
                                                      ((uint32_t)rnd[2] << 8) | rnd[3],
                                              st->not_before, st->not_after, ctx->now_s);
        ERR_clear_error();
        return 0;
}

void ob_check_clock(ObCheckContext *ctx, ObCheckOutcome *o)
{
        struct timex tx = {0};
        char now[32], floor[32], nb[32], server[200];
        const char *sync = "";
        ServerTime st = {.time = -1};
        int s;

        ob_cli_iso_time(ctx->now_s, now, sizeof(now));
        ob_cli_iso_time(OB_BUILD_EPOCH, floor, sizeof(floor));
        s = adjtimex(&tx);
        if (s == TIME_ERROR)
                sync = "; the kernel says it is not synchronized";
        else if (s >= 0)
                sync = "; synchronized";
        if (!ob_clock_plausible(ctx->now_s, OB_BUILD_EPOCH)) {
                ob_check_say(o, OB_HEALTH_FAIL,
                             "the wall clock (%s) is before the build date (%s)%s", now, floor,
                             sync);
                ob_check_hint(
                        o,
                        "set the time (NTP: systemd-timesyncd, chrony; or an RTC): the agent makes "
                        "no certificate decision before that");
                return;
        }
        /* the server's side, when the endpoint is there (dns and tcp say why not) */
        if (ob_check_need_config(ctx) < 0)
                snprintf(server, sizeof(server), "; no server time compared (see check config)");
        else if (ob_check_need_dns(ctx) != 0 || ob_check_need_tcp(ctx) < 0 || probe(ctx, &st) < 0 ||
                 !st.have_cert)
                snprintf(server, sizeof(server),
                         "; no server time compared (the endpoint's certificate was not read: "
                         "see checks dns, tcp, tls)");
        else if (ctx->now_s < st.not_before) {
                ob_check_say(o, OB_HEALTH_FAIL,
                             "the wall clock (%s) is before the endpoint's server certificate "
                             "became valid (%s): at least %lld s behind%s",
                             now, ob_cli_iso_time(st.not_before, nb, sizeof(nb)),
                             (long long)(st.not_before - ctx->now_s), sync);
                ob_check_hint(o, "set the time (NTP: systemd-timesyncd, chrony; or an RTC): TLS "
                                 "verification fails on such a clock");
                return;
        } else if (st.time >= 0 && (ctx->now_s - st.time > OB_HEALTH_CLOCK_OFFSET_WARN_S ||
                                    st.time - ctx->now_s > OB_HEALTH_CLOCK_OFFSET_WARN_S)) {
                ob_check_say(o, OB_HEALTH_WARN,
                             "the wall clock (%s) is %lld s off the endpoint's time (its TLS 1.2 "
                             "ServerHello)%s",
                             now, (long long)(ctx->now_s - st.time), sync);
                ob_check_hint(o, "synchronize the clock (NTP: systemd-timesyncd, chrony)");
                return;
        } else if (st.time >= 0)
                snprintf(server, sizeof(server),
                         ", after the server certificate's notBefore %s, %lld s from the "
                         "endpoint's time (TLS 1.2 ServerHello)",
                         ob_cli_iso_time(st.not_before, nb, sizeof(nb)),
                         (long long)(ctx->now_s - st.time));
        else
                snprintf(server, sizeof(server),
                         ", after the server certificate's notBefore %s; the server sends no "
                         "time, so no offset is known",
                         ob_cli_iso_time(st.not_before, nb, sizeof(nb)));
        ob_check_say(o, OB_HEALTH_PASS, "%s, after the build date %s%s%s", now, floor, server,
                     sync);
}
