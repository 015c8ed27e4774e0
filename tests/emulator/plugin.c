/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mosquitto 2.0 plugin (API v5) that makes the broker behave like AWS IoT Core for onboarding:
 * certificate registry and states, JITP/JITR, fleet provisioning (JSON), IoT policies on
 * connect/publish/subscribe/receive, throttling, pre-provisioning hooks, an admin inbox.
 * The decisions live in policy.c, template.c and pki.c; this file is the broker glue.
 * See docs/emulator.md.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/pem.h>

#include "ca-trust.h"
#include "cbor.h"
#include "macro.h"
#include "pki.h"
#include "policy.h"
#include "shadow.h"
#include "jobs.h"
#include "template.h"

#include "admin-cmds.h" /* the control plane's registry commands (docs/emulator-cli.md) */

#define MAX_KICKS      64
#define MAX_JOBS       32
#define MAX_JOB_OUTPUT 65536
#define HOOK_TIMEOUT_S 5

typedef void (*JobDone)(json_object *job, json_object *answer /* NULL on failure */);

typedef struct Job {
        pid_t pid;
        int out_fd;
        time_t deadline;
        char *buf;
        size_t len;
        json_object *ctx; /* owned: what to do on completion */
        JobDone done;
} Job;

static struct {
        mosquitto_plugin_id_t *id;
        char *seed_path;
        char *state_dir;
        char *trust_dir; /* mosquitto's capath: the registered CAs (ca-trust.h) */
        json_object *reg;
        X509 *issuer;
        EVP_PKEY *issuer_key;
        char *kicks[MAX_KICKS];
        size_t n_kicks;
        json_object *buckets;
        json_object *clients; /* per client id: subscriptions, keep-alive (see "connections") */
        json_object *conns;   /* per authorised connection: lifecycle identity */
        Job jobs[MAX_JOBS];
        long last_inbox_ms;
} g;

/* ------------------------------------------------------------------ small helpers */

static long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static json_object *section(const char *name)
{
        json_object *s;

        if (json_object_object_get_ex(g.reg, name, &s) && json_object_is_type(s, json_type_object))
                return s;
        s = json_object_new_object();
        json_object_object_add(g.reg, name, s);
        return s;
}

static json_object *get(json_object *o, const char *key)
{
        json_object *v = NULL;

        if (!o || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

/* json-c asserts on json_object_array_length(NULL): registry input is untrusted. */
static size_t alen(json_object *a)
{
        return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static const char *get_str(json_object *o, const char *key, const char *def)
{
        json_object *v = get(o, key);

        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : def;
}

static int64_t setting_int(const char *key, int64_t def)
{
        json_object *v = get(section("settings"), key);

        return v ? json_object_get_int64(v) : def;
}

static double throttle_rate(const char *key, double def)
{
        json_object *v = get(get(section("settings"), "throttle"), key);

        return v ? json_object_get_double(v) : def;
}

static const char *setting_str(const char *key, const char *def)
{
        return get_str(section("settings"), key, def);
}

static void log_event(const char *type, json_object *fields /* consumed */)
{
        char path[4096];
        FILE *f;

        if (!fields)
                fields = json_object_new_object();
        json_object_object_add(fields, "event", json_object_new_string(type));
        json_object_object_add(fields, "time", json_object_new_int64(time(NULL)));
        snprintf(path, sizeof(path), "%s/events.jsonl", g.state_dir);
        f = fopen(path, "ae");
        if (f) {
                fprintf(f, "%s\n", json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN));
                fclose(f);
        }
        mosquitto_log_printf(MOSQ_LOG_INFO, "ob-emulator: %s",
                             json_object_to_json_string_ext(fields, JSON_C_TO_STRING_PLAIN));
        json_object_put(fields);
}

/* Atomic replace: temp + fsync + rename + fsync(dir). */
static int save(void)
{
        char tmp[4096], dst[4096];
        const char *s = json_object_to_json_string_ext(g.reg, JSON_C_TO_STRING_PRETTY);
        size_t len = strlen(s);
        int fd, dfd;

        snprintf(tmp, sizeof(tmp), "%s/registry.json.tmp", g.state_dir);
        snprintf(dst, sizeof(dst), "%s/registry.json", g.state_dir);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                goto fail;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(fd, s + off, len - off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        close(fd);
                        goto fail;
                }
                off += (size_t)n;
        }
        if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, dst) < 0)
                goto fail;
        dfd = open(g.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
        }
        return 0;
fail:
        mosquitto_log_printf(MOSQ_LOG_ERR, "ob-emulator: cannot save %s: %s", dst, strerror(errno));
        return -errno;
}

/* Token bucket: `rate` per second, burst max(1, rate). true = allowed. */
static bool bucket_take(const char *key, double rate)
{
        json_object *b = get(g.buckets, key);
        double tokens, burst = rate < 1 ? 1 : rate;
        long t = now_ms(), last;

        if (rate <= 0)
                return true;
        if (!b) {
                b = json_object_new_array();
                json_object_array_add(b, json_object_new_double(burst));
                json_object_array_add(b, json_object_new_int64(t));
                json_object_object_add(g.buckets, key, b);
        }
        tokens = json_object_get_double(json_object_array_get_idx(b, 0));
        last = (long)json_object_get_int64(json_object_array_get_idx(b, 1));
        tokens += (double)(t - last) * rate / 1000.0;
        if (tokens > burst)
                tokens = burst;
        bool ok = tokens >= 1.0;
        if (ok)
                tokens -= 1.0;
        json_object_array_put_idx(b, 0, json_object_new_double(tokens));
        json_object_array_put_idx(b, 1, json_object_new_int64(t));
        return ok;
}

/* ------------------------------------------------------------------ connections */

/*
 * What AWS tracks per connection and mosquitto does not tell a plugin directly, rebuilt from
 * the callbacks:
 *   g.clients[clientId] = {"conn": "<ptr>", "subs": {filter: qos}, "ka": s, "last": ms}
 *     subscriptions outlive a connection only with a persistent session (clean session 0);
 *   g.conns["<ptr>"] = {"clientId", "session", "version", "principal", "ip", "kick"}
 *     one entry per authorised connection, for the lifecycle events and the kick reason.
 */
static void conn_key(const struct mosquitto *client, char *buf, size_t size)
{
        snprintf(buf, size, "%p", (const void *)client);
}

static json_object *client_state(const char *cid)
{
        return cid ? get(g.clients, cid) : NULL;
}

/* Note activity for the keep-alive the emulator enforces (see conn_keepalive_tick). */
static void conn_touch(const char *cid)
{
        json_object *c = client_state(cid);

        if (c)
                json_object_object_add(c, "last", json_object_new_int64(now_ms()));
}

/* The reason the next disconnect of CID's current connection gets in its lifecycle event. */
static void conn_set_kick_reason(const char *cid, const char *reason)
{
        json_object *conn = get(g.conns, get_str(client_state(cid), "conn", ""));

        if (conn && !get(conn, "kick"))
                json_object_object_add(conn, "kick", json_object_new_string(reason));
}

static void queue_kick(const char *client_id, const char *reason)
{
        if (!client_id || g.n_kicks >= MAX_KICKS)
                return;
        conn_set_kick_reason(client_id, reason);
        for (size_t i = 0; i < g.n_kicks; i++)
                if (!strcmp(g.kicks[i], client_id))
                        return;
        g.kicks[g.n_kicks] = strdup(client_id);
        if (g.kicks[g.n_kicks])
                g.n_kicks++;
}

/* The QoS a reply on TOPIC reaches CID with: the highest QoS of its matching subscriptions,
 * capped at 1 (AWS has no QoS 2); -1 when CID is not subscribed to TOPIC. */
static int sub_qos(const char *cid, const char *topic)
{
        int best = -1;

        json_object_object_foreach(get(client_state(cid), "subs"), filter, qos)
        {
                bool match = false;
                if (mosquitto_topic_matches_sub(filter, topic, &match) == MOSQ_ERR_SUCCESS &&
                    match && json_object_get_int(qos) > best)
                        best = json_object_get_int(qos);
        }
        return best > 1 ? 1 : best;
}

static long realtime_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* $aws/events/presence/{connected,disconnected}/<clientId> with AWS's fields. */
static void lifecycle(json_object *conn, bool connected, const char *reason)
{
        const char *cid = get_str(conn, "clientId", "");
        char topic[300];
        json_object *o;
        const char *s;

        if (strpbrk(cid, "#+")) /* AWS sends no lifecycle events for such client ids */
                return;
        o = json_object_new_object();
        json_object_object_add(o, "clientId", json_object_new_string(cid));
        json_object_object_add(o, "timestamp", json_object_new_int64(realtime_ms()));
        json_object_object_add(o, "eventType",
                               json_object_new_string(connected ? "connected" : "disconnected"));
        json_object_object_add(o, "sessionIdentifier",
                               json_object_get(get(conn, "sessionIdentifier")));
        json_object_object_add(o, "principalIdentifier",
                               json_object_get(get(conn, "principalIdentifier")));
        if (connected) {
                json_object_object_add(o, "ipAddress", json_object_get(get(conn, "ipAddress")));
        } else {
                json_object_object_add(
                        o, "clientInitiatedDisconnect",
                        json_object_new_boolean(!strcmp(reason, "CLIENT_INITIATED_DISCONNECT")));
                json_object_object_add(o, "disconnectReason", json_object_new_string(reason));
        }
        json_object_object_add(o, "versionNumber", json_object_get(get(conn, "versionNumber")));
        snprintf(topic, sizeof(topic), "$aws/events/presence/%s/%s",
                 connected ? "connected" : "disconnected", cid);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        mosquitto_broker_publish_copy(NULL, topic, (int)strlen(s), s, 1, false, NULL);
        log_event(connected ? "connected" : "disconnected", o);
}

/* A connection was authorised: start tracking it and announce it. */
static void conn_open(struct mosquitto *client, const char *cid, const char *principal_id)
{
        char key[32], sid[37];
        json_object *c = client_state(cid), *conn = json_object_new_object();
        _cleanup_free_ char *rnd = ob_emu_pki_random_hex(16);
        const char *ip = mosquitto_client_address(client);
        int64_t version;

        conn_key(client, key, sizeof(key));
        if (!c) {
                c = json_object_new_object();
                json_object_object_add(g.clients, cid, c);
        }
        /* a clean session starts without subscriptions; a persistent one keeps them */
        if (mosquitto_client_clean_session(client) || !get(c, "subs"))
                json_object_object_add(c, "subs", json_object_new_object());
        version = get(c, "version") ? json_object_get_int64(get(c, "version")) + 1 : 0;
        json_object_object_add(c, "version", json_object_new_int64(version));
        json_object_object_add(c, "conn", json_object_new_string(key));
        json_object_object_add(c, "ka", json_object_new_int(mosquitto_client_keepalive(client)));
        json_object_object_add(c, "last", json_object_new_int64(now_ms()));

        snprintf(sid, sizeof(sid), "%.8s-%.4s-%.4s-%.4s-%.12s", rnd ? rnd : "", rnd ? rnd + 8 : "",
                 rnd ? rnd + 12 : "", rnd ? rnd + 16 : "", rnd ? rnd + 20 : "");
        json_object_object_add(conn, "clientId", json_object_new_string(cid));
        json_object_object_add(conn, "sessionIdentifier", json_object_new_string(sid));
        json_object_object_add(conn, "principalIdentifier", json_object_new_string(principal_id));
        json_object_object_add(conn, "ipAddress", json_object_new_string(ip ? ip : ""));
        json_object_object_add(conn, "versionNumber", json_object_new_int64(version));
        json_object_object_add(g.conns, key, conn);
        lifecycle(conn, true, NULL);
}

static const char *disconnect_reason(int mosq_err)
{
        switch (mosq_err) {
        case MOSQ_ERR_SUCCESS:
                return "CLIENT_INITIATED_DISCONNECT";
        case MOSQ_ERR_KEEPALIVE:
                return "MQTT_KEEP_ALIVE_TIMEOUT";
        case MOSQ_ERR_ADMINISTRATIVE_ACTION:
                return "SERVER_INITIATED_DISCONNECT";
        case MOSQ_ERR_PROTOCOL:
        case MOSQ_ERR_MALFORMED_PACKET:
        case MOSQ_ERR_OVERSIZE_PACKET:
        case MOSQ_ERR_PAYLOAD_SIZE:
        case MOSQ_ERR_DUPLICATE_PROPERTY:
        case MOSQ_ERR_TOPIC_ALIAS_INVALID:
        case MOSQ_ERR_QOS_NOT_SUPPORTED:
        case MOSQ_ERR_RETAIN_NOT_SUPPORTED:
                return "CLIENT_ERROR";
        default:
                return "CONNECTION_LOST";
        }
}

/* ------------------------------------------------------------------ registry */

static json_object *cert_entry(const char *id)
{
        return get(section("certificates"), id);
}

static X509 *pem_or_file(json_object *entry)
{
        const char *pem = get_str(entry, "pem", NULL), *file = get_str(entry, "pemFile", NULL);
        X509 *x = NULL;

        if (pem)
                return ob_emu_pki_cert_from_pem(pem);
        if (file) {
                FILE *f = fopen(file, "re");
                if (f) {
                        x = PEM_read_X509(f, NULL, NULL, NULL);
                        fclose(f);
                }
        }
        return x;
}

static json_object *new_cert_entry(X509 *cert, const char *status, const char *ca_id)
{
        json_object *e = json_object_new_object();
        _cleanup_free_ char *pem = ob_emu_pki_cert_to_pem(cert);

        json_object_object_add(e, "status", json_object_new_string(status));
        if (pem)
                json_object_object_add(e, "pem", json_object_new_string(pem));
        if (ca_id)
                json_object_object_add(e, "caCertificateId", json_object_new_string(ca_id));
        json_object_object_add(e, "creationDate", json_object_new_int64(time(NULL)));
        json_object_object_add(e, "policies", json_object_new_array());
        json_object_object_add(e, "things", json_object_new_array());
        return e;
}

static void set_status(const char *id, json_object *entry, const char *status)
{
        const char *old = get_str(entry, "status", "?");

        if (!strcmp(old, "REVOKED") || !strcmp(old, status))
                return; /* a revoked certificate never comes back */
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "certificateId", json_object_new_string(id));
        json_object_object_add(ev, "from", json_object_new_string(old));
        json_object_object_add(ev, "to", json_object_new_string(status));
        json_object_object_add(entry, "status", json_object_new_string(status));
        log_event("certificateStatus", ev);
}

static void array_add_unique(json_object *arr, const char *s)
{
        for (size_t i = 0; i < json_object_array_length(arr); i++)
                if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s))
                        return;
        json_object_array_add(arr, json_object_new_string(s));
}

static json_object *entry_array(json_object *entry, const char *key)
{
        json_object *a = get(entry, key);

        if (!json_object_is_type(a, json_type_array)) {
                a = json_object_new_array();
                json_object_object_add(entry, key, a);
        }
        return a;
}

static json_object *entry_object(json_object *entry, const char *key)
{
        json_object *o = get(entry, key);

        if (!json_object_is_type(o, json_type_object)) {
                o = json_object_new_object();
                json_object_object_add(entry, key, o);
        }
        return o;
}

/* The principal of a connection: certificate id, registry entry, first attached thing. */
typedef struct Principal {
        char id[OB_EMU_CERT_ID_LEN + 1];
        json_object *entry;
        const char *thing;
} Principal;

static int principal(struct mosquitto *client, Principal *p, X509 **ret_cert)
{
        X509 *cert = mosquitto_client_certificate(client);
        json_object *things;

        *p = (Principal){};
        if (!cert)
                return -ENOENT;
        if (ob_emu_pki_cert_id(cert, p->id) < 0) {
                X509_free(cert);
                return -EINVAL;
        }
        if (ret_cert)
                *ret_cert = cert;
        else
                X509_free(cert);
        p->entry = cert_entry(p->id);
        things = get(p->entry, "things");
        if (alen(things) > 0)
                p->thing = json_object_get_string(json_object_array_get_idx(things, 0));
        return 0;
}

static bool allowed(const Principal *p, const char *client_id, ObEmuAction action,
                    const char *resource)
{
        json_object *docs[16], *pols = get(p->entry, "policies");
        size_t n = 0;
        ObEmuPolicyContext ctx = {
                .region = get_str(g.reg, "region", "us-east-1"),
                .account = get_str(g.reg, "account", "123456789012"),
                .client_id = client_id,
                .thing_name = p->thing,
        };

        for (size_t i = 0; i < alen(pols) && n < OB_ELEMENTSOF(docs); i++) {
                json_object *d = get(section("policies"),
                                     json_object_get_string(json_object_array_get_idx(pols, i)));
                if (d)
                        docs[n++] = d;
        }
        return ob_emu_policy_allows(docs, n, action, resource, &ctx);
}

/* ------------------------------------------------------------------ replies */

static bool is_cbor(const char *base)
{
        size_t n = strlen(base);

        return n >= 5 && !strcmp(base + n - 5, "/cbor");
}

/* ------------------------------------------------------------------ fault injection */

/* A test tool's switch, not AWS behaviour: settings.fault = {"kind": K, "api": A} makes the
 * replies of API A (CreateCertificateFromCsr, CreateKeysAndCertificate or RegisterThing;
 * absent = all three) broken in way K (docs/emulator.md, "Fault injection"). */
static const char *api_of(const char *base)
{
        if (!strncmp(base, "$aws/certificates/create-from-csr/", 34))
                return "CreateCertificateFromCsr";
        if (!strncmp(base, "$aws/certificates/create/", 25))
                return "CreateKeysAndCertificate";
        return "RegisterThing";
}

/* The fault kind for replies to API, or NULL when none is set. */
static const char *fault_kind(const char *api)
{
        json_object *f = get(section("settings"), "fault");
        const char *want = get_str(f, "api", NULL);

        if (!json_object_is_type(f, json_type_object) || (want && strcmp(want, api)))
                return NULL;
        return get_str(f, "kind", NULL);
}

/* A settings.fault value the emulator knows how to apply (a typo must not be a silent no-op). */
static bool fault_valid(json_object *f)
{
        static const char *const kinds[] = {
                "malformed", "truncated",    "oversized",   "wrong-type", "missing", "wrong-topic",
                "duplicate", "out-of-order", "id-mismatch", "other-key",  "value",   NULL};
        static const char *const apis[] = {"CreateCertificateFromCsr", "CreateKeysAndCertificate",
                                           "RegisterThing", NULL};
        const char *kind = get_str(f, "kind", ""), *api = get_str(f, "api", NULL);
        bool ok_kind = false, ok_api = !get(f, "api");

        if (!f)
                return true;
        if (!json_object_is_type(f, json_type_object))
                return false;
        for (size_t i = 0; kinds[i]; i++)
                ok_kind = ok_kind || !strcmp(kind, kinds[i]);
        for (size_t i = 0; api && apis[i]; i++)
                ok_api = ok_api || !strcmp(api, apis[i]);
        return ok_kind && ok_api;
}

static void fault_logged(const char *client_id, const char *topic, const char *kind)
{
        json_object *ev = json_object_new_object();

        json_object_object_add(ev, "clientId", json_object_new_string(client_id));
        json_object_object_add(ev, "topic", json_object_new_string(topic));
        json_object_object_add(ev, "kind", json_object_new_string(kind));
        log_event("faultInjected", ev);
}

/* A copy of PAYLOAD with every field's type changed (string -> number, else -> string). */
static json_object *fault_retype(json_object *payload)
{
        json_object *o = json_object_new_object();

        json_object_object_foreach(payload, k, v)
        {
                if (json_object_is_type(v, json_type_string))
                        json_object_object_add(o, k, json_object_new_int(42));
                else
                        json_object_object_add(o, k, json_object_new_string("42"));
        }
        return o;
}

/* A copy of PAYLOAD without the field settings.fault.field (without any field if unset). */
static json_object *fault_strip(json_object *payload)
{
        const char *field = get_str(get(section("settings"), "fault"), "field", NULL);
        json_object *o = json_object_new_object();

        json_object_object_foreach(payload, k, v)
        {
                if (field && strcmp(k, field))
                        json_object_object_add(o, k, json_object_get(v));
        }
        return o;
}

/* The stray reply of out-of-order: an accepted reply of the *other* API (for a certificate
 * request, RegisterThing's on each template reply topic the client subscribed to; for
 * RegisterThing, CreateCertificateFromCsr's), sent before the real one. */
static void fault_stray(const char *client_id, const char *base)
{
        bool cbor = is_cbor(base);
        const char *fmt = cbor ? "cbor" : "json";
        json_object *o = json_object_new_object();
        char topic[512];

        if (strcmp(api_of(base), "RegisterThing")) {
                json_object_object_add(o, "thingName", json_object_new_string("stray-thing"));
                json_object_object_add(o, "deviceConfiguration", json_object_new_object());
        } else {
                _cleanup_free_ char *id = ob_emu_pki_random_hex(32),
                                    *tok = ob_emu_pki_random_hex(48),
                                    *pem = g.issuer ? ob_emu_pki_cert_to_pem(g.issuer) : NULL;
                json_object_object_add(o, "certificateId", json_object_new_string(id ? id : ""));
                json_object_object_add(o, "certificatePem", json_object_new_string(pem ? pem : ""));
                json_object_object_add(o, "certificateOwnershipToken",
                                       json_object_new_string(tok ? tok : ""));
        }
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0;
        const char *s = NULL;
        if (cbor) {
                if (ob_cbor_encode(o, &buf, &len) < 0)
                        len = 0;
                s = (const char *)buf;
        } else {
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                len = strlen(s);
        }
        if (strcmp(api_of(base), "RegisterThing")) {
                json_object_object_foreach(get(client_state(client_id), "subs"), filter, qos)
                {
                        char tname[64], f[5];
                        if (sscanf(filter, "$aws/provisioning-templates/%63[^/]/provision/%4s",
                                   tname, f) != 2 ||
                            strcmp(f, fmt))
                                continue;
                        snprintf(topic, sizeof(topic),
                                 "$aws/provisioning-templates/%s/provision/%s/accepted", tname,
                                 fmt);
                        (void)qos;
                        mosquitto_broker_publish_copy(client_id, topic, (int)len, s, 1, false,
                                                      NULL);
                }
        } else {
                snprintf(topic, sizeof(topic), "$aws/certificates/create-from-csr/%s/accepted",
                         fmt);
                mosquitto_broker_publish_copy(client_id, topic, (int)len, s, 1, false, NULL);
        }
        json_object_put(o);
}

/* Answer on BASE/accepted or BASE/rejected, to the requesting connection only, in the
 * request's format (JSON or CBOR); broken as settings.fault says. */
static void reply(const char *client_id, const char *base, bool ok, json_object *payload)
{
        const char *kind = fault_kind(api_of(base));
        json_object *o = json_object_get(payload);
        _cleanup_free_ uint8_t *buf = NULL;
        const char *s = NULL;
        char topic[512];
        size_t len = 0;
        int qos;

        snprintf(topic, sizeof(topic), "%s/%s", base, ok ? "accepted" : "rejected");
        /* AWS delivers the answer like any message: only to a subscriber of the topic. */
        qos = sub_qos(client_id, topic);
        if (qos < 0) {
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(client_id));
                json_object_object_add(ev, "topic", json_object_new_string(topic));
                log_event("replyNotSubscribed", ev);
                json_object_put(o);
                return;
        }
        if (kind && !strcmp(kind, "wrong-type")) {
                json_object_put(o);
                o = fault_retype(payload);
        } else if (kind && !strcmp(kind, "missing")) {
                json_object_put(o);
                o = fault_strip(payload);
        } else if (kind && !strcmp(kind, "value")) {
                /* the field named by "field" set to the string "value" (a hostile name) */
                json_object *f = get(section("settings"), "fault");
                const char *field = get_str(f, "field", NULL), *value = get_str(f, "value", NULL);
                json_object_put(o);
                o = json_object_new_object();
                json_object_object_foreach(payload, k, v)
                {
                        json_object_object_add(o, k, json_object_get(v));
                }
                if (field && value)
                        json_object_object_add(o, field, json_object_new_string(value));
        } else if (kind && !strcmp(kind, "oversized")) {
                /* 132 KiB of padding: over AWS's (and the agent's) 128 KiB */
                _cleanup_free_ char *pad = malloc(132 * 1024 + 1);
                json_object_put(o);
                o = json_object_new_object();
                json_object_object_foreach(payload, k, v)
                        json_object_object_add(o, k, json_object_get(v));
                if (pad) {
                        memset(pad, 'x', 132 * 1024);
                        pad[132 * 1024] = 0;
                        json_object_object_add(o, "padding", json_object_new_string(pad));
                }
        }
        if (is_cbor(base)) {
                if (ob_cbor_encode(o, &buf, &len) < 0) {
                        json_object_put(o);
                        return;
                }
                s = (const char *)buf;
        } else {
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                len = strlen(s);
        }
        if (kind) {
                if (!strcmp(kind, "malformed")) {
                        /* JSON: not JSON; CBOR: a map header with a reserved length */
                        s = is_cbor(base) ? "\xbc\x01" : "{certificateId: 'not json'";
                        len = strlen(s);
                } else if (!strcmp(kind, "truncated")) {
                        len /= 2;
                } else if (!strcmp(kind, "wrong-topic")) {
                        /* a topic under the reply's, which the device did not subscribe to
                         * (mosquitto delivers a plugin's message to the client id anyway) */
                        snprintf(topic, sizeof(topic), "%s/%s/unexpected", base,
                                 ok ? "accepted" : "rejected");
                } else if (!strcmp(kind, "out-of-order")) {
                        fault_stray(client_id, base);
                        if (json_object_get_boolean(
                                    get(get(section("settings"), "fault"), "withhold"))) {
                                /* only the stray reply, the real one never comes */
                                fault_logged(client_id, topic, "withhold");
                                json_object_put(o);
                                return;
                        }
                }
                fault_logged(client_id, topic, kind);
        }
        mosquitto_broker_publish_copy(client_id, topic, (int)len, s, qos, false, NULL);
        if (kind && !strcmp(kind, "duplicate"))
                mosquitto_broker_publish_copy(client_id, topic, (int)len, s, qos, false, NULL);
        json_object_put(o);
}

static void reject(const char *client_id, const char *base, int status, const char *code,
                   const char *message)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "statusCode", json_object_new_int(status));
        json_object_object_add(o, "errorCode", json_object_new_string(code));
        json_object_object_add(o, "errorMessage", json_object_new_string(message));
        reply(client_id, base, false, o);
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "clientId", json_object_new_string(client_id));
        json_object_object_add(ev, "topic", json_object_new_string(base));
        json_object_object_add(ev, "reply", o);
        log_event("rejected", ev);
}

/* ------------------------------------------------------------------ fleet provisioning */

static void new_token(const char *cert_id, const Principal *claim, const char *client_id,
                      char **ret)
{
        _cleanup_free_ char *tok = ob_emu_pki_random_hex(48);
        json_object *t = json_object_new_object();

        json_object_object_add(t, "certificateId", json_object_new_string(cert_id));
        json_object_object_add(t, "claimCertificateId", json_object_new_string(claim->id));
        json_object_object_add(t, "clientId", json_object_new_string(client_id));
        json_object_object_add(
                t, "expires",
                json_object_new_int64(time(NULL) + setting_int("ownershipTokenLifetime", 3600)));
        json_object_object_add(section("tokens"), tok, t);
        {
                /* every token ever issued, for the suite's secret scan (tests/hygiene) */
                char path[4096];
                FILE *f;

                snprintf(path, sizeof(path), "%s/issued-tokens", g.state_dir);
                f = fopen(path, "ae");
                if (f) {
                        fprintf(f, "%s\n", tok);
                        fclose(f);
                }
        }
        *ret = TAKE_PTR(tok);
}

/* The profile of the certificates the emulator issues (docs/emulator.md, "Issued
 * certificates"): AWS's by default, each part overridable by a setting. */
static ObEmuIssue issue_profile(void)
{
        ObEmuIssue p = {.now = (int64_t)time(NULL),
                        .subject = setting_str("issuedCertSubject", NULL)};
        int64_t validity = setting_int("issuedCertValidity", 0);
        int64_t ahead = setting_int("issuedCertNotBeforeOffset", 0);

        if (validity > 0)
                p.not_after = p.now + validity;
        else if (ob_emu_pki_parse_time(setting_str("issuedCertNotAfter", OB_EMU_AWS_NOT_AFTER),
                                       &p.not_after) < 0)
                p.not_after = 0; /* refused by `set`; a hand-edited registry gets a 500 */
        if (ahead != 0)          /* a CA whose clock is off: notBefore before or after the issue */
                p.not_before = p.now + ahead;
        return p;
}

static void handle_create(const char *cid, const Principal *claim, const char *base,
                          json_object *req, bool from_csr)
{
        const char *api = from_csr ? "CreateCertificateFromCsr" : "CreateKeysAndCertificate";
        X509 *cert = NULL;
        _cleanup_free_ char *key = NULL, *pem = NULL, *tok = NULL;
        char id[OB_EMU_CERT_ID_LEN + 1];
        ObEmuIssue prof = issue_profile();
        int r;

        if (!bucket_take(api, throttle_rate(api, 10))) {
                reject(cid, base, 429, "Throttled", "Rate exceeded");
                return;
        }
        if (!g.issuer || !g.issuer_key) {
                reject(cid, base, 500, "InternalError", "emulator has no issuer CA");
                return;
        }
        if (from_csr) {
                const char *csr = get_str(req, "certificateSigningRequest", NULL);
                if (!csr) {
                        reject(cid, base, 400, "InvalidPayload",
                               "certificateSigningRequest is missing");
                        return;
                }
                r = ob_emu_pki_sign_csr(csr, g.issuer, g.issuer_key, &prof, &cert);
        }
        if (from_csr && r == 0 && fault_kind(api) && !strcmp(fault_kind(api), "other-key")) {
                /* fault: a real, registered certificate, but for another device's key (the
                 * reply meant for someone else); the CSR was valid, so this is not a 400 */
                X509_free(cert);
                cert = NULL;
                ObEmuIssue other = prof;
                other.subject = "/CN=another device";
                r = ob_emu_pki_make_key_and_cert("EC", g.issuer, g.issuer_key, &other, &cert, &key);
                if (key)
                        ob_explicit_bzero(key, strlen(key));
                free(key);
                key = NULL;
        } else if (!from_csr) {
                r = ob_emu_pki_make_key_and_cert(setting_str("createKeysKeyType", "RSA"), g.issuer,
                                                 g.issuer_key, &prof, &cert, &key);
                if (r == 0 && fault_kind(api) && !strcmp(fault_kind(api), "other-key")) {
                        /* fault: the certificate, with the private key of another one */
                        X509 *other = NULL;
                        char *other_key = NULL;
                        if (key)
                                ob_explicit_bzero(key, strlen(key));
                        free(key);
                        key = NULL;
                        ObEmuIssue op = prof;
                        op.subject = "/CN=another device";
                        r = ob_emu_pki_make_key_and_cert(setting_str("createKeysKeyType", "RSA"),
                                                         g.issuer, g.issuer_key, &op, &other,
                                                         &other_key);
                        X509_free(other);
                        key = other_key;
                }
        }
        if (r == -EBADMSG || r == -EINVAL) {
                reject(cid, base, 400, "InvalidCertificateSigningRequest",
                       r == -EINVAL ? "The key in the CSR is not supported"
                                    : "The CSR could not be parsed or verified");
                return;
        }
        if (r < 0 || ob_emu_pki_cert_id(cert, id) < 0 || !(pem = ob_emu_pki_cert_to_pem(cert))) {
                X509_free(cert);
                reject(cid, base, 500, "InternalError", "could not issue a certificate");
                return;
        }
        json_object_object_add(section("certificates"), id,
                               new_cert_entry(cert, "PENDING_ACTIVATION", NULL));
        X509_free(cert);
        new_token(id, claim, cid, &tok);
        save();

        json_object *o = json_object_new_object();
        if (fault_kind(api) && !strcmp(fault_kind(api), "id-mismatch")) {
                /* fault: a certificateId that is not the SHA-256 of certificatePem */
                _cleanup_free_ char *other = ob_emu_pki_random_hex(OB_EMU_CERT_ID_LEN / 2);
                json_object_object_add(o, "certificateId",
                                       json_object_new_string(other ? other : ""));
        } else {
                json_object_object_add(o, "certificateId", json_object_new_string(id));
        }
        json_object_object_add(o, "certificatePem", json_object_new_string(pem));
        if (key)
                json_object_object_add(o, "privateKey", json_object_new_string(key));
        json_object_object_add(o, "certificateOwnershipToken", json_object_new_string(tok));
        reply(cid, base, true, o);
        json_object_put(o);
        if (key)
                ob_explicit_bzero(key, strlen(key));

        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "api", json_object_new_string(api));
        json_object_object_add(ev, "clientId", json_object_new_string(cid));
        json_object_object_add(ev, "certificateId", json_object_new_string(id));
        log_event("certificateCreated", ev);
}

/* Apply a template result to the registry for certificate `cert_id`. 0 or -EEXIST/-ENOENT
 * with *ret_error set (static string). */
static int apply_template(const char *cert_id, ObEmuTemplateResult *r, const char **ret_error)
{
        json_object *certs = section("certificates"), *entry = get(certs, cert_id);

        if (!entry) {
                *ret_error = "certificate not found";
                return -ENOENT;
        }
        if (r->certificate_id && strcmp(r->certificate_id, cert_id)) {
                *ret_error = "CertificateId does not match the certificate being provisioned";
                return -EINVAL;
        }
        for (size_t i = 0; i < r->n_policies; i++) {
                const char *name = r->policies[i].name;
                char gen[80];
                if (!name) {
                        if (ob_emu_policy_validate(r->policies[i].document) < 0) {
                                *ret_error = "PolicyDocument is not a valid IoT policy";
                                return -EINVAL;
                        }
                        /* AWS names inline policies after a hash of the document */
                        unsigned long h = 5381;
                        for (const char *p = json_object_to_json_string_ext(r->policies[i].document,
                                                                            JSON_C_TO_STRING_PLAIN);
                             *p; p++)
                                h = h * 33 + (unsigned char)*p;
                        snprintf(gen, sizeof(gen), "policy-%016lx", h);
                        name = gen;
                        json_object_object_add(section("policies"), name,
                                               json_object_get(r->policies[i].document));
                } else if (!get(section("policies"), name)) {
                        *ret_error = "PolicyName refers to a policy that does not exist";
                        return -ENOENT;
                }
                array_add_unique(entry_array(entry, "policies"), name);
        }
        if (r->thing_name) {
                json_object *things = section("things"), *t = get(things, r->thing_name);
                const char *ov = get_str(r->thing_override, "AttributePayload", "DO_NOTHING");
                if (t && r->thing_override) {
                        json_object_object_foreach(r->thing_override, k, v)
                        {
                                if (!strcmp(json_object_get_string(v), "FAIL")) {
                                        (void)k;
                                        *ret_error = "ResourceConflictsException: thing exists";
                                        return -EEXIST;
                                }
                        }
                }
                if (!t) {
                        t = json_object_new_object();
                        json_object_object_add(things, r->thing_name, t);
                        ov = "REPLACE";
                }
                if (r->thing_attributes && (!strcmp(ov, "REPLACE") || !strcmp(ov, "MERGE"))) {
                        json_object *a = get(t, "attributes");
                        if (!strcmp(ov, "REPLACE") || !json_object_is_type(a, json_type_object))
                                json_object_object_add(t, "attributes",
                                                       json_object_get(r->thing_attributes));
                        else {
                                json_object_object_foreach(r->thing_attributes, k2, v2)
                                        json_object_object_add(a, k2, json_object_get(v2));
                        }
                }
                if (!get(t, "attributes"))
                        json_object_object_add(t, "attributes", json_object_new_object());
                if (r->thing_type)
                        json_object_object_add(t, "thingTypeName",
                                               json_object_new_string(r->thing_type));
                if (r->thing_groups)
                        json_object_object_add(t, "thingGroups", json_object_get(r->thing_groups));
                array_add_unique(entry_array(entry, "things"), r->thing_name);
        }
        if (r->certificate_status)
                set_status(cert_id, entry, r->certificate_status);
        return 0;
}

static void register_finish(json_object *ctx, json_object *overrides)
{
        const char *cid = get_str(ctx, "clientId", ""), *base = get_str(ctx, "base", "");
        const char *tname = get_str(ctx, "template", ""), *cert_id = get_str(ctx, "certId", "");
        json_object *tpl = get(section("templates"), tname);
        json_object *params = json_object_new_object();
        _cleanup_(ob_emu_template_result_done) ObEmuTemplateResult r = {};
        _cleanup_free_ char *err = NULL;
        const char *aerr = NULL;
        json_object *body;

        json_object_object_foreach(get(ctx, "parameters"), k, v)
                json_object_object_add(params, k, json_object_get(v));
        if (overrides) {
                json_object_object_foreach(overrides, k2, v2)
                        json_object_object_add(params, k2, json_object_get(v2));
        }
        json_object_object_add(params, "AWS::IoT::Certificate::Id",
                               json_object_new_string(cert_id));

        body = ob_emu_template_parse(get(tpl, "body"));
        if (!body) {
                reject(cid, base, 400, "InvalidTemplate", "template body is not valid");
        } else if (ob_emu_template_run(body, params, &r, &err) < 0) {
                reject(cid, base, 400, "InvalidParameters", err ? err : "template failed");
        } else if (apply_template(cert_id, &r, &aerr) < 0) {
                reject(cid, base, 400, "ResourceConflict", aerr);
        } else {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "deviceConfiguration",
                                       json_object_get(r.device_configuration));
                if (r.thing_name)
                        json_object_object_add(o, "thingName",
                                               json_object_new_string(r.thing_name));
                reply(cid, base, true, o);
                json_object_put(o);
                save();
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(cid));
                json_object_object_add(ev, "template", json_object_new_string(tname));
                json_object_object_add(ev, "certificateId", json_object_new_string(cert_id));
                if (r.thing_name)
                        json_object_object_add(ev, "thingName",
                                               json_object_new_string(r.thing_name));
                log_event("thingRegistered", ev);
        }
        json_object_put(body);
        json_object_put(params);
}

static void hook_done(json_object *ctx, json_object *answer)
{
        json_object *allow = get(answer, "allowProvisioning");

        if (!json_object_is_type(allow, json_type_boolean) || !json_object_get_boolean(allow)) {
                reject(get_str(ctx, "clientId", ""), get_str(ctx, "base", ""), 403, "ACCESS_DENIED",
                       "The pre-provisioning hook denied provisioning");
                return;
        }
        json_object *ov = get(answer, "parameterOverrides");
        register_finish(ctx, json_object_is_type(ov, json_type_object) ? ov : NULL);
}

static int start_job(const char *command, json_object *input, json_object *ctx, JobDone done);

static void handle_register(const char *cid, const Principal *claim, const char *base,
                            const char *tname, json_object *req)
{
        json_object *tpl = get(section("templates"), tname), *tok, *params;
        const char *token = get_str(req, "certificateOwnershipToken", NULL);
        const char *hook;

        if (!bucket_take("RegisterThing", throttle_rate("RegisterThing", 10))) {
                reject(cid, base, 429, "Throttled", "Rate exceeded");
                return;
        }
        if (!tpl || (get(tpl, "enabled") && !json_object_get_boolean(get(tpl, "enabled")))) {
                reject(cid, base, 404, "ResourceNotFound", "The template does not exist");
                return;
        }
        if (!token || !*token) {
                reject(cid, base, 400, "InvalidCertificateOwnershipToken",
                       "Certificate ownership token cannot be empty.");
                return;
        }
        tok = get(section("tokens"), token);
        if (!tok || json_object_get_int64(get(tok, "expires")) < time(NULL) ||
            !cert_entry(get_str(tok, "certificateId", ""))) {
                reject(cid, base, 400, "InvalidCertificateOwnershipToken",
                       "Certificate ownership token is invalid or expired.");
                return;
        }
        params = get(req, "parameters");
        if (params && !json_object_is_type(params, json_type_object)) {
                reject(cid, base, 400, "InvalidPayload", "parameters must be an object");
                return;
        }
        json_object_object_foreach(params, pk, pv)
        {
                if (!json_object_is_type(pv, json_type_string) || strlen(pk) > 2048 ||
                    json_object_get_string_len(pv) > 4096) {
                        reject(cid, base, 400, "InvalidPayload",
                               "parameters must be a flat map of strings");
                        return;
                }
        }

        json_object *ctx = json_object_new_object();
        json_object_object_add(ctx, "clientId", json_object_new_string(cid));
        json_object_object_add(ctx, "base", json_object_new_string(base));
        json_object_object_add(ctx, "template", json_object_new_string(tname));
        json_object_object_add(ctx, "certId",
                               json_object_new_string(get_str(tok, "certificateId", "")));
        json_object_object_add(ctx, "parameters",
                               params ? json_object_get(params) : json_object_new_object());

        hook = get_str(tpl, "preProvisioningHook", NULL);
        if (!hook) {
                register_finish(ctx, NULL);
                json_object_put(ctx);
                return;
        }
        json_object *cert = cert_entry(get_str(tok, "certificateId", ""));
        json_object *in = json_object_new_object();
        char arn[256];
        snprintf(arn, sizeof(arn), "arn:aws:iot:%s:%s:provisioningtemplate/%s",
                 get_str(g.reg, "region", "us-east-1"), get_str(g.reg, "account", "123456789012"),
                 tname);
        json_object_object_add(in, "claimCertificateId", json_object_new_string(claim->id));
        json_object_object_add(in, "certificateId",
                               json_object_new_string(get_str(tok, "certificateId", "")));
        json_object_object_add(in, "certificatePem",
                               json_object_new_string(get_str(cert, "pem", "")));
        json_object_object_add(in, "templateArn", json_object_new_string(arn));
        json_object_object_add(in, "clientId", json_object_new_string(cid));
        json_object_object_add(in, "parameters", json_object_get(get(ctx, "parameters")));
        if (start_job(hook, in, ctx, hook_done) < 0)
                reject(cid, base, 403, "ACCESS_DENIED", "The pre-provisioning hook failed");
        json_object_put(in);
}

/* ------------------------------------------------------------------ external commands */

static int start_job(const char *command, json_object *input, json_object *ctx, JobDone done)
{
        Job *j = NULL;
        int in[2], out[2];
        const char *s = json_object_to_json_string_ext(input, JSON_C_TO_STRING_PLAIN);
        pid_t pid;

        for (size_t i = 0; i < MAX_JOBS; i++)
                if (g.jobs[i].pid == 0) {
                        j = &g.jobs[i];
                        break;
                }
        if (!j) {
                json_object_put(ctx);
                return -EBUSY;
        }
        if (pipe2(in, O_CLOEXEC) < 0) {
                json_object_put(ctx);
                return -errno;
        }
        if (pipe2(out, O_CLOEXEC) < 0) {
                close(in[0]), close(in[1]);
                json_object_put(ctx);
                return -errno;
        }
        pid = fork();
        if (pid < 0) {
                close(in[0]), close(in[1]), close(out[0]), close(out[1]);
                json_object_put(ctx);
                return -errno;
        }
        if (pid == 0) {
                /* Own process group (a timeout kills the whole command), and none of the
                 * broker's sockets: an orphaned grandchild must not keep the port open. */
                setpgid(0, 0);
                dup2(in[0], 0);
                dup2(out[1], 1);
                if (close_range(3, ~0U, 0) < 0)
                        for (long fd = 3; fd < 1024; fd++)
                                close((int)fd);
                execl("/bin/sh", "sh", "-c", command, (char *)NULL);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        /* The event is small (< pipe buffer), so this write does not block. */
        (void)!write(in[1], s, strlen(s));
        close(in[1]);
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        *j = (Job){.pid = pid,
                   .out_fd = out[0],
                   .deadline = time(NULL) + HOOK_TIMEOUT_S,
                   .ctx = ctx,
                   .done = done};
        return 0;
}

static void poll_jobs(void)
{
        for (size_t i = 0; i < MAX_JOBS; i++) {
                Job *j = &g.jobs[i];
                char buf[4096];
                ssize_t n;
                int status;
                bool finished = false, ok = false;

                if (j->pid == 0)
                        continue;
                while ((n = read(j->out_fd, buf, sizeof(buf))) > 0) {
                        if (j->len + (size_t)n > MAX_JOB_OUTPUT)
                                break;
                        char *nb = realloc(j->buf, j->len + (size_t)n + 1);
                        if (!nb)
                                break;
                        j->buf = nb;
                        memcpy(j->buf + j->len, buf, (size_t)n);
                        j->len += (size_t)n;
                        j->buf[j->len] = '\0';
                }
                if (waitpid(j->pid, &status, WNOHANG) == j->pid) {
                        while ((n = read(j->out_fd, buf, sizeof(buf))) > 0 &&
                               j->len + (size_t)n <= MAX_JOB_OUTPUT) {
                                char *nb = realloc(j->buf, j->len + (size_t)n + 1);
                                if (!nb)
                                        break;
                                j->buf = nb;
                                memcpy(j->buf + j->len, buf, (size_t)n);
                                j->len += (size_t)n;
                                j->buf[j->len] = '\0';
                        }
                        finished = true;
                        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                } else if (time(NULL) > j->deadline) {
                        kill(-j->pid, SIGKILL);
                        kill(j->pid, SIGKILL);
                        waitpid(j->pid, &status, 0);
                        finished = true;
                        log_event("hookTimeout", NULL);
                }
                if (!finished)
                        continue;
                json_object *answer = ok && j->buf ? json_tokener_parse(j->buf) : NULL;
                j->done(j->ctx, answer);
                json_object_put(answer);
                json_object_put(j->ctx);
                close(j->out_fd);
                free(j->buf);
                *j = (Job){};
        }
}

/* ------------------------------------------------------------------ JITP / JITR */

static void jitr_done(json_object *ctx, json_object *answer);

static void jitr_publish(const char *cert_id, const char *ca_id)
{
        char topic[256];
        json_object *o = json_object_new_object();
        const char *s;

        json_object_object_add(o, "certificateId", json_object_new_string(cert_id));
        json_object_object_add(o, "caCertificateId", json_object_new_string(ca_id));
        json_object_object_add(o, "timestamp", json_object_new_int64((int64_t)time(NULL) * 1000));
        json_object_object_add(o, "certificateStatus",
                               json_object_new_string("PENDING_ACTIVATION"));
        json_object_object_add(o, "awsAccountId",
                               json_object_new_string(get_str(g.reg, "account", "123456789012")));
        json_object_object_add(o, "certificateRegistrationTimestamp",
                               json_object_new_string(json_object_get_string(
                                       get(cert_entry(cert_id), "creationDate"))));
        snprintf(topic, sizeof(topic), "$aws/events/certificates/registered/%s", ca_id);
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        mosquitto_broker_publish_copy(NULL, topic, (int)strlen(s), s, 1, false, NULL);
        json_object *fn = get(get(section("cas"), ca_id), "jitrFunction");
        if (json_object_is_type(fn, json_type_string)) {
                json_object *ctx = json_object_new_object();
                json_object_object_add(ctx, "certificateId", json_object_new_string(cert_id));
                start_job(json_object_get_string(fn), o, ctx, jitr_done);
        }
        log_event("jitrRegistered", json_object_get(o));
        json_object_put(o);
}

static void jitr_done(json_object *ctx, json_object *answer)
{
        const char *id = get_str(ctx, "certificateId", "");
        json_object *e = cert_entry(id), *pols = get(answer, "policies");
        const char *st = get_str(answer, "status", NULL);

        if (!e || !st)
                return;
        for (size_t i = 0; i < alen(pols); i++)
                array_add_unique(entry_array(e, "policies"),
                                 json_object_get_string(json_object_array_get_idx(pols, i)));
        set_status(id, e, st);
        save();
}

static int refuse(void)
{
        /* "close": no CONNACK (mosquitto closes on a non-auth error); "connack": CONNACK 5. */
        return strcmp(setting_str("refusal", "close"), "connack") ? MOSQ_ERR_UNKNOWN
                                                                  : MOSQ_ERR_AUTH;
}

static int auto_register(X509 *cert, const char *id)
{
        json_object_object_foreach(section("cas"), ca_id, ca)
        {
                _cleanup_free_ char *err = NULL;
                X509 *cax = pem_or_file(ca);
                bool match = cax && ob_emu_pki_issued_by(cert, cax);

                X509_free(cax);
                if (!match)
                        continue;
                if (strcmp(get_str(ca, "status", "ACTIVE"), "ACTIVE") ||
                    !json_object_get_boolean(get(ca, "autoRegistration")))
                        return refuse();
                json_object_object_add(section("certificates"), id,
                                       new_cert_entry(cert, "PENDING_ACTIVATION", ca_id));
                json_object *tpl_name = get(ca, "template");
                if (!tpl_name) {
                        save();
                        jitr_publish(id, ca_id);
                        return refuse();
                }
                /* JITP: the template runs with the subject fields and the certificate id. */
                json_object *tpl = get(section("templates"), json_object_get_string(tpl_name));
                json_object *body = ob_emu_template_parse(get(tpl, "body"));
                json_object *params = ob_emu_pki_subject_params(cert);
                ObEmuTemplateResult r = {};
                const char *aerr = NULL;
                json_object_object_add(params, "AWS::IoT::Certificate::Id",
                                       json_object_new_string(id));
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "certificateId", json_object_new_string(id));
                json_object_object_add(ev, "caCertificateId", json_object_new_string(ca_id));
                if (!body || ob_emu_template_run(body, params, &r, &err) < 0 ||
                    apply_template(id, &r, &aerr) < 0) {
                        json_object_object_add(ev, "error",
                                               json_object_new_string(err    ? err
                                                                      : aerr ? aerr
                                                                             : "bad template"));
                        json_object_object_del(section("certificates"), id);
                        log_event("jitpFailed", ev);
                } else {
                        log_event("jitpProvisioned", ev);
                }
                ob_emu_template_result_done(&r);
                json_object_put(body);
                json_object_put(params);
                save();
                return refuse();
        }
        return refuse();
}

/* ------------------------------------------------------------------ CA trust */

/* Every registered CA, whatever its status, into the broker's capath: AWS completes the TLS
 * handshake for them and decides at CONNECT (an INACTIVE CA registers no new certificates,
 * docs/emulator.md "CA trust"). */
static void trust_sync(void)
{
        X509 *cas[256];
        size_t n = 0;
        int r;

        if (!g.trust_dir)
                return;
        json_object_object_foreach(section("cas"), id, ca)
        {
                X509 *x = n < OB_ELEMENTSOF(cas) ? pem_or_file(ca) : NULL;
                if (x)
                        cas[n++] = x;
                else
                        mosquitto_log_printf(MOSQ_LOG_WARNING,
                                             "ob-emulator: CA %s not in the trust directory", id);
        }
        r = ob_emu_trust_sync(g.trust_dir, cas, n);
        if (r < 0)
                mosquitto_log_printf(MOSQ_LOG_ERR, "ob-emulator: cannot update %s: %s", g.trust_dir,
                                     strerror(-r));
        for (size_t i = 0; i < n; i++)
                X509_free(cas[i]);
}

/* A certificate registered under a CA that was deleted since: the broker's TLS would no longer
 * accept it after a restart (the CA left the capath), so it is refused now too. */
static bool ca_deleted(json_object *entry)
{
        const char *ca = get_str(entry, "caCertificateId", NULL);

        return ca && get(entry, "caDeleted") && !get(section("cas"), ca);
}

/* delete-ca: AWS refuses while the CA is ACTIVE (CertificateStateException, 406). */
static const char *delete_ca(const char *id, const char **ret_code)
{
        json_object *ca = get(section("cas"), id);

        if (!ca) {
                *ret_code = "ResourceNotFoundException";
                return "no such CA";
        }
        if (!strcmp(get_str(ca, "status", "ACTIVE"), "ACTIVE")) {
                *ret_code = "CertificateStateException";
                return "the CA is ACTIVE: set its status to INACTIVE first";
        }
        json_object_object_foreach(section("certificates"), cid, e)
        {
                (void)cid;
                if (!strcmp(get_str(e, "caCertificateId", ""), id))
                        json_object_object_add(e, "caDeleted", json_object_new_boolean(1));
        }
        json_object_object_del(section("cas"), id);
        return NULL;
}

/* ------------------------------------------------------------------ broker callbacks */

static int on_auth(int event, void *event_data, void *userdata)
{
        struct mosquitto_evt_basic_auth *ed = event_data;
        const char *cid = mosquitto_client_id(ed->client);
        char key[256];
        Principal p;
        X509 *cert = NULL;
        int r;

        (void)event, (void)userdata;
        if (!cid || !*cid || strlen(cid) > 128 || cid[0] == '$')
                return MOSQ_ERR_AUTH;
        snprintf(key, sizeof(key), "connect:%s", cid);
        if (!bucket_take("connect:account", throttle_rate("connectPerAccount", 500)) ||
            !bucket_take(key, throttle_rate("connectPerClientId", 1))) {
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(cid));
                log_event("connectThrottled", ev);
                return refuse();
        }
        if (principal(ed->client, &p, &cert) < 0)
                return MOSQ_ERR_AUTH;
        if (!p.entry) {
                r = auto_register(cert, p.id);
                X509_free(cert);
                return r;
        }
        X509_free(cert);
        const char *status = get_str(p.entry, "status", "");
        json_object *exp = get(p.entry, "expires");
        if (!strcmp(status, "PENDING_ACTIVATION") && get(p.entry, "caCertificateId") &&
            !get(get(section("cas"), get_str(p.entry, "caCertificateId", "")), "template"))
                jitr_publish(p.id, get_str(p.entry, "caCertificateId", ""));
        if (strcmp(status, "ACTIVE") || (exp && json_object_get_int64(exp) < time(NULL)) ||
            ca_deleted(p.entry)) {
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(cid));
                json_object_object_add(ev, "certificateId", json_object_new_string(p.id));
                json_object_object_add(ev, "status", json_object_new_string(status));
                log_event("connectRefused", ev);
                return refuse();
        }
        char res[200];
        snprintf(res, sizeof(res), "client/%s", cid);
        if (!allowed(&p, cid, OB_EMU_ACTION_CONNECT, res)) {
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(cid));
                json_object_object_add(ev, "certificateId", json_object_new_string(p.id));
                log_event("connectNotAuthorized", ev);
                return refuse();
        }
        conn_open(ed->client, cid, p.id);
        return MOSQ_ERR_SUCCESS;
}

static int on_acl(int event, void *event_data, void *userdata)
{
        struct mosquitto_evt_acl_check *ed = event_data;
        const char *cid = mosquitto_client_id(ed->client);
        json_object *state = client_state(cid);
        char res[1024];
        ObEmuAction action;
        const char *kind = "topic";
        Principal p;

        (void)event, (void)userdata;
        switch (ed->access) {
        case MOSQ_ACL_SUBSCRIBE:
                action = OB_EMU_ACTION_SUBSCRIBE;
                kind = "topicfilter";
                break;
        case MOSQ_ACL_WRITE:
                action = OB_EMU_ACTION_PUBLISH;
                break;
        case MOSQ_ACL_READ:
                action = OB_EMU_ACTION_RECEIVE;
                break;
        case MOSQ_ACL_UNSUBSCRIBE:
                conn_touch(cid);
                json_object_object_del(get(state, "subs"), ed->topic);
                return MOSQ_ERR_SUCCESS;
        default:
                return MOSQ_ERR_SUCCESS;
        }
        if (principal(ed->client, &p, NULL) < 0 || !p.entry)
                return MOSQ_ERR_ACL_DENIED;
        if (action != OB_EMU_ACTION_RECEIVE)
                conn_touch(cid);
        if (action == OB_EMU_ACTION_PUBLISH &&
            ed->payloadlen > (uint64_t)setting_int("maxPayloadSize", 131072)) {
                /* AWS refuses publishes over 128 KB and closes the connection (CLIENT_ERROR). */
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(cid ? cid : ""));
                json_object_object_add(ev, "payloadLength", json_object_new_int64(ed->payloadlen));
                log_event("payloadTooLarge", ev);
                queue_kick(cid, "CLIENT_ERROR");
                return MOSQ_ERR_ACL_DENIED;
        }
        snprintf(res, sizeof(res), "%s/%s", kind, ed->topic);
        if (allowed(&p, cid, action, res)) {
                if (action == OB_EMU_ACTION_SUBSCRIBE && state)
                        json_object_object_add(entry_object(state, "subs"), ed->topic,
                                               json_object_new_int(ed->qos));
                return MOSQ_ERR_SUCCESS;
        }
        if (action != OB_EMU_ACTION_RECEIVE) {
                json_object *ev = json_object_new_object();
                json_object_object_add(ev, "clientId", json_object_new_string(cid ? cid : ""));
                json_object_object_add(ev, "action",
                                       json_object_new_string(ob_emu_action_name(action)));
                json_object_object_add(ev, "resource", json_object_new_string(res));
                log_event("forbidden", ev);
                /* MQTT 3.1.1: AWS closes the connection at once, with no SUBACK or PUBACK
                 * (docs/emulator.md, "Publish/Subscribe/Receive"). An error other than
                 * ACL_DENIED makes mosquitto drop the connection without acknowledging. MQTT 5
                 * can say no: mosquitto answers PUBACK/SUBACK 0x87 and the connection stays. */
                if (mosquitto_client_protocol_version(ed->client) != 5) {
                        conn_set_kick_reason(cid, "FORBIDDEN_ACCESS");
                        return MOSQ_ERR_AUTH;
                }
        }
        return MOSQ_ERR_ACL_DENIED;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
        struct mosquitto_evt_disconnect *ed = event_data;
        char key[32];
        json_object *conn, *c;
        const char *reason;
        bool current;

        (void)event, (void)userdata;
        conn_key(ed->client, key, sizeof(key));
        conn = get(g.conns, key);
        if (!conn)
                return MOSQ_ERR_SUCCESS; /* never authorised: no lifecycle event */
        c = client_state(get_str(conn, "clientId", ""));
        current = c && !strcmp(get_str(c, "conn", ""), key);
        reason = get_str(conn, "kick", NULL);
        mosquitto_log_printf(MOSQ_LOG_DEBUG, "ob-emulator: disconnect of %s, broker reason %d",
                             get_str(conn, "clientId", ""), ed->reason);
        if (!reason)
                reason = current ? disconnect_reason(ed->reason) : "DUPLICATE_CLIENTID";
        lifecycle(conn, false, reason);
        if (current) {
                json_object_object_del(c, "conn");
                if (mosquitto_client_clean_session(ed->client))
                        json_object_object_add(c, "subs", json_object_new_object());
        }
        json_object_object_del(g.conns, key);
        return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ shadows */

static void publish_json(const char *topic, json_object *o)
{
        const char *s;

        if (!o)
                return;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        /* like AWS: to every subscriber of the topic allowed to receive it (on_acl) */
        mosquitto_broker_publish_copy(NULL, topic, (int)strlen(s), s, 1, false, NULL);
}

static void shadow_publish(const char *prefix, const char *suffix, json_object *o)
{
        char topic[512];

        snprintf(topic, sizeof(topic), "%s/%s", prefix, suffix);
        publish_json(topic, o);
}

/* $aws/things/THING/shadow/name/NAME/{update,get,delete}: the Device Shadow service for named
 * shadows (shadow.h; the documents live in the registry's "shadows" under "THING~NAME").
 * Returns true when the topic is one of these. */
static bool handle_shadow(const char *cid, const char *t, const void *payload, size_t len)
{
        char thing[129], name[OB_EMU_SHADOW_MAX_NAME + 2], op[8], prefix[512], key[256];
        ObEmuShadowAnswer a = {0};
        json_object *stored;
        int n = 0;

        if (sscanf(t, "$aws/things/%128[^/]/shadow/name/%65[^/]/%7[a-z]%n", thing, name, op, &n) !=
                    3 ||
            t[n] != 0)
                return false;
        if (strcmp(op, "update") && strcmp(op, "get") && strcmp(op, "delete"))
                return false;
        snprintf(prefix, sizeof(prefix), "$aws/things/%s/shadow/name/%s/%s", thing, name, op);
        snprintf(key, sizeof(key), "%s~%s", thing, name);
        stored = get(section("shadows"), key);
        if (!ob_emu_shadow_name_valid(name)) {
                json_object *e = json_object_new_object();
                json_object_object_add(e, "code", json_object_new_int(400));
                json_object_object_add(e, "message", json_object_new_string("Invalid shadow name"));
                json_object_object_add(e, "timestamp", json_object_new_int64(time(NULL)));
                shadow_publish(prefix, "rejected", e);
                json_object_put(e);
                return true;
        }
        if (!strcmp(op, "update"))
                ob_emu_shadow_update(stored, payload, len, time(NULL), &a);
        else if (!strcmp(op, "get"))
                ob_emu_shadow_get(stored, payload, len, key, time(NULL), &a);
        else
                ob_emu_shadow_delete(stored, payload, len, key, time(NULL), &a);
        if (a.code == 0 && !strcmp(op, "update"))
                json_object_object_add(section("shadows"), key, json_object_get(a.stored));
        else if (a.code == 0 && !strcmp(op, "delete"))
                json_object_object_del(section("shadows"), key);
        if (a.code == 0 && strcmp(op, "get"))
                (void)save();
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "clientId", json_object_new_string(cid));
        json_object_object_add(ev, "shadow", json_object_new_string(key));
        json_object_object_add(ev, "op", json_object_new_string(op));
        json_object_object_add(ev, "code", json_object_new_int(a.code));
        log_event("shadow", ev);
        shadow_publish(prefix, a.code == 0 ? "accepted" : "rejected", a.accepted);
        shadow_publish(prefix, "documents", a.documents);
        shadow_publish(prefix, "delta", a.delta);
        ob_emu_shadow_answer_clear(&a);
        return true;
}

/* ------------------------------------------------------------------ jobs */

/* What the jobs module answered (jobs.h): the reply, NextJobExecutionChanged on each changed
 * thing's jobs/notify-next, the registry saved, a "job" event per operation. */
static void jobs_done(const char *cid, ObEmuJobsAnswer *a)
{
        char topic[512];

        if (a->topic[0])
                publish_json(a->topic, a->reply);
        if (a->notify) {
                json_object_object_foreach(a->notify, thing, o)
                {
                        snprintf(topic, sizeof(topic), "$aws/things/%s/jobs/notify-next", thing);
                        publish_json(topic, o);
                }
        }
        if (a->changed)
                (void)save();
        for (size_t i = 0; i < alen(a->events); i++) {
                json_object *ev = json_object_get(json_object_array_get_idx(a->events, i));
                if (cid)
                        json_object_object_add(ev, "clientId", json_object_new_string(cid));
                log_event("job", ev);
        }
        ob_emu_jobs_answer_clear(a);
}

/* $aws/things/THING/jobs/{get,start-next,JOBID/get,JOBID/update}: the Jobs device MQTT API
 * (jobs.h; the jobs live in the registry's "jobs"). Returns true when the topic is one of these. */
static bool handle_jobs(const char *cid, const char *t, const void *payload, size_t len)
{
        ObEmuJobsAnswer a = {0};

        if (!ob_emu_jobs_request(g.reg, t, payload, len, (int64_t)time(NULL), &a))
                return false;
        jobs_done(cid, &a);
        return true;
}

static void jobs_tick(void)
{
        ObEmuJobsAnswer a = {0};

        ob_emu_jobs_tick(g.reg, (int64_t)time(NULL), &a);
        jobs_done(NULL, &a);
}

static int on_message(int event, void *event_data, void *userdata)
{
        struct mosquitto_evt_message *ed = event_data;
        const char *cid = mosquitto_client_id(ed->client), *t = ed->topic;
        char base[512], tname[64];
        Principal p;

        (void)event, (void)userdata;
        if (!cid || strncmp(t, "$aws/", 5))
                return MOSQ_ERR_SUCCESS;
        if (principal(ed->client, &p, NULL) < 0)
                return MOSQ_ERR_SUCCESS;
        snprintf(base, sizeof(base), "%s", t);
        if (handle_shadow(cid, t, ed->payload, ed->payloadlen))
                return MOSQ_ERR_SUCCESS;
        if (handle_jobs(cid, t, ed->payload, ed->payloadlen))
                return MOSQ_ERR_SUCCESS;

        char fmt[5] = "";
        bool csr = sscanf(t, "$aws/certificates/create-from-csr/%4s", fmt) == 1;
        bool keys = !csr && sscanf(t, "$aws/certificates/create/%4s", fmt) == 1;
        bool reg = !csr && !keys &&
                   sscanf(t, "$aws/provisioning-templates/%63[^/]/provision/%4s", tname, fmt) == 2;
        if (strcmp(fmt, "json") && strcmp(fmt, "cbor"))
                return MOSQ_ERR_SUCCESS;
        {
                /* exact topic only: no trailing levels such as .../json/accepted */
                char check[512];
                if (csr)
                        snprintf(check, sizeof(check), "$aws/certificates/create-from-csr/%s", fmt);
                else if (keys)
                        snprintf(check, sizeof(check), "$aws/certificates/create/%s", fmt);
                else
                        snprintf(check, sizeof(check),
                                 "$aws/provisioning-templates/%s/provision/%s", tname, fmt);
                if (strcmp(check, t))
                        return MOSQ_ERR_SUCCESS;
        }
        if (!csr && !keys && !reg)
                return MOSQ_ERR_SUCCESS;

        json_object *req = NULL;
        if (ed->payloadlen > 0 && !strcmp(fmt, "cbor")) {
                if (ob_cbor_decode(ed->payload, ed->payloadlen, &req) < 0)
                        req = NULL;
        } else if (ed->payloadlen > 0) {
                json_tokener *tok = json_tokener_new();
                req = json_tokener_parse_ex(tok, ed->payload, (int)ed->payloadlen);
                if (json_tokener_get_error(tok) != json_tokener_success)
                        req = NULL;
                json_tokener_free(tok);
        }
        if ((ed->payloadlen > 0 || !keys) && !json_object_is_type(req, json_type_object)) {
                reject(cid, base, 400, "InvalidPayload", "The payload is not a map");
        } else if (csr || keys) {
                handle_create(cid, &p, base, req, csr);
        } else {
                handle_register(cid, &p, base, tname, req);
        }
        json_object_put(req);
        return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ admin inbox */

/* What is wrong with setting KEY to V (NULL: nothing); a typo must not be a silent no-op. */
static const char *setting_error(const char *key, json_object *v)
{
        int64_t t;

        if (!v) /* null: back to the default */
                return NULL;
        if (!strcmp(key, "issuedCertNotAfter"))
                return json_object_is_type(v, json_type_string) &&
                                       ob_emu_pki_parse_time(json_object_get_string(v), &t) == 0
                               ? NULL
                               : "issuedCertNotAfter: \"YYYY-MM-DDTHH:MM:SSZ\" (1950-9999) or null";
        if (!strcmp(key, "issuedCertValidity"))
                return json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0
                               ? NULL
                               : "issuedCertValidity: seconds (0 or null: issuedCertNotAfter)";
        if (!strcmp(key, "issuedCertNotBeforeOffset"))
                return json_object_is_type(v, json_type_int) &&
                                       llabs(json_object_get_int64(v)) <= 10LL * 365 * 86400
                               ? NULL
                               : "issuedCertNotBeforeOffset: seconds from the issue, at most 10 "
                                 "years either way (0 or null: the time of issue)";
        if (!strcmp(key, "issuedCertSubject"))
                return json_object_is_type(v, json_type_string) &&
                                       ob_emu_pki_subject_valid(json_object_get_string(v))
                               ? NULL
                               : "issuedCertSubject: \"/CN=...[/O=...]\" or null (the CSR's)";
        if (!strcmp(key, "createKeysKeyType"))
                return json_object_is_type(v, json_type_string) &&
                                       (!strcmp(json_object_get_string(v), "RSA") ||
                                        !strcmp(json_object_get_string(v), "EC"))
                               ? NULL
                               : "createKeysKeyType: \"RSA\" (2048) or \"EC\" (P-256)";
        return NULL;
}

static json_object *admin_op(json_object *cmd)
{
        const char *op = get_str(cmd, "op", "");
        json_object *res = json_object_new_object();
        const char *err = NULL, *code = NULL;
        ObEmuJobsAnswer ja = {0};

        if (!strcmp(op, "set-cert-status")) {
                const char *id = get_str(cmd, "certificateId", "");
                json_object *e = cert_entry(id);
                if (!e)
                        err = "no such certificate";
                else
                        set_status(id, e, get_str(cmd, "status", "ACTIVE"));
        } else if (!strcmp(op, "attach-policy")) {
                json_object *e = cert_entry(get_str(cmd, "certificateId", ""));
                if (!e || !get(section("policies"), get_str(cmd, "policy", "")))
                        err = "no such certificate or policy";
                else
                        array_add_unique(entry_array(e, "policies"), get_str(cmd, "policy", ""));
        } else if (!strcmp(op, "register-cert") || !strcmp(op, "register-ca")) {
                X509 *x = ob_emu_pki_cert_from_pem(get_str(cmd, "pem", ""));
                char id[OB_EMU_CERT_ID_LEN + 1];
                if (!x || ob_emu_pki_cert_id(x, id) < 0) {
                        err = "pem is not a certificate";
                } else if (!strcmp(op, "register-cert")) {
                        json_object *e = new_cert_entry(x, get_str(cmd, "status", "INACTIVE"),
                                                        get_str(cmd, "caCertificateId", NULL));
                        json_object_object_add(section("certificates"), id, e);
                        json_object_object_add(res, "certificateId", json_object_new_string(id));
                } else if (get(section("cas"), id)) {
                        code = "ResourceAlreadyExistsException";
                        err = "the CA is already registered";
                        json_object_object_add(res, "caCertificateId", json_object_new_string(id));
                } else {
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "pem",
                                               json_object_new_string(get_str(cmd, "pem", "")));
                        json_object_object_add(
                                e, "status",
                                json_object_new_string(get_str(cmd, "status", "ACTIVE")));
                        json_object_object_add(
                                e, "mode", json_object_new_string(get_str(cmd, "mode", "DEFAULT")));
                        json_object_object_add(
                                e, "autoRegistration",
                                json_object_new_boolean(
                                        get(cmd, "autoRegistration") &&
                                        json_object_get_boolean(get(cmd, "autoRegistration"))));
                        if (get_str(cmd, "template", NULL))
                                json_object_object_add(
                                        e, "template",
                                        json_object_new_string(get_str(cmd, "template", "")));
                        json_object_object_add(section("cas"), id, e);
                        json_object_object_add(res, "caCertificateId", json_object_new_string(id));
                }
                X509_free(x);
        } else if (!strcmp(op, "update-ca")) {
                static const char *const keys[] = {"autoRegistration", "template", "status",
                                                   "jitrFunction"};
                json_object *ca = get(section("cas"), get_str(cmd, "caCertificateId", ""));
                if (!ca)
                        err = "no such CA";
                for (size_t i = 0; ca && i < OB_ELEMENTSOF(keys); i++) {
                        json_object *v;
                        if (!json_object_object_get_ex(cmd, keys[i], &v))
                                continue;
                        if (v) /* JSON null removes the setting */
                                json_object_object_add(ca, keys[i], json_object_get(v));
                        else
                                json_object_object_del(ca, keys[i]);
                }
        } else if (!strcmp(op, "delete-ca")) {
                err = delete_ca(get_str(cmd, "caCertificateId", ""), &code);
        } else if (!strcmp(op, "put-policy")) {
                if (ob_emu_policy_validate(get(cmd, "document")) < 0)
                        err = "not a valid IoT policy document";
                else
                        json_object_object_add(section("policies"), get_str(cmd, "name", ""),
                                               json_object_get(get(cmd, "document")));
        } else if (!strcmp(op, "put-template")) {
                json_object *body = ob_emu_template_parse(get(cmd, "body"));
                if (!body) {
                        err = "template body is not a JSON object (or larger than 10 KiB)";
                } else {
                        json_object *t = json_object_new_object();
                        json_object_object_add(t, "enabled", json_object_new_boolean(1));
                        json_object_object_add(t, "body", body);
                        if (get_str(cmd, "preProvisioningHook", NULL))
                                json_object_object_add(
                                        t, "preProvisioningHook",
                                        json_object_get(get(cmd, "preProvisioningHook")));
                        json_object_object_add(section("templates"), get_str(cmd, "name", ""), t);
                }
        } else if (!strcmp(op, "set")) {
                const char *k = get_str(cmd, "key", "");
                if (setting_error(k, get(cmd, "value"))) {
                        err = setting_error(k, get(cmd, "value"));
                } else if (!strcmp(k, "fault") && !fault_valid(get(cmd, "value"))) {
                        err = "fault: null, or {\"kind\": one of docs/emulator.md's kinds, "
                              "\"api\": CreateCertificateFromCsr|CreateKeysAndCertificate|"
                              "RegisterThing, ...}";
                } else if (!strncmp(k, "throttle.", 9)) {
                        json_object *th = get(section("settings"), "throttle");
                        if (!th) {
                                th = json_object_new_object();
                                json_object_object_add(section("settings"), "throttle", th);
                        }
                        json_object_object_add(th, k + 9, json_object_get(get(cmd, "value")));
                        json_object_object_del(g.buckets, k + 9);
                } else {
                        json_object_object_add(section("settings"), k,
                                               json_object_get(get(cmd, "value")));
                }
        } else if (!strcmp(op, "create-claim")) {
                ObEmuIssue claim = {.now = (int64_t)time(NULL),
                                    .not_after = (int64_t)time(NULL) + 300,
                                    .subject = "/CN=AWS IoT Provisioning Claim"};
                X509 *x = NULL;
                _cleanup_free_ char *key = NULL, *pem = NULL;
                char id[OB_EMU_CERT_ID_LEN + 1];
                if (!g.issuer || ob_emu_pki_make_key_and_cert("EC", g.issuer, g.issuer_key, &claim,
                                                              &x, &key) < 0) {
                        err = "cannot mint a claim";
                } else {
                        ob_emu_pki_cert_id(x, id);
                        pem = ob_emu_pki_cert_to_pem(x);
                        json_object *e = new_cert_entry(x, "ACTIVE", NULL);
                        json_object_object_add(e, "expires",
                                               json_object_new_int64(time(NULL) + 300));
                        json_object_object_add(e, "temporaryClaim", json_object_new_boolean(1));
                        array_add_unique(
                                entry_array(e, "policies"),
                                get_str(cmd, "policy", setting_str("claimPolicy", "ClaimPolicy")));
                        json_object_object_add(section("certificates"), id, e);
                        json_object_object_add(res, "certificateId", json_object_new_string(id));
                        json_object_object_add(res, "certificatePem",
                                               json_object_new_string(pem ? pem : ""));
                        json_object_object_add(res, "privateKey", json_object_new_string(key));
                        json_object_object_add(res, "expiration",
                                               json_object_new_int64(time(NULL) + 300));
                        ob_explicit_bzero(key, strlen(key));
                }
                X509_free(x);
        } else if (ob_emu_jobs_admin(g.reg, cmd, (int64_t)time(NULL), res, &err, &code, &ja)) {
                /* create-job, cancel-job: notify-next below (jobs_done) */
        } else if (ob_emu_admin_cmd(g.reg, cmd, (int64_t)time(NULL), res, &err) == 0) {
                err = "unknown op";
        }
        json_object_object_add(res, "ok", json_object_new_boolean(!err));
        if (err)
                json_object_object_add(res, "error", json_object_new_string(err));
        if (code) /* AWS's exception name, for the REST front */
                json_object_object_add(res, "errorCode", json_object_new_string(code));
        if (!err)
                save();
        if (!err &&
            (!strcmp(op, "register-ca") || !strcmp(op, "update-ca") || !strcmp(op, "delete-ca")))
                trust_sync();
        json_object *ev = json_object_new_object();
        json_object_object_add(ev, "op", json_object_new_string(op));
        json_object_object_add(ev, "ok", json_object_new_boolean(!err));
        log_event("admin", ev);
        jobs_done(NULL, &ja);
        return res;
}

static void process_inbox(void)
{
        char dir[4096], path[8192], out[8192], tmp[8200];
        struct dirent *de;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/inbox", g.state_dir);
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n < 6 || strcmp(de->d_name + n - 5, ".json"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                json_object *cmd = json_object_from_file(path);
                unlink(path);
                json_object *res = cmd ? admin_op(cmd) : json_object_new_object();
                snprintf(out, sizeof(out), "%s/outbox/%s", g.state_dir, de->d_name);
                snprintf(tmp, sizeof(tmp), "%s.tmp", out);
                json_object_to_file_ext(tmp, res, JSON_C_TO_STRING_PRETTY);
                rename(tmp, out);
                json_object_put(res);
                json_object_put(cmd);
        }
        closedir(d);
}

/* Ownership tokens expire; a certificate that was never registered is deleted with it. */
static void expire_tokens(void)
{
        json_object *tokens = section("tokens");
        bool changed = false;

        for (bool again = true; again;) {
                again = false;
                json_object_object_foreach(tokens, tok, t)
                {
                        if (json_object_get_int64(get(t, "expires")) >= time(NULL))
                                continue;
                        const char *id = get_str(t, "certificateId", "");
                        json_object *e = cert_entry(id);
                        if (e && !strcmp(get_str(e, "status", ""), "PENDING_ACTIVATION") &&
                            alen(get(e, "things")) == 0 && alen(get(e, "policies")) == 0) {
                                json_object *ev = json_object_new_object();
                                json_object_object_add(ev, "certificateId",
                                                       json_object_new_string(id));
                                log_event("certificateDeletedUnclaimed", ev);
                                json_object_object_del(section("certificates"), id);
                        }
                        json_object_object_del(tokens, tok);
                        changed = again = true;
                        break;
                }
        }
        if (changed)
                save();
}

/* AWS clamps the keep-alive to 30..1200 s (0 means 1200) and closes a connection after 1.5 times
 * that without traffic. mosquitto enforces 1.5 × the client's own value and nothing for 0, so
 * the emulator closes connections whose keep-alive is 0 or above the maximum itself. It sees
 * PUBLISH, SUBSCRIBE and UNSUBSCRIBE but not PINGREQ or PUBACK; a client with such a keep-alive
 * pings less often than the timeout anyway. */
static void conn_keepalive_tick(void)
{
        int64_t max = setting_int("keepAliveMax", 1200);

        json_object_object_foreach(g.clients, cid, c)
        {
                int ka = json_object_get_int(get(c, "ka"));
                if (!get(c, "conn") || (ka != 0 && ka <= max))
                        continue;
                if (now_ms() - json_object_get_int64(get(c, "last")) > max * 1500)
                        queue_kick(cid, "MQTT_KEEP_ALIVE_TIMEOUT");
        }
}

static int on_tick(int event, void *event_data, void *userdata)
{
        (void)event, (void)event_data, (void)userdata;
        for (size_t i = 0; i < g.n_kicks; i++) {
                mosquitto_kick_client_by_clientid(g.kicks[i], false);
                free(g.kicks[i]);
        }
        g.n_kicks = 0;
        poll_jobs();
        if (now_ms() - g.last_inbox_ms >= 100) {
                g.last_inbox_ms = now_ms();
                process_inbox();
                expire_tokens();
                conn_keepalive_tick();
                jobs_tick();
        }
        return MOSQ_ERR_SUCCESS;
}

/* ------------------------------------------------------------------ plugin entry points */

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
        for (int i = 0; i < supported_version_count; i++)
                if (supported_versions[i] == 5)
                        return 5;
        return -1;
}

static int load_issuer(const char *cert_path, const char *key_path)
{
        FILE *f;

        if (!cert_path || !key_path)
                return 0;
        f = fopen(cert_path, "re");
        if (f) {
                g.issuer = PEM_read_X509(f, NULL, NULL, NULL);
                fclose(f);
        }
        f = fopen(key_path, "re");
        if (f) {
                g.issuer_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
                fclose(f);
        }
        return g.issuer && g.issuer_key ? 0 : -EINVAL;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
        const char *issuer_cert = NULL, *issuer_key = NULL;
        char path[4096];

        (void)userdata;
        g.id = identifier;
        for (int i = 0; i < option_count; i++) {
                if (!strcmp(options[i].key, "registry"))
                        g.seed_path = strdup(options[i].value);
                else if (!strcmp(options[i].key, "state_dir"))
                        g.state_dir = strdup(options[i].value);
                else if (!strcmp(options[i].key, "issuer_cert"))
                        issuer_cert = options[i].value;
                else if (!strcmp(options[i].key, "issuer_key"))
                        issuer_key = options[i].value;
                else if (!strcmp(options[i].key, "trust_dir"))
                        g.trust_dir = strdup(options[i].value);
        }
        if (!g.state_dir) {
                mosquitto_log_printf(MOSQ_LOG_ERR, "ob-emulator: plugin_opt_state_dir is required");
                return MOSQ_ERR_INVAL;
        }
        mkdir(g.state_dir, 0700);
        snprintf(path, sizeof(path), "%s/inbox", g.state_dir);
        mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/outbox", g.state_dir);
        mkdir(path, 0700);
        /* What the emulator registered survives a restart: the state copy wins over the seed. */
        snprintf(path, sizeof(path), "%s/registry.json", g.state_dir);
        g.reg = json_object_from_file(path);
        if (!g.reg && g.seed_path)
                g.reg = json_object_from_file(g.seed_path);
        if (!json_object_is_type(g.reg, json_type_object)) {
                mosquitto_log_printf(MOSQ_LOG_ERR, "ob-emulator: cannot load registry %s",
                                     g.seed_path ? g.seed_path : path);
                return MOSQ_ERR_INVAL;
        }
        if (load_issuer(issuer_cert, issuer_key) < 0) {
                mosquitto_log_printf(MOSQ_LOG_ERR, "ob-emulator: cannot load issuer CA");
                return MOSQ_ERR_INVAL;
        }
        g.buckets = json_object_new_object();
        g.clients = json_object_new_object();
        g.conns = json_object_new_object();
        save();
        if (g.trust_dir) {
                mkdir(g.trust_dir, 0755);
                trust_sync();
        }
        log_event("started", NULL);

        mosquitto_callback_register(g.id, MOSQ_EVT_BASIC_AUTH, on_auth, NULL, NULL);
        mosquitto_callback_register(g.id, MOSQ_EVT_ACL_CHECK, on_acl, NULL, NULL);
        mosquitto_callback_register(g.id, MOSQ_EVT_MESSAGE, on_message, NULL, NULL);
        mosquitto_callback_register(g.id, MOSQ_EVT_TICK, on_tick, NULL, NULL);
        mosquitto_callback_register(g.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL);
        return MOSQ_ERR_SUCCESS;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
        (void)userdata, (void)options, (void)option_count;
        mosquitto_callback_unregister(g.id, MOSQ_EVT_BASIC_AUTH, on_auth, NULL);
        mosquitto_callback_unregister(g.id, MOSQ_EVT_ACL_CHECK, on_acl, NULL);
        mosquitto_callback_unregister(g.id, MOSQ_EVT_MESSAGE, on_message, NULL);
        mosquitto_callback_unregister(g.id, MOSQ_EVT_TICK, on_tick, NULL);
        mosquitto_callback_unregister(g.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
        for (size_t i = 0; i < MAX_JOBS; i++)
                if (g.jobs[i].pid > 0) {
                        kill(-g.jobs[i].pid, SIGKILL);
                        kill(g.jobs[i].pid, SIGKILL);
                        waitpid(g.jobs[i].pid, NULL, 0);
                }
        json_object_put(g.reg);
        json_object_put(g.buckets);
        json_object_put(g.clients);
        json_object_put(g.conns);
        X509_free(g.issuer);
        EVP_PKEY_free(g.issuer_key);
        free(g.seed_path);
        free(g.state_dir);
        free(g.trust_dir);
        return MOSQ_ERR_SUCCESS;
}
