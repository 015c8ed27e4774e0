/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retired credential slots (lib/retire): the list's order and JSON, reconciling it with the
 * slots on disk (unknown slots retired from now, vanished ones forgotten, the current and the
 * pending slot never listed, a retirement in the future restarted), and sweeps over real slot
 * folders with injected time: 200 rotations within the grace, then a clock jump past it,
 * delete every retired slot and keep the current one; a slot that cannot be deleted stays
 * listed and is retried.
 */
#include "config.h"

#include <errno.h>
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
#include "retire.h"

#define DAY_MS (86400LL * 1000)
#define T0     1800000000000LL /* 2027-01-15, ms */

static char dir[64];

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/ob-test-retire-XXXXXX");
        assert_non_null(mkdtemp(dir));
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

/* A slot with a key and a certificate, as a commit leaves it. */
static void make_slot(uint64_t gen)
{
        assert_int_equal(ob_creds_slot_create(dir, gen, NULL), 0);
        assert_int_equal(ob_creds_write(dir, gen, "device.key", "k", 1, 0600, NULL), 0);
        assert_int_equal(ob_creds_write(dir, gen, "device.crt", "c", 1, 0644, NULL), 0);
}

static size_t slots_on_disk(void)
{
        _cleanup_free_ uint64_t *g = NULL;
        size_t n = 0;

        assert_int_equal(ob_creds_list(dir, &g, &n, NULL), 0);
        return n;
}

static void test_list_order_and_json(void **state)
{
        ObRetireList l = {0}, back = {0};
        json_object *j;

        (void)state;
        assert_int_equal(ob_retire_add(&l, 5, 50), 0);
        assert_int_equal(ob_retire_add(&l, 2, 20), 0);
        assert_int_equal(ob_retire_add(&l, 9, 90), 0);
        assert_int_equal(ob_retire_add(&l, 2, 999), 0); /* the grace already runs: kept */
        assert_int_equal(ob_retire_add(&l, 0, 1), -EINVAL);
        assert_int_equal(l.n, 3);
        assert_int_equal(l.items[0].gen, 2);
        assert_int_equal(l.items[0].retired_ms, 20);
        assert_int_equal(ob_retire_newest(&l)->gen, 9);
        assert_int_equal(ob_retire_next_due(&l, 100), 120);
        j = ob_retire_to_json(&l);
        assert_string_equal(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN),
                            "[{\"generation\":2,\"retired_ms\":20},{\"generation\":5,\"retired_"
                            "ms\":50},{\"generation\":9,\"retired_ms\":90}]");
        assert_int_equal(ob_retire_from_json(j, &back), 0);
        assert_int_equal(back.n, 3);
        assert_int_equal(back.items[2].retired_ms, 90);
        json_object_put(j);
        ob_retire_remove(&l, 5);
        ob_retire_remove(&l, 7);
        assert_int_equal(l.n, 2);
        assert_false(ob_retire_contains(&l, 5));
        assert_true(ob_retire_contains(&l, 9));
        ob_retire_clear(&l);
        ob_retire_clear(&back);
        assert_int_equal(ob_retire_next_due(&l, 100), -1);
        assert_null(ob_retire_newest(&l));

        /* malformed entries are refused, not half-read */
        const char *bad[] = {"{}", "[1]", "[{\"generation\":0,\"retired_ms\":1}]",
                             "[{\"generation\":\"3\",\"retired_ms\":1}]", "[{\"generation\":3}]"};
        for (size_t i = 0; i < OB_ELEMENTSOF(bad); i++) {
                j = json_tokener_parse(bad[i]);
                assert_int_equal(ob_retire_from_json(j, &back), -EBADMSG);
                json_object_put(j);
                ob_retire_clear(&back);
        }
}

static void test_list_is_bounded(void **state)
{
        ObRetireList l = {0};

        (void)state;
        for (uint64_t g = 1; g <= OB_RETIRE_MAX; g++)
                assert_int_equal(ob_retire_add(&l, g, 1), 0);
        assert_int_equal(ob_retire_add(&l, OB_RETIRE_MAX + 1, 1), -E2BIG);
        ob_retire_clear(&l);
}

static void test_reconcile(void **state)
{
        ObRetireList l = {0};
        const uint64_t disk[] = {1, 2, 3, 5, 6};

        (void)state;
        assert_int_equal(ob_retire_add(&l, 2, T0 - DAY_MS), 0);
        assert_int_equal(ob_retire_add(&l, 4, T0 - DAY_MS), 0);      /* gone from disk */
        assert_int_equal(ob_retire_add(&l, 5, T0 + 30 * DAY_MS), 0); /* clock stepped back */
        /* current 6, pending 0: 1 and 3 are unknown, so retired from now */
        assert_int_equal(ob_retire_reconcile(&l, disk, OB_ELEMENTSOF(disk), 6, 0, T0), 1);
        assert_int_equal(l.n, 4);
        assert_int_equal(l.items[0].gen, 1);
        assert_int_equal(l.items[0].retired_ms, T0);
        assert_int_equal(l.items[1].gen, 2);
        assert_int_equal(l.items[1].retired_ms, T0 - DAY_MS); /* known: kept as it was */
        assert_int_equal(l.items[2].gen, 3);
        assert_int_equal(l.items[3].gen, 5);
        assert_int_equal(l.items[3].retired_ms, T0); /* restarted, not 30 days ahead */
        assert_false(ob_retire_contains(&l, 6));
        /* nothing new: unchanged */
        assert_int_equal(ob_retire_reconcile(&l, disk, OB_ELEMENTSOF(disk), 6, 0, T0), 0);
        /* the current and the pending generation are never retired, even when listed */
        assert_int_equal(ob_retire_reconcile(&l, disk, OB_ELEMENTSOF(disk), 5, 3, T0), 1);
        assert_false(ob_retire_contains(&l, 5));
        assert_false(ob_retire_contains(&l, 3));
        assert_true(ob_retire_contains(&l, 6));
        ob_retire_clear(&l);
}

/* agentctl rotate 200 times within the grace: 200 retired slots; a clock jump past the grace
 * deletes them all at the next sweep; the current slot stays. */
static void test_many_rotations_then_clock_jump(void **state)
{
        ObRetireList l = {0};
        ObRetireSweep s = {.state_dir = dir, .current = 1, .grace_ms = 7 * DAY_MS};
        ObRetireResult res;
        int64_t now = T0;

        (void)state;
        make_slot(1);
        assert_int_equal(ob_creds_commit(dir, 1, NULL), 0);
        for (uint64_t g = 2; g <= 201; g++) {
                make_slot(g);
                assert_int_equal(ob_creds_commit(dir, g, NULL), 0);
                assert_int_equal(ob_retire_add(&l, g - 1, now), 0);
                s.current = g;
                now += 60 * 1000; /* a rotation a minute */
                assert_int_equal(ob_retire_sweep(&l, &s, now, &res), 0);
                assert_int_equal(res.deleted, 0);
        }
        assert_int_equal(slots_on_disk(), 201);
        assert_int_equal(l.n, 200);
        /* a day before the first grace ends: nothing */
        assert_int_equal(ob_retire_sweep(&l, &s, T0 + 6 * DAY_MS, &res), 0);
        assert_int_equal(res.deleted, 0);
        assert_false(res.changed);
        /* the clock jumps 30 days ahead */
        now = T0 + 30 * DAY_MS;
        assert_int_equal(ob_retire_sweep(&l, &s, now, &res), 0);
        assert_int_equal(res.deleted, 200);
        assert_int_equal(res.first, 1);
        assert_int_equal(res.last, 200);
        assert_true(res.changed);
        assert_int_equal(res.error, 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(slots_on_disk(), 1);
        char p[128];
        snprintf(p, sizeof(p), "%s/credentials/current/device.key", dir);
        assert_int_equal(access(p, F_OK), 0);
        assert_int_equal(ob_retire_next_due(&l, s.grace_ms), -1);
        ob_retire_clear(&l);
}

/* The state of an older version lists only the last retirement ("previous"): the slots it
 * never deleted are found on disk, retired from the first sweep on, and deleted a grace later;
 * a slot being built is left alone. */
static void test_slots_left_by_an_older_version(void **state)
{
        ObRetireList l = {0};
        ObRetireSweep s = {.state_dir = dir, .current = 6, .pending = 7, .grace_ms = 7 * DAY_MS};
        ObRetireResult res;

        (void)state;
        for (uint64_t g = 1; g <= 7; g++)
                make_slot(g);
        assert_int_equal(ob_creds_commit(dir, 6, NULL), 0);
        assert_int_equal(ob_retire_add(&l, 5, T0 - 30 * DAY_MS), 0); /* "previous" */
        assert_int_equal(ob_retire_sweep(&l, &s, T0, &res), 0);
        assert_int_equal(res.deleted, 1); /* 5: its grace ended long ago */
        assert_int_equal(res.first, 5);
        assert_int_equal(l.n, 4); /* 1..4, from now on */
        assert_int_equal(slots_on_disk(), 6);
        assert_int_equal(ob_retire_next_due(&l, s.grace_ms), T0 + 7 * DAY_MS);
        assert_int_equal(ob_retire_sweep(&l, &s, T0 + 7 * DAY_MS - 1, &res), 0);
        assert_int_equal(res.deleted, 0);
        assert_int_equal(ob_retire_sweep(&l, &s, T0 + 7 * DAY_MS, &res), 0);
        assert_int_equal(res.deleted, 4);
        assert_int_equal(slots_on_disk(), 2); /* current 6 and pending 7 */
        /* the pending slot cannot be deleted on request either */
        assert_int_equal(ob_retire_delete_now(&l, &s, 7), -EBUSY);
        assert_int_equal(ob_retire_delete_now(&l, &s, 6), -EBUSY);
        ob_retire_clear(&l);
}

/* A slot that cannot be deleted (a subfolder in it) stays listed and is reported; the others
 * go. A symlink or a file named like a generation is not a slot. */
static void test_undeletable_slot_stays_listed(void **state)
{
        ObRetireList l = {0};
        ObRetireSweep s = {.state_dir = dir, .current = 3, .grace_ms = DAY_MS};
        ObRetireResult res;
        char p[160];

        (void)state;
        for (uint64_t g = 1; g <= 3; g++)
                make_slot(g);
        assert_int_equal(ob_creds_commit(dir, 3, NULL), 0);
        snprintf(p, sizeof(p), "%s/credentials/1/sub", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        snprintf(p, sizeof(p), "%s/credentials/9", dir);
        assert_int_equal(symlink("3", p), 0);
        snprintf(p, sizeof(p), "%s/credentials/8", dir);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fclose(f);
        assert_int_equal(slots_on_disk(), 3);
        assert_int_equal(ob_retire_sweep(&l, &s, T0, &res), 0);
        assert_int_equal(l.n, 2);
        assert_int_equal(ob_retire_sweep(&l, &s, T0 + DAY_MS, &res), 0);
        assert_int_equal(res.deleted, 1);
        assert_int_equal(res.first, 2);
        assert_int_equal(res.error, -EISDIR);
        assert_int_equal(res.error_gen, 1);
        assert_true(ob_retire_contains(&l, 1));
        snprintf(p, sizeof(p), "%s/credentials/1/sub", dir);
        assert_int_equal(rmdir(p), 0);
        assert_int_equal(ob_retire_sweep(&l, &s, T0 + DAY_MS, &res), 0);
        assert_int_equal(res.deleted, 1);
        assert_int_equal(res.error, 0);
        assert_int_equal(l.n, 0);
        assert_int_equal(slots_on_disk(), 1);
        ob_retire_clear(&l);
}

/* No credentials folder at all: nothing to do, no error. */
static void test_no_credentials_folder(void **state)
{
        ObRetireList l = {0};
        ObRetireSweep s = {.state_dir = dir, .current = 1, .grace_ms = DAY_MS};
        ObRetireResult res;

        (void)state;
        assert_int_equal(ob_retire_sweep(&l, &s, T0, &res), 0);
        assert_int_equal(res.deleted, 0);
        assert_false(res.changed);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_list_order_and_json),
                cmocka_unit_test(test_list_is_bounded),
                cmocka_unit_test(test_reconcile),
                cmocka_unit_test_setup_teardown(test_many_rotations_then_clock_jump, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_slots_left_by_an_older_version, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_undeletable_slot_stays_listed, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_no_credentials_folder, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
