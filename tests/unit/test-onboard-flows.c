/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Each method family's onboarding flow, from a fresh device to "onboarded", with fakes only:
 * the in-memory filesystem (fake-fs.h) under the store, the credential slots and every file
 * the machine reads or writes, the in-memory key provider (fake-key-provider.h), and a small
 * fake cloud behind the transport. No temp dir: the test ends by checking that none of its
 * paths exists on the real filesystem. The edge cases of each flow are in test-onboard.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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
#include "fake-events.h"
#include "fake-fs.h"
#include "fake-key-provider.h"
#include "key-provider.h"
#include "onboard.h"
#include "store.h"
#include "transport.h"

#define T0      ((int64_t)1900000000 * 1000) /* 2030-03-17: after any build date */
#define SERIAL  "SN0042"
#define ROOT    "/ob-flows-fake" /* exists only in the fake */
#define STATE   ROOT "/state"
#define FACTORY STATE "/factory"
#define CN      "gw-factory-0042"

/* ------------------------------------------------------------------ a small fake cloud */

typedef struct Cloud {
        FakeEvents ev; /* first: the fake_events_op_* ops take the Cloud as a FakeEvents */
        int next_token, connects, refuse_connects, certs, registrations;
        int last_cert_count; /* certificates in the file the last connect presented */
        char last_client_id[64];
        bool connected;
        EVP_PKEY *ca_key;
        X509 *ca;
        int64_t *now;
} Cloud;

static void push(Cloud *c, ObTransportEventType t, const char *topic, const char *payload)
{
        (void)fake_events_push(&c->ev, t, topic, payload);
}

static X509 *issue(Cloud *c, EVP_PKEY *pub, const char *cn)
{
        X509 *x = X509_new();
        time_t now = (time_t)(*c->now / 1000);

        assert_non_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), ++c->certs);
        X509_time_adj_ex(X509_getm_notBefore(x), 0, -60, &now);
        X509_time_adj_ex(X509_getm_notAfter(x), 365, 0, &now);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                   (const unsigned char *)cn, -1, -1, 0);
        X509_set_issuer_name(x, X509_get_subject_name(c->ca));
        X509_set_pubkey(x, pub);
        assert_true(X509_sign(x, c->ca_key, EVP_sha256()) > 0);
        return x;
}

static char *pem_of(X509 *x, EVP_PKEY *key)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *data;

        assert_true(x ? PEM_write_bio_X509(b, x)
                      : PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL));
        long n = BIO_get_mem_data(b, &data);
        char *s = strndup(data, (size_t)n);
        BIO_free(b);
        return s;
}

static int f_connect(void *impl, const ObConnectOptions *o)
{
        Cloud *c = impl;
        const char *crt = ob_fake_fs_get(o->cert_file, NULL);

        assert_non_null(crt); /* what the machine presents is in the fake */
        c->connects++;
        c->last_cert_count = 0;
        for (const char *p = crt; (p = strstr(p, "-----BEGIN CERTIFICATE-----")); p++)
                c->last_cert_count++;
        snprintf(c->last_client_id, sizeof(c->last_client_id), "%s", o->client_id);
        if (c->refuse_connects > 0) {
                c->refuse_connects--;
                push(c, OB_TEV_CONNECT_FAILED, NULL, NULL);
                c->ev.q[c->ev.n - 1].err_class = OB_ERR_REFUSED;
                snprintf(c->ev.q[c->ev.n - 1].detail, sizeof(c->ev.q[0].detail), "not authorized");
                return 0;
        }
        c->connected = true;
        push(c, OB_TEV_CONNECTED, NULL, NULL);
        return 0;
}

static int f_subscribe(void *impl, const char *topic, int qos, int *ret_token)
{
        Cloud *c = impl;

        (void)topic;
        (void)qos;
        assert_true(c->connected);
        *ret_token = ++c->next_token;
        push(c, OB_TEV_SUBSCRIBED, NULL, NULL);
        c->ev.q[c->ev.n - 1].token = *ret_token;
        return 0;
}

/* CreateCertificateFromCsr and RegisterThing, nothing else. */
static int f_publish(void *impl, const char *topic, const void *payload, size_t len, int qos,
                     int *ret_token)
{
        Cloud *c = impl;
        char *text = strndup(payload, len), reply[256];
        json_object *o = json_tokener_parse(text), *v, *r = json_object_new_object();

        (void)qos;
        free(text);
        assert_true(c->connected);
        assert_non_null(o);
        *ret_token = ++c->next_token;
        push(c, OB_TEV_PUBLISHED, NULL, NULL);
        c->ev.q[c->ev.n - 1].token = *ret_token;
        if (strcmp(topic, "$aws/certificates/create-from-csr/json") == 0) {
                assert_true(json_object_object_get_ex(o, "certificateSigningRequest", &v));
                BIO *b = BIO_new_mem_buf(json_object_get_string(v), -1);
                X509_REQ *req = PEM_read_bio_X509_REQ(b, NULL, NULL, NULL);
                assert_non_null(req);
                X509 *x = issue(c, X509_REQ_get0_pubkey(req), "AWS IoT Certificate");
                char *pem = pem_of(x, NULL);
                unsigned char md[32];
                unsigned int mdlen = 0;
                char id[65];
                X509_digest(x, EVP_sha256(), md, &mdlen);
                for (unsigned i = 0; i < 32; i++)
                        snprintf(id + 2 * i, 3, "%02x", md[i]);
                json_object_object_add(r, "certificateId", json_object_new_string(id));
                json_object_object_add(r, "certificatePem", json_object_new_string(pem));
                json_object_object_add(r, "certificateOwnershipToken",
                                       json_object_new_string("tok-1"));
                free(pem);
                X509_free(x);
                X509_REQ_free(req);
                BIO_free(b);
        } else if (strstr(topic, "/provision/json")) {
                c->registrations++;
                json_object_object_add(r, "thingName", json_object_new_string("ob-" SERIAL));
        } else {
                fail_msg("unexpected publish to %s", topic);
        }
        snprintf(reply, sizeof(reply), "%s/accepted", topic);
        push(c, OB_TEV_MESSAGE, reply, json_object_to_json_string(r));
        json_object_put(r);
        json_object_put(o);
        return 0;
}

static int f_disconnect(void *impl)
{
        Cloud *c = impl;

        c->connected = false;
        fake_events_clear(&c->ev);
        return 0;
}

static const ObTransportOps cloud_ops = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .publish = f_publish,
        .disconnect = f_disconnect,
        .event_fd = fake_events_op_event_fd,
        .next_event = fake_events_op_next_event,
        .free = fake_events_op_free,
};

/* ------------------------------------------------------------------ the world, shared */

typedef struct World {
        const ObFsOps *fs;
        ObConfig *cfg;
        ObKeyProvider *keys;
        Cloud cloud;
        ObTransport tr;
        ObStore *store;
        uint64_t seed;
        ObRandom rnd;
        int64_t now;
        ObOnboard *ob;
} World;

static void put_pem(const char *path, X509 *x, EVP_PKEY *key)
{
        char *pem = pem_of(x, key);
        assert_int_equal(ob_fake_fs_put(path, pem, 0600), 0);
        free(pem);
}

/* A certificate from the fake CA for a new key, both PEM files in the fake; in_provider: the
 * key is also the key provider's (a factory key the machine loads). */
static void put_identity(World *w, const char *crt, const char *key, const char *cn,
                         bool in_provider)
{
        EVP_PKEY *k = NULL, *pub = NULL;
        X509 *x;

        if (in_provider) {
                assert_int_equal(w->keys->ops->create(w->keys, key, OB_KEY_TYPE_EC_P256, &pub), 0);
                EVP_PKEY_free(pub);
                k = ob_fake_key_provider_key(w->keys, key);
                EVP_PKEY_up_ref(k);
        } else {
                k = EVP_EC_gen("P-256");
        }
        assert_non_null(k);
        x = issue(&w->cloud, k, cn);
        put_pem(crt, x, NULL);
        put_pem(key, NULL, k);
        X509_free(x);
        EVP_PKEY_free(k);
}

/* The world for the "provisioning" object prov, the machine made and started. */
static World *world_new(const char *prov)
{
        World *w = calloc(1, sizeof(*w));
        ObConfigDiags diags = {0};
        char json[1024];

        assert_non_null(w);
        w->fs = ob_fake_fs_reset();
        assert_non_null(w->fs);
        w->now = T0;
        w->cloud.now = &w->now;
        w->cloud.ca_key = EVP_EC_gen("P-256");
        w->cloud.ca = X509_new();
        X509_NAME_add_entry_by_txt(X509_get_subject_name(w->cloud.ca), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"Fake IoT CA", -1, -1, 0);
        assert_int_equal(w->fs->mkdirat(AT_FDCWD, ROOT, 0755), 0);
        assert_int_equal(w->fs->mkdirat(AT_FDCWD, STATE, 0700), 0);

        snprintf(json, sizeof(json),
                 "{\"endpoint\": {\"host\": \"iot.example\", \"root_ca\": \"" ROOT "/ca.pem\"},"
                 " \"provisioning\": %s, \"key\": {\"backend\": \"software\"},"
                 " \"paths\": {\"state_dir\": \"" STATE "\", \"runtime_dir\": \"" ROOT "/run\"}}",
                 prov);
        w->cfg = ob_config_new();
        assert_non_null(w->cfg);
        assert_int_equal(ob_config_apply_buffer(w->cfg, "test.json", json, strlen(json), &diags),
                         0);
        ob_config_finish(w->cfg, "test.json", &diags);
        if (diags.n_errors > 0)
                ob_config_diags_print(&diags, stderr);
        assert_int_equal(diags.n_errors, 0);
        ob_config_diags_clear(&diags);

        assert_int_equal(ob_fake_key_provider_new(&w->keys), 0);
        w->tr = (ObTransport){.ops = &cloud_ops, .impl = &w->cloud};
        w->seed = 42;
        w->rnd = (ObRandom){.next = ob_random_splitmix64, .userdata = &w->seed};
        return w;
}

static void on_change(ObOnboard *ob, const ObOnboardChange *c, void *userdata)
{
        (void)ob;
        (void)userdata;
        if (getenv("OB_TEST_VERBOSE"))
                fprintf(stderr, "  [%d] %s\n", c->kind, c->text);
}

static void start(World *w)
{
        ObOnboardDeps d = {
                .config = w->cfg,
                .keys = w->keys,
                .transport = &w->tr,
                .random = &w->rnd,
                .fs = w->fs,
                .serial = SERIAL,
                .machine_id = "0123456789abcdef0123456789abcdef",
                .build_epoch_ms = T0 - 1000,
                .changed = on_change,
        };
        char err[256] = "";

        assert_int_equal(ob_store_open(STATE, "state.json", w->fs, &w->store), 0);
        d.store = w->store;
        assert_int_equal(ob_onboard_new(&d, &w->ob), 0);
        if (ob_onboard_load(w->ob, NULL, err, sizeof(err)) != 0)
                fail_msg("the state does not load: %s", err);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
}

/* Deliver the cloud's answers and let time pass to each deadline until the machine is done. */
static void run(World *w)
{
        ObTransportEvent ev;

        for (int i = 0; i < 20 && ob_onboard_activity(w->ob) != OB_ACT_DONE; i++) {
                while (fake_events_next(&w->cloud.ev, &ev) == 0) {
                        assert_int_equal(ob_onboard_handle_event(w->ob, &ev, w->now), 0);
                        ob_transport_event_clear(&ev);
                }
                int64_t dl = ob_onboard_deadline(w->ob);
                if (ob_onboard_activity(w->ob) == OB_ACT_DONE || dl < 0)
                        break;
                if (dl > w->now)
                        w->now = dl;
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        }
}

/* Onboarded as thing, with generation 1 current, its certificate and state.json in the fake. */
static void assert_onboarded(World *w, const char *thing)
{
        json_object *st = ob_onboard_status(w->ob, w->now), *v;
        uint64_t gen = 0;

        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_ONBOARDED);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_DONE);
        assert_true(json_object_object_get_ex(st, "thing_name", &v));
        assert_string_equal(json_object_get_string(v), thing);
        json_object_put(st);
        assert_int_equal(ob_creds_current(STATE, &gen, w->fs), 0);
        assert_int_equal(gen, 1);
        assert_non_null(strstr(ob_fake_fs_get(STATE "/credentials/current/device.crt", NULL),
                               "-----BEGIN CERTIFICATE-----"));
        assert_non_null(strstr(ob_fake_fs_get(STATE "/state.json", NULL), "\"onboarded\""));
        assert_false(w->cloud.connected);
}

/* Free the machine and the world: the fake holds no open file then, and the real filesystem
 * has none of the test's paths. */
static void world_free(World *w)
{
        ob_onboard_free(w->ob);
        ob_store_free(w->store);
        assert_int_equal(ob_fake_fs_open_fds(), 0);
        assert_true(ob_fake_fs_fsyncs() > 0);
        assert_int_equal(access(ROOT, F_OK), -1);
        ob_key_provider_free(w->keys);
        ob_config_free(w->cfg);
        EVP_PKEY_free(w->cloud.ca_key);
        X509_free(w->cloud.ca);
        ob_fake_fs_free();
        free(w);
}

/* ------------------------------------------------------------------ one flow per family */

/* fleet: the claim connects, CreateCertificateFromCsr for a key made in the slot, RegisterThing,
 * then the new certificate connects. */
static void test_fleet_claim(void **state)
{
        World *w = world_new("{\"method\": \"fleet-claim\", \"template\": \"Tmpl\","
                             " \"claim_cert\": \"" ROOT "/claim.crt\","
                             " \"claim_key\": \"" ROOT "/claim.key\"}");

        (void)state;
        put_identity(w, ROOT "/claim.crt", ROOT "/claim.key", "claim", false);
        start(w);
        run(w);
        assert_int_equal(w->cloud.registrations, 1);
        assert_non_null(ob_fake_key_provider_key(w->keys, STATE "/credentials/1/device.key"));
        assert_onboarded(w, "ob-" SERIAL);
        world_free(w);
}

/* JIT: the factory certificate with its CA chain (a runtime file) is refused once while the
 * cloud registers it, then accepted. */
static void test_jitp(void **state)
{
        World *w = world_new("{\"method\": \"jitp\"}");

        (void)state;
        put_identity(w, FACTORY "/device.crt", FACTORY "/device.key", CN, true);
        put_identity(w, FACTORY "/chain.pem", ROOT "/ca.key", "Device CA", false);
        w->cloud.refuse_connects = 1;
        start(w);
        assert_int_equal(w->cloud.last_cert_count, 2); /* certificate + CA */
        run(w);
        assert_int_equal(w->cloud.connects, 2);
        assert_string_equal(w->cloud.last_client_id, CN);
        assert_string_equal(ob_fake_fs_get(STATE "/credentials/current/device.key", NULL),
                            ob_fake_fs_get(FACTORY "/device.key", NULL));
        assert_int_equal(ob_fake_fs_mode(ROOT "/run/device-chain.pem"), 0); /* removed */
        assert_onboarded(w, CN);
        world_free(w);
}

/* static: the factory certificate connects as it is. */
static void test_static(void **state)
{
        World *w = world_new("{\"method\": \"static\"}");

        (void)state;
        put_identity(w, FACTORY "/device.crt", FACTORY "/device.key", CN, true);
        start(w);
        assert_int_equal(w->cloud.last_cert_count, 1);
        run(w);
        assert_int_equal(w->cloud.connects, 1);
        assert_int_equal(w->cloud.registrations, 0);
        assert_onboarded(w, CN);

        /* decommission: the slots listed and removed in the fake (lib/onboard-forget.c) */
        json_object *deleted = NULL;
        assert_int_equal(ob_onboard_forget(w->ob, true, false, w->now, &deleted), 0);
        assert_int_equal(json_object_array_length(deleted), 1);
        json_object_put(deleted);
        assert_int_equal(ob_fake_fs_mode(STATE "/credentials/1"), 0);
        assert_int_equal(ob_fake_fs_mode(STATE "/credentials/current"), 0);
        assert_int_equal(ob_fake_fs_mode(STATE "/credentials"), S_IFDIR | OB_CREDS_DIR_MODE);
        world_free(w);
}

/* JITR: refused while the cloud's function has not activated the certificate (twice here),
 * waiting for activation between attempts, then accepted. */
static void test_jitr(void **state)
{
        World *w = world_new("{\"method\": \"jitr\"}");

        (void)state;
        put_identity(w, FACTORY "/device.crt", FACTORY "/device.key", CN, true);
        put_identity(w, FACTORY "/chain.pem", ROOT "/ca.key", "Device CA", false);
        w->cloud.refuse_connects = 2;
        start(w);
        run(w);
        assert_int_equal(w->cloud.connects, 3);
        assert_onboarded(w, CN);
        world_free(w);
}

/* Trusted user: nothing happens until a claim is handed over; the claim lands in the runtime
 * directory of the fake and is gone once the device has its own identity. */
static void test_trusted_user(void **state)
{
        World *w = world_new("{\"method\": \"fleet-trusted-user\", \"template\": \"Tmpl\"}");
        char err[256] = "";
        EVP_PKEY *k = EVP_EC_gen("P-256");
        X509 *x;
        char *crt, *key;

        (void)state;
        assert_int_equal(w->fs->mkdirat(AT_FDCWD, ROOT "/run", 0700), 0);
        start(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_int_equal(w->cloud.connects, 0);
        x = issue(&w->cloud, k, "claim");
        crt = pem_of(x, NULL);
        key = pem_of(NULL, k);
        if (ob_onboard_provide_claim(w->ob, crt, key, w->now, err, sizeof(err)) != 0)
                fail_msg("the claim is refused: %s", err);
        assert_non_null(ob_fake_fs_get(ROOT "/run/claim/claim.key", NULL));
        run(w);
        assert_int_equal(w->cloud.registrations, 1);
        assert_onboarded(w, "ob-" SERIAL);
        assert_int_equal(ob_fake_fs_mode(ROOT "/run/claim/claim.key"), 0); /* deleted */
        assert_int_equal(ob_fake_fs_mode(ROOT "/run/claim/claim.crt"), 0);
        free(crt);
        free(key);
        X509_free(x);
        EVP_PKEY_free(k);
        world_free(w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fleet_claim),  cmocka_unit_test(test_jitp),
                cmocka_unit_test(test_static),       cmocka_unit_test(test_jitr),
                cmocka_unit_test(test_trusted_user),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
