/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credential generations: slot paths and modes, the atomic switch of "current", what
 * ob_creds_current accepts, removal, and a fault at every filesystem call of a rotation
 * (create slot 2, write two files, commit, remove slot 1): "current" must always name a
 * complete generation, old or new.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "creds.h"
#include "macro.h"

static char dir[64];

static int setup(void **state)
{
        snprintf(dir, sizeof(dir), "/tmp/ob-test-creds-XXXXXX");
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

static char *path_of(const char *rel)
{
        static char buf[256];
        snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
        return buf;
}

static bool exists(const char *rel)
{
        struct stat st;
        return lstat(path_of(rel), &st) == 0;
}

/* The whole file, or NULL when it cannot be read. */
static char *slurp(const char *rel)
{
        static char buf[256];
        FILE *f = fopen(path_of(rel), "re");
        if (!f)
                return NULL;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        return buf;
}

static const char *cert_of(uint64_t gen)
{
        return gen == 1 ? "-----BEGIN CERTIFICATE-----\ngeneration one\n"
                        : "-----BEGIN CERTIFICATE-----\ngeneration two, a longer one\n";
}

static const char *key_of(uint64_t gen)
{
        return gen == 1 ? "key one\n" : "key two, longer\n";
}

static int fill_slot(uint64_t gen, const ObFsOps *ops)
{
        int r = ob_creds_slot_create(dir, gen, ops);
        if (r < 0)
                return r;
        r = ob_creds_write(dir, gen, "device.crt", cert_of(gen), strlen(cert_of(gen)), 0644, ops);
        if (r < 0)
                return r;
        return ob_creds_write(dir, gen, "device.key", key_of(gen), strlen(key_of(gen)), 0640, ops);
}

static void assert_current_is(uint64_t want)
{
        uint64_t gen = 0;
        assert_int_equal(ob_creds_current(dir, &gen, NULL), 0);
        assert_int_equal(gen, want);
        assert_string_equal(slurp("credentials/current/device.crt"), cert_of(want));
        assert_string_equal(slurp("credentials/current/device.key"), key_of(want));
}

static void test_paths(void **state)
{
        char *p = ob_creds_slot_dir("/var/lib/x", 18446744073709551615ULL);
        assert_string_equal(p, "/var/lib/x/credentials/18446744073709551615");
        free(p);
        p = ob_creds_slot_file("/var/lib/x", 3, "device.crt");
        assert_string_equal(p, "/var/lib/x/credentials/3/device.crt");
        free(p);
}

static void test_create_write_modes(void **state)
{
        struct stat st;
        mode_t old = umask(022);

        assert_int_equal(ob_creds_slot_create(dir, 0, NULL), -EINVAL);
        assert_int_equal(fill_slot(1, NULL), 0);
        assert_int_equal(stat(path_of("credentials"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(stat(path_of("credentials/1"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(stat(path_of("credentials/1/device.key"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(stat(path_of("credentials/1/device.crt"), &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_string_equal(slurp("credentials/1/device.crt"), cert_of(1));

        /* an existing slot is kept with its files; a rewrite replaces the file */
        assert_int_equal(ob_creds_slot_create(dir, 1, NULL), 0);
        assert_string_equal(slurp("credentials/1/device.key"), key_of(1));
        assert_int_equal(ob_creds_write(dir, 1, "device.key", "k", 1, 0600, NULL), 0);
        assert_string_equal(slurp("credentials/1/device.key"), "k");

        /* names that could escape the slot or collide with temp files */
        static const char *const bad[] = {
                "",    ".",
                "..",  "../x",
                "a/b", ".hidden",
                "a b", "0123456789012345678901234567890123456789012345678901234567890123456789",
        };
        for (size_t i = 0; i < OB_ELEMENTSOF(bad); i++)
                assert_int_equal(ob_creds_write(dir, 1, bad[i], "x", 1, 0600, NULL), -EINVAL);
        assert_int_equal(ob_creds_write(dir, 0, "a", "x", 1, 0600, NULL), -EINVAL);
        /* the slot must exist */
        assert_int_equal(ob_creds_write(dir, 9, "a", "x", 1, 0600, NULL), -ENOENT);

        /* something else in the way of a slot */
        FILE *f = fopen(path_of("credentials/5"), "we");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(ob_creds_slot_create(dir, 5, NULL), -ENOTDIR);
        assert_int_equal(symlink("1", path_of("credentials/6")), 0);
        assert_int_equal(ob_creds_slot_create(dir, 6, NULL), -ENOTDIR);
        /* the state directory itself is not created */
        assert_int_equal(ob_creds_slot_create("/nonexistent/ob-state", 1, NULL), -ENOENT);
        umask(old);
}

static void test_commit_switches(void **state)
{
        char target[32];
        struct stat st;
        uint64_t gen;

        assert_int_equal(ob_creds_current(dir, &gen, NULL), -ENOENT);
        assert_int_equal(fill_slot(1, NULL), 0);
        assert_int_equal(ob_creds_current(dir, &gen, NULL), -ENOENT);
        assert_int_equal(ob_creds_commit(dir, 1, NULL), 0);
        assert_current_is(1);

        assert_int_equal(fill_slot(2, NULL), 0);
        assert_current_is(1); /* filling the next slot changes nothing visible */
        assert_int_equal(ob_creds_commit(dir, 2, NULL), 0);
        assert_current_is(2);

        /* a relative symlink, so the state directory can move; no temp link left */
        assert_int_equal(lstat(path_of("credentials/current"), &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        ssize_t n = readlink(path_of("credentials/current"), target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = 0;
        assert_string_equal(target, "2");
        assert_false(exists("credentials/current.tmp"));

        /* a stale temp link from a crash is replaced; committing the same slot again is fine */
        assert_int_equal(symlink("1", path_of("credentials/current.tmp")), 0);
        assert_int_equal(ob_creds_commit(dir, 2, NULL), 0);
        assert_current_is(2);
        assert_false(exists("credentials/current.tmp"));

        /* back to the old generation (a rollback is just a commit) */
        assert_int_equal(ob_creds_commit(dir, 1, NULL), 0);
        assert_current_is(1);

        /* a missing slot is never committed */
        assert_int_equal(ob_creds_commit(dir, 7, NULL), -ENOENT);
        assert_int_equal(ob_creds_commit(dir, 0, NULL), -EINVAL);
        assert_current_is(1);
        assert_false(exists("credentials/current.tmp"));
}

static void test_current_rejects(void **state)
{
        static const char *const bad[] = {
                "abc",
                "0",
                "007",
                "-1",
                "1a",
                "",
                "/tmp/1",
                "./1",
                "18446744073709551616",
                "99999999999999999999999",
        };
        uint64_t gen;

        assert_int_equal(ob_creds_slot_create(dir, 1, NULL), 0);
        for (size_t i = 0; i < OB_ELEMENTSOF(bad); i++) {
                (void)unlink(path_of("credentials/current"));
                if (bad[i][0] == 0)
                        continue; /* symlink(2) refuses an empty target */
                assert_int_equal(symlink(bad[i], path_of("credentials/current")), 0);
                if (ob_creds_current(dir, &gen, NULL) != -EBADMSG)
                        fail_msg("current -> \"%s\" was accepted", bad[i]);
        }
        (void)unlink(path_of("credentials/current"));
        assert_int_equal(symlink("18446744073709551615", path_of("credentials/current")), 0);
        assert_int_equal(ob_creds_current(dir, &gen, NULL), 0);
        assert_true(gen == UINT64_MAX);

        /* a plain file or a folder named current */
        (void)unlink(path_of("credentials/current"));
        FILE *f = fopen(path_of("credentials/current"), "we");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(ob_creds_current(dir, &gen, NULL), -EBADMSG);
        (void)unlink(path_of("credentials/current"));
        assert_int_equal(mkdir(path_of("credentials/current"), 0700), 0);
        assert_int_equal(ob_creds_current(dir, &gen, NULL), -EBADMSG);
}

static void test_write_and_remove_refuse_current(void **state)
{
        assert_int_equal(fill_slot(1, NULL), 0);
        assert_int_equal(ob_creds_commit(dir, 1, NULL), 0);
        assert_int_equal(ob_creds_write(dir, 1, "device.crt", "x", 1, 0644, NULL), -EBUSY);
        assert_int_equal(ob_creds_remove_slot(dir, 1, NULL), -EBUSY);
        assert_current_is(1);

        assert_int_equal(fill_slot(2, NULL), 0);
        assert_int_equal(ob_creds_commit(dir, 2, NULL), 0);
        assert_int_equal(ob_creds_remove_slot(dir, 2, NULL), -EBUSY);
        assert_int_equal(ob_creds_remove_slot(dir, 1, NULL), 0);
        assert_false(exists("credentials/1"));
        assert_int_equal(ob_creds_remove_slot(dir, 1, NULL), -ENOENT);
        assert_int_equal(ob_creds_remove_slot(dir, 0, NULL), -EINVAL);
        assert_current_is(2);

        /* an empty slot and a slot with a subfolder */
        assert_int_equal(ob_creds_slot_create(dir, 3, NULL), 0);
        assert_int_equal(ob_creds_remove_slot(dir, 3, NULL), 0);
        assert_int_equal(ob_creds_slot_create(dir, 4, NULL), 0);
        assert_int_equal(mkdir(path_of("credentials/4/sub"), 0700), 0);
        assert_int_equal(ob_creds_remove_slot(dir, 4, NULL), -EISDIR);

        /* while current cannot be read, nothing is removed */
        assert_int_equal(unlink(path_of("credentials/current")), 0);
        assert_int_equal(symlink("junk", path_of("credentials/current")), 0);
        assert_int_equal(ob_creds_slot_create(dir, 5, NULL), 0);
        assert_int_equal(ob_creds_remove_slot(dir, 5, NULL), -EBADMSG);
        assert_true(exists("credentials/5"));
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
                /* a short write first, then the failure: a torn temp file */
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
static int f_mkdirat(int d, const char *p, mode_t m)
{
        return inject() ? -1 : ob_fsops_posix.mkdirat(d, p, m);
}
static int f_symlinkat(const char *t, int d, const char *p)
{
        return inject() ? -1 : ob_fsops_posix.symlinkat(t, d, p);
}
static int f_faccessat(int d, const char *p, int m, int fl)
{
        return inject() ? -1 : ob_fsops_posix.faccessat(d, p, m, fl);
}
static int f_fstatat(int d, const char *p, struct stat *st, int fl)
{
        return inject() ? -1 : ob_fsops_posix.fstatat(d, p, st, fl);
}
static ssize_t f_readlinkat(int d, const char *p, char *b, size_t n)
{
        return inject() ? -1 : ob_fsops_posix.readlinkat(d, p, b, n);
}
static int f_list_dir(int fd, char ***ret)
{
        return inject() ? -1 : ob_fsops_posix.list_dir(fd, ret);
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
        .mkdirat = f_mkdirat,
        .symlinkat = f_symlinkat,
        .faccessat = f_faccessat,
        .fstatat = f_fstatat,
        .readlinkat = f_readlinkat,
        .list_dir = f_list_dir,
};

/* The rotation from 1 to 2, stopping at the first error. */
static int rotate(const ObFsOps *ops)
{
        int r = fill_slot(2, ops);
        if (r < 0)
                return r;
        r = ob_creds_commit(dir, 2, ops);
        if (r < 0)
                return r;
        return ob_creds_remove_slot(dir, 1, ops);
}

static void test_fault_at_every_call(void **state)
{
        static const int errnos[] = {EIO, ENOSPC, EROFS};
        int total_runs = 0;

        for (size_t e = 0; e < OB_ELEMENTSOF(errnos); e++) {
                for (int k = 1;; k++) {
                        uint64_t gen = 0;

                        teardown(NULL);
                        setup(NULL);
                        assert_int_equal(fill_slot(1, NULL), 0);
                        assert_int_equal(ob_creds_commit(dir, 1, NULL), 0);

                        calls = 0;
                        fail_at = k;
                        fail_errno = errnos[e];
                        int r = rotate(&failing_ops);
                        bool injected = calls >= k;
                        fail_at = 0;

                        /* current names a complete generation, old or new */
                        assert_int_equal(ob_creds_current(dir, &gen, NULL), 0);
                        if (gen != 1 && gen != 2)
                                fail_msg("errno %d, failing call %d: current -> %llu", errnos[e], k,
                                         (unsigned long long)gen);
                        assert_current_is(gen);
                        assert_false(exists("credentials/current.tmp"));
                        if (r == 0) {
                                assert_int_equal(gen, 2);
                                assert_false(exists("credentials/1"));
                        } else {
                                assert_int_equal(r, -errnos[e]);
                        }

                        /* and the rotation can be finished from there with a working disk */
                        if (gen == 1)
                                assert_int_equal(rotate(NULL), 0);
                        else if (exists("credentials/1"))
                                assert_int_equal(ob_creds_remove_slot(dir, 1, NULL), 0);
                        assert_current_is(2);
                        assert_false(exists("credentials/1"));

                        total_runs++;
                        if (!injected) {
                                assert_int_equal(r, 0);
                                break;
                        }
                        assert_true(k < 100);
                }
        }
        print_message("fault injection: %d rotations, each with one failing call\n", total_runs);
        assert_true(total_runs > 3 * 20);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paths),
                cmocka_unit_test_setup_teardown(test_create_write_modes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_commit_switches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_current_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_and_remove_refuse_current, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_fault_at_every_call, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
