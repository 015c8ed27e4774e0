/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check-in session and the named shadow's report (lib/onboard-checkin.c) against the fake
 * cloud (onboard-harness.h): the interval and its jitter, 0 = never, the idle deadline is the
 * earliest of rotation, retired-slot deletion and check-in, a refused check-in backs off and
 * keeps the identity, the shadow written only when the report changed and never in a session
 * that verifies a new certificate, a restart does not reconnect at once.
 */
#include "config.h"

#include "onboard-harness.h"
#include "onboard-checkin.h"

#define MIN_MS (60 * 1000LL)

static World *checkin_world(const char *minutes, bool report)
{
        char extra[160];

        snprintf(extra, sizeof(extra),
                 "\"jobs\": {\"poll_interval_minutes\": %s}, \"shadow\": {\"report\": %s}", minutes,
                 report ? "true" : "false");
        return world_new(extra);
}

/* Tick at the deadline and deliver what the cloud answers. */
static void tick_at_deadline(World *w)
{
        int64_t dl = ob_onboard_deadline(w->ob);

        assert_true(dl >= 0);
        if (dl > w->now)
                w->now = dl;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        run_until_settled(w, 5);
}

static json_object *status_member(World *w, const char *obj, const char *key)
{
        json_object *st = ob_onboard_status(w->ob, w->now), *o, *v = NULL;

        if (json_object_object_get_ex(st, obj, &o) && o)
                json_object_object_get_ex(o, key, &v);
        v = json_object_get(v);
        json_object_put(st);
        return v;
}

static void test_interval_and_jitter(void **state)
{
        World *w = checkin_world("60", false);
        int64_t last, gap, gaps[4];
        json_object *v;

        (void)state;
        onboard_now(w);
        assert_int_equal(w->cloud.connects, 2);
        /* one period, plus up to 10 % */
        gap = ob_onboard_deadline(w->ob) - w->now;
        assert_true(gap >= 60 * MIN_MS && gap <= 66 * MIN_MS);
        for (int i = 0; i < 4; i++) {
                last = w->now;
                tick_at_deadline(w);
                gaps[i] = w->now - last;
                assert_int_equal(w->cloud.connects, 3 + i);
                /* the current identity, the same client id as a rotation's */
                assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
                assert_string_equal(w->cloud.last_client_id, "ob-" SERIAL);
                assert_onboarded(w); /* disconnected, idle again */
                assert_true(gaps[i] >= 60 * MIN_MS && gaps[i] <= 66 * MIN_MS);
                gap = ob_onboard_deadline(w->ob) - w->now;
                assert_true(gap >= 60 * MIN_MS && gap <= 66 * MIN_MS);
        }
        /* jittered: not all the same */
        assert_true(gaps[0] != gaps[1] || gaps[1] != gaps[2] || gaps[2] != gaps[3]);
        assert_int_equal(w->changes[OB_CHANGE_CHECKIN], 4);
        v = status_member(w, "checkin", "last");
        assert_non_null(v);
        json_object_put(v);
        v = status_member(w, "checkin", "next");
        assert_non_null(v);
        json_object_put(v);
        world_free(w);
}

static void test_zero_is_never(void **state)
{
        World *w = checkin_world("0", false);

        (void)state;
        onboard_now(w);
        assert_int_equal(ob_onboard_deadline(w->ob), ob_onboard_next_rotation(w->ob));
        w->now += 30LL * 86400 * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        run_until_settled(w, 3);
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(w->changes[OB_CHANGE_CHECKIN], 0);
        world_free(w);
}

static void test_deadline_is_the_earliest(void **state)
{
        World *w = checkin_world("43200", false);  /* 30 days */
        World *y = checkin_world("525600", false); /* a year: after the rotation */
        char err[256];
        int64_t gap;

        (void)state;
        onboard_now(w);
        gap = ob_onboard_deadline(w->ob) - w->now;
        assert_true(gap >= 30LL * 86400 * 1000 && gap <= 33LL * 86400 * 1000);
        assert_true(ob_onboard_deadline(w->ob) < ob_onboard_next_rotation(w->ob));
        /* a rotation: the retired slot's deletion (7 days) comes first */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        gap = ob_onboard_deadline(w->ob) - w->now;
        assert_true(gap > 0 && gap <= 7LL * 86400 * 1000);

        onboard_now(y);
        assert_int_equal(ob_onboard_deadline(y->ob), ob_onboard_next_rotation(y->ob));
        world_free(y);
        world_free(w);
}

static void test_refused_backs_off_keeps_identity(void **state)
{
        World *w = checkin_world("60", false);
        char buf[128], err[256];
        int64_t gap, at;

        (void)state;
        onboard_now(w);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        tick_at_deadline(w);
        at = w->now;
        assert_int_equal(w->cloud.connects, 3);
        /* the one failure path: recorded with the outcome's class, backed off */
        assert_string_equal(error_code(w, buf, sizeof(buf)), "checkin-refused");
        assert_non_null(strstr(w->last_error_text, "refused"));
        /* the identity stays, the machine is idle (not stuck), the next check-in is the
         * backoff's, sooner than a period */
        assert_int_equal(current_gen(w), 1);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_DONE);
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "onboarded");
        assert_false(w->cloud.connected);
        gap = ob_onboard_deadline(w->ob) - at;
        assert_true(gap > 0 && gap < 60 * MIN_MS);
        tick_at_deadline(w);
        assert_int_equal(w->cloud.connects, 4);
        assert_string_equal(error_code(w, buf, sizeof(buf)), ""); /* over */
        /* a due rotation still happens after a refused check-in */
        w->cloud.fail_connects = 1;
        tick_at_deadline(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "checkin-refused");
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        for (int i = 0; i < 5 && current_gen(w) == 1; i++)
                tick_at_deadline(w);
        assert_int_equal(current_gen(w), 2);
        world_free(w);
}

static void test_shadow_only_when_changed(void **state)
{
        World *w = checkin_world("60", true);
        char cert1[80], cert2[80], err[256];
        json_object *v;

        (void)state;
        onboard_now(w);
        /* the verify session published nothing; a check-in is due soon */
        assert_int_equal(w->cloud.shadow_updates, 0);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 3000);
        status_str(w, "certificate_id", cert1, sizeof(cert1));
        tick_at_deadline(w);
        assert_int_equal(w->cloud.connects, 3);
        assert_int_equal(w->cloud.shadow_updates, 1);
        assert_onboarded(w);
        assert_non_null(strstr(w->cloud.last_shadow, cert1));
        assert_non_null(strstr(w->cloud.last_shadow, "\"thing_name\":\"ob-" SERIAL "\""));
        assert_non_null(strstr(w->cloud.last_shadow, "\"state\":\"onboarded\""));
        assert_non_null(strstr(w->cloud.last_shadow, "\"certificate_not_after\":"));
        assert_true(strlen(w->cloud.last_shadow) < 1024);
        v = status_member(w, "shadow", "result");
        assert_string_equal(json_object_get_string(v), "accepted");
        json_object_put(v);
        /* the next check-in: nothing changed, nothing written */
        tick_at_deadline(w);
        assert_int_equal(w->cloud.connects, 4);
        assert_int_equal(w->cloud.shadow_updates, 1);
        /* a restart neither: what was accepted is persisted */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        tick_at_deadline(w);
        assert_int_equal(w->cloud.connects, 5);
        assert_int_equal(w->cloud.shadow_updates, 1);
        /* a rotation: reported soon after, with the new certificate; the rotation's own
         * sessions (the request and the verification) publish nothing to the shadow */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.shadow_updates, 1);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 3000);
        tick_at_deadline(w);
        assert_int_equal(w->cloud.shadow_updates, 2);
        status_str(w, "certificate_id", cert2, sizeof(cert2));
        assert_string_not_equal(cert1, cert2);
        assert_non_null(strstr(w->cloud.last_shadow, cert2));
        world_free(w);
}

/* With a transport that subscribes to many filters at once (Paho's), a check-in sends two
 * SUBSCRIBE packets: the shadow's two reply topics, then the jobs' seven. */
static void test_one_subscribe_per_part(void **state)
{
        World *w = checkin_world("60", true);
        int calls;

        (void)state;
        onboard_now(w);
        w->tr.ops = &fake_ops_many;
        calls = w->cloud.subscribe_many_calls;
        tick_at_deadline(w);
        assert_int_equal(w->cloud.shadow_updates, 1);
        assert_int_equal(w->cloud.start_next_calls, 1);
        assert_int_equal(w->cloud.subscribe_many_calls, calls + 2);
        assert_onboarded(w);
        world_free(w);
}

static void test_shadow_even_with_interval_zero(void **state)
{
        World *w = checkin_world("0", true);

        (void)state;
        onboard_now(w);
        tick_at_deadline(w);
        assert_int_equal(w->cloud.shadow_updates, 1);
        /* and then no more check-ins */
        assert_int_equal(ob_onboard_deadline(w->ob), ob_onboard_next_rotation(w->ob));
        world_free(w);
}

static void test_shadow_rejected_is_a_notice(void **state)
{
        World *w = checkin_world("60", true);
        char buf[128];
        json_object *v;

        (void)state;
        onboard_now(w);
        w->cloud.reject_shadow = 1;
        tick_at_deadline(w);
        assert_int_equal(w->cloud.shadow_updates, 1);
        v = status_member(w, "shadow", "result");
        assert_non_null(strstr(json_object_get_string(v), "400"));
        assert_non_null(strstr(json_object_get_string(v), "Missing required node"));
        json_object_put(v);
        /* not a failure of the identity */
        assert_string_equal(error_code(w, buf, sizeof(buf)), "");
        assert_onboarded(w);
        /* not accepted: the next check-in sends it again */
        tick_at_deadline(w);
        assert_int_equal(w->cloud.shadow_updates, 2);
        v = status_member(w, "shadow", "result");
        assert_string_equal(json_object_get_string(v), "accepted");
        json_object_put(v);
        world_free(w);
}

static void test_restart_does_not_reconnect_at_once(void **state)
{
        World *w = checkin_world("60", false);
        json_object *o = NULL;
        int64_t next, checked;
        ObStore *st = NULL;

        (void)state;
        onboard_now(w);
        tick_at_deadline(w);
        checked = w->now;
        assert_int_equal(w->cloud.connects, 3);
        /* a restart half an hour later: the next check-in stays an hour after the last */
        w->now += 30 * MIN_MS;
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 3);
        assert_int_equal(w->cloud.connects, 3);
        next = ob_onboard_deadline(w->ob);
        assert_true(next >= checked + 60 * MIN_MS && next <= checked + 66 * MIN_MS);

        /* a state.json from before check-ins (no "checkin"): loads, and counts from now */
        crash(w);
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &st), 0);
        assert_int_equal(ob_store_load(st, &o, NULL), 0);
        assert_true(json_object_object_get_ex(o, "checkin", NULL));
        json_object_object_del(o, "checkin");
        assert_int_equal(ob_store_save(st, o), 0);
        json_object_put(o);
        st = ob_store_free(st);
        w->now += 600 * MIN_MS; /* long past the old schedule */
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 3);
        assert_int_equal(w->cloud.connects, 3);
        assert_true(ob_onboard_deadline(w->ob) >= w->now + 60 * MIN_MS);
        world_free(w);
}

/* Stopped between onboarding and the check-in that follows it: the next start reports soon
 * (once: after that check-in, a restart waits for the period again). */
static void test_first_report_survives_restart(void **state)
{
        World *w = checkin_world("60", true);

        (void)state;
        onboard_now(w);
        assert_int_equal(w->cloud.connects, 2);
        crash(w);
        w->now += 10 * MIN_MS;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 3000);
        tick_at_deadline(w);
        assert_int_equal(w->cloud.connects, 3);
        assert_int_equal(w->cloud.shadow_updates, 1);
        crash(w);
        w->now += 1000;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_true(ob_onboard_deadline(w->ob) >= w->now + 59 * MIN_MS);
        world_free(w);
}

/* Onboarded and reported once, with a long refused backoff; then a rotation whose new
 * certificate the cloud refuses, until it rolled back: the rotation waits for its retry. */
#define ROLLBACK_CONFIG                                                                            \
        "\"jobs\": {\"poll_interval_minutes\": 60}, \"shadow\": {\"report\": true}, "              \
        "\"retry\": {\"refused\": {\"base\": 600, \"cap\": 3600}}"

static void roll_back(World *w)
{
        char buf[128], err[256];

        onboard_now(w);
        tick_at_deadline(w); /* the first report */
        assert_int_equal(w->cloud.shadow_updates, 1);
        w->cloud.refuse_gen = 2; /* the cloud will not take the new certificate */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 12 && strcmp(error_code(w, buf, sizeof(buf)), "rotation-rolled-back");
             i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_string_equal(error_code(w, buf, sizeof(buf)), "rotation-rolled-back");
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(current_gen(w), 1);
}

/* A rotation whose new certificate the cloud refuses rolls back and waits for its retry: a
 * check-in follows soon with the current identity, so the shadow shows the failure, and the
 * rotation's retry stays where its backoff put it; the check-in neither moves it nor takes its
 * error; a refused check-in meanwhile neither. When the cloud accepts again, the retry rotates
 * and the shadow shows the new certificate without the error. */
static void test_rotation_failure_reported(void **state)
{
        World *w = world_new(ROLLBACK_CONFIG);
        char buf[128], cert1[80], cert2[80], want[32];
        int64_t retry;
        int connects, updates;

        (void)state;
        roll_back(w);
        status_str(w, "certificate_id", cert1, sizeof(cert1));
        retry = ob_onboard_checkin_retry_at(w->ob);
        assert_true(retry > w->now + 3000);
        /* status: next_retry is the rotation's, the check-in comes first */
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 3000);
        assert_true(ob_isotime_format(retry / 1000, want, sizeof(want)));
        assert_string_equal(status_str(w, "next_retry", buf, sizeof(buf)), want);
        connects = w->cloud.connects;
        updates = w->cloud.shadow_updates;
        w->now = ob_onboard_deadline(w->ob);
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        /* while it runs, status says so (not "rotating") */
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "checking-in");
        pump(w);
        assert_int_equal(w->cloud.connects, connects + 1);
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        assert_int_equal(w->cloud.shadow_updates, updates + 1);
        assert_non_null(strstr(w->cloud.last_shadow, "\"code\":\"rotation-rolled-back\""));
        assert_non_null(strstr(w->cloud.last_shadow, cert1));
        assert_non_null(strstr(w->cloud.last_shadow, "\"state\":\"onboarded\""));
        /* back to the rotation's wait: the same retry, the same error, the same generation */
        assert_false(w->cloud.connected);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_checkin_retry_at(w->ob), retry);
        assert_int_equal(ob_onboard_deadline(w->ob), retry); /* the next check-in: an hour */
        assert_string_equal(error_code(w, buf, sizeof(buf)), "rotation-rolled-back");
        assert_string_equal(status_str(w, "next_retry", buf, sizeof(buf)), want);
        assert_int_equal(current_gen(w), 1);
        assert_true(ob_onboard_rotating(w->ob));

        /* the cloud accepts again: the retry rotates, the shadow follows without the error */
        w->cloud.refuse_gen = 0;
        for (int i = 0; i < 8 && current_gen(w) == 1; i++)
                tick_at_deadline(w);
        assert_int_equal(current_gen(w), 2);
        assert_false(ob_onboard_rotating(w->ob));
        status_str(w, "certificate_id", cert2, sizeof(cert2));
        for (int i = 0; i < 3 && !strstr(w->cloud.last_shadow, cert2); i++)
                tick_at_deadline(w);
        assert_non_null(strstr(w->cloud.last_shadow, cert2));
        assert_non_null(strstr(w->cloud.last_shadow, "\"last_error\":null"));
        world_free(w);
}

/* A check-in refused while a rotation waits for its retry: the rotation's error, retry and
 * backoff stay; the rotation goes on at its time. */
static void test_refused_checkin_during_rotation_wait(void **state)
{
        World *w = world_new(ROLLBACK_CONFIG);
        char buf[128];
        int64_t retry;
        int connects;

        (void)state;
        roll_back(w);
        retry = ob_onboard_checkin_retry_at(w->ob);
        assert_true(retry > w->now + 3000);
        connects = w->cloud.connects;
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_NETWORK;
        w->now = ob_onboard_deadline(w->ob);
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(w->cloud.connects, connects + 1);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "rotation-rolled-back");
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_checkin_retry_at(w->ob), retry);
        assert_true(ob_onboard_deadline(w->ob) <= retry);
        /* at the retry: the rotation's own attempt (a new key, the current identity asks) */
        w->cloud.refuse_gen = 0;
        for (int i = 0; i < 8 && current_gen(w) == 1; i++)
                tick_at_deadline(w);
        assert_int_equal(current_gen(w), 2);
        assert_true(w->now >= retry);
        world_free(w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_interval_and_jitter),
                cmocka_unit_test(test_zero_is_never),
                cmocka_unit_test(test_deadline_is_the_earliest),
                cmocka_unit_test(test_refused_backs_off_keeps_identity),
                cmocka_unit_test(test_shadow_only_when_changed),
                cmocka_unit_test(test_one_subscribe_per_part),
                cmocka_unit_test(test_shadow_even_with_interval_zero),
                cmocka_unit_test(test_shadow_rejected_is_a_notice),
                cmocka_unit_test(test_restart_does_not_reconnect_at_once),
                cmocka_unit_test(test_first_report_survives_restart),
                cmocka_unit_test(test_rotation_failure_reported),
                cmocka_unit_test(test_refused_checkin_during_rotation_wait),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
