/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which configuration runs (lib/config-digest): the digest covers the main file and its *.json
 * drop-ins and nothing else, changes with any of their bytes, and is what the daemon's status
 * reports.
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

#include "config-digest.h"
#include "config-file.h"

static char dir[64], main_file[128], dropins[128];

static void put(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");

        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/ob-digest-XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(main_file, sizeof(main_file), "%s/config.json", dir);
        snprintf(dropins, sizeof(dropins), "%s/config.d", dir);
        put(main_file, "{ \"endpoint\": { \"host\": \"a\" } }\n");
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static void test_digest(void **state)
{
        char a[OB_CONFIG_DIGEST_HEX], b[OB_CONFIG_DIGEST_HEX], c[OB_CONFIG_DIGEST_HEX];
        char p[192];

        (void)state;
        assert_int_equal(ob_config_digest(main_file, NULL, a), 0);
        assert_int_equal(strlen(a), 64);
        assert_int_equal(strspn(a, "0123456789abcdef"), 64);
        /* the same bytes, the same digest; no config.d is no drop-ins */
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_equal(a, b);
        assert_int_equal(mkdir(dropins, 0755), 0);
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_equal(a, b);
        /* files the loader does not read change nothing */
        snprintf(p, sizeof(p), "%s/notes.txt", dropins);
        put(p, "x");
        snprintf(p, sizeof(p), "%s/.hidden.json", dropins);
        put(p, "{}");
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_equal(a, b);
        /* a drop-in does */
        snprintf(p, sizeof(p), "%s/10-port.json", dropins);
        put(p, "{ \"endpoint\": { \"port\": 443 } }\n");
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_not_equal(a, b);
        /* one byte of it does */
        put(p, "{ \"endpoint\": { \"port\": 444 } }\n");
        assert_int_equal(ob_config_digest(main_file, NULL, c), 0);
        assert_string_not_equal(b, c);
        /* the main file's bytes do; back to them, back to the digest */
        put(main_file, "{ \"endpoint\": { \"host\": \"b\" } }\n");
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_not_equal(b, c);
        put(main_file, "{ \"endpoint\": { \"host\": \"a\" } }\n");
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_equal(b, c);
        /* moving bytes from one file to another is another configuration */
        assert_int_equal(unlink(p), 0);
        snprintf(p, sizeof(p), "%s/20-port.json", dropins);
        put(p, "{ \"endpoint\": { \"port\": 444 } }\n");
        assert_int_equal(ob_config_digest(main_file, NULL, b), 0);
        assert_string_not_equal(b, c);
        /* an explicit drop-in directory */
        assert_int_equal(ob_config_digest(main_file, "/nonexistent", b), 0);
        assert_string_equal(a, b);
        /* no main file: an error */
        assert_int_equal(ob_config_digest("/nonexistent/config.json", NULL, b), -ENOENT);
}

static void test_json(void **state)
{
        json_object *o = ob_config_digest_to_json("/etc/x.json", "ab");
        json_object *v;

        (void)state;
        assert_non_null(o);
        assert_true(json_object_object_get_ex(o, "file", &v));
        assert_string_equal(json_object_get_string(v), "/etc/x.json");
        assert_true(json_object_object_get_ex(o, "sha256", &v));
        assert_string_equal(json_object_get_string(v), "ab");
        json_object_put(o);
}

/* ob_config_load() keeps the digest of what it read */
static void test_load(void **state)
{
        ObConfigDiags d = {0};
        ObConfig *c = NULL;
        char want[OB_CONFIG_DIGEST_HEX];

        (void)state;
        put(main_file, "{ \"endpoint\": { \"host\": \"h.example\" }, \"provisioning\": "
                       "{ \"method\": \"static\" } }\n");
        assert_int_equal(ob_config_load(main_file, NULL, &c, &d), 0);
        assert_int_equal(ob_config_digest(main_file, NULL, want), 0);
        assert_string_equal(c->sha256, want);
        ob_config_free(c);
        ob_config_diags_clear(&d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_digest, setup, teardown),
                cmocka_unit_test(test_json),
                cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
