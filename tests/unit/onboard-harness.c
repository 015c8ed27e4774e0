/* SPDX-License-Identifier: Apache-2.0 */
/* The onboarding machine's unit-test harness: see onboard-harness.h. */
#include "config.h"

#include "onboard-harness.h"

/* ------------------------------------------------------------------ the fake cloud */

static void push(Cloud *c, ObTransportEventType t, const char *topic, const char *payload)
{
        (void)fake_events_push(&c->ev, t, topic, payload);
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
                e = &c->ev.q[c->ev.n - 1];
                e->err_class = OB_ERR_REFUSED;
                e->cause = c->refuse_cause;
                c->refused_connects++;
                snprintf(e->detail, sizeof(e->detail), "not authorized");
                return 0;
        }
        if (c->fail_connects > 0) {
                c->fail_connects--;
                push(c, OB_TEV_CONNECT_FAILED, NULL, NULL);
                e = &c->ev.q[c->ev.n - 1];
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
        c->ev.q[c->ev.n - 1].token = *ret_token;
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
        c->ev.q[c->ev.n - 1].token = *ret_token;
        if (refused)
                snprintf(c->ev.q[c->ev.n - 1].detail, sizeof(c->ev.q[c->ev.n - 1].detail), "%s",
                         refused);
        return 0;
}

X509 *issue(Cloud *c, EVP_PKEY *pub, int64_t now_s, int days)
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

void fingerprint(X509 *x, char out[65])
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

/* The fake Jobs cloud (AWS IoT Jobs device MQTT API): start-next, update, get. */
static void job_execution(Cloud *c, char *buf, size_t size)
{
        snprintf(buf, size,
                 "{\"jobId\":\"%s\",\"thingName\":\"ob-SN0042\",\"jobDocument\":%s,"
                 "\"status\":\"%s\",\"versionNumber\":%lld,\"executionNumber\":1,"
                 "\"queuedAt\":1,\"lastUpdatedAt\":2}",
                 c->job_id, c->job_doc, c->job_status, (long long)c->job_version);
}

static void jobs_request(Cloud *c, const char *topic, json_object *o)
{
        const char *op = strrchr(topic, '/') + 1;
        bool pending = c->job_id[0] && (strcmp(c->job_status, "QUEUED") == 0 ||
                                        strcmp(c->job_status, "IN_PROGRESS") == 0);
        char t[256], x[600], body[800];
        json_object *v;

        snprintf(t, sizeof(t), "%s/accepted", topic);
        if (strcmp(op, "start-next") == 0) {
                c->start_next_calls++;
                if (!pending) {
                        push(c, OB_TEV_MESSAGE, t, "{\"timestamp\":3}");
                        return;
                }
                if (strcmp(c->job_status, "QUEUED") == 0) {
                        snprintf(c->job_status, sizeof(c->job_status), "IN_PROGRESS");
                        c->job_version++;
                }
                job_execution(c, x, sizeof(x));
                snprintf(body, sizeof(body), "{\"execution\":%s,\"timestamp\":3}", x);
                push(c, OB_TEV_MESSAGE, t, body);
        } else if (strcmp(op, "get") == 0) {
                job_execution(c, x, sizeof(x));
                snprintf(body, sizeof(body), "{\"execution\":%s,\"timestamp\":3}", x);
                push(c, OB_TEV_MESSAGE, t, body);
        } else if (strcmp(op, "update") == 0) {
                assert_true(json_object_object_get_ex(o, "status", &v));
                if (!pending) {
                        snprintf(t, sizeof(t), "%s/rejected", topic);
                        push(c, OB_TEV_MESSAGE, t,
                             "{\"code\":\"InvalidStateTransition\",\"message\":\"terminal\","
                             "\"timestamp\":3}");
                        return;
                }
                snprintf(c->job_status, sizeof(c->job_status), "%s", json_object_get_string(v));
                c->job_version++;
                c->job_updates++;
                snprintf(c->job_details, sizeof(c->job_details), "%s",
                         json_object_object_get_ex(o, "statusDetails", &v)
                                 ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
                                 : "");
                snprintf(body, sizeof(body),
                         "{\"executionState\":{\"status\":\"%s\",\"versionNumber\":%lld},"
                         "\"timestamp\":3}",
                         c->job_status, (long long)c->job_version);
                push(c, OB_TEV_MESSAGE, t, body);
        } else
                fail_msg("unexpected jobs request %s", topic);
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
        c->ev.q[c->ev.n - 1].token = *ret_token;
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
                snprintf(c->ev.q[c->ev.n - 1].detail, sizeof(c->ev.q[0].detail),
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
        } else if (strstr(topic, "/shadow/name/onboard-agent/update")) {
                char t[256];

                c->shadow_updates++;
                snprintf(c->last_shadow, sizeof(c->last_shadow), "%s",
                         json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
                if (c->reject_shadow > 0) {
                        c->reject_shadow--;
                        snprintf(t, sizeof(t), "%s/rejected", base);
                        push(c, OB_TEV_MESSAGE, t,
                             "{\"code\":400,\"message\":\"Missing required node: state\"}");
                        goto out;
                }
                snprintf(t, sizeof(t), "%s/accepted", base);
                push(c, OB_TEV_MESSAGE, t, "{\"version\":1}");
        } else if (strstr(topic, "/jobs/")) {
                jobs_request(c, topic, o);
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
        fake_events_clear(&c->ev);
        return 0;
}

static const ObTransportOps fake_ops = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .publish = f_publish,
        .disconnect = f_disconnect,
        .event_fd = fake_events_op_event_fd,
        .next_event = fake_events_op_next_event,
        .free = fake_events_op_free,
};

/* A transport that subscribes to all reply topics with one SUBSCRIBE (like Paho's) */
const ObTransportOps fake_ops_many = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .subscribe_many = f_subscribe_many,
        .publish = f_publish,
        .disconnect = f_disconnect,
        .event_fd = fake_events_op_event_fd,
        .next_event = fake_events_op_next_event,
        .free = fake_events_op_free,
};

/* ... and proves credentials with a probe (like Paho's transport) */
const ObTransportOps fake_ops_probe = {
        .connect = f_connect,
        .subscribe = f_subscribe,
        .subscribe_many = f_subscribe_many,
        .publish = f_publish,
        .probe = f_probe,
        .disconnect = f_disconnect,
        .event_fd = fake_events_op_event_fd,
        .next_event = fake_events_op_next_event,
        .free = fake_events_op_free,
};

/* ------------------------------------------------------------------ the test world */

/* A claim certificate from the fake CA, valid from nb to na (seconds relative to now). */
void make_claim(World *w, const char *crt, const char *key, int64_t nb, int64_t na)
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

void read_text(const char *path, char *buf, size_t size)
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
const ObFsOps *store_ops;

static const char *fake_hardware_token(void *userdata)
{
        World *w = userdata;

        w->token_asks++;
        return "ab12";
}

void new_machine(World *w)
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
void crash(World *w)
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
                 " \"paths\": {\"state_dir\": \"%s\", \"runtime_dir\": \"%s\"},"
                 /* no check-ins unless a test asks (test-onboard-checkin.c): the others count
                  * connections */
                 " \"jobs\": {\"poll_interval_minutes\": 0}, \"shadow\": {\"report\": false}"
                 "%s%s}",
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

World *world_new(const char *extra_json)
{
        return world_new_prov(NULL, extra_json);
}

void world_free(World *w)
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
void pump(World *w)
{
        ObTransportEvent ev;

        while (!w->crashed && fake_events_next(&w->cloud.ev, &ev) == 0) {
                assert_int_equal(ob_onboard_handle_event(w->ob, &ev, w->now), 0);
                ob_transport_event_clear(&ev);
        }
}

/* Let time pass to the machine's deadline (retries, timeouts) and pump; up to n rounds. */
void run_until_settled(World *w, int n)
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

const char *status_str(World *w, const char *key, char *buf, size_t n)
{
        json_object *st = ob_onboard_status(w->ob, w->now), *v;

        buf[0] = 0;
        if (json_object_object_get_ex(st, key, &v) && v)
                snprintf(buf, n, "%s", json_object_get_string(v));
        json_object_put(st);
        return buf;
}

void assert_onboarded(World *w)
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
        /* idle: the only deadline is the renewal (or the old key's deletion, sooner); none
         * with rotation.enabled false */
        if (ob_onboard_next_rotation(w->ob) >= 0)
                assert_true(ob_onboard_deadline(w->ob) <= ob_onboard_next_rotation(w->ob));
        assert_true(ob_onboard_deadline(w->ob) > w->now);
}

/* ------------------------------------------------------------------ tests */

/* ------------------------------------------------------------------ shared steps */

void onboard_now(World *w)
{
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
}

uint64_t current_gen(World *w)
{
        uint64_t g = 0;
        assert_int_equal(ob_creds_current(w->state, &g, NULL), 0);
        return g;
}

size_t slot_count(World *w)
{
        _cleanup_free_ uint64_t *g = NULL;
        size_t n = 0;

        assert_int_equal(ob_creds_list(w->state, &g, &n, NULL), 0);
        return n;
}

/* A factory identity: key and certificate (CN FACTORY_CN) in <state>/factory/, and with_chain
 * a chain.pem. Returns the certificate's id. */
void make_factory(World *w, bool with_chain, char out_id[65])
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

World *world_method(const char *method, const char *extra_prov, const char *extra)
{
        char prov[256];

        snprintf(prov, sizeof(prov), "{\"method\": \"%s\"%s%s}", method, extra_prov ? "," : "",
                 extra_prov ? extra_prov : "");
        return world_new_prov(prov, extra);
}

int64_t min_gap(const Cloud *c)
{
        int64_t g = INT64_MAX;

        for (int i = 1; i < c->connects && i < 64; i++)
                if (c->connect_times[i] - c->connect_times[i - 1] < g)
                        g = c->connect_times[i] - c->connect_times[i - 1];
        return g;
}

const char *error_code(World *w, char *buf, size_t n)
{
        json_object *st = ob_onboard_status(w->ob, w->now), *e, *v;

        buf[0] = 0;
        if (json_object_object_get_ex(st, "last_error", &e) && e &&
            json_object_object_get_ex(e, "code", &v))
                snprintf(buf, n, "%s", json_object_get_string(v));
        json_object_put(st);
        return buf;
}

void assert_factory_onboarded(World *w, const char *id)
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
