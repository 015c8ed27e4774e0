/* SPDX-License-Identifier: Apache-2.0 */
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

#include "config-file.h"
#include "macro.h"

#define GOOD_BASE "\"endpoint\": {\"host\": \"example-ats.iot.eu-west-1.amazonaws.com\"}"

static char tmpdir[256];

static int setup(void **state)
{
        snprintf(tmpdir, sizeof(tmpdir), "%s/test-config-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        assert_non_null(mkdtemp(tmpdir));
        return 0;
}

static int teardown(void **state)
{
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static char *write_file(const char *name, const char *text)
{
        char *p;
        FILE *f;
        assert_true(asprintf(&p, "%s/%s", tmpdir, name) > 0);
        f = fopen(p, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        return p;
}

/* Apply text as file "name" over the defaults, then finish. */
static ObConfig *apply(const char *name, const char *text, ObConfigDiags *d)
{
        ObConfig *c = ob_config_new();
        assert_non_null(c);
        assert_int_equal(ob_config_apply_buffer(c, name, text, strlen(text), d), 0);
        assert_int_equal(ob_config_finish(c, name, d), 0);
        return c;
}

/* Is there a diagnostic of this severity naming file and key whose message contains what? */
static bool has_diag(const ObConfigDiags *d, ObConfigSeverity sev, const char *file,
                     const char *key, const char *what)
{
        for (size_t i = 0; i < d->n; i++) {
                const ObConfigDiag *x = &d->items[i];
                _cleanup_free_ char *line = NULL;
                if (x->severity != sev)
                        continue;
                if (file && (!x->file || strcmp(x->file, file) != 0))
                        continue;
                if (key && (!x->key || strcmp(x->key, key) != 0))
                        continue;
                if (what && !strstr(x->message, what))
                        continue;
                /* the printed line names file and key too */
                assert_int_equal(ob_config_diag_format(x, &line), 0);
                if (file)
                        assert_non_null(strstr(line, file));
                if (key)
                        assert_non_null(strstr(line, key));
                return true;
        }
        return false;
}

static void dump(const ObConfigDiags *d)
{
        (void)ob_config_diags_print(d, stderr);
}

/* ------------------------------------------------------------------ the table itself */

static void test_table_sane(void **state)
{
        size_t n;
        const ObConfigKey *k = ob_config_keys(&n);
        assert_true(n >= 50);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(k[i].name);
                assert_non_null(strchr(k[i].name, '.'));
                assert_non_null(k[i].help);
                assert_true(strlen(k[i].help) > 10);
                assert_true(k[i].type < _OB_CONFIG_TYPE_MAX);
                assert_true(k[i].offset < offsetof(ObConfig, sources));
                if (k[i].type == OB_CONFIG_ENUM)
                        assert_non_null(k[i].values);
                if (k[i].type == OB_CONFIG_UINT || k[i].type == OB_CONFIG_DURATION ||
                    k[i].type == OB_CONFIG_HANDLE)
                        assert_true(k[i].min <= k[i].max);
                for (size_t j = i + 1; j < n; j++)
                        assert_string_not_equal(k[i].name, k[j].name);
                assert_ptr_equal(ob_config_key_find(k[i].name, NULL), &k[i]);
        }
        assert_null(ob_config_key_find("endpoint", NULL));
        assert_null(ob_config_key_find("nope.nope", NULL));
}

static void test_defaults(void **state)
{
        _cleanup_config_ ObConfig *c = ob_config_new();
        assert_non_null(c);
        assert_null(c->endpoint.host);
        assert_int_equal(c->endpoint.port, 8883);
        assert_false(c->endpoint.alpn);
        assert_string_equal(c->endpoint.root_ca, "/etc/ssl/certs/Amazon_Root_CA_1.pem");
        assert_string_equal(c->endpoint.client_id, "{thing_name}");
        assert_int_equal(c->endpoint.keepalive_ms, 60000);
        assert_int_equal(c->endpoint.connect_timeout_ms, 30000);
        assert_int_equal(c->provisioning.method, OB_METHOD_UNSET);
        assert_int_equal(c->provisioning.payload_format, OB_PAYLOAD_JSON);
        assert_int_equal(c->provisioning.jitp_max_refusals, 5);
        assert_non_null(c->provisioning.parameters);
        assert_null(c->provisioning.parameters[0]);
        assert_string_equal(c->identity.serial_sources[0], "dmi");
        assert_string_equal(c->identity.serial_sources[2], "machine-id");
        assert_null(c->identity.serial_sources[3]);
        assert_int_equal(c->key.backend, OB_KEY_BACKEND_TPM);
        assert_int_equal(c->key.type, OB_KEY_TYPE_EC_P256);
        assert_string_equal(c->tpm.tcti, "device:/dev/tpmrm0");
        assert_int_equal(c->tpm.srk_handle, 0x81000001);
        assert_int_equal(c->tpm.vendor_key_handle, 0);
        assert_string_equal(c->paths.state_dir, "/var/lib/onboard-agent");
        assert_string_equal(c->paths.runtime_dir, "/run/onboard-agent");
        assert_true(c->rotation.enabled);
        assert_true(c->rotation.lifetime_fraction > 0.79 && c->rotation.lifetime_fraction < 0.81);
        assert_int_equal(c->rotation.days_before_expiry, 30);
        assert_int_equal(c->retry.network.base_ms, 1000);
        assert_int_equal(c->retry.network.cap_ms, 300000);
        assert_int_equal(c->retry.rejected.cap_ms, 6 * 3600 * 1000);
        assert_int_equal(c->retry.local_ms, 30000); /* TPM or disk trouble: a fixed pace */
        assert_int_equal(c->log.level, OB_CONFIG_LOG_INFO);
        assert_string_equal(c->control.group, "onboard-agent");
        for (size_t i = 0, n = 0; ob_config_keys(&n) && i < n; i++)
                assert_null(c->sources[i]);
}

/* ------------------------------------------------------------------ every type, valid */

static void test_every_type_valid(void **state)
{
        ObConfigDiags d = {0};
        _cleanup_config_ ObConfig *c = apply(
                "t.json",
                "{ \"endpoint\": { \"host\": \"h.example\", \"port\": 1883, \"alpn\": true,"
                "   \"root_ca\": \"/x/ca.pem\", \"keepalive\": \"2min\", \"connect_timeout\": 1.5,"
                "   \"step_timeout\": \"1500ms\" },"
                "  \"provisioning\": { \"method\": \"fleet-claim\", \"template\": \"T_1-x\","
                "   \"parameters\": { \"Serial\": \"{serial}\", \"Lit\": \"{{x}}\" },"
                "   \"claim_cert\": \"/c.crt\", \"claim_key\": \"/c.key\","
                "   \"payload_format\": \"cbor\" },"
                "  \"identity\": { \"serial_sources\": [\"file:/etc/serial\", \"dmi\"] },"
                "  \"tpm\": { \"srk_handle\": \"0x81000002\", \"vendor_key_handle\": \"0x81010001\" },"
                "  \"rotation\": { \"lifetime_fraction\": 0.5, \"enabled\": false },"
                "  \"retry\": { \"rejected\": { \"base\": \"1d\", \"cap\": \"2d\" } } }",
                &d);
        dump(&d);
        assert_int_equal(d.n_errors, 0);
        assert_string_equal(c->endpoint.host, "h.example");
        assert_int_equal(c->endpoint.port, 1883);
        assert_true(c->endpoint.alpn);
        assert_string_equal(c->endpoint.root_ca, "/x/ca.pem");
        assert_int_equal(c->endpoint.keepalive_ms, 120000);
        assert_int_equal(c->endpoint.connect_timeout_ms, 1500);
        assert_int_equal(c->endpoint.step_timeout_ms, 1500);
        assert_int_equal(c->provisioning.method, OB_METHOD_FLEET_CLAIM);
        assert_string_equal(c->provisioning.template_name, "T_1-x");
        assert_string_equal(c->provisioning.parameters[0], "Serial");
        assert_string_equal(c->provisioning.parameters[1], "{serial}");
        assert_string_equal(c->provisioning.parameters[2], "Lit");
        assert_null(c->provisioning.parameters[4]);
        assert_int_equal(c->provisioning.payload_format, OB_PAYLOAD_CBOR);
        assert_string_equal(c->identity.serial_sources[0], "file:/etc/serial");
        assert_null(c->identity.serial_sources[2]);
        assert_int_equal(c->tpm.srk_handle, 0x81000002);
        assert_int_equal(c->tpm.vendor_key_handle, 0x81010001);
        assert_false(c->rotation.enabled);
        assert_true(c->rotation.lifetime_fraction == 0.5);
        assert_int_equal(c->retry.rejected.base_ms, 86400000ULL);
        assert_int_equal(c->retry.rejected.cap_ms, 2 * 86400000ULL);
        /* explicit port wins over ALPN's 443, with a warning */
        assert_true(has_diag(&d, OB_CONFIG_WARNING, "t.json", "endpoint.port", "443"));
        assert_string_equal(c->sources[0], "t.json");
        ob_config_diags_clear(&d);
}

static void test_comments_allowed(void **state)
{
        ObConfigDiags d = {0};
        _cleanup_config_ ObConfig *c =
                apply("c.json",
                      "/* head */\n{\n // line comment\n " GOOD_BASE ", /* inline */\n"
                      " \"provisioning\": {\"method\": \"static\"} // tail\n}\n// end\n/* x */\n",
                      &d);
        dump(&d);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(c->provisioning.method, OB_METHOD_STATIC);
        ob_config_diags_clear(&d);
}

/* ------------------------------------------------------------------ every error kind */

struct bad_case {
        const char *json; /* inside the top-level object, after GOOD_BASE and method */
        const char *key;
        const char *message;
};

static void test_every_error_kind(void **state)
{
        static const struct bad_case cases[] = {
                {"\"endpoint\": {\"port\": 0}", "endpoint.port", "out of range 1..65535"},
                {"\"endpoint\": {\"port\": 65536}", "endpoint.port", "out of range"},
                {"\"endpoint\": {\"port\": -1}", "endpoint.port", "out of range"},
                {"\"endpoint\": {\"port\": \"8883\"}", "endpoint.port",
                 "expected an unsigned integer, got a string"},
                {"\"endpoint\": {\"port\": 1.5}", "endpoint.port", "got a fractional number"},
                {"\"endpoint\": {\"alpn\": 1}", "endpoint.alpn", "expected true or false"},
                {"\"endpoint\": {\"host\": \"mqtt://x\"}", "endpoint.host", "not a URL"},
                {"\"endpoint\": {\"host\": \"\"}", "endpoint.host", "length 0"},
                {"\"endpoint\": {\"root_ca\": \"rel/ca.pem\"}", "endpoint.root_ca",
                 "not an absolute path"},
                {"\"endpoint\": {\"root_ca\": [\"/a\"]}", "endpoint.root_ca",
                 "expected a path string, got an array"},
                {"\"endpoint\": {\"client_id\": \"{nope}\"}", "endpoint.client_id",
                 "unknown placeholder {nope}"},
                {"\"endpoint\": {\"client_id\": \"{serial\"}", "endpoint.client_id",
                 "not a valid template"},
                {"\"endpoint\": {\"keepalive\": 10}", "endpoint.keepalive",
                 "out of range 30s..20min"},
                {"\"endpoint\": {\"keepalive\": \"1 fortnight\"}", "endpoint.keepalive",
                 "unknown unit"},
                {"\"endpoint\": {\"keepalive\": true}", "endpoint.keepalive",
                 "expected a duration"},
                {"\"endpoint\": {\"keepalive\": -5}", "endpoint.keepalive", "non-negative"},
                {"\"endpoint\": {\"prot\": 1}", "endpoint.prot", "did you mean \"endpoint.port\""},
                {"\"endpont\": {}", "endpont", "did you mean \"endpoint\""},
                {"\"zzzzzzzzzz\": 1", "zzzzzzzzzz", "unknown key"},
                {"\"endpoint\": 5", "endpoint", "is a section: expected an object"},
                {"\"provisioning\": {\"payload_format\": \"xml\"}", "provisioning.payload_format",
                 "\"xml\" is not one of json|cbor"},
                /* an enum value in another case, or with a typo: the nearest one is named */
                {"\"provisioning\": {\"payload_format\": \"CBOR\"}", "provisioning.payload_format",
                 "is not one of json|cbor (did you mean \"cbor\"?)"},
                {"\"provisioning\": {\"method\": \"fleet_claim\"}", "provisioning.method",
                 "(did you mean \"fleet-claim\"?)"},
                {"\"key\": {\"backend\": \"tmp\"}", "key.backend", "(did you mean \"tpm\"?)"},
                {"\"provisioning\": {\"template\": \"has space\"}", "provisioning.template",
                 "not a provisioning template name"},
                {"\"provisioning\": {\"parameters\": {\"a\": 1}}", "provisioning.parameters",
                 "expected a string, got an integer"},
                {"\"provisioning\": {\"parameters\": {\"a\": \"{bad}\"}}",
                 "provisioning.parameters.a", "unknown placeholder {bad}"},
                {"\"provisioning\": {\"parameters\": []}", "provisioning.parameters",
                 "expected an object of strings"},
                {"\"provisioning\": {\"jitp_max_refusals\": 0}", "provisioning.jitp_max_refusals",
                 "out of range 1..1000"},
                {"\"identity\": {\"serial_sources\": []}", "identity.serial_sources",
                 "has 0 entries"},
                {"\"identity\": {\"serial_sources\": [\"bios\"]}", "identity.serial_sources",
                 "entry 0: \"bios\" is not a serial source"},
                {"\"identity\": {\"serial_sources\": [3]}", "identity.serial_sources",
                 "entry 0: expected a string"},
                {"\"identity\": {\"serial_sources\": \"dmi\"}", "identity.serial_sources",
                 "expected an array of strings"},
                {"\"tpm\": {\"srk_handle\": \"0x40000001\"}", "tpm.srk_handle",
                 "not a persistent handle"},
                {"\"tpm\": {\"srk_handle\": \"81000001\"}", "tpm.srk_handle", "not a hex handle"},
                {"\"tpm\": {\"srk_handle\": \"0x8100000g\"}", "tpm.srk_handle", "not a hex handle"},
                {"\"tpm\": {\"srk_handle\": 2164260865}", "tpm.srk_handle",
                 "expected a TPM handle as a hex string"},
                {"\"tpm\": {\"tcti\": \"dev ice\"}", "tpm.tcti", "not a TCTI"},
                {"\"rotation\": {\"lifetime_fraction\": 1.5}", "rotation.lifetime_fraction",
                 "out of range 0.1..0.99"},
                {"\"rotation\": {\"lifetime_fraction\": \"0.8\"}", "rotation.lifetime_fraction",
                 "expected a number"},
                {"\"rotation\": {\"reload_unit\": \"app\"}", "rotation.reload_unit",
                 "not a systemd unit name"},
                {"\"rotation\": {\"hook\": \"reload.sh\"}", "rotation.hook", "absolute path"},
                {"\"rotation\": {\"old_cert_topic\": \"a/#\"}", "rotation.old_cert_topic",
                 "no wildcards"},
                {"\"retry\": {\"tls\": {\"cap\": \"30d\"}}", "retry.tls.cap",
                 "out of range 1s..7d"},
                {"\"retry\": {\"tls\": {\"base\": \"1h\", \"cap\": \"10min\"}}", "retry.tls.cap",
                 "cap 10min is smaller than base 1h"},
                {"\"log\": {\"level\": \"verbose\"}", "log.level", "not one of err|warning"},
                {"\"control\": {\"group\": \"Wheel!\"}", "control.group", "not a valid group"},
                {"\"control\": {\"group\": \"4294967295\"}", "control.group", "numeric gid"},
                {"\"control\": {\"group\": \"12a\"}", "control.group", "numeric gid"},
        };

        for (size_t i = 0; i < OB_ELEMENTSOF(cases); i++) {
                ObConfigDiags d = {0};
                _cleanup_free_ char *text = NULL;
                _cleanup_config_ ObConfig *c = NULL;
                /* json-c keeps the last of duplicate keys: the case's section wins */
                assert_true(asprintf(&text,
                                     "{ %s, \"provisioning\": {\"method\": \"static\"}, %s }",
                                     GOOD_BASE, cases[i].json) > 0);
                c = apply("bad.json", text, &d);
                if (!has_diag(&d, OB_CONFIG_ERROR, "bad.json", cases[i].key, cases[i].message)) {
                        fprintf(stderr, "case %zu (%s) did not report %s: %s; got:\n", i,
                                cases[i].json, cases[i].key, cases[i].message);
                        dump(&d);
                        fail();
                }
                ob_config_diags_clear(&d);
        }
}

static void test_group_gid(void **state)
{
        uint32_t gid = 1;

        assert_true(ob_config_group_is_gid("0", &gid));
        assert_int_equal(gid, 0);
        assert_true(ob_config_group_is_gid("4294967294", &gid));
        assert_int_equal(gid, 4294967294u);
        assert_true(ob_config_group_is_gid("990", NULL));
        assert_false(ob_config_group_is_gid("4294967295", NULL)); /* (gid_t)-1 */
        assert_false(ob_config_group_is_gid("99999999999", NULL));
        assert_false(ob_config_group_is_gid("", NULL));
        assert_false(ob_config_group_is_gid("-1", NULL));
        assert_false(ob_config_group_is_gid("onboard-agent", NULL));
        assert_false(ob_config_group_is_gid("12a", NULL));

        ObConfigDiags d = {0};
        _cleanup_config_ ObConfig *c = apply("g.json",
                                             "{ " GOOD_BASE ", \"provisioning\": {\"method\": "
                                             "\"static\"}, \"control\": {\"group\": \"990\"} }",
                                             &d);
        dump(&d);
        assert_int_equal(d.n_errors, 0);
        assert_string_equal(c->control.group, "990");
        ob_config_diags_clear(&d);
}

static void test_errors_are_all_collected(void **state)
{
        ObConfigDiags d = {0};
        _cleanup_config_ ObConfig *c =
                apply("many.json",
                      "{\"endpoint\": {\"port\": 0, \"alpn\": \"no\", \"bogus\": 1},"
                      " \"log\": {\"level\": \"loud\"}}",
                      &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "many.json", "endpoint.port", NULL));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "many.json", "endpoint.alpn", NULL));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "many.json", "endpoint.bogus", NULL));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "many.json", "log.level", NULL));
        /* and the missing required keys, named against the main file */
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "many.json", "endpoint.host", "required"));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "many.json", "provisioning.method", "required"));
        assert_int_equal(d.n_errors, 6);
        /* a bad value keeps the default */
        assert_int_equal(c->endpoint.port, 8883);
        ob_config_diags_clear(&d);
}

static void test_malformed_json(void **state)
{
        static const struct {
                const char *text;
                unsigned line, column;
                const char *message;
        } cases[] = {
                {"{\n  \"a\": tru\n}", 2, 0, "malformed JSON"},
                {"{\n \"endpoint\": {\"port\": 1\n", 3, 0, "unexpected end of file"},
                {"{} {}", 1, 4, "trailing data"},
                {"[1, 2]", 0, 0, "top level must be an object"},
                {"", 0, 0, "file is empty"},
                {"  // only a comment\n", 0, 0, "file is empty"},
        };
        for (size_t i = 0; i < OB_ELEMENTSOF(cases); i++) {
                ObConfigDiags d = {0};
                _cleanup_config_ ObConfig *c = ob_config_new();
                assert_int_equal(ob_config_apply_buffer(c, "m.json", cases[i].text,
                                                        strlen(cases[i].text), &d),
                                 0);
                assert_int_equal(d.n_errors, 1);
                assert_string_equal(d.items[0].file, "m.json");
                assert_null(d.items[0].key);
                assert_non_null(strstr(d.items[0].message, cases[i].message));
                assert_int_equal(d.items[0].line, cases[i].line);
                if (cases[i].column)
                        assert_int_equal(d.items[0].column, cases[i].column);
                ob_config_diags_clear(&d);
        }
        /* an embedded NUL byte */
        {
                ObConfigDiags d = {0};
                _cleanup_config_ ObConfig *c = ob_config_new();
                assert_int_equal(ob_config_apply_buffer(c, "n.json", "{\n\0}", 4, &d), 0);
                assert_true(has_diag(&d, OB_CONFIG_ERROR, "n.json", NULL, "NUL"));
                assert_int_equal(d.items[0].line, 2);
                ob_config_diags_clear(&d);
        }
}

/* Key errors carry the line and column of the key, found past comments and look-alikes. */
static void test_key_positions(void **state)
{
        ObConfigDiags d = {0};
        const ObConfigDiag *x;
        _cleanup_config_ ObConfig *c =
                apply("p.json",
                      "{\n"
                      " // \"endpoint\": { \"port\": 0 }\n"
                      " \"x\": [ { \"port\": 1 } ],\n"
                      " \"endpoint\": {\n"
                      "   \"port\": 1, /* \"port\": 2 */\n"
                      "   \"port\": 0 },\n"
                      " \"provisioning\": { \"parameters\": {\"k\": \"{no}\"}}\n"
                      "}\n",
                      &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "p.json", "endpoint.port", "out of range"));
        for (size_t i = 0; i < d.n; i++) {
                x = &d.items[i];
                if (!x->key)
                        continue;
                if (strcmp(x->key, "endpoint.port") == 0) {
                        assert_int_equal(x->line, 6); /* the last duplicate: json-c keeps it */
                        assert_int_equal(x->column, 4);
                } else if (strcmp(x->key, "x") == 0) {
                        assert_int_equal(x->line, 3);
                } else if (strcmp(x->key, "provisioning.parameters.k") == 0) {
                        assert_int_equal(x->line, 7);
                        assert_int_equal(x->column, 35);
                } else
                        assert_int_equal(x->line, 0); /* not in the file: required keys */
        }
        ob_config_diags_clear(&d);
}

static void test_unreadable_files(void **state)
{
        ObConfigDiags d = {0};
        ObConfig *c = NULL;
        _cleanup_free_ char *missing = NULL;
        _cleanup_free_ char *dir = NULL;

        assert_true(asprintf(&missing, "%s/does-not-exist.json", tmpdir) > 0);
        assert_int_equal(ob_config_load(missing, NULL, &c, &d), -EINVAL);
        assert_null(c);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, missing, NULL, "cannot open"));
        ob_config_diags_clear(&d);

        /* a directory is not a config file */
        assert_true(asprintf(&dir, "%s/adir.json", tmpdir) > 0);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(ob_config_load(dir, "/nonexistent", &c, &d), -EINVAL);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, dir, NULL, "not a regular file"));
        ob_config_diags_clear(&d);
}

/* ------------------------------------------------------------------ drop-ins */

static void test_dropin_order(void **state)
{
        _cleanup_free_ char *main_file = NULL, *d10 = NULL, *d20 = NULL, *d05 = NULL, *skip1 = NULL,
                            *skip2 = NULL, *dird = NULL;
        ObConfigDiags d = {0};
        ObConfig *c = NULL;
        char sub[300];

        main_file = write_file("config.json",
                               "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\"},"
                               " \"endpoint\": {\"host\": \"main.example\", \"port\": 1001},"
                               " \"log\": {\"level\": \"err\"}, \"tpm\": {\"tcti\": \"mssim:\"}}");
        snprintf(sub, sizeof(sub), "%s/config.d", tmpdir);
        assert_int_equal(mkdir(sub, 0700), 0);
        /* written out of order on purpose: lexical order decides */
        d20 = write_file("config.d/20-late.json", "{\"endpoint\": {\"port\": 3003}}");
        d10 = write_file("config.d/10-early.json",
                         "{\"endpoint\": {\"port\": 2002, \"alpn\": true},"
                         " \"log\": {\"level\": \"debug\"}}");
        d05 = write_file("config.d/05-reset.json", "{\"tpm\": {\"tcti\": null}}");
        skip1 = write_file("config.d/30-ignored.conf", "not json at all");
        skip2 = write_file("config.d/.40-hidden.json", "not json either");
        assert_true(asprintf(&dird, "%s/config.d/50-dir.json", tmpdir) > 0);
        assert_int_equal(mkdir(dird, 0700), 0);

        assert_int_equal(ob_config_load(main_file, NULL, &c, &d), 0);
        dump(&d);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(c->endpoint.port, 3003);
        assert_true(c->endpoint.alpn);
        assert_string_equal(c->endpoint.host, "main.example");
        assert_int_equal(c->log.level, OB_CONFIG_LOG_DEBUG);
        assert_string_equal(c->tpm.tcti, "device:/dev/tpmrm0"); /* null reset to default */

        {
                size_t ip, ih, il, it;
                assert_non_null(ob_config_key_find("endpoint.port", &ip));
                assert_non_null(ob_config_key_find("endpoint.host", &ih));
                assert_non_null(ob_config_key_find("log.level", &il));
                assert_non_null(ob_config_key_find("tpm.tcti", &it));
                assert_string_equal(c->sources[ip], d20);
                assert_string_equal(c->sources[ih], main_file);
                assert_string_equal(c->sources[il], d10);
                assert_null(c->sources[it]);
        }
        /* the ALPN port warning names the file that set the port */
        assert_true(has_diag(&d, OB_CONFIG_WARNING, d20, "endpoint.port", "443"));
        ob_config_free(c);
        c = NULL;
        ob_config_diags_clear(&d);

        /* an error in a drop-in names the drop-in, and errors in several files are all kept */
        unlink(d10);
        free(d10);
        d10 = write_file("config.d/10-early.json", "{\"endpoint\": {\"port\": \"x\"}}");
        free(d20);
        d20 = write_file("config.d/20-late.json", "{\"log\": {\"lvl\": 1}}");
        assert_int_equal(ob_config_load(main_file, NULL, &c, &d), -EINVAL);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, d10, "endpoint.port", "expected"));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, d20, "log.lvl", "did you mean \"log.level\""));
        ob_config_diags_clear(&d);

        {
                _cleanup_free_ char *dd =
                        ob_config_dropin_dir_for("/etc/onboard-agent/config.json");
                assert_string_equal(dd, "/etc/onboard-agent/config.d");
        }
}

/* ------------------------------------------------------------------ cross-key rules */

static void test_cross_key_rules(void **state)
{
        ObConfigDiags d = {0};
        ObConfig *c;

        /* fleet-claim needs template, claim cert and key; they are named */
        c = apply("x.json", "{" GOOD_BASE ", \"provisioning\": {\"method\": \"fleet-claim\"}}", &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "provisioning.template",
                             "required when provisioning.method is fleet-claim"));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "provisioning.claim_cert", NULL));
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "provisioning.claim_key", NULL));
        assert_int_equal(d.n_errors, 3);
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* trusted user: template only; a claim cert is pointless there (warning) */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"fleet-trusted-user\","
                  " \"template\": \"T\", \"claim_cert\": \"/c\"}}",
                  &d);
        assert_int_equal(d.n_errors, 0);
        assert_true(has_diag(&d, OB_CONFIG_WARNING, "x.json", "provisioning.claim_cert",
                             "no effect when provisioning.method is fleet-trusted-user"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* CreateKeysAndCertificate needs the software backend */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"fleet-trusted-user\","
                  " \"template\": \"T\", \"create_keys\": true}}",
                  &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "provisioning.create_keys",
                             "key.backend software"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* software backend with TPM options: warning per TPM key */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\"},"
                  " \"key\": {\"backend\": \"software\"}, \"tpm\": {\"tcti\": \"mssim:\"}}",
                  &d);
        assert_int_equal(d.n_errors, 0);
        assert_true(has_diag(&d, OB_CONFIG_WARNING, "x.json", "tpm.tcti",
                             "no effect with key.backend software"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* device_key is a file key: error with the TPM backend */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\","
                  " \"device_key\": \"/k.pem\"}}",
                  &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "provisioning.device_key", "tpm"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* vendor key handle must not be the SRK */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\"},"
                  " \"tpm\": {\"vendor_key_handle\": \"0x81000001\"}}",
                  &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "tpm.vendor_key_handle",
                             "also tpm.srk_handle"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* the fleet methods make their own key: a vendor key handle has no effect there */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"fleet-claim\","
                  " \"template\": \"T\", \"claim_cert\": \"/c\", \"claim_key\": \"/k\"},"
                  " \"tpm\": {\"vendor_key_handle\": \"0x81000010\"}}",
                  &d);
        assert_int_equal(d.n_errors, 0);
        assert_true(has_diag(&d, OB_CONFIG_WARNING, "x.json", "tpm.vendor_key_handle",
                             "no effect when provisioning.method is fleet-claim"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* ALPN without a port means 443 */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"jitp\"},"
                  " \"endpoint\": {\"host\": \"h\", \"alpn\": true}}",
                  &d);
        assert_int_equal(d.n_errors, 0);
        assert_int_equal(c->endpoint.port, 443);
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* a method-specific key used with another method */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\","
                  " \"jitp_max_refusals\": 3, \"template\": \"T\"}}",
                  &d);
        assert_int_equal(d.n_errors, 0);
        assert_true(has_diag(&d, OB_CONFIG_WARNING, "x.json", "provisioning.jitp_max_refusals",
                             "no effect"));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* rotation without any template: warning */
        c = apply("x.json", "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\"}}", &d);
        assert_int_equal(d.n_errors, 0);
        assert_true(has_diag(&d, OB_CONFIG_WARNING, "x.json", "rotation.template", NULL));
        ob_config_free(c);
        ob_config_diags_clear(&d);

        /* state and runtime directories must differ */
        c = apply("x.json",
                  "{" GOOD_BASE ", \"provisioning\": {\"method\": \"static\"},"
                  " \"paths\": {\"runtime_dir\": \"/var/lib/onboard-agent\"}}",
                  &d);
        assert_true(has_diag(&d, OB_CONFIG_ERROR, "x.json", "paths.runtime_dir", "differ"));
        ob_config_free(c);
        ob_config_diags_clear(&d);
}

/* ------------------------------------------------------------------ output and templates */

static void test_show_round_trip(void **state)
{
        ObConfigDiags d = {0};
        _cleanup_config_ ObConfig *a =
                apply("a.json",
                      "{" GOOD_BASE ", \"provisioning\": {\"method\": \"fleet-claim\","
                      " \"template\": \"T\", \"claim_cert\": \"/c\", \"claim_key\": \"/k\","
                      " \"parameters\": {\"S\": \"{serial}\"}},"
                      " \"endpoint\": {\"host\": \"h\", \"keepalive\": 90, \"step_timeout\": 2.25},"
                      " \"tpm\": {\"vendor_key_handle\": \"0x81000010\"},"
                      " \"rotation\": {\"lifetime_fraction\": 0.75}}",
                      &d);
        json_object *ja, *jb, *nested;
        size_t n;
        const ObConfigKey *keys = ob_config_keys(&n);
        _cleanup_config_ ObConfig *b = ob_config_new();

        assert_int_equal(d.n_errors, 0);
        ob_config_diags_clear(&d);
        ja = ob_config_to_json(a);
        assert_non_null(ja);
        /* feed every shown value back in: the same configuration comes out */
        nested = json_object_new_object();
        for (size_t i = 0; i < n; i++) {
                char section[64], *dot;
                json_object *sec = nested, *v, *e;
                const char *rest = keys[i].name;
                assert_true(json_object_object_get_ex(ja, keys[i].name, &e));
                assert_true(json_object_object_get_ex(e, "value", &v));
                if (json_object_is_type(v, json_type_null))
                        continue;
                while ((dot = strchr(rest, '.'))) {
                        json_object *s;
                        snprintf(section, sizeof(section), "%.*s", (int)(dot - rest), rest);
                        if (!json_object_object_get_ex(sec, section, &s)) {
                                s = json_object_new_object();
                                json_object_object_add(sec, section, s);
                        }
                        sec = s;
                        rest = dot + 1;
                }
                json_object_object_add(sec, rest, json_object_get(v));
        }
        {
                const char *text = json_object_to_json_string(nested);
                assert_int_equal(ob_config_apply_buffer(b, "b.json", text, strlen(text), &d), 0);
                assert_int_equal(ob_config_finish(b, "b.json", &d), 0);
        }
        dump(&d);
        assert_int_equal(d.n_errors, 0);
        jb = ob_config_to_json(b);
        for (size_t i = 0; i < n; i++) {
                json_object *ea, *eb, *va, *vb;
                assert_true(json_object_object_get_ex(ja, keys[i].name, &ea));
                assert_true(json_object_object_get_ex(jb, keys[i].name, &eb));
                assert_true(json_object_object_get_ex(ea, "value", &va));
                assert_true(json_object_object_get_ex(eb, "value", &vb));
                if (!json_object_equal(va, vb))
                        fail_msg("%s: %s != %s", keys[i].name, json_object_to_json_string(va),
                                 json_object_to_json_string(vb));
        }
        assert_int_equal(b->endpoint.step_timeout_ms, 2250);
        json_object_put(ja);
        json_object_put(jb);
        json_object_put(nested);
        ob_config_diags_clear(&d);
}

static void test_template_expand(void **state)
{
        const char *vars[] = {"serial", "A1", "thing_name", "gw-7", NULL};
        char *s = NULL;
        assert_int_equal(ob_config_template_expand("{thing_name}/{serial}-{{x}}", vars, &s), 0);
        assert_string_equal(s, "gw-7/A1-{x}");
        free(s);
        assert_int_equal(ob_config_template_expand("plain", vars, &s), 0);
        assert_string_equal(s, "plain");
        free(s);
        assert_int_equal(ob_config_template_expand("{machine_id}", vars, &s), -ENOENT);
        assert_int_equal(ob_config_template_expand("{serial", vars, &s), -EINVAL);
        assert_int_equal(ob_config_template_expand("a}b", vars, &s), -EINVAL);
}

static void test_diag_format_and_json(void **state)
{
        ObConfigDiags d = {0};
        _cleanup_free_ char *line = NULL;
        json_object *j, *e, *v;
        _cleanup_config_ ObConfig *c = apply("f.json", "{\n\"endpoint\": {\"port\": 0}}", &d);

        assert_true(d.n >= 1);
        assert_int_equal(ob_config_diag_format(&d.items[0], &line), 0);
        assert_string_equal(line, "f.json:2:14: error: endpoint.port: 0 is out of range 1..65535");
        j = ob_config_diags_to_json(&d);
        assert_non_null(j);
        assert_int_equal(json_object_array_length(j), d.n);
        e = json_object_array_get_idx(j, 0);
        assert_true(json_object_object_get_ex(e, "key", &v));
        assert_string_equal(json_object_get_string(v), "endpoint.port");
        assert_true(json_object_object_get_ex(e, "file", &v));
        assert_string_equal(json_object_get_string(v), "f.json");
        assert_true(json_object_object_get_ex(e, "severity", &v));
        assert_string_equal(json_object_get_string(v), "error");
        json_object_put(j);
        ob_config_diags_clear(&d);
}

/* ------------------------------------------------------------------ docs agree with the table */

static char *slurp(const char *rel)
{
        const char *top = getenv("top_srcdir");
        _cleanup_free_ char *p = NULL;
        char *buf;
        FILE *f;
        long n;

        assert_true(asprintf(&p, "%s/%s", top ? top : "../..", rel) > 0);
        f = fopen(p, "re");
        if (!f)
                fail_msg("cannot open %s (set top_srcdir)", p);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        buf = calloc(1, (size_t)n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        return buf;
}

/* Each key has an entry "### `key`" in the reference, and each such entry is a key. */
static void test_docs_match_table(void **state)
{
        _cleanup_free_ char *md = slurp("docs/configuration.md");
        _cleanup_free_ char *man = slurp("docs/man/onboard-agent.json.5");
        _cleanup_free_ char *example = slurp("config/config.json");
        size_t n;
        const ObConfigKey *keys = ob_config_keys(&n);
        unsigned bad = 0;

        for (size_t i = 0; i < n; i++) {
                char needle[128];
                const char *leaf = strrchr(keys[i].name, '.') + 1;
                snprintf(needle, sizeof(needle), "### `%s`", keys[i].name);
                if (!strstr(md, needle)) {
                        fprintf(stderr, "docs/configuration.md: no entry \"%s\"\n", needle);
                        bad++;
                }
                snprintf(needle, sizeof(needle), ".B %s\n", keys[i].name);
                if (!strstr(man, needle)) {
                        fprintf(stderr, "docs/man/onboard-agent.json.5: no \"%s\"\n", keys[i].name);
                        bad++;
                }
                snprintf(needle, sizeof(needle), "\"%s\"", leaf);
                if (!strstr(example, needle)) {
                        fprintf(stderr, "config/config.json: no \"%s\" (%s)\n", leaf, keys[i].name);
                        bad++;
                }
        }
        /* the other direction: every documented key exists */
        for (const char *p = md; (p = strstr(p, "### `")); p += 5) {
                char name[128];
                const char *e = strchr(p + 5, '`');
                assert_non_null(e);
                snprintf(name, sizeof(name), "%.*s", (int)(e - p - 5), p + 5);
                if (!ob_config_key_find(name, NULL)) {
                        fprintf(stderr, "docs/configuration.md documents unknown key %s\n", name);
                        bad++;
                }
        }
        /* in the man page a key entry is ".TP" then ".B key" */
        for (const char *p = man; (p = strstr(p, "\n.TP\n.B ")); p += 8) {
                char name[128];
                const char *e = strchr(p + 8, '\n');
                assert_non_null(e);
                snprintf(name, sizeof(name), "%.*s", (int)(e - p - 8), p + 8);
                if (strchr(name, '.') && !strchr(name, ' ') && !strchr(name, '/') &&
                    !ob_config_key_find(name, NULL)) {
                        fprintf(stderr, "onboard-agent.json.5 documents unknown key %s\n", name);
                        bad++;
                }
        }
        assert_int_equal(bad, 0);
}

/* Each key's line in docs/configuration.md shows the table's type, default, range and
 * "required" (ob_config_key_range/_required, also what `agentctl config keys` prints). */
static void test_docs_fields_match_table(void **state)
{
        _cleanup_free_ char *md = slurp("docs/configuration.md");
        size_t n;
        const ObConfigKey *keys = ob_config_keys(&n);
        unsigned bad = 0;

        (void)state;
        for (size_t i = 0; i < n; i++) {
                const ObConfigKey *k = &keys[i];
                char range[256], req[128], def[256], want[1024];

                ob_config_key_range(k, range, sizeof(range));
                ob_config_key_required(k, req, sizeof(req));
                if (k->def)
                        snprintf(def, sizeof(def), "`%s`", k->def);
                else
                        snprintf(def, sizeof(def), "unset");
                snprintf(want, sizeof(want),
                         "### `%s`\n\n- Type: %s \xc2\xb7 Default: %s%s%s \xc2\xb7 "
                         "Required: %s",
                         k->name, ob_config_type_to_string(k->type), def,
                         range[0] ? " \xc2\xb7 Range: " : "", range, req);
                if (!strstr(md, want)) {
                        fprintf(stderr, "docs/configuration.md: no \"%s\"\n", want);
                        bad++;
                }
        }
        assert_string_equal(ob_config_type_to_string(_OB_CONFIG_TYPE_MAX), "unknown");
        assert_int_equal(bad, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_sane),
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_every_type_valid),
                cmocka_unit_test(test_comments_allowed),
                cmocka_unit_test(test_every_error_kind),
                cmocka_unit_test(test_group_gid),
                cmocka_unit_test(test_errors_are_all_collected),
                cmocka_unit_test(test_malformed_json),
                cmocka_unit_test(test_key_positions),
                cmocka_unit_test_setup_teardown(test_unreadable_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dropin_order, setup, teardown),
                cmocka_unit_test(test_cross_key_rules),
                cmocka_unit_test(test_show_round_trip),
                cmocka_unit_test(test_template_expand),
                cmocka_unit_test(test_diag_format_and_json),
                cmocka_unit_test(test_docs_match_table),
                cmocka_unit_test(test_docs_fields_match_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
