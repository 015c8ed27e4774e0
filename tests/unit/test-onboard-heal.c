/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Self-healing identity (lib/onboard-heal.c) against the fake cloud (onboard-harness.h): a test
 * per trigger (revoked: closed or alert, inactive, decommissioned in the cloud, expired), the
 * transients that never fire it, the count across a restart and its reset, a crash after each
 * saved stage of a heal, and the wait without a claim (no reconnect loop).
 */
#include "config.h"

#include "conn-outcome.h"
#include "onboard-harness.h"
#include "onboard-heal.h"

#define MIN_MS (60 * 1000LL)

static int64_t status_int(World *w, const char *key)
{
        char buf[32];

        return atoll(status_str(w, key, buf, sizeof(buf)));
}

/* Onboard, then the cloud refuses generation 1 with cause; agentctl rotate's step 2 (connect
 * with the current certificate) meets the refusals, retried on the refused schedule, until
 * the device heals through the claim: same thing, generation 2, healed_at and the reason. */
static void heals_after_refusals(ObConnCause cause)
{
        World *w = world_new("\"recovery\": {\"refusal_window_minutes\": 1}");
        char err[256], thing[64], buf[64];
        int64_t t0;

        onboard_now(w);
        assert_true(w->cfg->recovery.reonboard); /* fleet-claim's default */
        status_str(w, "thing_name", thing, sizeof(thing));
        w->now += HOUR_MS;
        t0 = w->now;
        w->cloud.refuse_gen = 1;
        w->cloud.refuse_cause = cause;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 60);
        assert_onboarded(w);
        assert_false(ob_onboard_rotating(w->ob));
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.rotations_seen, 1); /* RegisterThing named the thing */
        assert_string_equal(status_str(w, "thing_name", buf, sizeof(buf)), thing);
        /* at least recovery.refusals, the first and the last a window apart */
        assert_true(w->cloud.refused_connects >= 3);
        assert_true(w->now - t0 >= MIN_MS);
        assert_int_equal(w->changes[OB_CHANGE_HEALED], 1);
        assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
        assert_string_equal(status_str(w, "heal_reason", buf, sizeof(buf)), OB_HEAL_REFUSED);
        assert_true(status_str(w, "healed_at", buf, sizeof(buf))[0] != 0);
        assert_int_equal(status_int(w, "identity_refusals"), 0);
        /* once: nothing more to do */
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_DONE);
        world_free(w);
}

static void test_revoked_closed(void **state)
{
        (void)state;
        heals_after_refusals(OB_CONN_CLOSED); /* AWS closes on a revoked certificate */
}

static void test_revoked_alert(void **state)
{
        (void)state;
        heals_after_refusals(OB_CONN_TLS_ALERT); /* "certificate revoked" */
}

static void test_inactive_closed(void **state)
{
        (void)state;
        heals_after_refusals(OB_CONN_CLOSED); /* INACTIVE: closed before CONNACK as well */
}

static void test_decommissioned_in_cloud(void **state)
{
        (void)state;
        heals_after_refusals(OB_CONN_CONNACK_REFUSED); /* certificate deleted: not authorized */
}

/* Expired by the clock (a gateway that sat in a warehouse past its certificate's notAfter):
 * no refusal needed, the next decision heals through the claim. */
static void test_expired(void **state)
{
        World *w = world_new(NULL);
        char buf[64];

        (void)state;
        w->cloud.cert_days = 2;
        onboard_now(w);
        w->now += 3 * 86400 * 1000LL; /* switched off for three days */
        w->cloud.refuse_gen = 1;      /* and AWS refuses an expired certificate */
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_true(ob_onboard_rotating(w->ob));
        assert_string_equal(status_str(w, "healing", buf, sizeof(buf)), OB_HEAL_EXPIRED);
        run_until_settled(w, 10);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.refused_connects, 0); /* it did not even try the old one */
        assert_int_equal(w->cloud.rotations_seen, 1);
        assert_string_equal(status_str(w, "heal_reason", buf, sizeof(buf)), OB_HEAL_EXPIRED);
        assert_int_equal(w->changes[OB_CHANGE_HEALED], 1);
        world_free(w);
}

/* With rotation off nothing else wakes the idle machine: it wakes at notAfter. */
static void test_expired_wakes_at_not_after(void **state)
{
        World *w = world_new("\"rotation\": {\"enabled\": false}");
        int64_t na;

        (void)state;
        w->cloud.cert_days = 2;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        na = ob_onboard_deadline(w->ob);
        assert_true(na > w->now + 2 * 86400 * 1000LL - 2 * MIN_MS &&
                    na <= w->now + 2 * 86400 * 1000LL + 2000);
        w->now = na;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        run_until_settled(w, 10);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->changes[OB_CHANGE_HEALED], 1);
        world_free(w);
}

/* Transients never count; refusals without the window never fire. */
static void test_transients_never_fire(void **state)
{
        World *w = world_new(NULL); /* 3 refusals over 30 minutes */
        char buf[64];

        (void)state;
        onboard_now(w);
        for (int i = 0; i < 10; i++) {
                w->now += 10 * MIN_MS;
                ob_onboard_heal_note_connect(w->ob, false, OB_CONN_THROTTLED, w->now);
                ob_onboard_heal_note_connect(w->ob, false, OB_CONN_NETWORK, w->now);
                ob_onboard_heal_note_connect(w->ob, false, OB_CONN_TIMEOUT, w->now);
                ob_onboard_heal_note_connect(w->ob, false, OB_CONN_NO_CONNACK, w->now);
                /* even with a refused class, these causes are not about the identity */
                ob_onboard_heal_note_connect(w->ob, true, OB_CONN_THROTTLED, w->now);
                ob_onboard_heal_note_connect(w->ob, true, OB_CONN_SERVER_CERT, w->now);
                ob_onboard_heal_note_connect(w->ob, true, OB_CONN_NETWORK, w->now);
        }
        assert_int_equal(status_int(w, "identity_refusals"), 0);
        /* two refusals hours apart: below recovery.refusals */
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        w->now += 2 * HOUR_MS;
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        assert_int_equal(status_int(w, "identity_refusals"), 2);
        assert_false(ob_onboard_rotating(w->ob));
        /* a burst: three more within a minute of each other fire only once the first and the
         * last are the window apart (they are: the first was 2 h ago); reset first */
        ob_onboard_heal_note_connect(w->ob, false, OB_CONN_UNKNOWN, w->now);
        assert_int_equal(status_int(w, "identity_refusals"), 0);
        for (int i = 0; i < 5; i++) {
                w->now += 5000;
                ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        }
        assert_int_equal(status_int(w, "identity_refusals"), 5);
        assert_false(ob_onboard_rotating(w->ob));
        assert_string_equal(status_str(w, "healed_at", buf, sizeof(buf)), "");
        assert_int_equal(w->cloud.certs_issued, 1);
        /* 30 minutes after the first: it fires, through the claim */
        w->now += 30 * MIN_MS;
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        assert_true(ob_onboard_rotating(w->ob));
        assert_string_equal(status_str(w, "healing", buf, sizeof(buf)), OB_HEAL_REFUSED);
        run_until_settled(w, 10);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->changes[OB_CHANGE_HEALED], 1);
        world_free(w);
}

/* The count and the first refusal's time survive a restart; a success resets them. */
static void test_count_persists_and_resets(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        onboard_now(w);
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        w->now += 20 * MIN_MS;
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_TLS_ALERT, w->now);
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(status_int(w, "identity_refusals"), 2);
        /* the first refusal's time came back: 11 minutes later the third fires */
        w->now += 11 * MIN_MS;
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        assert_true(ob_onboard_rotating(w->ob));
        world_free(w);

        w = world_new(NULL);
        onboard_now(w);
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now + 1000);
        ob_onboard_heal_note_connect(w->ob, false, OB_CONN_UNKNOWN, w->now + 2000);
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(status_int(w, "identity_refusals"), 0);
        world_free(w);
}

/* kill -9 after each saved stage of a heal: the restart resumes the heal (through the claim:
 * the current certificate stays refused and the trigger cannot fire again), one commit. */
static void test_heal_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_NEW; s <= OB_STAGE_ONBOARDED; s++) {
                World *w = world_new("\"recovery\": {\"refusals\": 1, "
                                     "\"refusal_window_minutes\": 0}");
                char buf[64];
                uint64_t g;

                onboard_now(w);
                w->cloud.refuse_gen = 1;
                w->crash_at_stage = s;
                ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
                run_until_settled(w, 10);
                assert_true(w->crashed);
                crash(w);
                g = current_gen(w);
                assert_true(g == 1 || g == 2);
                /* after the restart a plain rotation could never fire a heal again */
                w->cfg->recovery.refusals = 1000;
                w->crash_at_stage = -1;
                w->now += 5000;
                new_machine(w);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 10);
                assert_onboarded(w);
                assert_false(ob_onboard_rotating(w->ob));
                assert_int_equal(current_gen(w), 2);
                assert_int_equal(w->cloud.certs_issued, 2); /* exactly one heal */
                assert_int_equal(w->cloud.rotations_seen, 1);
                assert_string_equal(status_str(w, "heal_reason", buf, sizeof(buf)),
                                    OB_HEAL_REFUSED);
                world_free(w);
        }
}

/* recovery.reonboard off (or no claim): a clear status, the long backoff, no loop. */
static void test_no_claim_waits(void **state)
{
        World *w = world_new("\"recovery\": {\"reonboard\": false, \"refusals\": 1, "
                             "\"refusal_window_minutes\": 0}");
        char err[256], buf[128];
        int connects;

        (void)state;
        onboard_now(w);
        w->now += HOUR_MS;
        w->cloud.refuse_gen = 1;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 2);
        assert_string_equal(error_code(w, buf, sizeof(buf)), OB_HEAL_WAIT_CODE);
        assert_non_null(strstr(w->last_error_text, "identity refused by AWS IoT Core"));
        assert_non_null(strstr(w->last_error_text, "recovery.reonboard is off"));
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        /* retry.refused's cap (1 h) */
        assert_true(ob_onboard_deadline(w->ob) >= w->now + HOUR_MS);
        connects = w->cloud.connects;
        /* a day: one try an hour at most, no heal */
        for (int i = 0; i < 24; i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_true(w->cloud.connects - connects <= 25);
        for (int i = connects + 1; i < w->cloud.connects && i < 64; i++)
                assert_true(w->cloud.connect_times[i] - w->cloud.connect_times[i - 1] >= HOUR_MS);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_int_equal(current_gen(w), 1);
        assert_int_equal(w->changes[OB_CHANGE_HEALED], 0);
        assert_string_equal(error_code(w, buf, sizeof(buf)), OB_HEAL_WAIT_CODE);
        /* the cloud side reactivates the certificate: the next try works, the count resets */
        w->cloud.refuse_gen = 0;
        run_until_settled(w, 10);
        assert_int_equal(current_gen(w), 2); /* the rotation it was doing */
        assert_int_equal(status_int(w, "identity_refusals"), 0);
        world_free(w);
}

/* An explicit heal (the reprovision job, an operator) and what it refuses. */
static void test_heal_begin(void **state)
{
        World *w = world_new(NULL);
        char err[256] = "", buf[64];

        (void)state;
        assert_int_equal(ob_onboard_heal_begin(w->ob, OB_HEAL_JOB, w->now, err, sizeof(err)),
                         -EAGAIN);
        onboard_now(w);
        assert_int_equal(ob_onboard_heal_begin(w->ob, OB_HEAL_JOB, w->now, err, sizeof(err)), 0);
        assert_int_equal(ob_onboard_heal_begin(w->ob, OB_HEAL_OPERATOR, w->now, err, sizeof(err)),
                         -EALREADY);
        run_until_settled(w, 10);
        assert_int_equal(current_gen(w), 2);
        assert_string_equal(status_str(w, "heal_reason", buf, sizeof(buf)), OB_HEAL_JOB);
        /* the claim is gone: nothing to heal with */
        assert_int_equal(unlink(w->claim_crt), 0);
        assert_int_equal(ob_onboard_heal_begin(w->ob, OB_HEAL_JOB, w->now, err, sizeof(err)),
                         -ENOENT);
        assert_non_null(strstr(err, "no claim"));
        world_free(w);
}

/* fleet-trusted-user: no claim of its own (recovery.reonboard is off by default): the refused
 * identity waits, and a claim handed over with agentctl provision heals it. */
static void test_trusted_user_provision_heals(void **state)
{
        World *w = world_method("fleet-trusted-user", "\"template\": \"Tmpl\"",
                                "\"recovery\": {\"refusals\": 1, \"refusal_window_minutes\": 0}");
        char crt[4096], key[4096], err[256] = "", buf[64];

        (void)state;
        assert_false(w->cfg->recovery.reonboard);
        make_claim(w, w->claim_crt, w->claim_key, -3600, 365 * 86400);
        read_text(w->claim_crt, crt, sizeof(crt));
        read_text(w->claim_key, key, sizeof(key));
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_int_equal(ob_onboard_provide_claim(w->ob, crt, key, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 10);
        assert_int_equal(current_gen(w), 1);
        /* onboarded and working: a claim is not wanted */
        assert_int_equal(ob_onboard_provide_claim(w->ob, crt, key, w->now, err, sizeof(err)),
                         -EALREADY);
        w->now += HOUR_MS;
        w->cloud.refuse_gen = 1;
        ob_onboard_heal_note_connect(w->ob, true, OB_CONN_CLOSED, w->now);
        assert_string_equal(error_code(w, buf, sizeof(buf)), OB_HEAL_WAIT_CODE);
        assert_non_null(strstr(w->last_error_text, "agentctl provision"));
        assert_false(ob_onboard_rotating(w->ob));
        assert_int_equal(ob_onboard_provide_claim(w->ob, crt, key, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 10);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.refused_connects, 0);
        assert_string_equal(status_str(w, "heal_reason", buf, sizeof(buf)), OB_HEAL_REFUSED);
        assert_int_equal(w->changes[OB_CHANGE_HEALED], 1);
        world_free(w);
}

/* A heal that cannot reach the claim endpoint backs off like any failure, then heals. */
static void test_heal_backs_off(void **state)
{
        World *w = world_new(NULL);
        char err[256] = "";
        int c0;

        (void)state;
        onboard_now(w);
        w->now += HOUR_MS;
        c0 = w->cloud.connects;
        w->cloud.fail_connects = 4;
        w->cloud.fail_class = OB_ERR_NETWORK;
        w->cloud.fail_cause = OB_CONN_NETWORK;
        assert_int_equal(ob_onboard_heal_begin(w->ob, OB_HEAL_OPERATOR, w->now, err, sizeof(err)),
                         0);
        run_until_settled(w, 20);
        assert_int_equal(current_gen(w), 2);
        assert_true(w->cloud.connects - c0 >= 5);
        /* each retry of the claim connect waited for its backoff (never under the 1 s floor) */
        assert_true(w->cloud.connect_times[c0 + 4] - w->cloud.connect_times[c0 + 3] >= 1000);
        assert_int_equal(status_int(w, "identity_refusals"), 0); /* not the identity's fault */
        world_free(w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_revoked_closed),
                cmocka_unit_test(test_revoked_alert),
                cmocka_unit_test(test_inactive_closed),
                cmocka_unit_test(test_decommissioned_in_cloud),
                cmocka_unit_test(test_expired),
                cmocka_unit_test(test_expired_wakes_at_not_after),
                cmocka_unit_test(test_transients_never_fire),
                cmocka_unit_test(test_count_persists_and_resets),
                cmocka_unit_test(test_heal_crash_after_each_stage),
                cmocka_unit_test(test_no_claim_waits),
                cmocka_unit_test(test_heal_begin),
                cmocka_unit_test(test_heal_backs_off),
                cmocka_unit_test(test_trusted_user_provision_heals),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
