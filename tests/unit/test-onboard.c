/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding state machine against a fake cloud: a fake transport whose "IoT Core" issues
 * real X.509 certificates (a test CA signs the CSR the machine sends), hands out ownership
 * tokens with an expiry on the test's clock and registers things. The key provider is the
 * real software backend. Every stage is crashed after (the machine is freed without
 * ceremony, a new one is made from the same state directory) and must resume without minting
 * a second certificate while the first can still be registered.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config-file.h"
#include "creds.h"
#include "fleet-proto.h"
#include "key-provider.h"
#include "isotime.h"
#include "onboard.h"
#include "store.h"
#include "transport.h"

#define T0       ((int64_t)1900000000 * 1000) /* 2030-03-17: after any build date */
#define SERIAL   "SN0042"
#define HOUR_MS  (3600 * 1000LL)
#define MAX_EVTS 64

/* ------------------------------------------------------------------ the fake cloud */

typedef struct Cloud {
        ObTransportEvent q[MAX_EVTS];
        size_t qn;
        int next_token;
        bool connected;
        int64_t *now;
        EVP_PKEY *ca_key;
        X509 *ca;
        /* what happened */
        int connects, certs_issued, registrations, publishes;
        int64_t connect_times[64];
        char last_client_id[128];
        char last_cert_file[512];
        char last_provider[16];
        char last_alpn[32];
        int last_port;
        int last_cert_count;   /* certificates in the file presented (2+: with its chain) */
        int64_t token_life_ms; /* 0: one hour */
        bool dead; /* the agent was killed: whatever it still tries does not reach the cloud */
        /* misbehaviour, consumed as used */
        int fail_connects; /* this many connects fail with fail_class */
        ObErrClass fail_class;
        ObConnCause fail_cause; /* what the transport says it saw (0: nothing) */
        int connect_error;      /* < 0: connect() itself fails with it */
        int swallow;            /* this many requests get no reply */
        int reject_csr;         /* this many CSR requests are rejected with reject_status */
        int reject_register;
        int reject_status;
        int garbage;        /* this many replies are garbage */
        int cert_days;      /* validity of issued certificates; 0: 365 */
        int refuse_gen;     /* refuse connections with credentials/<refuse_gen>/ */
        int rotations_seen; /* RegisterThing calls that named a ThingName (rotations) */
        int oversized;      /* this many replies are too large (dropped by the transport) */
        bool wrong_key;     /* issue the certificate for another key */
        bool extra_noise;   /* also send a message on an unrelated topic */
        int no_thing_name;  /* this many RegisterThing replies lack thingName */
        /* ownership tokens: "tok-N" valid until token_expiry[N] */
        int64_t token_expiry[16];

        /* subscribe_many refuses the filter containing this */
        const char *refuse_filter;
        int subscribe_many_calls;
        int probes;             /* connects made through probe (fake_ops_probe) */
        char last_hw_token[16]; /* HardwareToken of the last RegisterThing, "" if none */
        int announcements;      /* publishes to rotation.old_cert_topic ("devices/.../old") */
} Cloud;

static void push(Cloud *c, ObTransportEventType t, const char *topic, const char *payload)
{
        ObTransportEvent *e;

        assert_true(c->qn < MAX_EVTS);
        e = &c->q[c->qn++];
        memset(e, 0, sizeof(*e));
        e->type = t;
        if (topic)
                e->topic = strdup(topic);
        if (payload) {
                e->payload = (uint8_t *)strdup(payload);
                e->payload_len = strlen(payload);
        }
}

static int count_certs(const char *path)
{
        char line[256];
        int n = 0;
        FILE *f = path ? fopen(path, "re") : NULL;

        while (f && fgets(line, sizeof(line), f))
                n += strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
        if (f)
                fclose(f);
        return n;
}

static int f_connect(void *impl, const ObConnectOptions *o)
{
        Cloud *c = impl;
        ObTransportEvent *e;

        if (c->dead)
                return 0;
        if (c->connect_error < 0)
                return c->connect_error;
        if (c->connects < 64)
                c->connect_times[c->connects] = *c->now;
        c->connects++;
        snprintf(c->last_client_id, sizeof(c->last_client_id), "%s", o->client_id);
        snprintf(c->last_cert_file, sizeof(c->last_cert_file), "%s", o->cert_file);
        snprintf(c->last_provider, sizeof(c->last_provider), "%s", o->provider ? o->provider : "");
        snprintf(c->last_alpn, sizeof(c->last_alpn), "%s", o->alpn ? o->alpn : "");
        c->last_port = o->port;
        c->last_cert_count = count_certs(o->cert_file);
        char gen_dir[32];
        snprintf(gen_dir, sizeof(gen_dir), "/credentials/%d/", c->refuse_gen);
        if (c->refuse_gen > 0 && o->cert_file && strstr(o->cert_file, gen_dir)) {
                push(c, OB_TEV_CONNECT_FAILED, NULL, NULL);
                e = &c->q[c->qn - 1];
                e->err_class = OB_ERR_REFUSED;
                snprintf(e->detail, sizeof(e->detail), "not authorized");
                return 0;
        }
        if (c->fail_connects > 0) {
                c->fail_connects--;
                push(c, OB_TEV_CONNECT_FAILED, NULL, NULL);
                e = &c->q[c->qn - 1];
                e->err_class = c->fail_class;
                e->cause = c->fail_cause;
                snprintf(e->detail, sizeof(e->detail), "fake failure");
                return 0;
        }
        c->connected = true;
        push(c, OB_TEV_CONNECTED, NULL, NULL);
        return 0;
}

/* A probe: the same answer as a connect, but no connection stays (nothing may be published). */
static int f_probe(void *impl, const ObConnectOptions *o)
{
        Cloud *c = impl;
        int r = f_connect(impl, o);

        c->probes++;
        c->connected = false;
        return r;
}

static int f_subscribe(void *impl, const char *topic, int qos, int *ret_token)
{
        Cloud *c = impl;

        (void)topic;
        (void)qos;
        *ret_token = ++c->next_token;
        if (c->dead)
                return 0;
        assert_true(c->connected);
        push(c, OB_TEV_SUBSCRIBED, NULL, NULL);
        c->q[c->qn - 1].token = *ret_token;
        return 0;
}

/* One SUBSCRIBE for all filters; refuses the filter containing c->refuse_filter, if set. */
static int f_subscribe_many(void *impl, const char *const *topics, size_t n, int qos,
                            int *ret_token)
{
        Cloud *c = impl;
        const char *refused = NULL;

        (void)qos;
        c->subscribe_many_calls++;
        *ret_token = ++c->next_token;
        if (c->dead)
                return 0;
        assert_true(c->connected);
        for (size_t i = 0; i < n && !refused; i++)
                if (c->refuse_filter && strstr(topics[i], c->refuse_filter))
                        refused = topics[i];
        push(c, refused ? OB_TEV_SUBSCRIBE_FAILED : OB_TEV_SUBSCRIBED, NULL, NULL);
        c->q[c->qn - 1].token = *ret_token;
        if (refused)
                snprintf(c->q[c->qn - 1].detail, sizeof(c->q[c->qn - 1].detail), "%s", refused);
        return 0;
}

static X509 *issue(Cloud *c, EVP_PKEY *pub, int64_t now_s, int days)
{
        X509 *x = X509_new();

        assert_non_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), ++c->certs_issued);
        X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, (time_t *)&(time_t){(time_t)now_s});
        X509_time_adj_ex(X509_getm_notAfter(x), days, 0, (time_t *)&(time_t){(time_t)now_s});
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"AWS IoT Certificate", -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(c->ca));
        X509_set_pubkey(x, pub);
        assert_true(X509_sign(x, c->ca_key, EVP_sha256()) > 0);
        return x;
}

static char *pem_of(X509 *x)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *data, *s;
        long n;

        PEM_write_bio_X509(b, x);
        n = BIO_get_mem_data(b, &data);
        s = strndup(data, (size_t)n);
        BIO_free(b);
        return s;
}

static void fingerprint(X509 *x, char out[65])
{
        unsigned char md[32];
        unsigned int n;

        X509_digest(x, EVP_sha256(), md, &n);
        for (unsigned i = 0; i < 32; i++)
                sprintf(out + 2 * i, "%02x", md[i]);
}

static EVP_PKEY *new_ec_key(void)
{
        EVP_PKEY *k = EVP_EC_gen("P-256");
        assert_non_null(k);
        return k;
}

static void reply_cert(Cloud *c, const char *base, EVP_PKEY *pub, const char *privpem)
{
        char topic[256], fp[65], tok[16];
        json_object *o = json_object_new_object();
        X509 *x;
        char *pem;

        if (c->wrong_key) {
                EVP_PKEY *other = new_ec_key();
                x = issue(c, other, *c->now / 1000, 365);
                EVP_PKEY_free(other);
        } else
                x = issue(c, pub, *c->now / 1000, c->cert_days ? c->cert_days : 365);
        pem = pem_of(x);
        fingerprint(x, fp);
        snprintf(tok, sizeof(tok), "tok-%d", c->certs_issued);
        c->token_expiry[c->certs_issued % 16] =
                *c->now + (c->token_life_ms ? c->token_life_ms : HOUR_MS);
        json_object_object_add(o, "certificateId", json_object_new_string(fp));
        json_object_object_add(o, "certificatePem", json_object_new_string(pem));
        json_object_object_add(o, "certificateOwnershipToken", json_object_new_string(tok));
        if (privpem)
                json_object_object_add(o, "privateKey", json_object_new_string(privpem));
        snprintf(topic, sizeof(topic), "%s/accepted", base);
        push(c, OB_TEV_MESSAGE, topic, json_object_to_json_string(o));
        json_object_put(o);
        free(pem);
        X509_free(x);
}

static void reply_rejected(Cloud *c, const char *base, int status)
{
        char topic[256], body[160];

        snprintf(topic, sizeof(topic), "%s/rejected", base);
        snprintf(body, sizeof(body),
                 "{\"statusCode\":%d,\"errorCode\":\"Err%d\",\"errorMessage\":\"fake\"}", status,
                 status);
        push(c, OB_TEV_MESSAGE, topic, body);
}

static int f_publish(void *impl, const char *topic, const void *payload, size_t len, int qos,
                     int *ret_token)
{
        Cloud *c = impl;
        json_object *o, *v, *p;
        char base[160], *text;

        (void)qos;
        if (c->dead)
                return 0;
        text = strndup(payload, len);
        o = json_tokener_parse(text);
        free(text);
        assert_true(c->connected);
        assert_non_null(o);
        *ret_token = ++c->next_token;
        c->publishes++;
        push(c, OB_TEV_PUBLISHED, NULL, NULL);
        c->q[c->qn - 1].token = *ret_token;
        snprintf(base, sizeof(base), "%s", topic);

        if (c->extra_noise)
                push(c, OB_TEV_MESSAGE, "$aws/things/other/shadow/update", "{}");
        if (c->swallow > 0) {
                c->swallow--;
                goto out;
        }
        if (c->oversized > 0) {
                c->oversized--;
                push(c, OB_TEV_MESSAGE_DROPPED, NULL, NULL);
                snprintf(c->q[c->qn - 1].detail, sizeof(c->q[0].detail),
                         "a message of 200000 bytes on %s/accepted is larger than 128 KiB", base);
                goto out;
        }
        if (c->garbage > 0) {
                char t[256];
                c->garbage--;
                snprintf(t, sizeof(t), "%s/accepted", base);
                push(c, OB_TEV_MESSAGE, t, "{\"certificateId\": 12");
                goto out;
        }
        if (strcmp(topic, "$aws/certificates/create-from-csr/json") == 0) {
                if (c->reject_csr > 0) {
                        c->reject_csr--;
                        reply_rejected(c, base, c->reject_status);
                        goto out;
                }
                assert_true(json_object_object_get_ex(o, "certificateSigningRequest", &v));
                BIO *b = BIO_new_mem_buf(json_object_get_string(v), -1);
                X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
                BIO_free(b);
                assert_non_null(req);
                EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
                assert_int_equal(X509_REQ_verify(req, pub), 1); /* signed by the key itself */
                reply_cert(c, base, pub, NULL);
                X509_REQ_free(req);
        } else if (strcmp(topic, "$aws/certificates/create/json") == 0) {
                EVP_PKEY *k = new_ec_key();
                BIO *b = BIO_new(BIO_s_mem());
                char *data;
                long n;

                PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
                n = BIO_get_mem_data(b, &data);
                char *pem = strndup(data, (size_t)n);
                reply_cert(c, base, k, pem);
                free(pem);
                BIO_free(b);
                EVP_PKEY_free(k);
        } else if (strstr(topic, "/provision/json")) {
                int n = -1;
                char thing[80], body[256], t[256];

                if (c->reject_register > 0) {
                        c->reject_register--;
                        reply_rejected(c, base, c->reject_status);
                        goto out;
                }
                assert_true(json_object_object_get_ex(o, "certificateOwnershipToken", &v));
                sscanf(json_object_get_string(v), "tok-%d", &n);
                if (n < 1 || *c->now > c->token_expiry[n % 16]) {
                        char rt[256];
                        snprintf(rt, sizeof(rt), "%s/rejected", base);
                        push(c, OB_TEV_MESSAGE, rt,
                             "{\"statusCode\":400,\"errorCode\":\"InvalidCertificateOwnershipToken\","
                             "\"errorMessage\":\"Certificate ownership token is invalid or "
                             "expired.\"}");
                        goto out;
                }
                /* not consumed: like the emulator, a token can register again within its hour
                 * (a crash after RegisterThing was processed but before the reply was saved) */
                assert_true(json_object_object_get_ex(o, "parameters", &p));
                if (json_object_object_get_ex(p, "ThingName", &v))
                        c->rotations_seen++;
                snprintf(c->last_hw_token, sizeof(c->last_hw_token), "%s",
                         json_object_object_get_ex(p, "HardwareToken", &v)
                                 ? json_object_get_string(v)
                                 : "");
                assert_true(json_object_object_get_ex(p, "SerialNumber", &v));
                snprintf(thing, sizeof(thing), "ob-%s", json_object_get_string(v));
                c->registrations++;
                snprintf(body, sizeof(body),
                         "{\"thingName\":\"%s\",\"deviceConfiguration\":{\"site\":\"lab\"}}",
                         thing);
                if (c->no_thing_name > 0) {
                        c->no_thing_name--;
                        snprintf(body, sizeof(body), "{\"deviceConfiguration\":{}}");
                }
                snprintf(t, sizeof(t), "%s/accepted", base);
                push(c, OB_TEV_MESSAGE, t, body);
        } else if (strncmp(topic, "devices/", 8) == 0 && strstr(topic, "/old")) {
                assert_true(json_object_object_get_ex(o, "oldCertificateId", &v));
                c->announcements++;
        } else
                fail_msg("unexpected publish to %s", topic);
out:
        json_object_put(o);
        return 0;
}

static int f_disconnect(void *impl)
{
        Cloud *c = impl;

        c->connected = false;
        /* a real transport drops what was queued for the old connection */
        for (size_t i = 0; i < c->qn; i++)
                ob_transport_event_clear(&c->q[i]);
        c->qn = 0;
        return 0;
}

static int f_event_fd(void *impl)
{
        (void)impl;
        return -1;
}

static int f_next_event(void *impl, ObTransportEvent *ret)
{
        Cloud *c = impl;

        if (c->qn == 0)
                return -EAGAIN;
        *ret = c->q[0];
        memmove(c->q, c->q + 1, (c->qn - 1) * sizeof(c->q[0]));
        c->qn--;
        return 0;
}

static void f_free(void *impl)
{
        (void)impl;
}

static const ObTransportOps fake_ops = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .publish = f_publish,
        .disconnect = f_disconnect,
        .event_fd = f_event_fd,
        .next_event = f_next_event,
        .free = f_free,
};

/* A transport that subscribes to all reply topics with one SUBSCRIBE (like Paho's) */
static const ObTransportOps fake_ops_many = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .subscribe_many = f_subscribe_many,
        .publish = f_publish,
        .disconnect = f_disconnect,
        .event_fd = f_event_fd,
        .next_event = f_next_event,
        .free = f_free,
};

/* ... and proves credentials with a probe (like Paho's transport) */
static const ObTransportOps fake_ops_probe = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .subscribe_many = f_subscribe_many,
        .publish = f_publish,
        .probe = f_probe,
        .disconnect = f_disconnect,
        .event_fd = f_event_fd,
        .next_event = f_next_event,
        .free = f_free,
};

/* ------------------------------------------------------------------ the test world */

typedef struct World {
        char dir[64], state[128], run[128], claim_crt[160], claim_key[160];
        ObConfig *cfg;
        ObKeyProvider *keys;
        Cloud cloud;
        ObTransport tr;
        ObStore *store;
        uint64_t seed;
        ObRandom rnd;
        int64_t now;
        ObOnboard *ob;
        /* crash injection: stop driving the machine when this stage is saved */
        int crash_at_stage; /* -1 none */
        bool crashed;
        int changes[8];
        char last_error_text[512];
        int token_asks; /* calls of the hardware token getter */
} World;

/* A claim certificate from the fake CA, valid from nb to na (seconds relative to now). */
static void make_claim(World *w, const char *crt, const char *key, int64_t nb, int64_t na)
{
        EVP_PKEY *k = new_ec_key();
        X509 *x = X509_new();
        FILE *f;

        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), 999);
        X509_time_adj_ex(X509_getm_notBefore(x), 0, (long)nb, &(time_t){(time_t)(w->now / 1000)});
        X509_time_adj_ex(X509_getm_notAfter(x), 0, (long)na, &(time_t){(time_t)(w->now / 1000)});
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"claim", -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(w->cloud.ca));
        X509_set_pubkey(x, k);
        assert_true(X509_sign(x, w->cloud.ca_key, EVP_sha256()) > 0);
        f = fopen(crt, "we");
        PEM_write_X509(f, x);
        fclose(f);
        f = fopen(key, "we");
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
        fclose(f);
        X509_free(x);
        EVP_PKEY_free(k);
}

static void read_text(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");
        size_t n;

        assert_non_null(f);
        n = fread(buf, 1, size - 1, f);
        buf[n] = 0;
        fclose(f);
}

static void on_change(ObOnboard *ob, const ObOnboardChange *c, void *userdata)
{
        World *w = userdata;

        w->changes[c->kind]++;
        if (getenv("OB_TEST_VERBOSE"))
                fprintf(stderr, "  [%d] %s\n", c->kind, c->text);
        if (c->kind == OB_CHANGE_ERROR)
                snprintf(w->last_error_text, sizeof(w->last_error_text), "%s", c->text);
        if (c->kind == OB_CHANGE_STAGE && w->crash_at_stage >= 0 &&
            (int)ob_onboard_stage(ob) == w->crash_at_stage) {
                w->crashed = true;
                w->cloud.dead = true;
        }
}

/* The store's filesystem calls (NULL: the real ones); test_failed_save_* fails one of them. */
static const ObFsOps *store_ops;

static const char *fake_hardware_token(void *userdata)
{
        World *w = userdata;

        w->token_asks++;
        return "ab12";
}

static void new_machine(World *w)
{
        ObOnboardDeps d = {
                .config = w->cfg,
                .keys = w->keys,
                .transport = &w->tr,
                .store = w->store,
                .random = &w->rnd,
                .serial = SERIAL,
                .machine_id = "0123456789abcdef0123456789abcdef",
                .hardware_token = fake_hardware_token,
                .build_epoch_ms = T0 - 1000,
                .changed = on_change,
                .userdata = w,
        };
        char err[256] = "";

        assert_int_equal(ob_store_open(w->state, "state.json", store_ops, &w->store), 0);
        d.store = w->store;
        assert_int_equal(ob_onboard_new(&d, &w->ob), 0);
        if (ob_onboard_load(w->ob, NULL, err, sizeof(err)) != 0)
                fail_msg("the state does not load: %s", err);
}

/* A kill -9: the machine and the connection vanish; only what is on disk stays. */
static void crash(World *w)
{
        f_disconnect(&w->cloud);
        w->ob = ob_onboard_free(w->ob);
        w->store = ob_store_free(w->store);
        w->crashed = false;
        w->cloud.dead = false;
}

/* prov_json: the "provisioning" object, NULL for fleet-claim with the world's claim. */
static World *world_new_prov(const char *prov_json, const char *extra_json)
{
        char prov[512];
        World *w = calloc(1, sizeof(*w));
        ObConfigDiags diags = {0};
        char json[2048];

        assert_non_null(w);
        snprintf(w->dir, sizeof(w->dir), "/tmp/ob-test-onboard-XXXXXX");
        assert_non_null(mkdtemp(w->dir));
        snprintf(w->state, sizeof(w->state), "%s/state", w->dir);
        snprintf(w->run, sizeof(w->run), "%s/run", w->dir);
        assert_int_equal(mkdir(w->state, 0700), 0);
        assert_int_equal(mkdir(w->run, 0700), 0);
        snprintf(w->claim_crt, sizeof(w->claim_crt), "%s/claim.crt", w->dir);
        snprintf(w->claim_key, sizeof(w->claim_key), "%s/claim.key", w->dir);
        w->now = T0;
        w->crash_at_stage = -1;

        w->cloud.now = &w->now;
        w->cloud.ca_key = new_ec_key();
        w->cloud.ca = X509_new();
        X509_NAME_add_entry_by_txt(X509_get_subject_name(w->cloud.ca), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"Fake IoT CA", -1, -1, 0);
        make_claim(w, w->claim_crt, w->claim_key, -3600, 365 * 86400);

        snprintf(prov, sizeof(prov),
                 "{\"method\": \"fleet-claim\", \"template\": \"Tmpl\","
                 " \"claim_cert\": \"%s\", \"claim_key\": \"%s\"}",
                 w->claim_crt, w->claim_key);
        snprintf(json, sizeof(json),
                 "{\"endpoint\": {\"host\": \"iot.example\", \"root_ca\": \"%s/ca.pem\"},"
                 " \"provisioning\": %s,"
                 " \"key\": {\"backend\": \"software\"},"
                 " \"paths\": {\"state_dir\": \"%s\", \"runtime_dir\": \"%s\"}%s%s}",
                 w->dir, prov_json ? prov_json : prov, w->state, w->run, extra_json ? "," : "",
                 extra_json ? extra_json : "");
        w->cfg = ob_config_new();
        assert_non_null(w->cfg);
        assert_int_equal(ob_config_apply_buffer(w->cfg, "test.json", json, strlen(json), &diags),
                         0);
        ob_config_finish(w->cfg, "test.json", &diags);
        if (diags.n_errors > 0)
                ob_config_diags_print(&diags, stderr);
        assert_int_equal(diags.n_errors, 0);
        ob_config_diags_clear(&diags);

        assert_int_equal(ob_key_provider_software_new(&w->keys), 0);
        w->tr = (ObTransport){.ops = &fake_ops, .impl = &w->cloud};
        w->seed = 42;
        w->rnd = (ObRandom){.next = ob_random_splitmix64, .userdata = &w->seed};
        new_machine(w);
        return w;
}

static World *world_new(const char *extra_json)
{
        return world_new_prov(NULL, extra_json);
}

static void world_free(World *w)
{
        char cmd[128];

        crash(w);
        ob_key_provider_free(w->keys);
        ob_config_free(w->cfg);
        EVP_PKEY_free(w->cloud.ca_key);
        X509_free(w->cloud.ca);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", w->dir);
        assert_int_equal(system(cmd), 0);
        free(w);
}

/* Deliver queued events until none is left or a crash was injected. */
static void pump(World *w)
{
        ObTransportEvent ev;

        while (!w->crashed && f_next_event(&w->cloud, &ev) == 0) {
                assert_int_equal(ob_onboard_handle_event(w->ob, &ev, w->now), 0);
                ob_transport_event_clear(&ev);
        }
}

/* Let time pass to the machine's deadline (retries, timeouts) and pump; up to n rounds. */
static void run_until_settled(World *w, int n)
{
        pump(w);
        for (int i = 0; i < n && !w->crashed; i++) {
                int64_t dl = ob_onboard_deadline(w->ob);
                if (dl < 0 || ob_onboard_activity(w->ob) == OB_ACT_DONE)
                        break; /* done: the next deadline is a rotation, months away */
                if (dl > w->now)
                        w->now = dl;
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
}

static const char *status_str(World *w, const char *key, char *buf, size_t n)
{
        json_object *st = ob_onboard_status(w->ob, w->now), *v;

        buf[0] = 0;
        if (json_object_object_get_ex(st, key, &v) && v)
                snprintf(buf, n, "%s", json_object_get_string(v));
        json_object_put(st);
        return buf;
}

static void assert_onboarded(World *w)
{
        char buf[256], path[512];
        uint64_t gen = 0;
        struct stat st;

        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_ONBOARDED);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_DONE);
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "onboarded");
        assert_string_equal(status_str(w, "thing_name", buf, sizeof(buf)), "ob-" SERIAL);
        assert_int_equal(strlen(status_str(w, "certificate_id", buf, sizeof(buf))), 64);
        assert_int_equal(ob_creds_current(w->state, &gen, NULL), 0);
        assert_true(gen >= 1);
        snprintf(path, sizeof(path), "%s/credentials/current/device.crt", w->state);
        assert_int_equal(stat(path, &st), 0);
        snprintf(path, sizeof(path), "%s/credentials/current/device.key", w->state);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 077, 0);
        assert_false(w->cloud.connected); /* idle means no connection */
        /* idle: the only deadline is the renewal (or the old key's deletion, sooner) */
        assert_true(ob_onboard_deadline(w->ob) <= ob_onboard_next_rotation(w->ob));
        assert_true(ob_onboard_deadline(w->ob) > w->now);
}

/* ------------------------------------------------------------------ tests */

static void test_happy_path(void **state)
{
        World *w = world_new(NULL);
        char buf[256];

        (void)state;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_CONNECT_CLAIM);
        assert_string_equal(w->cloud.last_cert_file, w->claim_crt);
        assert_string_equal(w->cloud.last_client_id, SERIAL); /* {thing_name} = serial, for now */
        pump(w);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_int_equal(w->cloud.registrations, 1);
        assert_int_equal(w->cloud.connects, 2);
        assert_string_equal(w->cloud.last_client_id, "ob-" SERIAL);
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        assert_string_equal(w->cloud.last_provider, "default");
        assert_null(strstr(status_str(w, "last_error", buf, sizeof(buf)), "code"));
        /* a restart of an onboarded device does nothing */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_onboarded(w);
        assert_int_equal(w->cloud.connects, 2);
        world_free(w);
}

/* With subscribe_many, one SUBSCRIBE carries the four reply topics; a refused filter (SUBACK
 * 0x80 for one of them) fails the attempt and the error names that filter. */
static void test_one_subscribe_for_all_topics(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->tr.ops = &fake_ops_many;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        assert_int_equal(w->cloud.subscribe_many_calls, 1);
        world_free(w);

        w = world_new(NULL);
        w->tr.ops = &fake_ops_many;
        w->cloud.refuse_filter = "provision/json/rejected";
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 1);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "provision/json/rejected"));
        assert_int_equal(w->cloud.certs_issued, 0);
        world_free(w);
}

/* kill -9 right after each persisted stage: resume, end onboarded, one certificate. */
static void test_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_KEY_READY; s <= OB_STAGE_ONBOARDED; s++) {
                World *w = world_new(NULL);

                w->crash_at_stage = s;
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                pump(w);
                if (s != OB_STAGE_ONBOARDED)
                        assert_true(w->crashed);
                crash(w);
                w->crash_at_stage = -1;
                w->now += 5000;
                new_machine(w);
                assert_int_equal((int)ob_onboard_stage(w->ob), s);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_onboarded(w);
                assert_int_equal(w->cloud.certs_issued, 1);
                assert_int_equal(w->cloud.registrations, 1);
                world_free(w);
        }
}

/* A crash after the certificate, then a restart more than an hour later: new certificate. */
static void test_token_expired_restarts_from_csr(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->crash_at_stage = OB_STAGE_CERT_ISSUED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_true(w->crashed);
        crash(w);
        w->crash_at_stage = -1;
        w->now += 2 * HOUR_MS;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.registrations, 1);
        world_free(w);
}

/* The cloud's token died sooner than our hour: InvalidCertificateOwnershipToken -> new CSR. */
static void test_cloud_says_token_invalid(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.token_life_ms = 60 * 1000;
        w->crash_at_stage = OB_STAGE_CERT_ISSUED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        crash(w);
        w->crash_at_stage = -1;
        w->now += 10 * 60 * 1000; /* young for us, dead for the cloud */
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "InvalidCertificateOwnershipToken"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.registrations, 1);
        world_free(w);
}

/* RegisterThing rejected while the token is young: retry RegisterThing, no second certificate. */
static void test_register_rejected_retries_same_token(void **state)
{
        World *w = world_new(NULL);
        char buf[256];

        (void)state;
        w->cloud.reject_register = 1;
        w->cloud.reject_status = 500;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_CERT_ISSUED);
        json_object *st = ob_onboard_status(w->ob, w->now), *e, *v;
        assert_true(json_object_object_get_ex(st, "last_error", &e));
        assert_true(json_object_object_get_ex(e, "code", &v));
        assert_string_equal(json_object_get_string(v), "rejected-500");
        assert_true(json_object_object_get_ex(e, "class", &v));
        assert_string_equal(json_object_get_string(v), "network");
        assert_true(json_object_object_get_ex(st, "next_retry", &v) && v);
        json_object_put(st);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_null(strstr(status_str(w, "last_error", buf, sizeof(buf)), "rejected"));
        world_free(w);
}

static void test_throttled_backs_off(void **state)
{
        World *w = world_new(NULL);
        int64_t t0;

        (void)state;
        w->cloud.reject_csr = 2;
        w->cloud.reject_status = 429;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        t0 = w->now;
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_true(ob_onboard_deadline(w->ob) >= t0 + 1000); /* connect floor at least */
        assert_non_null(strstr(w->last_error_text, "429"));
        run_until_settled(w, 10);
        assert_onboarded(w);
        assert_int_equal(w->cloud.connects, 4); /* 3 claim connects + verify */
        world_free(w);
}

static void test_broker_down_then_up(void **state)
{
        World *w = world_new(NULL);
        char buf[64];

        (void)state;
        w->cloud.fail_connects = 6;
        w->cloud.fail_class = OB_ERR_NETWORK;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_string_equal(status_str(w, "attempts", buf, sizeof(buf)), "1");
        run_until_settled(w, 20);
        assert_onboarded(w);
        assert_int_equal(w->cloud.connects, 8); /* 6 failed + claim + verify */
        /* never two CONNECTs with the claim's client id within a second */
        for (int i = 1; i < 7; i++)
                assert_true(w->cloud.connect_times[i] - w->cloud.connect_times[i - 1] >= 1000);
        world_free(w);
}

static void test_timeout_then_success(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.swallow = 1;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_REQUEST_CERT);
        w->now += 29000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0); /* early: nothing */
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_REQUEST_CERT);
        w->now += 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_non_null(strstr(w->last_error_text, "timeout"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        world_free(w);
}

static void test_malformed_reply_and_noise(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.garbage = 1;
        w->cloud.extra_noise = true;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY); /* nothing damaged */
        assert_non_null(strstr(w->last_error_text, "bad-reply"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        json_object *st = ob_onboard_status(w->ob, w->now), *v;
        assert_true(json_object_object_get_ex(st, "ignored_messages", &v));
        assert_true(json_object_get_int(v) >= 2);
        json_object_put(st);
        world_free(w);
}

static void test_oversized_reply(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.oversized = 1;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "larger than 128 KiB"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        world_free(w);
}

/* A RegisterThing reply without thingName while the client id is the thing name: refused
 * before the token is spent (it used to commit the stage and then try to connect with the
 * serial as client id forever), RegisterThing retried with the same certificate. */
static void test_register_reply_without_thing_name(void **state)
{
        World *w = world_new(NULL);
        char buf[256];

        (void)state;
        w->cloud.no_thing_name = 1;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_CERT_ISSUED);
        assert_non_null(strstr(w->last_error_text, "without thingName"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_int_equal(w->cloud.registrations, 2);
        assert_null(strstr(status_str(w, "last_error", buf, sizeof(buf)), "bad-reply"));
        world_free(w);
}

static void test_certificate_for_another_key_refused(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.wrong_key = true;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "certificate-key-mismatch"));
        w->cloud.wrong_key = false;
        run_until_settled(w, 5);
        assert_onboarded(w);
        world_free(w);
}

static void test_create_keys_software(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        crash(w);
        w->cfg->provisioning.create_keys = true;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_NEW); /* no key made here */
        pump(w);
        assert_onboarded(w);
        assert_true(w->changes[OB_CHANGE_NOTICE] >= 1); /* "the key was sent over the network" */
        world_free(w);
}

static void test_claim_expired_and_not_yet_valid(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        make_claim(w, w->claim_crt, w->claim_key, -7200, -3600);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_non_null(strstr(w->last_error_text, "claim-expired"));
        assert_int_equal(w->cloud.connects, 0);
        make_claim(w, w->claim_crt, w->claim_key, 3600, 7200);
        w->now = ob_onboard_deadline(w->ob);
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_non_null(strstr(w->last_error_text, "claim-unusable"));
        assert_non_null(strstr(w->last_error_text, "not valid before"));
        assert_int_equal(w->cloud.connects, 0);
        world_free(w);
}

static void test_clock_before_build_date(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->now = T0 - 86400 * 1000LL;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLOCK);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_NEW); /* not even a key */
        w->now = T0;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        world_free(w);
}

static void test_trusted_user(void **state)
{
        World *w = world_new("\"control\": {}");
        char crt_pem[4096], key_pem[4096], err[256], path[256];

        (void)state;
        crash(w);
        w->cfg->provisioning.method = OB_METHOD_FLEET_TRUSTED_USER;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY); /* key made already */

        /* expired claim refused with a reason, still waiting */
        make_claim(w, w->claim_crt, w->claim_key, -600, -300);
        read_text(w->claim_crt, crt_pem, sizeof(crt_pem));
        read_text(w->claim_key, key_pem, sizeof(key_pem));
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)),
                -EKEYEXPIRED);
        assert_non_null(strstr(err, "expired"));
        /* a key that is not the certificate's */
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, "garbage", w->now, err, sizeof(err)),
                -EINVAL);

        make_claim(w, w->claim_crt, w->claim_key, -60, 300);
        read_text(w->claim_crt, crt_pem, sizeof(crt_pem));
        read_text(w->claim_key, key_pem, sizeof(key_pem));
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)), 0);
        snprintf(path, sizeof(path), "%s/claim/claim.key", w->run);
        assert_int_equal(access(path, F_OK), 0);
        pump(w);
        assert_onboarded(w);
        /* the temporary key does not outlive the flow */
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)),
                -EALREADY);
        world_free(w);
}

/* The temporary claim expires while the broker is down: back to waiting for a claim. */
static void test_trusted_user_claim_expires_midway(void **state)
{
        World *w = world_new(NULL);
        char crt_pem[4096], key_pem[4096], err[256], buf[256];

        (void)state;
        crash(w);
        w->cfg->provisioning.method = OB_METHOD_FLEET_TRUSTED_USER;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        make_claim(w, w->claim_crt, w->claim_key, -60, 300);
        read_text(w->claim_crt, crt_pem, sizeof(crt_pem));
        read_text(w->claim_key, key_pem, sizeof(key_pem));
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_NETWORK;
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        w->now += 301 * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        json_object *st = ob_onboard_status(w->ob, w->now), *e, *v;
        assert_true(json_object_object_get_ex(st, "last_error", &e));
        assert_true(json_object_object_get_ex(e, "code", &v));
        assert_string_equal(json_object_get_string(v), "claim-expired");
        json_object_put(st);
        snprintf(buf, sizeof(buf), "%s/claim/claim.key", w->run);
        assert_int_equal(access(buf, F_OK), -1); /* the expired temporary key is gone */
        world_free(w);
}

/* ------------------------------------------------------------------ rotation */

static void onboard_now(World *w)
{
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
}

static uint64_t current_gen(World *w)
{
        uint64_t g = 0;
        assert_int_equal(ob_creds_current(w->state, &g, NULL), 0);
        return g;
}

static void test_rotation_at_threshold(void **state)
{
        World *w = world_new(NULL);
        int64_t due, onboarded_at;
        char path[512];

        (void)state;
        onboard_now(w);
        onboarded_at = w->now;
        due = ob_onboard_next_rotation(w->ob);
        /* fake certificates: notBefore now-60 s, 365 days; default fraction 0.8 */
        assert_true(due > w->now + 290LL * 86400 * 1000 && due < w->now + 293LL * 86400 * 1000);
        assert_int_equal(ob_onboard_deadline(w->ob), due);
        w->now = due - 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0); /* early: nothing */
        assert_int_equal(w->cloud.connects, 2);
        w->now = due;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_true(ob_onboard_rotating(w->ob));
        /* asks with the identity it replaces */
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        assert_string_equal(w->cloud.last_client_id, "ob-" SERIAL);
        /* (the verifying connect has the same client id: it waits out the 1 s floor) */
        run_until_settled(w, 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.rotations_seen, 1);
        assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
        /* the old key stays for the grace period, then goes */
        snprintf(path, sizeof(path), "%s/credentials/1/device.key", w->state);
        assert_int_equal(access(path, F_OK), 0);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 7LL * 86400 * 1000);
        w->now += 7LL * 86400 * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(access(path, F_OK), -1);
        /* and the next rotation is planned from the new certificate */
        assert_true(ob_onboard_deadline(w->ob) > due + 290LL * 86400 * 1000);
        (void)onboarded_at;
        world_free(w);
}

/* The hardware token is asked for when RegisterThing needs it, not when an onboarded machine
 * starts (the daemon reads it from the TPM's endorsement key, which is slow on real TPMs). */
static void test_hardware_token_asked_when_used(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        onboard_now(w);
        assert_string_equal(w->cloud.last_hw_token, "ab12");
        assert_true(w->token_asks >= 1);
        crash(w);
        w->token_asks = 0;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        assert_int_equal(w->token_asks, 0);
        world_free(w);
}

/* With a probe, the verification before a commit is a probe (CONNACK, no session); a
 * rotation that announces the old certificate afterwards needs a session and connects; one
 * that does not, probes. A refused probe counts like a refused connect. */
static void test_verify_by_probe(void **state)
{
        World *w = world_new(NULL);
        char err[256];

        (void)state;
        w->tr.ops = &fake_ops_probe;
        onboard_now(w);
        assert_int_equal(w->cloud.probes, 1);
        assert_int_equal(w->cloud.connects, 2); /* the claim's session and the probe */
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        /* a rotation without an announcement probes too */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.probes, 2);
        world_free(w);

        w = world_new("\"rotation\": {\"old_cert_topic\": \"devices/{thing_name}/old\"}");
        w->tr.ops = &fake_ops_probe;
        onboard_now(w);
        assert_int_equal(w->cloud.probes, 1);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        /* the rotation's verify was a session, on which the old id went out (f_publish
         * asserts a connection) */
        assert_int_equal(w->cloud.probes, 1);
        assert_int_equal(w->cloud.announcements, 1);
        world_free(w);

        /* a refused probe of a rotation's new certificate rolls back like a refused connect */
        w = world_new(NULL);
        w->tr.ops = &fake_ops_probe;
        onboard_now(w);
        w->cloud.refuse_gen = 2;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 6 && !strstr(w->last_error_text, "rotation-rolled-back"); i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_non_null(strstr(w->last_error_text, "rotation-rolled-back"));
        assert_int_equal(current_gen(w), 1);
        assert_true(w->cloud.probes >= 2);
        world_free(w);
}

static void test_rotate_now_and_rollback(void **state)
{
        World *w = world_new(NULL);
        char err[256], buf[64];

        (void)state;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
        onboard_now(w);
        w->cloud.refuse_gen = 2; /* the cloud will not take the new certificate */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 6 && !strstr(w->last_error_text, "rotation-rolled-back"); i++) {
                w->now = ob_onboard_deadline(w->ob); /* the 1 s connect floor */
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_non_null(strstr(w->last_error_text, "rotation-rolled-back"));
        assert_int_equal(current_gen(w), 1); /* the working identity never moved */
        assert_string_equal(status_str(w, "stage", buf, sizeof(buf)), "onboarded");
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EALREADY);
        /* the cloud accepts again: the retry makes a fresh key and certificate */
        w->cloud.refuse_gen = 0;
        run_until_settled(w, 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.certs_issued, 3); /* onboarding, refused one, accepted one */
        assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
        world_free(w);
}

/* A rotation the device policy refuses says so (not "the claim policy"), and next_rotation is
 * its real next attempt, never 1970 (issue 17 item 3). */
static void test_rotation_refused_by_policy(void **state)
{
        World *w = world_new(NULL);
        char err[256], buf[64];

        (void)state;
        onboard_now(w);
        w->tr.ops = &fake_ops_many; /* one SUBSCRIBE for all: its refusal names the filter */
        w->cloud.refuse_filter = "create-from-csr";
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 6 && !strstr(w->last_error_text, "subscribe-refused"); i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_non_null(strstr(w->last_error_text, "subscribe-refused"));
        assert_non_null(strstr(w->last_error_text, "the device's policy"));
        assert_null(strstr(w->last_error_text, "claim policy"));
        assert_true(ob_onboard_deadline(w->ob) > w->now);
        {
                char want[32];

                assert_true(
                        ob_isotime_format(ob_onboard_deadline(w->ob) / 1000, want, sizeof(want)));
                assert_string_equal(status_str(w, "next_rotation", buf, sizeof(buf)), want);
        }
        world_free(w);
}

/* kill -9 after each saved rotation stage: old or new identity works, never none; one
 * rotation for the window. */
static void test_rotation_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_NEW; s <= OB_STAGE_ONBOARDED; s++) {
                World *w = world_new(NULL);
                char err[256];
                uint64_t g;

                onboard_now(w);
                w->crash_at_stage = s;
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                run_until_settled(w, 3);
                assert_true(w->crashed);
                crash(w);
                g = current_gen(w);
                assert_true(g == 1 || g == 2); /* some working identity at every point */
                w->crash_at_stage = -1;
                w->now += 5000;
                new_machine(w);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_onboarded(w);
                assert_false(ob_onboard_rotating(w->ob));
                assert_int_equal(current_gen(w), 2);
                assert_int_equal(w->cloud.certs_issued, 2); /* no second rotation */
                world_free(w);
        }
}

static void test_rotation_fingerprint_guard(void **state)
{
        World *w = world_new(NULL);
        char err[256], path[512];

        (void)state;
        onboard_now(w);
        /* someone replaces the certificate under us */
        snprintf(path, sizeof(path), "%s/credentials/1/device.crt", w->state);
        make_claim(w, path, w->claim_key, -60, 86400);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_FAILED);
        assert_non_null(strstr(w->last_error_text, "changed underneath"));
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(current_gen(w), 1);
        world_free(w);
}

/* A 7-day certificate with the default 30 days_before_expiry is not renewed at once, and a
 * 365-day one is renewed 30 days before its end when that comes before the fraction. */
static void test_rotation_policy(void **state)
{
        World *w = world_new("\"rotation\": {\"lifetime_fraction\": 0.95}");
        int64_t due, nb, na;

        (void)state;
        onboard_now(w);
        due = ob_onboard_next_rotation(w->ob) / 1000;
        nb = w->now / 1000 - 60;
        na = w->now / 1000 + 365 * 86400;
        assert_true(llabs(due - (na - 30 * 86400)) <= 2);
        world_free(w);

        w = world_new(NULL);
        w->cloud.cert_days = 7;
        onboard_now(w);
        due = ob_onboard_next_rotation(w->ob) / 1000;
        nb = w->now / 1000 - 60;
        na = w->now / 1000 + 7 * 86400;
        assert_true(llabs(due - (nb + (na - nb) / 2)) <= 2); /* half its life, not at once */
        world_free(w);
}

/* A certificate that is due the moment it arrives (backdated notBefore): no rotation loop. */
static void test_rotation_no_loop(void **state)
{
        World *w = world_new("\"rotation\": {\"max_age_days\": 1}");
        char err[256];

        (void)state;
        w->cloud.cert_days = 1; /* 1 day + the 60 s backdating: due at half its life */
        onboard_now(w);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_int_equal(current_gen(w), 2);
        /* the new one is not due at once: half its life after the commit */
        assert_true(ob_onboard_next_rotation(w->ob) >= w->now + 43200LL * 1000 - 60000);
        assert_int_equal(ob_onboard_tick(w->ob, w->now + 1000), 0);
        assert_int_equal(w->cloud.certs_issued, 2);
        world_free(w);
}

static size_t slot_count(World *w)
{
        _cleanup_free_ uint64_t *g = NULL;
        size_t n = 0;

        assert_int_equal(ob_creds_list(w->state, &g, &n, NULL), 0);
        return n;
}

/* agentctl rotate 30 times within the grace period (issue 19: only the last retired slot was
 * ever deleted, 200 rotations left 200 slots for good): each retired slot is kept for its
 * grace, the machine wakes when the first one is due, and after a clock jump past the grace
 * every retired slot is gone, the current one stays. */
static void test_retired_slots_all_deleted(void **state)
{
        World *w = world_new(NULL);
        const int64_t day = 86400LL * 1000;
        int64_t first_retired;
        char err[256];

        (void)state;
        onboard_now(w);
        first_retired = w->now + 60000;
        for (int i = 0; i < 30; i++) {
                w->now += 60000;
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                run_until_settled(w, 5);
                assert_onboarded(w);
        }
        assert_int_equal(current_gen(w), 31);
        assert_int_equal(slot_count(w), 31);
        /* the next wake-up is the first retired slot's deletion, a grace after its rotation */
        assert_true(ob_onboard_deadline(w->ob) >= first_retired + 7 * day);
        assert_true(ob_onboard_deadline(w->ob) < first_retired + 7 * day + 10000);
        w->now = ob_onboard_deadline(w->ob);
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_true(slot_count(w) < 31);
        assert_true(slot_count(w) > 1); /* the later ones wait for their own grace */
        /* the clock jumps 30 days */
        w->now += 30 * day;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(slot_count(w), 1);
        assert_int_equal(current_gen(w), 31);
        assert_onboarded(w);
        /* the next rotation retires one slot again: current + previous */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_int_equal(slot_count(w), 2);
        world_free(w);
}

/* A state.json saved by a version that listed only the last retirement ("previous", ca88530)
 * still loads; the slots it never deleted are found on disk at the next start and deleted a
 * grace later; a restart after that deletes them at once (the sweep at start). */
static void test_retired_slots_of_an_older_version(void **state)
{
        World *w = world_new(NULL);
        const int64_t day = 86400LL * 1000;
        json_object *o = NULL;
        ObStore *st = NULL;
        char err[256];

        (void)state;
        onboard_now(w);
        for (int i = 0; i < 5; i++) {
                w->now += 60000;
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                run_until_settled(w, 5);
        }
        assert_int_equal(slot_count(w), 6);
        crash(w);
        /* the file as the older version wrote it: "previous" (generation 5), no "retired" */
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &st), 0);
        assert_int_equal(ob_store_load(st, &o, NULL), 0);
        json_object *pv, *g;
        assert_true(json_object_object_get_ex(o, "previous", &pv));
        assert_true(json_object_object_get_ex(pv, "generation", &g));
        assert_int_equal(json_object_get_int64(g), 5);
        json_object_object_del(o, "retired");
        assert_int_equal(ob_store_save(st, o), 0);
        json_object_put(o);
        ob_store_free(st);

        w->now += 3 * day;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        assert_int_equal(slot_count(w), 6); /* 1..4 retired from now, 5 from its rotation */
        w->now += 5 * day;                  /* 5's grace is over, 1..4's is not */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(slot_count(w), 5);
        w->now += 2 * day; /* and theirs too */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(slot_count(w), 1);
        assert_int_equal(current_gen(w), 6);
        world_free(w);
}

static void test_rotation_waits_for_the_clock(void **state)
{
        World *w = world_new("\"rotation\": {\"max_age_days\": 1}");
        int64_t due;

        (void)state;
        onboard_now(w);
        due = ob_onboard_next_rotation(w->ob);
        assert_true(due <= w->now + 86400LL * 1000);
        /* the clock steps back before the build date (a board without RTC, rebooted) */
        w->now = T0 - 86400LL * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(w->cloud.connects, 2); /* nothing done */
        /* NTP steps it past the window: the rotation starts */
        w->now = due + 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        run_until_settled(w, 5);
        assert_int_equal(current_gen(w), 2);
        world_free(w);
}

static void test_reprovision_and_decommission(void **state)
{
        World *w = world_new(NULL);
        json_object *deleted = NULL;
        char path[512], buf[64];

        (void)state;
        onboard_now(w);
        /* a dry run lists and keeps */
        assert_int_equal(ob_onboard_forget(w->ob, false, true, w->now, &deleted), 0);
        assert_int_equal(json_object_array_length(deleted), 1);
        json_object_put(deleted);
        assert_int_equal(current_gen(w), 1);
        /* reprovision: everything goes, onboarding starts over */
        w->now += 5000;
        assert_int_equal(ob_onboard_forget(w->ob, false, false, w->now, &deleted), 0);
        json_object_put(deleted);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 2);
        /* decommission: nothing left, and it stays stopped across a restart */
        assert_int_equal(ob_onboard_forget(w->ob, true, false, w->now, NULL), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_FAILED);
        snprintf(path, sizeof(path), "%s/credentials/current", w->state);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/credentials/1", w->state);
        assert_int_equal(access(path, F_OK), -1);
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_FAILED);
        json_object *st = ob_onboard_status(w->ob, w->now), *e, *v;
        assert_true(json_object_object_get_ex(st, "last_error", &e));
        assert_true(json_object_object_get_ex(e, "code", &v));
        assert_string_equal(json_object_get_string(v), "decommissioned");
        json_object_put(st);
        assert_int_equal(w->cloud.connects, 4);
        /* a reprovision brings it back */
        assert_int_equal(ob_onboard_forget(w->ob, false, false, w->now, NULL), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_string_equal(status_str(w, "stage", buf, sizeof(buf)), "onboarded");
        world_free(w);
}

static void test_corrupt_state_refused(void **state)
{
        World *w = world_new(NULL);
        json_object *o;
        char err[256] = "";

        (void)state;
        crash(w);
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &w->store), 0);
        o = json_tokener_parse("{\"version\":1,\"stage\":\"certificate-issued\","
                               "\"pending\":{\"generation\":1}}");
        assert_int_equal(ob_store_save(w->store, o), 0);
        json_object_put(o);
        w->store = ob_store_free(w->store);

        ObOnboardDeps d = {.config = w->cfg,
                           .keys = w->keys,
                           .transport = &w->tr,
                           .random = &w->rnd,
                           .serial = SERIAL};
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &w->store), 0);
        d.store = w->store;
        assert_int_equal(ob_onboard_new(&d, &w->ob), 0);
        assert_int_equal(ob_onboard_load(w->ob, NULL, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "certificate_id"));
        world_free(w);
}

static void test_status_from_state_file(void **state)
{
        World *w = world_new(NULL);
        json_object *st, *o, *v;

        (void)state;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_store_load(w->store, &st, NULL), 0);
        o = ob_onboard_status_from_state(st);
        /* no daemon: stopped, never "onboarded" (the stage still says how far it got) */
        assert_true(json_object_object_get_ex(o, "state", &v));
        assert_string_equal(json_object_get_string(v), "stopped");
        assert_true(json_object_object_get_ex(o, "stage", &v));
        assert_string_equal(json_object_get_string(v), "onboarded");
        assert_true(json_object_object_get_ex(o, "daemon_running", &v));
        assert_false(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "certificate_not_after", &v));
        assert_int_equal(strlen(json_object_get_string(v)), 20); /* 2031-03-17T...Z */
        assert_true(json_object_object_get_ex(o, "method", &v));
        assert_string_equal(json_object_get_string(v), "fleet-claim");
        /* the ownership token never shows in the status */
        assert_null(strstr(json_object_to_json_string(o), "tok-"));
        json_object_put(o);
        json_object_put(st);
        world_free(w);
}

/* ------------------------------------------------------------------ static, jitp, jitr */

#define FACTORY_CN "gw-factory-0042"

/* A factory identity: key and certificate (CN FACTORY_CN) in <state>/factory/, and with_chain
 * a chain.pem. Returns the certificate's id. */
static void make_factory(World *w, bool with_chain, char out_id[65])
{
        char dir[256], path[300];
        EVP_PKEY *k = new_ec_key();
        X509 *x, *ca;
        FILE *f;

        snprintf(dir, sizeof(dir), "%s/factory", w->state);
        (void)mkdir(dir, 0750);
        x = issue(&w->cloud, k, w->now / 1000, 3650);
        {
                X509_NAME *n = X509_NAME_new();
                X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)FACTORY_CN,
                                           -1, -1, 0);
                X509_set_subject_name(x, n);
                X509_NAME_free(n);
        }
        assert_true(X509_sign(x, w->cloud.ca_key, EVP_sha256()) > 0);
        if (out_id)
                fingerprint(x, out_id);
        snprintf(path, sizeof(path), "%s/device.key", dir);
        f = fopen(path, "we");
        PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
        fclose(f);
        chmod(path, 0600);
        snprintf(path, sizeof(path), "%s/device.crt", dir);
        f = fopen(path, "we");
        PEM_write_X509(f, x);
        fclose(f);
        if (with_chain) {
                /* stands in for the device CA: the fake cloud does not verify it */
                ca = issue(&w->cloud, k, w->now / 1000, 3650);
                snprintf(path, sizeof(path), "%s/chain.pem", dir);
                f = fopen(path, "we");
                PEM_write_X509(f, ca);
                fclose(f);
                X509_free(ca);
        }
        X509_free(x);
        EVP_PKEY_free(k);
}

static World *world_method(const char *method, const char *extra_prov, const char *extra)
{
        char prov[256];

        snprintf(prov, sizeof(prov), "{\"method\": \"%s\"%s%s}", method, extra_prov ? "," : "",
                 extra_prov ? extra_prov : "");
        return world_new_prov(prov, extra);
}

static int64_t min_gap(const Cloud *c)
{
        int64_t g = INT64_MAX;

        for (int i = 1; i < c->connects && i < 64; i++)
                if (c->connect_times[i] - c->connect_times[i - 1] < g)
                        g = c->connect_times[i] - c->connect_times[i - 1];
        return g;
}

static const char *error_code(World *w, char *buf, size_t n)
{
        json_object *st = ob_onboard_status(w->ob, w->now), *e, *v;

        buf[0] = 0;
        if (json_object_object_get_ex(st, "last_error", &e) && e &&
            json_object_object_get_ex(e, "code", &v))
                snprintf(buf, n, "%s", json_object_get_string(v));
        json_object_put(st);
        return buf;
}

static void assert_factory_onboarded(World *w, const char *id)
{
        char buf[256], path[512];

        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_ONBOARDED);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_DONE);
        assert_string_equal(status_str(w, "thing_name", buf, sizeof(buf)), FACTORY_CN);
        assert_string_equal(status_str(w, "certificate_id", buf, sizeof(buf)), id);
        assert_string_equal(w->cloud.last_client_id, FACTORY_CN);
        snprintf(path, sizeof(path), "%s/credentials/current/device.crt", w->state);
        assert_int_equal(count_certs(path), 1); /* the certificate alone: later connects carry
                                                   no CA */
        snprintf(path, sizeof(path), "%s/credentials/current/device.key", w->state);
        assert_int_equal(access(path, R_OK), 0);
        snprintf(path, sizeof(path), "%s/device-chain.pem", w->run);
        assert_int_equal(access(path, F_OK), -1); /* the runtime chain file is gone */
        assert_false(w->cloud.connected);
        assert_int_equal(ob_onboard_next_rotation(w->ob), -1); /* no template: no renewal */
}

static void test_static_waits_for_certificate(void **state)
{
        World *w = world_method("static", NULL, NULL);
        char buf[512], id[65];

        (void)state;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CERT);
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "waiting-for-certificate");
        assert_string_equal(error_code(w, buf, sizeof(buf)), "no-certificate");
        assert_non_null(strstr(w->last_error_text, "agentctl factory install-cert"));
        assert_int_equal(ob_onboard_deadline(w->ob), w->now + OB_ONBOARD_CERT_POLL_MS);
        /* re-checked periodically, quietly: one report, no connect, no crash loop */
        run_until_settled(w, 20);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CERT);
        assert_int_equal(w->changes[OB_CHANGE_ERROR], 1);
        assert_int_equal(w->cloud.connects, 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_NEW);

        make_factory(w, false, id);
        run_until_settled(w, 5);
        assert_factory_onboarded(w, id);
        assert_int_equal(w->cloud.connects, 1);
        assert_int_equal(w->cloud.last_cert_count, 1); /* static: no chain */
        /* agentctl rotate has nothing to renew with */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, buf, sizeof(buf)), -EOPNOTSUPP);
        assert_non_null(strstr(buf, "rotation.template"));
        world_free(w);
}

static void test_static_refused(void **state)
{
        World *w = world_method("static", NULL, NULL);
        char buf[512], id[65];
        int64_t start = w->now;

        (void)state;
        make_factory(w, false, id);
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 40);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "certificate-refused");
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_CERT_ISSUED);
        /* a long schedule (retry.refused: 5 s doubling to 1 h), never a crash loop */
        assert_true(min_gap(&w->cloud) >= 1000);
        assert_true(w->now - start > 4 * HOUR_MS / 2);
        assert_true(w->cloud.connects <= 41);
        /* persistent across a restart */
        crash(w);
        new_machine(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "certificate-refused");
        /* registered and activated meanwhile: the next attempt onboards */
        w->cloud.fail_connects = 0;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 3);
        assert_factory_onboarded(w, id);
        world_free(w);
}

/* Refusals count for the one-CONNECT-per-second floor, from when they arrive. */
static void test_refusal_counts_for_connect_floor(void **state)
{
        World *w = world_method("static", NULL,
                                "\"retry\": {\"refused\": {\"base\": \"100ms\", \"cap\": 1}}");
        char id[65];

        (void)state;
        make_factory(w, false, id);
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        for (int i = 0; i < 20; i++) {
                int64_t refused_at;
                /* the refusal arrives 700 ms after the CONNECT */
                w->now += 700;
                refused_at = w->now;
                pump(w);
                assert_true(ob_onboard_deadline(w->ob) >= refused_at + 1000);
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        }
        assert_int_equal(w->cloud.connects, 21);
        assert_true(min_gap(&w->cloud) >= 1700);
        world_free(w);
}

static void test_jitp(void **state)
{
        /* a slow refused schedule: the soon retry must not come from its jitter */
        World *w = world_method("jitp", NULL, "\"retry\": {\"refused\": {\"base\": 600}}");
        char buf[512], id[65];

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1; /* JITP registers on the first connect and refuses it */
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(w->cloud.last_cert_count, 2); /* certificate + CA */
        assert_string_equal(w->cloud.last_client_id, FACTORY_CN);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "waiting-to-retry");
        /* retried soon: 1-2 s */
        assert_true(ob_onboard_deadline(w->ob) >= w->now + 1000);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 2000);
        run_until_settled(w, 3);
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(w->cloud.last_cert_count, 2); /* still with the CA until a success */
        assert_factory_onboarded(w, id);
        world_free(w);
}

/* agentctl rotate is taken even when its first connect cannot start: the failure is the
 * rotation's (status, retried), not "refused: not onboarded". */
static void test_rotate_now_first_connect_fails(void **state)
{
        World *w = world_new(NULL);
        char err[256], buf[64];

        (void)state;
        onboard_now(w);
        w->cloud.connect_error = -ENETDOWN;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        assert_true(ob_onboard_rotating(w->ob));
        for (int i = 0; i < 5 && strcmp(error_code(w, buf, sizeof(buf)), "connect-failed"); i++) {
                w->now = OB_MAX(w->now, ob_onboard_deadline(w->ob));
                (void)ob_onboard_tick(w->ob, w->now);
                pump(w);
        }
        assert_string_equal(error_code(w, buf, sizeof(buf)), "connect-failed");
        assert_true(ob_onboard_deadline(w->ob) > w->now); /* retried */
        w->cloud.connect_error = 0;
        run_until_settled(w, 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_int_equal(current_gen(w), 2);
        world_free(w);
}

/* A TLS alert about our certificate is not a registration in progress: JITP says what it is
 * at once, on the refused schedule, never "registration-pending". */
static void test_jitp_tls_alert_not_pending(void **state)
{
        World *w = world_method("jitp", NULL, "\"retry\": {\"refused\": {\"base\": 600}}");
        char buf[512], id[65];

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        w->cloud.fail_cause = OB_CONN_TLS_ALERT;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "certificate-refused");
        assert_non_null(strstr(w->last_error_text, "fake failure"));
        /* no "soon" retry: the refused schedule (up to 600 s) */
        assert_true(ob_onboard_deadline(w->ob) >= w->now + 1000);
        world_free(w);
}

/* A broker that takes TLS and never answers the CONNECT is a timeout, not a refusal; a close
 * before the timeout is still a refusal (JITP: pending). */
static void test_no_connack_is_timeout(void **state)
{
        World *w = world_method("jitp", NULL, NULL);
        char buf[512], id[65];
        json_object *st, *e, *v;

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        w->cloud.fail_cause = OB_CONN_CLOSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        w->now += 30000; /* endpoint.connect_timeout's default */
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "connect-failed");
        assert_non_null(strstr(w->last_error_text, "no CONNACK within 30000 ms"));
        st = ob_onboard_status(w->ob, w->now);
        assert_true(json_object_object_get_ex(st, "last_error", &e));
        assert_true(json_object_object_get_ex(e, "class", &v));
        assert_string_equal(json_object_get_string(v), "timeout");
        json_object_put(st);
        world_free(w);

        w = world_method("jitp", NULL, NULL);
        make_factory(w, true, id);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        w->cloud.fail_cause = OB_CONN_CLOSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        w->now += 300;
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        world_free(w);
}

/* The time of a CONNECT is on disk before it is sent: a process started right after a crash
 * mid-connect waits out AWS's one CONNECT per second per client id. */
static void test_restart_keeps_connect_floor(void **state)
{
        World *w = world_method("static", NULL, NULL);
        char id[65];
        int64_t first;

        (void)state;
        make_factory(w, false, id);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(w->cloud.connects, 1);
        first = w->now;
        crash(w); /* before the CONNACK is seen: it is dropped with the connection */
        w->now += 200;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 5);
        assert_true(w->cloud.connects >= 1);
        assert_true(w->cloud.connect_times[w->cloud.connects - 1] >= first + 1000);
        world_free(w);
}

static void test_jitp_refused_not_pending(void **state)
{
        World *w = world_method("jitp", "\"jitp_max_refusals\": 3", NULL);
        char buf[512], id[65];

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        run_until_settled(w, 1);
        assert_int_equal(w->cloud.connects, 2);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        run_until_settled(w, 1);
        assert_int_equal(w->cloud.connects, 3);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "refused-not-pending");
        assert_true(strncmp(w->last_error_text, "refused, not pending", 20) == 0);
        /* keeps retrying on the refused schedule, the status stays */
        run_until_settled(w, 10);
        assert_int_equal(w->cloud.connects, 13);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "refused-not-pending");
        assert_true(min_gap(&w->cloud) >= 1000);
        /* the count survives a restart */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "refused-not-pending");
        world_free(w);
}

/* rotate before the first identity: refused, with why and what to do for each method (issue 17
 * item 4: a JITP device answered "not onboarded yet: nothing to rotate") */
static void test_rotate_not_onboarded_says_why(void **state)
{
        static const struct {
                const char *method, *prov, *says;
                bool needs_template;
        } cases[] = {
                {"static", NULL, "agentctl factory status", true},
                {"jitp", NULL, "registered by its first connect", true},
                {"jitp", "\"template\": \"Tmpl\"", "registered by its first connect", false},
                {"jitr", NULL, "--new-status ACTIVE", true},
                {NULL, NULL, "fleet provisioning", false}, /* the world's fleet-claim */
        };
        char err[256]; /* what agent/daemon.c gives it */
        World *w;

        (void)state;
        for (size_t i = 0; i < OB_ELEMENTSOF(cases); i++) {
                w = cases[i].method ? world_method(cases[i].method, cases[i].prov, NULL)
                                    : world_new(NULL);
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
                assert_non_null(strstr(err, "not onboarded yet"));
                assert_non_null(strstr(err, cases[i].says));
                assert_non_null(strstr(err, "'agentctl status' says what it waits for"));
                assert_true(strlen(err) < sizeof(err) - 1); /* whole, not cut */
                assert_int_equal(strstr(err, "rotation.template") != NULL, cases[i].needs_template);
                world_free(w);
        }
        w = world_new(NULL);
        onboard_now(w);
        assert_int_equal(ob_onboard_forget(w->ob, true, false, w->now, NULL), 0);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
        assert_non_null(strstr(err, "decommissioned"));
        assert_non_null(strstr(err, "agentctl reprovision"));
        world_free(w);
}

/* A JITR device with its factory certificate, started against a cloud that refuses it (not
 * activated yet): after its first attempt. */
static void jitr_start_refused(World *w, char id[65])
{
        make_factory(w, true, id);
        w->cloud.fail_connects = 100000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
}

static void test_jitr_never_gives_up(void **state)
{
        World *w = world_method("jitr", NULL, NULL);
        char buf[512], id[65];
        int64_t start = w->now, day_start;
        int at_day;

        (void)state;
        jitr_start_refused(w, id);
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "waiting-for-activation");
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 2000); /* first retry soon */
        while (w->now - start < 24 * HOUR_MS) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
                assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_ACTIVATION);
        }
        assert_string_equal(error_code(w, buf, sizeof(buf)), "waiting-for-activation");
        assert_true(min_gap(&w->cloud) >= 1000);
        /* patient: at most about one attempt an hour once backed off (cap 1 h, full jitter) */
        at_day = w->cloud.connects;
        day_start = w->now;
        while (w->now - day_start < 24 * HOUR_MS) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_true(w->cloud.connects - at_day >= 24);
        assert_true(w->cloud.connects - at_day <= 24 * 8);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_ACTIVATION);
        /* the cloud function activates it */
        w->cloud.fail_connects = 0;
        run_until_settled(w, 2);
        assert_factory_onboarded(w, id);
        world_free(w);
}

/* agentctl retry (issue 17): the wait ends now, not at the backoff's deadline; the failure
 * count stays; the one-CONNECT-per-second floor holds; next_retry is shown while waiting for
 * activation; onboarded, connecting and waiting for a claim are refused with the reason. */
static void test_retry_now(void **state)
{
        World *w = world_method("jitr", NULL, NULL);
        char buf[512], id[65], err[256];
        int connects, attempts;

        (void)state;
        jitr_start_refused(w, id);
        /* back off far: a few hours of refusals */
        for (int i = 0; i < 12; i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_ACTIVATION);
        assert_non_null(status_str(w, "next_retry", buf, sizeof(buf)));
        assert_true(ob_onboard_deadline(w->ob) > w->now + 2000);
        attempts = atoi(status_str(w, "attempts", buf, sizeof(buf)));
        connects = w->cloud.connects;
        w->now += 2000;             /* past the connect floor */
        w->cloud.fail_connects = 0; /* activated in the cloud */
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        assert_int_equal(w->cloud.connects, connects + 1); /* at once, not at the deadline */
        run_until_settled(w, 2);
        assert_factory_onboarded(w, id);
        assert_true(attempts > 1);
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now, err, sizeof(err)), -EALREADY);
        assert_non_null(strstr(err, "onboarded"));
        world_free(w);

        /* within a second of the last CONNECT: the floor holds, the retry waits for it */
        w = world_method("jitr", NULL, NULL);
        jitr_start_refused(w, id);
        connects = w->cloud.connects;
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now + 10, err, sizeof(err)), 0);
        pump(w);
        assert_int_equal(w->cloud.connects, connects);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_true(ob_onboard_deadline(w->ob) >= w->cloud.connect_times[connects - 1] + 1000);
        world_free(w);

        /* a claim is awaited: nothing to retry until one is given */
        w = world_new("\"control\": {}");
        crash(w);
        w->cfg->provisioning.method = OB_METHOD_FLEET_TRUSTED_USER;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
        assert_non_null(strstr(err, "claim"));
        world_free(w);
}

static void test_factory_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_CERT_ISSUED; s <= OB_STAGE_ONBOARDED;
             s += OB_STAGE_ONBOARDED - OB_STAGE_CERT_ISSUED) {
                World *w = world_method("jitp", NULL, NULL);
                char id[65];

                make_factory(w, true, id);
                w->cloud.fail_connects = 1;
                w->cloud.fail_class = OB_ERR_REFUSED;
                w->crash_at_stage = s;
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_true(w->crashed);
                crash(w);
                w->crash_at_stage = -1;
                new_machine(w);
                assert_int_equal(ob_onboard_stage(w->ob), s);
                w->now += 1000;
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_factory_onboarded(w, id);
                world_free(w);
        }
}

static void test_alpn_offered(void **state)
{
        World *w = world_method("static", NULL,
                                "\"endpoint\": {\"host\": \"iot.example\", "
                                "\"root_ca\": \"/x/ca.pem\", \"alpn\": true}");
        char id[65];

        (void)state;
        make_factory(w, false, id);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_string_equal(w->cloud.last_alpn, "x-amzn-mqtt-ca");
        assert_int_equal(w->cloud.last_port, 443);
        world_free(w);
}

/* After the first success the CA is not sent again: a rotation (possible with a fleet
 * template) connects with credentials/current, the certificate alone. */
static void test_jitp_later_connects_without_ca(void **state)
{
        World *w = world_method("jitp", "\"template\": \"Tmpl\"", NULL);
        char buf[256], id[65];
        uint64_t gen = 0;

        (void)state;
        make_factory(w, true, id);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(w->cloud.last_cert_count, 2);
        run_until_settled(w, 3);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_ONBOARDED);
        assert_true(ob_onboard_next_rotation(w->ob) > w->now); /* a template: renewal planned */
        w->now += 2000;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, buf, sizeof(buf)), 0);
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(w->cloud.last_cert_count, 1);
        run_until_settled(w, 10);
        assert_int_equal(ob_creds_current(w->state, &gen, NULL), 0);
        assert_int_equal(gen, 2);
        assert_int_equal(w->cloud.last_cert_count, 1);
        world_free(w);
}

/* The state saves fail at their rename, one at a time, with ENOSPC (the power-loss harness,
 * tests/powerloss, found this over the real daemon): a failed save may leave the machine
 * between two stages in memory; what it saves next must still load. */
static int rename_calls, rename_fail_at;

static int failing_renameat(int od, const char *op, int nd, const char *np)
{
        if (++rename_calls == rename_fail_at) {
                errno = ENOSPC;
                return -1;
        }
        return renameat(od, op, nd, np);
}

/* One rename of state.json fails (ENOSPC) at each position in turn, of an onboarding and then a
 * rotation. kill: a kill -9 while the retry waits, then a new machine from what is on disk;
 * otherwise the machine retries on retry.local by itself. Either way it ends committed in
 * generation 2. Without the kill, what a commit announces happens exactly once: ONBOARDED for
 * the onboarding, ROTATED (the daemon's hook) for the rotation, also when the failed save was
 * the commit's own (stage onboarded). */
static void failed_save_sweep(bool kill)
{
        ObFsOps ops = ob_fsops_posix;
        bool fired = true;

        ops.renameat = failing_renameat;
        for (rename_fail_at = 1; fired; rename_fail_at++) {
                char err[256];

                rename_calls = 0;
                store_ops = &ops;
                World *w = world_new(NULL);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                if (kill)
                        pump(w);
                else {
                        run_until_settled(w, 5);
                        assert_onboarded(w);
                        assert_int_equal(w->changes[OB_CHANGE_ONBOARDED], 1);
                }
                fired = rename_calls >= rename_fail_at;
                if (!kill || !fired) {
                        assert_onboarded(w);
                        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                        run_until_settled(w, kill ? 3 : 5);
                        if (!kill)
                                assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
                }
                fired = rename_calls >= rename_fail_at;
                store_ops = NULL;
                if (kill) {
                        /* the next start must load what is on disk */
                        crash(w);
                        w->now += 5000;
                        new_machine(w);
                        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                        run_until_settled(w, 5);
                        if (current_gen(w) == 1 && !ob_onboard_rotating(w->ob)) {
                                assert_int_equal(
                                        ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                                run_until_settled(w, 5);
                        }
                }
                assert_onboarded(w);
                assert_int_equal(current_gen(w), 2);
                world_free(w);
        }
        assert_true(rename_fail_at > 10);
}

static void test_failed_save_then_crash(void **state)
{
        (void)state;
        failed_save_sweep(true);
}

static void test_failed_save_commit_still_announced(void **state)
{
        (void)state;
        failed_save_sweep(false);
}

int main(void)
{
        if (getenv("OB_TEST_FILTER"))
                cmocka_set_test_filter(getenv("OB_TEST_FILTER"));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_happy_path),
                cmocka_unit_test(test_failed_save_commit_still_announced),
                cmocka_unit_test(test_crash_after_each_stage),
                cmocka_unit_test(test_one_subscribe_for_all_topics),
                cmocka_unit_test(test_verify_by_probe),
                cmocka_unit_test(test_hardware_token_asked_when_used),
                cmocka_unit_test(test_token_expired_restarts_from_csr),
                cmocka_unit_test(test_register_rejected_retries_same_token),
                cmocka_unit_test(test_cloud_says_token_invalid),
                cmocka_unit_test(test_throttled_backs_off),
                cmocka_unit_test(test_broker_down_then_up),
                cmocka_unit_test(test_timeout_then_success),
                cmocka_unit_test(test_malformed_reply_and_noise),
                cmocka_unit_test(test_oversized_reply),
                cmocka_unit_test(test_register_reply_without_thing_name),
                cmocka_unit_test(test_certificate_for_another_key_refused),
                cmocka_unit_test(test_create_keys_software),
                cmocka_unit_test(test_claim_expired_and_not_yet_valid),
                cmocka_unit_test(test_clock_before_build_date),
                cmocka_unit_test(test_trusted_user),
                cmocka_unit_test(test_trusted_user_claim_expires_midway),
                cmocka_unit_test(test_rotation_at_threshold),
                cmocka_unit_test(test_rotate_now_and_rollback),
                cmocka_unit_test(test_rotation_refused_by_policy),
                cmocka_unit_test(test_rotate_now_first_connect_fails),
                cmocka_unit_test(test_rotation_crash_after_each_stage),
                cmocka_unit_test(test_rotation_fingerprint_guard),
                cmocka_unit_test(test_rotation_waits_for_the_clock),
                cmocka_unit_test(test_rotation_policy),
                cmocka_unit_test(test_rotation_no_loop),
                cmocka_unit_test(test_retired_slots_all_deleted),
                cmocka_unit_test(test_retired_slots_of_an_older_version),
                cmocka_unit_test(test_reprovision_and_decommission),
                cmocka_unit_test(test_corrupt_state_refused),
                cmocka_unit_test(test_status_from_state_file),
                cmocka_unit_test(test_static_waits_for_certificate),
                cmocka_unit_test(test_static_refused),
                cmocka_unit_test(test_refusal_counts_for_connect_floor),
                cmocka_unit_test(test_jitp),
                cmocka_unit_test(test_jitp_refused_not_pending),
                cmocka_unit_test(test_jitp_tls_alert_not_pending),
                cmocka_unit_test(test_no_connack_is_timeout),
                cmocka_unit_test(test_restart_keeps_connect_floor),
                cmocka_unit_test(test_rotate_not_onboarded_says_why),
                cmocka_unit_test(test_jitr_never_gives_up),
                cmocka_unit_test(test_retry_now),
                cmocka_unit_test(test_factory_crash_after_each_stage),
                cmocka_unit_test(test_alpn_offered),
                cmocka_unit_test(test_jitp_later_connects_without_ca),
                cmocka_unit_test(test_failed_save_then_crash),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
