/* SPDX-License-Identifier: Apache-2.0 */
/* Where the factory identity is looked for (lib/factory-paths.h): the defaults under
 * <state_dir>/factory/, configured paths winning one by one, and the vendor's handle key. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config-file.h"
#include "factory-paths.h"

static ObConfig *load(const char *json)
{
        ObConfigDiags d = {0};
        ObConfig *c = ob_config_new();

        assert_non_null(c);
        assert_int_equal(ob_config_apply_buffer(c, "t.json", json, strlen(json), &d), 0);
        ob_config_finish(c, "t.json", &d);
        if (d.n_errors)
                ob_config_diags_print(&d, stderr);
        assert_int_equal(d.n_errors, 0);
        ob_config_diags_clear(&d);
        return c;
}

#define BASE                                                                                       \
        "\"endpoint\": {\"host\": \"h\", \"root_ca\": \"/r.pem\"}, \"paths\": {\"state_dir\": "    \
        "\"/var/lib/ob\", \"runtime_dir\": \"/run/ob\"}"

static void test_names(void **state)
{
        char *d = ob_factory_dir("/var/lib/ob"), *f = ob_factory_file("/var/lib/ob", "chain.pem");

        (void)state;
        assert_string_equal(d, "/var/lib/ob/factory");
        assert_string_equal(f, "/var/lib/ob/factory/chain.pem");
        free(d);
        free(f);
}

static void test_defaults(void **state)
{
        ObConfig *c = load("{" BASE ", \"provisioning\": {\"method\": \"jitp\"}}");
        ObFactoryPaths p;

        (void)state;
        assert_int_equal(ob_factory_paths(c, &p), 0);
        assert_string_equal(p.cert, "/var/lib/ob/factory/device.crt");
        assert_string_equal(p.key, "/var/lib/ob/factory/device.key");
        assert_string_equal(p.chain, "/var/lib/ob/factory/chain.pem");
        assert_true(p.cert_factory && p.chain_factory && !p.key_handle);
        ob_factory_paths_done(&p);
        assert_null(p.cert);
        ob_config_free(c);
}

static void test_configured_win(void **state)
{
        ObConfig *c = load("{" BASE ", \"key\": {\"backend\": \"software\"}, \"provisioning\": "
                           "{\"method\": \"jitr\", \"device_cert\": \"/etc/ob/d.crt\", "
                           "\"device_key\": \"/etc/ob/d.key\"}}");
        ObFactoryPaths p;

        (void)state;
        assert_int_equal(ob_factory_paths(c, &p), 0);
        assert_string_equal(p.cert, "/etc/ob/d.crt");
        assert_string_equal(p.key, "/etc/ob/d.key");
        assert_string_equal(p.chain, "/var/lib/ob/factory/chain.pem"); /* not configured */
        assert_false(p.cert_factory);
        assert_true(p.chain_factory);
        ob_factory_paths_done(&p);
        ob_config_free(c);
}

static void test_vendor_handle(void **state)
{
        ObConfig *c = load("{" BASE ", \"key\": {\"backend\": \"tpm\"}, \"tpm\": "
                           "{\"vendor_key_handle\": \"0x81000002\"}, \"provisioning\": "
                           "{\"method\": \"static\", \"device_chain\": \"/etc/ob/ca.pem\"}}");
        ObFactoryPaths p;

        (void)state;
        assert_int_equal(ob_factory_paths(c, &p), 0);
        assert_string_equal(p.key, "handle:0x81000002");
        assert_true(p.key_handle);
        assert_string_equal(p.cert, "/var/lib/ob/factory/device.crt");
        assert_string_equal(p.chain, "/etc/ob/ca.pem");
        ob_factory_paths_done(&p);
        ob_config_free(c);
}

/* A slot without device.key means the vendor's handle (tpm backend with a vendor key only); a
 * slot with a key file of its own (a rotation's) keeps it. */
static void test_slot_key(void **state)
{
        ObConfig *v = load(
                "{" BASE ", \"key\": {\"backend\": \"tpm\"}, \"tpm\": "
                "{\"vendor_key_handle\": \"0x81000002\"}, \"provisioning\": {\"method\": \"static\"}}");
        ObConfig *t = load(
                "{" BASE
                ", \"key\": {\"backend\": \"tpm\"}, \"provisioning\": {\"method\": \"static\"}}");
        char dir[] = "/tmp/test-factory-paths-XXXXXX", key[64], rec[80];
        char *p;
        FILE *f;

        (void)state;
        assert_non_null(mkdtemp(dir));
        snprintf(key, sizeof(key), "%s/device.key", dir);
        p = ob_factory_slot_key(v, key, NULL);
        assert_string_equal(p, "handle:0x81000002");
        free(p);
        p = ob_factory_slot_key(t, key, NULL);
        assert_string_equal(p, key);
        free(p);
        f = fopen(key, "we");
        assert_non_null(f);
        fclose(f);
        p = ob_factory_slot_key(v, key, NULL);
        assert_string_equal(p, key);
        free(p);
        assert_int_equal(unlink(key), 0);

        /* the slot's device.key-handle wins over the config (the certificate is for that key) */
        snprintf(rec, sizeof(rec), "%s/device.key-handle", dir);
        f = fopen(rec, "we");
        assert_non_null(f);
        fputs("handle:0x81000005\n", f);
        fclose(f);
        p = ob_factory_slot_key(v, key, NULL);
        assert_string_equal(p, "handle:0x81000005");
        free(p);
        p = ob_factory_slot_key(t, key, NULL);
        assert_string_equal(p, "handle:0x81000005");
        free(p);
        /* not such a path: ignored */
        f = fopen(rec, "we");
        assert_non_null(f);
        fputs("/etc/passwd\n", f);
        fclose(f);
        p = ob_factory_slot_key(v, key, NULL);
        assert_string_equal(p, "handle:0x81000002");
        free(p);
        p = ob_factory_slot_key(t, key, NULL);
        assert_string_equal(p, key);
        free(p);
        assert_int_equal(unlink(rec), 0);
        assert_int_equal(rmdir(dir), 0);
        ob_config_free(v);
        ob_config_free(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),          cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_configured_win), cmocka_unit_test(test_vendor_handle),
                cmocka_unit_test(test_slot_key),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
