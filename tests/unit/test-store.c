/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The atomic store: round trips, detection of corrupt, torn and future files, fallback to the
 * previous copy, and fault injection at every filesystem call of a save.
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

#include "store.h"

static char dir[64];

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ob-test-store-XXXXXX");
        assert_non_null(mkdtemp(dir));
        return 0;
}

static int teardown(void **state)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static json_object *payload(const char *state, int n)
{
        json_object *o = json_object_new_object();
        json_object_object_add(o, "state", json_object_new_string(state));
        json_object_object_add(o, "n", json_object_new_int(n));
        json_object_object_add(o, "pad", json_object_new_string("0123456789abcdef"));
        return o;
}

static void path_of(char *buf, size_t n, const char *name)
{
        snprintf(buf, n, "%s/%s", dir, name);
}

static void write_raw(const char *name, const char *data, size_t len)
{
        char p[128];
        path_of(p, sizeof(p), name);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static char *read_raw(const char *name, size_t *len)
{
        char p[128];
        path_of(p, sizeof(p), name);
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        char *buf = calloc(1, 1 << 20);
        assert_non_null(buf);
        *len = fread(buf, 1, 1 << 20, f);
        fclose(f);
        return buf;
}

static bool exists(const char *name)
{
        char p[128];
        path_of(p, sizeof(p), name);
        return access(p, F_OK) == 0;
}

/* Load with the real filesystem; returns the payload (or NULL) and the error. */
static json_object *load_now(int *ret_r, ObStoreLoadInfo *info)
{
        _cleanup_(ob_store_freep) ObStore *s = NULL;
        json_object *o = NULL;
        assert_int_equal(ob_store_open(dir, "state.json", NULL, &s), 0);
        *ret_r = ob_store_load(s, &o, info);
        return o;
}

static void save_now(json_object *o)
{
        _cleanup_(ob_store_freep) ObStore *s = NULL;
        json_object *old = NULL;
        assert_int_equal(ob_store_open(dir, "state.json", NULL, &s), 0);
        if (ob_store_load(s, &old, NULL) == 0)
                json_object_put(old);
        assert_int_equal(ob_store_save(s, o), 0);
}

static void test_fresh_is_enoent(void **state)
{
        int r;
        assert_null(load_now(&r, NULL));
        assert_int_equal(r, -ENOENT);
}

static void test_round_trip_and_prev(void **state)
{
        json_object *a = payload("a", 1), *b = payload("b", 2), *o;
        ObStoreLoadInfo info;
        int r;

        save_now(a);
        o = load_now(&r, &info);
        assert_int_equal(r, 0);
        assert_true(json_object_equal(o, a));
        assert_int_equal(info.generation, 1);
        assert_int_equal(info.source, OB_STORE_SOURCE_MAIN);
        json_object_put(o);

        save_now(b);
        o = load_now(&r, &info);
        assert_int_equal(r, 0);
        assert_true(json_object_equal(o, b));
        assert_int_equal(info.generation, 2);
        json_object_put(o);
        assert_true(exists("state.json.prev"));
        assert_false(exists(".state.json.tmp"));

        /* the file is 0600 */
        char p[128];
        struct stat st;
        path_of(p, sizeof(p), "state.json");
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        json_object_put(a);
        json_object_put(b);
}

static void test_corrupt_main_falls_back_and_reports(void **state)
{
        json_object *a = payload("a", 1), *b = payload("b", 2), *o;
        ObStoreLoadInfo info;
        size_t len;
        int r;

        save_now(a);
        save_now(b);
        char *data = read_raw("state.json", &len);
        data[len - 3] ^= 0x01; /* flip one payload bit */
        write_raw("state.json", data, len);
        free(data);

        o = load_now(&r, &info);
        assert_int_equal(r, 0);
        assert_true(json_object_equal(o, a));
        assert_int_equal(info.source, OB_STORE_SOURCE_PREV);
        assert_int_equal(info.main_error, -EBADMSG);
        assert_non_null(strstr(info.main_reason, "checksum"));
        json_object_put(o);

        /* the next save must not make the corrupt file the .prev copy */
        json_object *c = payload("c", 3);
        save_now(c);
        unlink(strcat(strcpy((char[128]){0}, dir), "/state.json"));
        o = load_now(&r, &info);
        assert_int_equal(r, 0);
        assert_true(json_object_equal(o, a));
        json_object_put(o);
        json_object_put(a);
        json_object_put(b);
        json_object_put(c);
}

static void test_both_corrupt_is_an_error(void **state)
{
        int r;
        write_raw("state.json", "garbage\n", 8);
        write_raw("state.json.prev", "ONBOARD-STATE 1 1 sha256:00 3\n{}\n", 33);
        assert_null(load_now(&r, NULL));
        assert_int_equal(r, -EBADMSG);
}

static void test_future_format_refused(void **state)
{
        json_object *a = payload("a", 1);
        int r;
        save_now(a);
        size_t len;
        char *data = read_raw("state.json", &len);
        data[strlen("ONBOARD-STATE ")] = '9';
        write_raw("state.json", data, len);
        free(data);
        ObStoreLoadInfo info;
        assert_null(load_now(&r, &info));
        assert_int_equal(r, -EPROTONOSUPPORT);
        assert_non_null(strstr(info.main_reason, "newer"));
        json_object_put(a);
}

static void test_oversized_and_non_object(void **state)
{
        char reason[160];
        json_object *o = NULL;
        uint64_t gen;
        const char img[] =
                "ONBOARD-STATE 1 1 "
                "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945 "
                "2\n[]\n";
        assert_int_equal(ob_store_parse(img, strlen(img), &o, &gen, reason, sizeof(reason)),
                         -EBADMSG);
        assert_non_null(strstr(reason, "not a JSON object"));

        char *big = malloc(OB_STORE_MAX_SIZE + 10);
        assert_non_null(big);
        memset(big, 'x', OB_STORE_MAX_SIZE + 10);
        write_raw("state.json", big, OB_STORE_MAX_SIZE + 10);
        free(big);
        int r;
        ObStoreLoadInfo info;
        assert_null(load_now(&r, &info));
        assert_int_equal(r, -EBADMSG);
        assert_int_equal(info.main_error, -EFBIG);
}

/* ---------------------------------------------------------------- fault injection */

static int fail_at; /* fail the fail_at-th call (1-based); 0: never */
static int calls;
static int fail_errno;

static bool inject(void)
{
        calls++;
        if (calls == fail_at) {
                errno = fail_errno;
                return true;
        }
        return false;
}

static int f_openat(int d, const char *p, int fl, mode_t m)
{
        return inject() ? -1 : ob_fsops_posix.openat(d, p, fl, m);
}
static ssize_t f_read(int fd, void *b, size_t n)
{
        return inject() ? -1 : ob_fsops_posix.read(fd, b, n);
}
static ssize_t f_write(int fd, const void *b, size_t n)
{
        if (calls + 1 == fail_at && n > 1) {
                /* a short write first, then the failure: the torn temp file case */
                calls++;
                ssize_t k = ob_fsops_posix.write(fd, b, n / 2);
                fail_at++;
                return k;
        }
        return inject() ? -1 : ob_fsops_posix.write(fd, b, n);
}
static int f_fsync(int fd)
{
        return inject() ? -1 : ob_fsops_posix.fsync(fd);
}
static int f_close(int fd)
{
        if (inject()) {
                ob_fsops_posix.close(fd); /* like Linux: the fd is gone even when close fails */
                return -1;
        }
        return ob_fsops_posix.close(fd);
}
static int f_renameat(int a, const char *b, int c, const char *d)
{
        return inject() ? -1 : ob_fsops_posix.renameat(a, b, c, d);
}
static int f_linkat(int a, const char *b, int c, const char *d, int e)
{
        return inject() ? -1 : ob_fsops_posix.linkat(a, b, c, d, e);
}
static int f_unlinkat(int a, const char *b, int c)
{
        return inject() ? -1 : ob_fsops_posix.unlinkat(a, b, c);
}
static int f_fstat(int fd, struct stat *st)
{
        return inject() ? -1 : ob_fsops_posix.fstat(fd, st);
}

static const ObFsOps failing_ops = {
        .openat = f_openat,
        .read = f_read,
        .write = f_write,
        .fsync = f_fsync,
        .close = f_close,
        .renameat = f_renameat,
        .linkat = f_linkat,
        .unlinkat = f_unlinkat,
        .fstat = f_fstat,
};

static void test_fault_at_every_call(void **state)
{
        static const int errnos[] = {EIO, ENOSPC, EROFS};
        int total_runs = 0;

        for (size_t e = 0; e < sizeof(errnos) / sizeof(errnos[0]); e++) {
                for (int k = 1;; k++) {
                        json_object *a = payload("a", 1), *b = payload("b", 2), *o = NULL;
                        _cleanup_(ob_store_freep) ObStore *s = NULL;
                        int r;

                        teardown(NULL);
                        setup(NULL);
                        save_now(a);
                        save_now(a); /* a .prev exists too */

                        assert_int_equal(ob_store_open(dir, "state.json", &failing_ops, &s), 0);
                        calls = 0;
                        fail_at = 0;
                        assert_int_equal(ob_store_load(s, &o, NULL), 0);
                        json_object_put(o);

                        calls = 0;
                        fail_at = k;
                        fail_errno = errnos[e];
                        int rs = ob_store_save(s, b);
                        bool injected = calls >= k;
                        fail_at = 0;

                        o = load_now(&r, NULL);
                        assert_int_equal(r, 0);
                        bool is_a = json_object_equal(o, a), is_b = json_object_equal(o, b);
                        if (!is_a && !is_b)
                                fail_msg("errno %d, failing call %d: loaded neither A nor B",
                                         errnos[e], k);
                        if (rs == 0)
                                assert_true(is_b);
                        if (rs < 0 && !is_b)
                                assert_false(exists(".state.json.tmp"));
                        json_object_put(o);
                        json_object_put(a);
                        json_object_put(b);
                        total_runs++;
                        if (!injected) {
                                assert_int_equal(rs, 0);
                                break;
                        }
                        assert_true(k < 64);
                }
        }
        print_message("fault injection: %d saves, each with one failing call\n", total_runs);
        assert_true(total_runs > 3 * 6);
}

/* Power loss after the rename but before the data reached the disk: state.json torn at every
 * byte boundary, .prev intact. The load must give the old state and say the new one is torn. */
static void test_torn_at_every_byte(void **state)
{
        json_object *a = payload("a", 1), *b = payload("b", 2), *o;
        size_t alen, blen;
        int r;

        save_now(a);
        char *aimg = read_raw("state.json", &alen);
        save_now(b);
        char *bimg = read_raw("state.json", &blen);

        for (size_t k = 0; k <= blen; k++) {
                ObStoreLoadInfo info;
                write_raw("state.json.prev", aimg, alen);
                write_raw("state.json", bimg, k);
                o = load_now(&r, &info);
                assert_int_equal(r, 0);
                if (k == blen) {
                        assert_true(json_object_equal(o, b));
                        assert_int_equal(info.source, OB_STORE_SOURCE_MAIN);
                } else {
                        if (!json_object_equal(o, a))
                                fail_msg("torn at %zu of %zu bytes: did not load A", k, blen);
                        assert_int_equal(info.source, OB_STORE_SOURCE_PREV);
                        assert_int_equal(info.main_error, -EBADMSG);
                        assert_true(info.main_reason[0] != 0);
                }
                json_object_put(o);
        }
        /* a torn temp file (crash before the rename) is ignored and cleaned by the next save */
        write_raw(".state.json.tmp", bimg, blen / 2);
        write_raw("state.json", aimg, alen);
        o = load_now(&r, NULL);
        assert_int_equal(r, 0);
        assert_true(json_object_equal(o, a));
        json_object_put(o);
        save_now(b);
        assert_false(exists(".state.json.tmp"));
        free(aimg);
        free(bimg);
        json_object_put(a);
        json_object_put(b);
}

/* Headers that sscanf reads but the writer never produces are malformed. "-1" reads as a
 * payload length of SIZE_MAX, which made the length check wrap around and the checksum read far
 * past the buffer (found by tests/fuzz/fuzz-store.c; seeds corpus/store/hostile-*). */
static void test_parse_non_canonical_headers(void **state)
{
#define HEX64 "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a" /* sha256("{}")   \
                                                                                  */
        static const char *const bad[] = {
                "ONBOARD-STATE 1 7 sha256:" HEX64 " -1\n",
                "ONBOARD-STATE 1 7 sha256:" HEX64 " 18446744073709551615\n",
                "ONBOARD-STATE 1 7 sha256:" HEX64 " 99999999999999999999999\n{}\n",
                "ONBOARD-STATE 1 7 sha256:" HEX64 " +2\n{}\n",
                "ONBOARD-STATE 1 7 sha256:" HEX64 " 02\n{}\n",
                "ONBOARD-STATE 1 7 sha256:" HEX64 "2\n{}\n",
                "ONBOARD-STATE 1 07 sha256:" HEX64 " 2\n{}\n",
                "ONBOARD-STATE 1  7 sha256:" HEX64 " 2\n{}\n",
                "ONBOARD-STATE 1 -7 sha256:" HEX64 " 2\n{}\n",
        };
        const char good[] = "ONBOARD-STATE 1 7 sha256:" HEX64 " 2\n{}\n";
        const char nul[] = "ONBOARD-STATE 1 7 sha256:" HEX64 " 2\0x\n{}\n";
        json_object *o = NULL;
        uint64_t gen = 0;
        char reason[160];

        assert_int_equal(ob_store_parse(good, strlen(good), &o, &gen, reason, sizeof(reason)), 0);
        assert_int_equal(gen, 7);
        json_object_put(o);
        o = NULL;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                /* an exact-size heap copy, so a sanitizer build sees any over-read */
                size_t n = strlen(bad[i]);
                char *copy = malloc(n);
                assert_non_null(copy);
                memcpy(copy, bad[i], n);
                int r = ob_store_parse(copy, n, &o, &gen, reason, sizeof(reason));
                if (r != -EBADMSG)
                        fail_msg("header #%zu accepted (%d): %s", i, r, bad[i]);
                assert_null(o);
                free(copy);
        }
        assert_int_equal(ob_store_parse(nul, sizeof(nul) - 1, &o, &gen, reason, sizeof(reason)),
                         -EBADMSG);
        assert_string_equal(reason, "malformed header");
#undef HEX64
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fresh_is_enoent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_round_trip_and_prev, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_main_falls_back_and_reports, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_both_corrupt_is_an_error, setup, teardown),
                cmocka_unit_test_setup_teardown(test_future_format_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversized_and_non_object, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fault_at_every_call, setup, teardown),
                cmocka_unit_test_setup_teardown(test_torn_at_every_byte, setup, teardown),
                cmocka_unit_test(test_parse_non_canonical_headers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
