/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The in-memory filesystem of the flow tests (tests/unit/fake-fs.[ch]): the POSIX answers
 * lib/ relies on, and the store and the credential slots working on it as on a disk.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "creds.h"
#include "fake-fs.h"
#include "fsops.h"
#include "macro.h"
#include "store.h"

static const ObFsOps *ops;

static int setup(void **state)
{
        (void)state;
        ops = ob_fake_fs_reset();
        return ops ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        assert_int_equal(ob_fake_fs_open_fds(), 0);
        ob_fake_fs_free();
        return 0;
}

#define assert_errno(call, e)                                                                      \
        do {                                                                                       \
                errno = 0;                                                                         \
                assert_true((call) < 0);                                                           \
                assert_int_equal(errno, (e));                                                      \
        } while (0)

static void test_files_and_directories(void **state)
{
        char buf[16];
        struct stat st;
        int fd;

        (void)state;
        assert_int_equal(ob_fake_fs_put("/a/b/f", "hello", 0600), 0);
        assert_string_equal(ob_fake_fs_get("/a/b/f", NULL), "hello");
        assert_int_equal(ob_fake_fs_mode("/a/b"), S_IFDIR | 0755);
        assert_int_equal(ob_fake_fs_mode("/a/b/f"), S_IFREG | 0600);

        fd = ops->openat(AT_FDCWD, "/a", O_RDONLY | O_DIRECTORY, 0);
        assert_true(fd >= 0);
        int f2 = ops->openat(fd, "b/f", O_RDONLY, 0);
        assert_true(f2 >= 0);
        assert_int_equal(ops->fstat(f2, &st), 0);
        assert_int_equal(st.st_size, 5);
        assert_int_equal(ops->read(f2, buf, sizeof(buf)), 5);
        assert_int_equal(ops->read(f2, buf, sizeof(buf)), 0);
        assert_int_equal(ops->close(f2), 0);
        assert_errno(ops->close(f2), EBADF);

        assert_errno(ops->openat(fd, "b/f", O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST);
        assert_errno(ops->openat(fd, "b/none", O_RDONLY, 0), ENOENT);
        assert_errno(ops->openat(fd, "none/f", O_RDONLY | O_CREAT, 0600), ENOENT);
        assert_errno(ops->openat(fd, "b/f/x", O_RDONLY, 0), ENOTDIR);
        assert_errno(ops->openat(fd, "b/f", O_RDONLY | O_DIRECTORY, 0), ENOTDIR);
        assert_errno(ops->openat(fd, "b", O_WRONLY, 0), EISDIR);
        assert_errno(ops->mkdirat(fd, "b", 0700), EEXIST);
        assert_errno(ops->unlinkat(fd, "b", 0), EISDIR);
        assert_errno(ops->unlinkat(fd, "b", AT_REMOVEDIR), ENOTEMPTY);
        assert_errno(ops->unlinkat(fd, "b/f", AT_REMOVEDIR), ENOTDIR);
        assert_int_equal(ops->faccessat(fd, "b/f", R_OK, 0), 0);
        assert_errno(ops->faccessat(AT_FDCWD, "/a/b/g", F_OK, 0), ENOENT);

        /* link, rename over, unlink; the list of names */
        assert_int_equal(ops->linkat(fd, "b/f", fd, "b/g", 0), 0);
        assert_errno(ops->linkat(fd, "b/f", fd, "b/g", 0), EEXIST);
        assert_int_equal(ob_fake_fs_put("/a/b/h", "other", 0644), 0);
        assert_int_equal(ops->renameat(fd, "b/h", fd, "b/g"), 0);
        assert_string_equal(ob_fake_fs_get("/a/b/g", NULL), "other");
        assert_string_equal(ob_fake_fs_get("/a/b/f", NULL), "hello");
        assert_int_equal(ob_fake_fs_mode("/a/b/h"), 0);
        int bfd = ops->openat(fd, "b", O_RDONLY | O_DIRECTORY, 0);
        char **names = NULL;
        assert_int_equal(ops->list_dir(bfd, &names), 0);
        assert_non_null(names[0]);
        assert_non_null(names[1]);
        assert_null(names[2]);
        assert_true((strcmp(names[0], "f") == 0 && strcmp(names[1], "g") == 0) ||
                    (strcmp(names[0], "g") == 0 && strcmp(names[1], "f") == 0));
        ob_fs_list_free(names);
        assert_int_equal(ops->unlinkat(bfd, "f", 0), 0);
        assert_int_equal(ops->unlinkat(bfd, "g", 0), 0);
        assert_errno(ops->unlinkat(bfd, "g", 0), ENOENT);
        assert_int_equal(ops->close(bfd), 0);
        assert_int_equal(ops->unlinkat(fd, "b", AT_REMOVEDIR), 0);
        assert_int_equal(ops->close(fd), 0);
}

static void test_write_and_fsync(void **state)
{
        int fd;

        (void)state;
        fd = ops->openat(AT_FDCWD, "/w", O_WRONLY | O_CREAT | O_EXCL, 0640);
        assert_true(fd >= 0);
        assert_int_equal(ob_fs_write_all(ops, fd, "abc", 3), 0);
        assert_int_equal(ob_fs_write_all(ops, fd, "def", 3), 0);
        assert_errno(ops->read(fd, (char[4]){0}, 4), EBADF);
        assert_int_equal(ops->fsync(fd), 0);
        assert_int_equal(ops->close(fd), 0);
        assert_int_equal(ob_fake_fs_fsyncs(), 1);
        assert_string_equal(ob_fake_fs_get("/w", NULL), "abcdef");
        fd = ops->openat(AT_FDCWD, "/w", O_WRONLY | O_TRUNC, 0);
        assert_int_equal(ops->close(fd), 0);
        assert_string_equal(ob_fake_fs_get("/w", NULL), "");

        /* the lib helpers over it */
        char line[8], *all = NULL;
        assert_int_equal(ob_fs_write_file_atomic(ops, "/x/y", "one\ntwo\n", 8, 0600), -ENOENT);
        assert_int_equal(ops->mkdirat(AT_FDCWD, "/x", 0700), 0);
        assert_int_equal(ob_fs_write_file_atomic(ops, "/x/y", "one\ntwo\n", 8, 0600), 0);
        assert_int_equal(ob_fs_read_line(ops, "/x/y", line, sizeof(line)), 0);
        assert_string_equal(line, "one\n");
        assert_int_equal(ob_fs_read_file_with(ops, "/x/y", 0, 100, &all, NULL), 0);
        assert_string_equal(all, "one\ntwo\n");
        free(all);
        assert_int_equal(ob_fs_read_file_with(ops, "/x/y", 0, 4, &all, NULL), -EFBIG);
        assert_int_equal(ob_fs_read_file_with(ops, "/x", 0, 4, &all, NULL), -EINVAL);
        assert_int_equal(ob_fs_access(ops, "/x/.y.tmp", F_OK), -1); /* no temp file left */
        assert_int_equal(ob_fs_unlink(ops, "/x/y"), 0);
        assert_int_equal(ob_fs_mkdir(ops, "/x/z", 0700), 0);
}

static void test_symlinks(void **state)
{
        char buf[32];
        struct stat st;

        (void)state;
        assert_int_equal(ob_fake_fs_put("/d/1/key", "k1", 0600), 0);
        assert_int_equal(ops->symlinkat("1", AT_FDCWD, "/d/current"), 0);
        assert_errno(ops->symlinkat("1", AT_FDCWD, "/d/current"), EEXIST);
        assert_string_equal(ob_fake_fs_get("/d/current/key", NULL), "k1");
        assert_int_equal(ops->readlinkat(AT_FDCWD, "/d/current", buf, sizeof(buf)), 1);
        assert_errno(ops->readlinkat(AT_FDCWD, "/d/1", buf, sizeof(buf)), EINVAL);
        assert_int_equal(ops->fstatat(AT_FDCWD, "/d/current", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(ops->fstatat(AT_FDCWD, "/d/current", &st, 0), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_errno(ops->openat(AT_FDCWD, "/d/current", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0),
                     ELOOP);
        assert_int_equal(ops->symlinkat("loop", AT_FDCWD, "/d/loop"), 0);
        assert_errno(ops->openat(AT_FDCWD, "/d/loop", O_RDONLY, 0), ELOOP);
        /* rename replaces a symlink, not what it points at */
        assert_int_equal(ops->symlinkat("2", AT_FDCWD, "/d/current.tmp"), 0);
        assert_int_equal(ops->renameat(AT_FDCWD, "/d/current.tmp", AT_FDCWD, "/d/current"), 0);
        assert_string_equal(ob_fake_fs_link("/d/current"), "2");
        assert_int_equal(ob_fake_fs_mode("/d/1"), S_IFDIR | 0755);
        assert_null(ob_fake_fs_get("/d/current/key", NULL));
}

/* The store and the credential slots on the fake, as on a disk. */
static void test_store_and_creds(void **state)
{
        ObStore *s = NULL;
        json_object *o = json_object_new_object(), *back = NULL;
        uint64_t gen = 0, *gens = NULL;
        size_t n = 0;

        (void)state;
        assert_int_equal(ops->mkdirat(AT_FDCWD, "/state", 0700), 0);
        assert_int_equal(ob_store_open("/state", "state.json", ops, &s), 0);
        json_object_object_add(o, "stage", json_object_new_string("onboarded"));
        assert_int_equal(ob_store_save(s, o), 0);
        assert_int_equal(ob_store_save(s, o), 0);
        assert_non_null(strstr(ob_fake_fs_get("/state/state.json", NULL), "onboarded"));
        assert_non_null(ob_fake_fs_get("/state/state.json.prev", NULL));
        assert_int_equal(ob_store_load(s, &back, NULL), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(back, "stage")),
                            "onboarded");
        json_object_put(back);
        json_object_put(o);
        ob_store_free(s);

        for (uint64_t g = 1; g <= 2; g++) {
                assert_int_equal(ob_creds_slot_create("/state", g, ops), 0);
                assert_int_equal(ob_creds_write("/state", g, "device.crt", "c", 1, 0644, ops), 0);
                assert_int_equal(ob_creds_commit("/state", g, ops), 0);
        }
        assert_int_equal(ob_creds_current("/state", &gen, ops), 0);
        assert_int_equal(gen, 2);
        assert_int_equal(ob_creds_list("/state", &gens, &n, ops), 0);
        assert_int_equal(n, 2);
        assert_int_equal(gens[0], 1);
        assert_int_equal(gens[1], 2);
        free(gens);
        assert_int_equal(ob_creds_remove_slot("/state", 2, ops), -EBUSY);
        assert_int_equal(ob_creds_remove_slot("/state", 1, ops), 0);
        assert_int_equal(ob_fake_fs_mode("/state/credentials/1"), 0);
        assert_string_equal(ob_fake_fs_get("/state/credentials/current/device.crt", NULL), "c");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_files_and_directories, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_and_fsync, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_and_creds, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
