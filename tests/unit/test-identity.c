/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serial number sources over a fake root tree: each source, the fallbacks between them, the
 * placeholder and junk values that are skipped, over-long values, unreadable sources, and
 * /etc/machine-id.
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

#include "identity.h"
#include "macro.h"

static char root[64];

static int setup(void **state)
{
        snprintf(root, sizeof(root), "/tmp/ob-test-identity-XXXXXX");
        assert_non_null(mkdtemp(root));
        return 0;
}

static int teardown(void **state)
{
        char cmd[256];
        snprintf(cmd, sizeof(cmd), "chmod -R u+rwx '%s'; rm -rf '%s'", root, root);
        assert_int_equal(system(cmd), 0);
        return 0;
}

/* Write data (len bytes) at root+path, creating the folders. */
static void put(const char *path, const char *data, size_t len)
{
        char p[256], cmd[320];
        snprintf(p, sizeof(p), "%s%s", root, path);
        snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", p);
        assert_int_equal(system(cmd), 0);
        FILE *f = fopen(p, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static void puts_at(const char *path, const char *s)
{
        put(path, s, strlen(s));
}

static void rm(const char *path)
{
        char p[256];
        snprintf(p, sizeof(p), "%s%s", root, path);
        assert_int_equal(unlink(p), 0);
}

#define PRODUCT "/sys/class/dmi/id/product_serial"
#define BOARD   "/sys/class/dmi/id/board_serial"
#define DT      "/proc/device-tree/serial-number"
#define MID     "/etc/machine-id"

static const char *const defaults[] = {"dmi", "devicetree", "machine-id", NULL};

/* Run with the default sources; expect a serial from a source. */
static void expect(const char *const *sources, const char *serial, const char *source)
{
        char *s = NULL, *src = NULL, err[512];
        int r = ob_identity_serial(sources, root, &s, &src, err, sizeof(err));
        if (r != 0)
                fail_msg("expected %s from %s, got %d: %s", serial, source, r, err);
        assert_string_equal(s, serial);
        assert_string_equal(src, source);
        free(s);
        free(src);
}

/* Expect an error; returns err for inspection. */
static const char *expect_err(const char *const *sources, int want)
{
        static char err[1024];
        char *s = NULL, *src = NULL;
        int r = ob_identity_serial(sources, root, &s, &src, err, sizeof(err));
        if (r != want)
                fail_msg("expected %d, got %d (%s): %s", want, r, s ? s : "-", err);
        assert_null(s);
        assert_null(src);
        return err;
}

static void test_each_source(void **state)
{
        puts_at(MID, "0123456789abcdef0123456789abcdef\n");
        expect(defaults, "0123456789abcdef0123456789abcdef", "machine-id");

        put(DT, "DT:0001-a\0", 10); /* NUL-terminated, as the kernel exposes it */
        expect(defaults, "DT:0001-a", "devicetree");
        put(DT, "DT2\0garbage after the NUL", 25);
        expect(defaults, "DT2", "devicetree");

        puts_at(BOARD, "BRD.42\n");
        expect(defaults, "BRD.42", "dmi");
        puts_at(PRODUCT, "  PC-1234_x \n");
        expect(defaults, "PC-1234_x", "dmi");

        /* file: first line, trimmed; comes first when listed first */
        puts_at("/etc/serial", " SN-9 \nsecond line\n");
        const char *with_file[] = {"file:/etc/serial", "dmi", NULL};
        expect(with_file, "SN-9", "file:/etc/serial");
        puts_at("/etc/serial", "no-newline");
        expect(with_file, "no-newline", "file:/etc/serial");

        /* order is the caller's */
        const char *mid_first[] = {"machine-id", "dmi", NULL};
        expect(mid_first, "0123456789abcdef0123456789abcdef", "machine-id");

        /* exactly 64 characters is fine */
        char v[70];
        memset(v, 'a', 64);
        v[64] = '\n';
        v[65] = 0;
        puts_at("/etc/serial", v);
        v[64] = 0;
        expect(with_file, v, "file:/etc/serial");

        /* ret_source and err are optional */
        char *s = NULL;
        assert_int_equal(ob_identity_serial(defaults, root, &s, NULL, NULL, 0), 0);
        assert_string_equal(s, "PC-1234_x");
        free(s);
}

static void test_placeholders_and_junk_fall_through(void **state)
{
        static const char *const junk[] = {
                "To Be Filled By O.E.M.\n",
                "To be filled by O.E.M.",
                "Default string\n",
                "0\n",
                "None\n",
                "System Serial Number\n",
                "NOT SPECIFIED\n",
                "0000000000\n",
                "00:00:00:00\n",
                "FFFFFFFF\n",
                "ffff-ffff\n",
                "----\n",
                "\n",
                "   \t \n",
                "",
                "has space\n",
                "semi;colon\n",
                "slash/\n",
                "caf\xc3\xa9\n",
                "ctrl\x07x\n",
                "11111111111111111111111111111111111111111111111111111111111111111\n", /* 65 */
        };
        const char *dmi_only[] = {"dmi", NULL};

        puts_at(MID, "0123456789abcdef0123456789abcdef\n");
        puts_at(BOARD, "Default string\n");
        for (size_t i = 0; i < OB_ELEMENTSOF(junk); i++) {
                puts_at(PRODUCT, junk[i]);
                expect(defaults, "0123456789abcdef0123456789abcdef", "machine-id");
                const char *err = expect_err(dmi_only, -ENOENT);
                if (!strstr(err, "product_serial") || !strstr(err, "board_serial"))
                        fail_msg("junk %zu: err does not name both files: %s", i, err);
        }

        /* the reasons are specific */
        puts_at(PRODUCT, "To Be Filled By O.E.M.\n");
        const char *err = expect_err(dmi_only, -ENOENT);
        assert_non_null(strstr(err, "placeholder value \"To Be Filled By O.E.M.\""));
        puts_at(PRODUCT, "11111111111111111111111111111111111111111111111111111111111111111\n");
        err = expect_err(dmi_only, -ENOENT);
        assert_non_null(strstr(err, "65 characters"));
        puts_at(PRODUCT, "a b\n");
        err = expect_err(dmi_only, -ENOENT);
        assert_non_null(strstr(err, "0x20 at offset 1"));
        put(PRODUCT, "ab\0cd\n", 6);
        err = expect_err(dmi_only, -ENOENT);
        assert_non_null(strstr(err, "NUL"));

        /* board_serial is the fallback inside dmi */
        puts_at(BOARD, "B-7\n");
        expect(defaults, "B-7", "dmi");
}

static void test_nothing_found_lists_every_source(void **state)
{
        const char *all[] = {"file:/etc/serial", "file:relative", "dmi", "devicetree",
                             "machine-id",       "bogus",         NULL};
        const char *err = expect_err(all, -ENOENT);
        static const char *const parts[] = {
                "file:/etc/serial (/etc/serial): not found",
                "file:relative: not an absolute path",
                "dmi (" PRODUCT "): not found",
                "dmi (" BOARD "): not found",
                "devicetree (" DT "): not found",
                "machine-id (" MID "): not found",
                "bogus: unknown source",
        };
        for (size_t i = 0; i < OB_ELEMENTSOF(parts); i++)
                if (!strstr(err, parts[i]))
                        fail_msg("\"%s\" missing in: %s", parts[i], err);

        puts_at(MID, "uninitialized\n");
        err = expect_err(all, -ENOENT);
        assert_non_null(strstr(err, "machine-id (" MID "): not 32 lower-case hex digits"));

        const char *none[] = {NULL};
        err = expect_err(none, -ENOENT);
        assert_non_null(strstr(err, "no serial sources"));

        /* a small err buffer is cut, never overrun */
        char small[24], *s = NULL;
        memset(small, 'x', sizeof(small));
        assert_int_equal(ob_identity_serial(all, root, &s, NULL, small, sizeof(small)), -ENOENT);
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_string_equal(small + sizeof(small) - 4, "...");
}

static void test_unreadable_source_stops(void **state)
{
        char p[256];

        puts_at(MID, "0123456789abcdef0123456789abcdef\n");
        /* a folder where the file should be: not a regular file */
        snprintf(p, sizeof(p), "%s/sys/class/dmi/id/product_serial", root);
        char cmd[320];
        snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
        assert_int_equal(system(cmd), 0);
        const char *err = expect_err(defaults, -EINVAL);
        assert_non_null(strstr(err, "not a regular file"));
        assert_int_equal(rmdir(p), 0);

        /* a FIFO is not opened for a blocking read */
        assert_int_equal(mkfifo(p, 0600), 0);
        err = expect_err(defaults, -EINVAL);
        assert_int_equal(unlink(p), 0);

        /* a file without read permission (root reads anyway: then this part cannot fail) */
        puts_at(PRODUCT, "PC-1\n");
        assert_int_equal(chmod(p, 0), 0);
        if (geteuid() == 0) {
                print_message("running as root: an unreadable file cannot be made here\n");
        } else {
                err = expect_err(defaults, -EACCES);
                assert_non_null(strstr(err, "Permission denied"));
        }
        assert_int_equal(chmod(p, 0644), 0);
        expect(defaults, "PC-1", "dmi");

        /* a path through a file (ENOTDIR) counts as absent */
        rm(PRODUCT);
        puts_at("/etc/notadir", "x\n");
        const char *through[] = {"file:/etc/notadir/serial", "machine-id", NULL};
        expect(through, "0123456789abcdef0123456789abcdef", "machine-id");
}

static void test_root_defaults_to_slash(void **state)
{
        char src[128], *s = NULL, *from = NULL;

        puts_at("/serial", "ROOTLESS-1\n");
        snprintf(src, sizeof(src), "file:%s/serial", root);
        const char *sources[] = {src, NULL};
        assert_int_equal(ob_identity_serial(sources, NULL, &s, &from, NULL, 0), 0);
        assert_string_equal(s, "ROOTLESS-1");
        assert_string_equal(from, src);
        free(s);
        free(from);
        s = NULL;
        assert_int_equal(ob_identity_serial(sources, "", &s, NULL, NULL, 0), 0);
        assert_string_equal(s, "ROOTLESS-1");
        free(s);
        /* a root with a trailing slash */
        char r2[80];
        snprintf(r2, sizeof(r2), "%s/", root);
        const char *rel[] = {"file:/serial", NULL};
        s = NULL;
        assert_int_equal(ob_identity_serial(rel, r2, &s, NULL, NULL, 0), 0);
        assert_string_equal(s, "ROOTLESS-1");
        free(s);
}

static void test_machine_id(void **state)
{
        static const char *const bad[] = {
                "uninitialized\n",
                "0123456789ABCDEF0123456789ABCDEF\n",
                "0123456789abcdef0123456789abcde\n",
                "0123456789abcdef0123456789abcdef0\n",
                "00000000000000000000000000000000\n",
                "0123456789abcdef-123456789abcdef\n",
                "",
        };
        char *id = NULL;

        assert_int_equal(ob_identity_machine_id(root, &id), -ENOENT);
        puts_at(MID, "0123456789abcdef0123456789abcdef\n");
        assert_int_equal(ob_identity_machine_id(root, &id), 0);
        assert_string_equal(id, "0123456789abcdef0123456789abcdef");
        free(id);
        puts_at(MID, "fedcba9876543210fedcba9876543210"); /* without the newline */
        assert_int_equal(ob_identity_machine_id(root, &id), 0);
        assert_string_equal(id, "fedcba9876543210fedcba9876543210");
        free(id);
        for (size_t i = 0; i < OB_ELEMENTSOF(bad); i++) {
                id = NULL;
                puts_at(MID, bad[i]);
                if (ob_identity_machine_id(root, &id) != -EBADMSG)
                        fail_msg("machine-id \"%s\" accepted", bad[i]);
                assert_null(id);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_each_source, setup, teardown),
                cmocka_unit_test_setup_teardown(test_placeholders_and_junk_fall_through, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_nothing_found_lists_every_source, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_unreadable_source_stops, setup, teardown),
                cmocka_unit_test_setup_teardown(test_root_defaults_to_slash, setup, teardown),
                cmocka_unit_test_setup_teardown(test_machine_id, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
