/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rotation and committing (lib/onboard-rotate.c) against the fake cloud (onboard-harness.h):
 * when a renewal is due, slot N+1 beside the current identity, rollback, the fingerprint guard,
 * crashes at every stage of a rotation, the retired generations' deletion, agentctl rotate.
 */
#include "config.h"

#include "onboard-harness.h"

static void test_rotation_at_threshold(void **state)
{
        World *w = world_new(NULL);
        int64_t due, onboarded_at;
        char path[512];

        (void)state;
        onboard_now(w);
        onboarded_at = w->now;
        due = ob_onboard_next_rotation(w->ob);
        /* fake certificates: notBefore now-60 s, 365 days; default fraction 0.8 */
        assert_true(due > w->now + 290LL * 86400 * 1000 && due < w->now + 293LL * 86400 * 1000);
        assert_int_equal(ob_onboard_deadline(w->ob), due);
        w->now = due - 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0); /* early: nothing */
        assert_int_equal(w->cloud.connects, 2);
        w->now = due;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_true(ob_onboard_rotating(w->ob));
        /* asks with the identity it replaces */
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        assert_string_equal(w->cloud.last_client_id, "ob-" SERIAL);
        /* (the verifying connect has the same client id: it waits out the 1 s floor) */
        run_until_settled(w, 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.rotations_seen, 1);
        assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
        /* the old key stays for the grace period, then goes */
        snprintf(path, sizeof(path), "%s/credentials/1/device.key", w->state);
        assert_int_equal(access(path, F_OK), 0);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 7LL * 86400 * 1000);
        w->now += 7LL * 86400 * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(access(path, F_OK), -1);
        /* and the next rotation is planned from the new certificate */
        assert_true(ob_onboard_deadline(w->ob) > due + 290LL * 86400 * 1000);
        (void)onboarded_at;
        world_free(w);
}

static void test_rotate_now_and_rollback(void **state)
{
        World *w = world_new(NULL);
        char err[256], buf[64];

        (void)state;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
        onboard_now(w);
        w->cloud.refuse_gen = 2; /* the cloud will not take the new certificate */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 6 && !strstr(w->last_error_text, "rotation-rolled-back"); i++) {
                w->now = ob_onboard_deadline(w->ob); /* the 1 s connect floor */
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_non_null(strstr(w->last_error_text, "rotation-rolled-back"));
        assert_int_equal(current_gen(w), 1); /* the working identity never moved */
        assert_string_equal(status_str(w, "stage", buf, sizeof(buf)), "onboarded");
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EALREADY);
        /* the cloud accepts again: the retry makes a fresh key and certificate */
        w->cloud.refuse_gen = 0;
        run_until_settled(w, 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.certs_issued, 3); /* onboarding, refused one, accepted one */
        assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
        world_free(w);
}

/* A rotation the device policy refuses says so (not "the claim policy"), and next_rotation is
 * its real next attempt, never 1970 (issue 17 item 3). */
static void test_rotation_refused_by_policy(void **state)
{
        World *w = world_new(NULL);
        char err[256], buf[64];

        (void)state;
        onboard_now(w);
        w->tr.ops = &fake_ops_many; /* one SUBSCRIBE for all: its refusal names the filter */
        w->cloud.refuse_filter = "create-from-csr";
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 6 && !strstr(w->last_error_text, "subscribe-refused"); i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_non_null(strstr(w->last_error_text, "subscribe-refused"));
        assert_non_null(strstr(w->last_error_text, "the device's policy"));
        assert_null(strstr(w->last_error_text, "claim policy"));
        assert_true(ob_onboard_deadline(w->ob) > w->now);
        {
                char want[32];

                assert_true(
                        ob_isotime_format(ob_onboard_deadline(w->ob) / 1000, want, sizeof(want)));
                assert_string_equal(status_str(w, "next_rotation", buf, sizeof(buf)), want);
        }
        world_free(w);
}

/* kill -9 after each saved rotation stage: old or new identity works, never none; one
 * rotation for the window. */
static void test_rotation_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_NEW; s <= OB_STAGE_ONBOARDED; s++) {
                World *w = world_new(NULL);
                char err[256];
                uint64_t g;

                onboard_now(w);
                w->crash_at_stage = s;
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                run_until_settled(w, 3);
                assert_true(w->crashed);
                crash(w);
                g = current_gen(w);
                assert_true(g == 1 || g == 2); /* some working identity at every point */
                w->crash_at_stage = -1;
                w->now += 5000;
                new_machine(w);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_onboarded(w);
                assert_false(ob_onboard_rotating(w->ob));
                assert_int_equal(current_gen(w), 2);
                assert_int_equal(w->cloud.certs_issued, 2); /* no second rotation */
                world_free(w);
        }
}

static void test_rotation_fingerprint_guard(void **state)
{
        World *w = world_new(NULL);
        char err[256], path[512];

        (void)state;
        onboard_now(w);
        /* someone replaces the certificate under us */
        snprintf(path, sizeof(path), "%s/credentials/1/device.crt", w->state);
        make_claim(w, path, w->claim_key, -60, 86400);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_FAILED);
        assert_non_null(strstr(w->last_error_text, "changed underneath"));
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(current_gen(w), 1);
        world_free(w);
}

/* A 7-day certificate with the default 30 days_before_expiry is not renewed at once, and a
 * 365-day one is renewed 30 days before its end when that comes before the fraction. */
static void test_rotation_policy(void **state)
{
        World *w = world_new("\"rotation\": {\"lifetime_fraction\": 0.95}");
        int64_t due, nb, na;

        (void)state;
        onboard_now(w);
        due = ob_onboard_next_rotation(w->ob) / 1000;
        nb = w->now / 1000 - 60;
        na = w->now / 1000 + 365 * 86400;
        assert_true(llabs(due - (na - 30 * 86400)) <= 2);
        world_free(w);

        w = world_new(NULL);
        w->cloud.cert_days = 7;
        onboard_now(w);
        due = ob_onboard_next_rotation(w->ob) / 1000;
        nb = w->now / 1000 - 60;
        na = w->now / 1000 + 7 * 86400;
        assert_true(llabs(due - (nb + (na - nb) / 2)) <= 2); /* half its life, not at once */
        world_free(w);
}

/* A certificate that is due the moment it arrives (backdated notBefore): no rotation loop. */
static void test_rotation_no_loop(void **state)
{
        World *w = world_new("\"rotation\": {\"max_age_days\": 1}");
        char err[256];

        (void)state;
        w->cloud.cert_days = 1; /* 1 day + the 60 s backdating: due at half its life */
        onboard_now(w);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_int_equal(current_gen(w), 2);
        /* the new one is not due at once: half its life after the commit */
        assert_true(ob_onboard_next_rotation(w->ob) >= w->now + 43200LL * 1000 - 60000);
        assert_int_equal(ob_onboard_tick(w->ob, w->now + 1000), 0);
        assert_int_equal(w->cloud.certs_issued, 2);
        world_free(w);
}

/* agentctl rotate 30 times within the grace period (issue 19: only the last retired slot was
 * ever deleted, 200 rotations left 200 slots for good): each retired slot is kept for its
 * grace, the machine wakes when the first one is due, and after a clock jump past the grace
 * every retired slot is gone, the current one stays. */
static void test_retired_slots_all_deleted(void **state)
{
        World *w = world_new(NULL);
        const int64_t day = 86400LL * 1000;
        int64_t first_retired;
        char err[256];

        (void)state;
        onboard_now(w);
        first_retired = w->now + 60000;
        for (int i = 0; i < 30; i++) {
                w->now += 60000;
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                run_until_settled(w, 5);
                assert_onboarded(w);
        }
        assert_int_equal(current_gen(w), 31);
        assert_int_equal(slot_count(w), 31);
        /* the next wake-up is the first retired slot's deletion, a grace after its rotation */
        assert_true(ob_onboard_deadline(w->ob) >= first_retired + 7 * day);
        assert_true(ob_onboard_deadline(w->ob) < first_retired + 7 * day + 10000);
        w->now = ob_onboard_deadline(w->ob);
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_true(slot_count(w) < 31);
        assert_true(slot_count(w) > 1); /* the later ones wait for their own grace */
        /* the clock jumps 30 days */
        w->now += 30 * day;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(slot_count(w), 1);
        assert_int_equal(current_gen(w), 31);
        assert_onboarded(w);
        /* the next rotation retires one slot again: current + previous */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_int_equal(slot_count(w), 2);
        world_free(w);
}

/* A state.json saved by a version that listed only the last retirement ("previous", ca88530)
 * still loads; the slots it never deleted are found on disk at the next start and deleted a
 * grace later; a restart after that deletes them at once (the sweep at start). */
static void test_retired_slots_of_an_older_version(void **state)
{
        World *w = world_new(NULL);
        const int64_t day = 86400LL * 1000;
        json_object *o = NULL;
        ObStore *st = NULL;
        char err[256];

        (void)state;
        onboard_now(w);
        for (int i = 0; i < 5; i++) {
                w->now += 60000;
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                run_until_settled(w, 5);
        }
        assert_int_equal(slot_count(w), 6);
        crash(w);
        /* the file as the older version wrote it: "previous" (generation 5), no "retired" */
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &st), 0);
        assert_int_equal(ob_store_load(st, &o, NULL), 0);
        json_object *pv, *g;
        assert_true(json_object_object_get_ex(o, "previous", &pv));
        assert_true(json_object_object_get_ex(pv, "generation", &g));
        assert_int_equal(json_object_get_int64(g), 5);
        json_object_object_del(o, "retired");
        assert_int_equal(ob_store_save(st, o), 0);
        json_object_put(o);
        ob_store_free(st);

        w->now += 3 * day;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        assert_int_equal(slot_count(w), 6); /* 1..4 retired from now, 5 from its rotation */
        w->now += 5 * day;                  /* 5's grace is over, 1..4's is not */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(slot_count(w), 5);
        w->now += 2 * day; /* and theirs too */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(slot_count(w), 1);
        assert_int_equal(current_gen(w), 6);
        world_free(w);
}

static void test_rotation_waits_for_the_clock(void **state)
{
        World *w = world_new("\"rotation\": {\"max_age_days\": 1}");
        int64_t due;

        (void)state;
        onboard_now(w);
        due = ob_onboard_next_rotation(w->ob);
        assert_true(due <= w->now + 86400LL * 1000);
        /* the clock steps back before the build date (a board without RTC, rebooted) */
        w->now = T0 - 86400LL * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(w->cloud.connects, 2); /* nothing done */
        /* NTP steps it past the window: the rotation starts */
        w->now = due + 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        run_until_settled(w, 5);
        assert_int_equal(current_gen(w), 2);
        world_free(w);
}

/* agentctl rotate is taken even when its first connect cannot start: the failure is the
 * rotation's (status, retried), not "refused: not onboarded". */
static void test_rotate_now_first_connect_fails(void **state)
{
        World *w = world_new(NULL);
        char err[256], buf[64];

        (void)state;
        onboard_now(w);
        w->cloud.connect_error = -ENETDOWN;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        assert_true(ob_onboard_rotating(w->ob));
        for (int i = 0; i < 5 && strcmp(error_code(w, buf, sizeof(buf)), "connect-failed"); i++) {
                w->now = OB_MAX(w->now, ob_onboard_deadline(w->ob));
                (void)ob_onboard_tick(w->ob, w->now);
                pump(w);
        }
        assert_string_equal(error_code(w, buf, sizeof(buf)), "connect-failed");
        assert_true(ob_onboard_deadline(w->ob) > w->now); /* retried */
        w->cloud.connect_error = 0;
        run_until_settled(w, 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_int_equal(current_gen(w), 2);
        world_free(w);
}

/* rotate before the first identity: refused, with why and what to do for each method (issue 17
 * item 4: a JITP device answered "not onboarded yet: nothing to rotate") */
static void test_rotate_not_onboarded_says_why(void **state)
{
        static const struct {
                const char *method, *prov, *says;
                bool needs_template;
        } cases[] = {
                {"static", NULL, "agentctl factory status", true},
                {"jitp", NULL, "registered by its first connect", true},
                {"jitp", "\"template\": \"Tmpl\"", "registered by its first connect", false},
                {"jitr", NULL, "--new-status ACTIVE", true},
                {NULL, NULL, "fleet provisioning", false}, /* the world's fleet-claim */
        };
        char err[256]; /* what agent/daemon.c gives it */
        World *w;

        (void)state;
        for (size_t i = 0; i < OB_ELEMENTSOF(cases); i++) {
                w = cases[i].method ? world_method(cases[i].method, cases[i].prov, NULL)
                                    : world_new(NULL);
                assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
                assert_non_null(strstr(err, "not onboarded yet"));
                assert_non_null(strstr(err, cases[i].says));
                assert_non_null(strstr(err, "'agentctl status' says what it waits for"));
                assert_true(strlen(err) < sizeof(err) - 1); /* whole, not cut */
                assert_int_equal(strstr(err, "rotation.template") != NULL, cases[i].needs_template);
                world_free(w);
        }
        w = world_new(NULL);
        onboard_now(w);
        assert_int_equal(ob_onboard_forget(w->ob, true, false, w->now, NULL), 0);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
        assert_non_null(strstr(err, "decommissioned"));
        assert_non_null(strstr(err, "agentctl reprovision"));
        world_free(w);
}

/* rotation.enabled false turns the automatic renewal off; agentctl rotate still rotates
 * (docs/rotation.md), and nothing is due by itself afterwards. */
static void test_rotate_now_with_rotation_disabled(void **state)
{
        World *w = world_new("\"rotation\": {\"enabled\": false}");
        char err[256] = "";

        (void)state;
        onboard_now(w);
        assert_true(ob_onboard_next_rotation(w->ob) < 0);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 10);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        assert_true(ob_onboard_next_rotation(w->ob) < 0);
        world_free(w);
}

int main(void)
{
        if (getenv("OB_TEST_FILTER"))
                cmocka_set_test_filter(getenv("OB_TEST_FILTER"));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rotation_at_threshold),
                cmocka_unit_test(test_rotate_now_and_rollback),
                cmocka_unit_test(test_rotation_refused_by_policy),
                cmocka_unit_test(test_rotate_now_first_connect_fails),
                cmocka_unit_test(test_rotation_crash_after_each_stage),
                cmocka_unit_test(test_rotation_fingerprint_guard),
                cmocka_unit_test(test_rotation_waits_for_the_clock),
                cmocka_unit_test(test_rotation_policy),
                cmocka_unit_test(test_rotation_no_loop),
                cmocka_unit_test(test_retired_slots_all_deleted),
                cmocka_unit_test(test_retired_slots_of_an_older_version),
                cmocka_unit_test(test_rotate_not_onboarded_says_why),
                cmocka_unit_test(test_rotate_now_with_rotation_disabled),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
