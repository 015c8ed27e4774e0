/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check cloud: does AWS IoT Core accept this device's identity right now? A real MQTT 3.1.1
 * CONNECT over the check's own TLS session with the device certificate and key (the tls check's
 * session: SNI, ALPN, the TPM key), under the daemon's client id plus OB_CHECK_CLOUD_SUFFIX while
 * the daemon runs, so that its session is never taken over (under the daemon's own client id
 * when no daemon runs). CONNACK accepted: pass, then DISCONNECT.
 * Anything else is classified with the daemon's table (lib/conn-outcome.c) and named.
 * AWS allows one CONNECT per second per client id: the time of the check's last CONNECT is kept
 * in <runtime_dir>/check-cloud.last (no runtime directory:
 * /tmp/onboard-agent-UID-check-cloud.last), and a CONNECT within a second of it waits.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "check-cloud.h"
#include "check-private.h"
#include "conn-outcome.h"
#include "identity.h"
#include "mqtt-connect.h"
#include "onboard.h"
#include "x509.h"

#define CONNECT_GAP_MS  1100 /* AWS: one CONNECT per second per client id, and a margin */
#define JITP_RETRY_MS   1100
#define CHECK_KEEPALIVE 30
#define STAMP_FILE      "check-cloud.last"

static int64_t mono_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_REALTIME, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Where the time of the check's last CONNECT is kept: the daemon's runtime directory, or (no
 * daemon ever ran) a file of this user's in /tmp. */
static void stamp_path(const ObCheckContext *ctx, char *buf, size_t size)
{
        struct stat st;

        if (stat(ctx->config->paths.runtime_dir, &st) == 0 && S_ISDIR(st.st_mode))
                snprintf(buf, size, "%s/%s", ctx->config->paths.runtime_dir, STAMP_FILE);
        else
                snprintf(buf, size, "/tmp/onboard-agent-%u-%s", (unsigned)geteuid(), STAMP_FILE);
}

static int64_t last_connect_mono = -1; /* this process's own last CONNECT */

/* Milliseconds since the check's last CONNECT (any agentctl process), or -1 when unknown. */
static int64_t since_last_connect(const ObCheckContext *ctx)
{
        char path[600];
        struct stat st;
        int64_t d = -1;

        stamp_path(ctx, path, sizeof(path));
        if (stat(path, &st) == 0) {
                d = wall_ms() - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000);
                if (d < 0)
                        d = -1;
        }
        if (last_connect_mono >= 0 && (d < 0 || mono_ms() - last_connect_mono < d))
                d = mono_ms() - last_connect_mono;
        return d;
}

/* Note a CONNECT now (the file: best effort). */
static void stamp_connect(const ObCheckContext *ctx)
{
        char path[600];
        int fd;

        last_connect_mono = mono_ms();
        stamp_path(ctx, path, sizeof(path));
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return;
        (void)futimens(fd, NULL);
        close(fd);
}

static void sleep_ms(int64_t ms)
{
        struct timespec t = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};

        while (nanosleep(&t, &t) < 0 && errno == EINTR)
                ;
}

static void wait_for_gap(const ObCheckContext *ctx)
{
        int64_t since = since_last_connect(ctx);

        if (since >= 0 && since < CONNECT_GAP_MS)
                sleep_ms(CONNECT_GAP_MS - since);
}

int ob_check_cloud_client_id(ObCheckContext *ctx, bool suffix, char *buf, size_t size)
{
        const ObConfig *c = ctx->config;
        _cleanup_free_ char *machine_id = NULL, *id = NULL, *own_serial = NULL, *own_thing = NULL;
        const char *serial = NULL, *thing = NULL, *sfx;
        json_object *cur = NULL, *v;
        size_t base;

        if (ctx->state) {
                if (json_object_object_get_ex(ctx->state, "serial", &v))
                        serial = json_object_get_string(v);
                if ((json_object_object_get_ex(ctx->state, "current", &cur) ||
                     json_object_object_get_ex(ctx->state, "pending", &cur)) &&
                    json_object_object_get_ex(cur, "thing_name", &v))
                        thing = json_object_get_string(v);
        }
        if (!serial && c->identity.serial_sources &&
            ob_identity_serial((const char *const *)c->identity.serial_sources, NULL, &own_serial,
                               NULL, NULL, 0) >= 0)
                serial = own_serial;
        (void)ob_identity_machine_id(NULL, &machine_id);
        {
                const char *vars[] = {
                        "serial",     serial ? serial : "",
                        "machine_id", machine_id ? machine_id : "",
                        "thing_name", "",
                        NULL,
                };
                /* before the first success the daemon names the thing as lib/onboard.c does:
                 * identity.thing_name (not for JITP, whose template uses the CN), else the
                 * factory certificate's CN */
                if (!thing && ob_check_factory_method(ctx)) {
                        _cleanup_(X509_freep) X509 *x = NULL;
                        if (c->provisioning.method != OB_METHOD_JITP && c->identity.thing_name)
                                (void)ob_config_template_expand(c->identity.thing_name, vars,
                                                                &own_thing);
                        else if (ctx->cert_path[0] && ob_x509_from_file(ctx->cert_path, &x) >= 0)
                                (void)ob_x509_subject_cn(x, &own_thing);
                        if (own_thing && own_thing[0])
                                thing = own_thing;
                }
                /* as the daemon expands it: the thing name, else the serial; a hardware
                 * token is the daemon's own, so such a template falls back */
                vars[5] = thing ? thing : serial ? serial : "";
                if (!c->endpoint.client_id ||
                    ob_config_template_expand(c->endpoint.client_id, vars, &id) < 0 || !id[0]) {
                        free(id);
                        id = strdup(thing ? thing : serial ? serial : "device");
                        if (!id)
                                return -ENOMEM;
                }
        }
        sfx = suffix ? OB_CHECK_CLOUD_SUFFIX : "";
        base = OB_MIN(strlen(id), (size_t)OB_MQTT_CLIENT_ID_MAX - strlen(sfx));
        if (size < base + strlen(sfx) + 1)
                return -ENOBUFS;
        snprintf(buf, size, "%.*s%s", (int)base, id, sfx);
        return 0;
}

/* What one CONNECT saw. */
typedef struct Attempt {
        ObConnCause cause; /* OB_CONN_UNKNOWN: accepted */
        int connack;       /* the CONNACK's return code, -1 none */
        const ObTlsAlert *alert;
        int64_t elapsed_ms;
        char err[256];
} Attempt;

/* One TLS session, CONNECT, CONNACK; 0 with a filled, or negative with o saying why not (TLS
 * failed: the tls check's words). */
static int attempt(ObCheckContext *ctx, ObCheckOutcome *o, const char *client_id, Attempt *a)
{
        _cleanup_(ob_check_tls_close) ObCheckTls t = {.fd = -1};
        uint8_t pkt[OB_MQTT_CONNECT_MAX], ack[OB_MQTT_CONNACK_LEN];
        size_t got = 0;
        int64_t since, t0;
        ssize_t n;
        int r;

        *a = (Attempt){.connack = -1};
        wait_for_gap(ctx);
        r = ob_check_tls_open(ctx, o, &t);
        if (r < 0)
                return r;
        n = ob_mqtt_connect_build(client_id, CHECK_KEEPALIVE, pkt, sizeof(pkt));
        if (n < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "client id %s: %s", client_id, strerror((int)-n));
                return (int)n;
        }
        since = since_last_connect(ctx);
        stamp_connect(ctx);
        t0 = mono_ms();
        ERR_clear_error();
        errno = 0;
        r = SSL_write(t.ssl, pkt, (int)n);
        while (r > 0 && got < sizeof(ack)) {
                errno = 0;
                r = SSL_read(t.ssl, ack + got, (int)(sizeof(ack) - got));
                if (r > 0)
                        got += (size_t)r;
        }
        a->elapsed_ms = mono_ms() - t0;
        if (got == sizeof(ack)) {
                r = ob_mqtt_connack_parse(ack, got);
                if (r < 0) {
                        ob_check_say(o, OB_HEALTH_FAIL,
                                     "%s answered CONNECT with something that is not a CONNACK",
                                     t.addr);
                        ob_check_hint(o, "is endpoint.port an MQTT port (8883, or 443 with "
                                         "endpoint.alpn)?");
                        return -EBADMSG;
                }
                a->connack = r;
                a->cause = r == 0 ? OB_CONN_UNKNOWN : OB_CONN_CONNACK_REFUSED;
                if (r == 0) {
                        (void)SSL_write(t.ssl, ob_mqtt_disconnect, sizeof(ob_mqtt_disconnect));
                        (void)SSL_shutdown(t.ssl);
                }
                ERR_clear_error();
                return 0;
        }
        {
                int e = SSL_get_error(t.ssl, r);
                bool timed_out =
                        e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK);

                ob_check_ssl_error_text(a->err, sizeof(a->err));
                a->alert = e == SSL_ERROR_SSL ? ob_conn_tls_alert(a->err) : NULL;
                if (a->alert)
                        a->cause = OB_CONN_TLS_ALERT;
                else if (timed_out)
                        a->cause = OB_CONN_NO_CONNACK;
                else
                        a->cause = ob_conn_classify_close(a->elapsed_ms, ob_check_timeout_ms(ctx),
                                                          since);
        }
        return 0;
}

/* The daemon runs with this identity and its session is up: the certificate is accepted. */
static bool daemon_connected(ObCheckContext *ctx)
{
        json_object *v;

        return ob_check_need_daemon(ctx) >= 0 &&
               json_object_object_get_ex(ctx->daemon_status, "state", &v) &&
               strcmp(json_object_get_string(v), "onboarded") == 0;
}

void ob_check_cloud(ObCheckContext *ctx, ObCheckOutcome *o)
{
        const char *cert = NULL, *key = NULL;
        char client_id[OB_MQTT_CLIENT_ID_MAX + 1], who[128];
        ObProvisioningMethod m;
        bool tpm, jit, own;
        Attempt a;
        int r;

        if (ob_check_no_config(ctx, o))
                return;
        m = ctx->config->provisioning.method;
        r = ob_check_need_state(ctx);
        if (ob_check_access_error(r)) {
                ob_check_say(o, OB_HEALTH_WARN, "state.json is not readable by this user");
                ob_check_hint(o, "run agentctl check as root (or the agent's user)");
                return;
        }
        if (ctx->decommissioned) {
                ob_check_say(o, OB_HEALTH_SKIP,
                             "decommissioned: no identity to connect with (see check state)");
                return;
        }
        ob_check_client_credentials(ctx, &cert, &key, &tpm, who, sizeof(who));
        if (!cert || !(ctx->onboarded || ob_check_factory_method(ctx))) {
                ob_check_say(o, OB_HEALTH_SKIP, "not onboarded (stage %s) and no %s",
                             ctx->stage ? ctx->stage : "unknown",
                             ob_check_factory_method(ctx) ? "factory certificate"
                                                          : "device certificate yet");
                if (ob_check_factory_method(ctx))
                        ob_check_hint(o, "install one with agentctl factory install-cert");
                return;
        }
        /* the daemon's own client id when it surely does not run (no session to take over, and
         * no policy line for the check needed); else the check's own */
        r = ob_check_need_daemon(ctx);
        own = r == -ENOENT || r == -ECONNREFUSED;
        r = ob_check_cloud_client_id(ctx, !own, client_id, sizeof(client_id));
        if (r < 0) {
                ob_check_say(o, OB_HEALTH_FAIL, "cannot make a client id: %s", strerror(-r));
                return;
        }
        jit = !ctx->onboarded && (m == OB_METHOD_JITP || m == OB_METHOD_JITR);
        if (attempt(ctx, o, client_id, &a) < 0)
                return;
        /* JITP: AWS registers the certificate at its first connection and closes it; the next
         * one is accepted. Try once more (a second later: attempt() keeps AWS's rate) to see it. */
        if (jit && m == OB_METHOD_JITP && a.cause == OB_CONN_CLOSED) {
                if (attempt(ctx, o, client_id, &a) < 0)
                        return;
                if (a.cause == OB_CONN_UNKNOWN) {
                        ob_check_say(o, OB_HEALTH_PASS,
                                     "JITP: the first CONNECT registered the %s and was closed "
                                     "(as AWS does: not a failure), the second was accepted "
                                     "(client id %s)",
                                     who, client_id);
                        return;
                }
        }
        switch (a.cause) {
        case OB_CONN_UNKNOWN:
                ob_check_say(o, OB_HEALTH_PASS,
                             "CONNACK accepted in %lld ms: AWS IoT Core accepts the %s (client "
                             "id %s%s); disconnected",
                             (long long)a.elapsed_ms, who, client_id,
                             own ? ", the daemon's own: no daemon runs" : "");
                return;
        case OB_CONN_TLS_ALERT:
                if (!a.alert) /* set with the cause */
                        break;
                ob_check_say(o, OB_HEALTH_FAIL, "the server's TLS alert \"%s\" after CONNECT: %s",
                             a.alert->name, a.alert->means);
                ob_check_hint(o, a.alert->cls == OB_ERR_REFUSED
                                         ? "the certificate is refused (revoked or INACTIVE?): "
                                           "aws iot describe-certificate; onboard again if it was "
                                           "revoked"
                                         : "see check tls and docs/errors.md (Connection "
                                           "outcomes)");
                return;
        case OB_CONN_THROTTLED:
                ob_check_say(o, OB_HEALTH_WARN,
                             "closed before CONNACK within a second of another CONNECT of "
                             "client id %s: throttled (AWS allows one CONNECT per second per "
                             "client id)",
                             client_id);
                ob_check_hint(o,
                              "run the check again in a few seconds; does something else use "
                              "client id %s?",
                              client_id);
                return;
        case OB_CONN_NO_CONNACK:
        case OB_CONN_TIMEOUT:
                ob_check_say(o, OB_HEALTH_FAIL,
                             "no CONNACK within %d ms of the CONNECT (client id %s)",
                             ob_check_timeout_ms(ctx), client_id);
                ob_check_hint(o, "the endpoint takes TLS but does not answer MQTT: a proxy in "
                                 "the way, or the wrong endpoint.host (iot:Data-ATS)?");
                return;
        case OB_CONN_CONNACK_REFUSED:
        case OB_CONN_CLOSED:
                break;
        case OB_CONN_SERVER_CERT:
        case OB_CONN_TLS:
        case OB_CONN_NETWORK:
        case _OB_CONN_CAUSE_MAX:
                ob_check_say(o, OB_HEALTH_FAIL, "the connection failed: %s", a.err);
                ob_check_hint(o, "see checks tcp and tls");
                return;
        }

        /* refused: a CONNACK refusal or (what AWS does) a close before CONNACK */
        {
                char how[96];

                if (a.connack > 0)
                        snprintf(how, sizeof(how), "CONNACK refused: %s (%d)",
                                 ob_mqtt_connack_text(a.connack), a.connack);
                else
                        snprintf(how, sizeof(how), "closed before CONNACK (%lld ms)",
                                 (long long)a.elapsed_ms);
                if (jit && m == OB_METHOD_JITR) {
                        ob_check_say(o, OB_HEALTH_WARN,
                                     "JITR: %s: the first connect registers the %s as "
                                     "PENDING_ACTIVATION; it is refused until activated",
                                     how, who);
                        ob_check_hint(o, "the JITR activation (an IoT rule and Lambda on "
                                         "$aws/events/certificates/registered/#) must make it "
                                         "ACTIVE and attach a policy");
                        return;
                }
                if (daemon_connected(ctx)) {
                        ob_check_say(o, OB_HEALTH_FAIL,
                                     "%s for client id %s, while the daemon's own session with "
                                     "this certificate is up: the policy does not allow "
                                     "iot:Connect for this client id",
                                     how, client_id);
                        ob_check_hint(o,
                                      "allow iot:Connect on client/%s in the device policy "
                                      "(docs/operations.md, check cloud); or check while the "
                                      "daemon is stopped (the check then uses its client id); "
                                      "or --skip cloud",
                                      client_id);
                        return;
                }
                ob_check_say(o, OB_HEALTH_FAIL,
                             "%s for client id %s: AWS IoT Core does not accept the %s: the "
                             "certificate is revoked or INACTIVE, not registered, or its policy "
                             "does not allow iot:Connect for this client id",
                             how, client_id, who);
                ob_check_hint(o, own ? "aws iot describe-certificate --certificate-id ID shows "
                                       "its status (revoked: onboard again; INACTIVE: activate "
                                       "it) and its policies"
                                     : "aws iot describe-certificate --certificate-id ID shows "
                                       "its status (revoked: onboard again; INACTIVE: activate "
                                       "it); AWS policies often allow only the thing name as "
                                       "client id: see docs/operations.md, check cloud");
        }
}
