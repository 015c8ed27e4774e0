/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT Jobs on the onboarding machine (lib/onboard-jobs.c) against the fake cloud
 * (onboard-harness.h, whose Jobs answer like AWS's device MQTT API): a job found at a check-in
 * runs once and its outcome reaches the cloud — rotate (SUCCEEDED with the new certificate id,
 * sent in the session after the commit), reprovision (a heal through the claim), report (the
 * shadow now), set-rotation-policy (persisted, used by the next rotation), an unknown operation
 * REJECTED — and a crash while a job's rotation runs never runs it twice.
 */
#include "config.h"

#include "onboard-harness.h"
#include "onboard-heal.h"

static World *jobs_world(bool report)
{
        char extra[160];

        snprintf(extra, sizeof(extra),
                 "\"jobs\": {\"poll_interval_minutes\": 60}, \"shadow\": {\"report\": %s}",
                 report ? "true" : "false");
        return world_new(extra);
}

static void queue_job(World *w, const char *id, const char *doc)
{
        snprintf(w->cloud.job_id, sizeof(w->cloud.job_id), "%s", id);
        snprintf(w->cloud.job_doc, sizeof(w->cloud.job_doc), "%s", doc);
        snprintf(w->cloud.job_status, sizeof(w->cloud.job_status), "QUEUED");
        w->cloud.job_version = 1;
        w->cloud.job_updates = 0;
}

/* Go to the next deadline (a check-in, a retry), tick and deliver what the cloud answers. */
static void next_deadline(World *w)
{
        int64_t dl = ob_onboard_deadline(w->ob);

        assert_true(dl >= 0);
        if (dl > w->now)
                w->now = dl;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        run_until_settled(w, 30);
}

/* Until the job is over in the cloud (at most n deadlines). */
static void until_job_over(World *w, int n)
{
        for (int i = 0; i < n && (strcmp(w->cloud.job_status, "QUEUED") == 0 ||
                                  strcmp(w->cloud.job_status, "IN_PROGRESS") == 0);
             i++)
                next_deadline(w);
}

static void assert_details_name_cert(World *w)
{
        char id[80], want[120];

        status_str(w, "certificate_id", id, sizeof(id));
        snprintf(want, sizeof(want), "\"certificateId\":\"%s\"", id);
        assert_non_null(strstr(w->cloud.job_details, want));
}

static void test_rotate_job(void **state)
{
        World *w = jobs_world(false);

        (void)state;
        onboard_now(w);
        queue_job(w, "rotate-1", "{\"operation\":\"rotate\",\"force\":true}");
        until_job_over(w, 6);
        assert_string_equal(w->cloud.job_status, "SUCCEEDED");
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.rotations_seen, 1);
        assert_int_equal(w->cloud.job_updates, 2); /* IN_PROGRESS, then SUCCEEDED */
        assert_details_name_cert(w);
        /* over: the next check-ins find nothing and rotate nothing */
        next_deadline(w);
        next_deadline(w);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.job_updates, 2);
        assert_onboarded(w);
        world_free(w);
}

/* A rotate job whose new certificate the cloud refuses: the rotation rolls back and waits for
 * its retry, and the job's FAILED (with the error code) reaches the cloud in the check-in that
 * follows the rollback, not after the rotation's next attempt. */
static void test_rotate_job_rolled_back(void **state)
{
        World *w = world_new("\"jobs\": {\"poll_interval_minutes\": 60}, \"shadow\": "
                             "{\"report\": true}, \"retry\": {\"refused\": {\"base\": 600, "
                             "\"cap\": 3600}}");
        char buf[64];
        int issued;

        (void)state;
        onboard_now(w);
        w->cloud.refuse_gen = 2;
        queue_job(w, "rotate-rb", "{\"operation\":\"rotate\",\"force\":true}");
        for (int i = 0; i < 20 && strcmp(w->cloud.job_status, "FAILED") != 0; i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_string_equal(w->cloud.job_status, "FAILED");
        assert_non_null(strstr(w->cloud.job_details, "rotation-rolled-back"));
        /* still the first rollback's wait: one certificate refused, none issued since */
        issued = w->cloud.certs_issued;
        assert_int_equal(issued, 2);
        assert_int_equal(current_gen(w), 1);
        assert_true(ob_onboard_rotating(w->ob));
        assert_string_equal(error_code(w, buf, sizeof(buf)), "rotation-rolled-back");
        world_free(w);
}

static void test_reprovision_job(void **state)
{
        World *w = jobs_world(false);
        char buf[64];

        (void)state;
        onboard_now(w);
        queue_job(w, "reprov-1", "{\"operation\":\"reprovision\"}");
        until_job_over(w, 6);
        assert_string_equal(w->cloud.job_status, "SUCCEEDED");
        assert_int_equal(current_gen(w), 2);
        assert_string_equal(status_str(w, "heal_reason", buf, sizeof(buf)), OB_HEAL_JOB);
        assert_details_name_cert(w);
        world_free(w);
}

static void test_reprovision_without_claim_fails(void **state)
{
        World *w = jobs_world(false);

        (void)state;
        onboard_now(w);
        assert_int_equal(unlink(w->claim_crt), 0);
        queue_job(w, "reprov-2", "{\"operation\":\"reprovision\"}");
        until_job_over(w, 3);
        assert_string_equal(w->cloud.job_status, "FAILED");
        assert_non_null(strstr(w->cloud.job_details, "claim"));
        assert_int_equal(current_gen(w), 1);
        world_free(w);
}

static void test_report_job(void **state)
{
        World *w = jobs_world(true);
        int before;

        (void)state;
        onboard_now(w);
        run_until_settled(w, 5);
        next_deadline(w); /* the check-in after onboarding: the shadow written once */
        before = w->cloud.shadow_updates;
        assert_true(before >= 1);
        queue_job(w, "report-1", "{\"operation\":\"report\"}");
        until_job_over(w, 3);
        assert_string_equal(w->cloud.job_status, "SUCCEEDED");
        /* unchanged, yet written again: the job asked for it */
        assert_int_equal(w->cloud.shadow_updates, before + 1);
        world_free(w);
}

static void test_policy_job_persists(void **state)
{
        World *w = jobs_world(false);
        int64_t before, after;
        json_object *st, *p;

        (void)state;
        onboard_now(w);
        before = ob_onboard_next_rotation(w->ob);
        queue_job(w, "policy-1", "{\"operation\":\"set-rotation-policy\",\"max_age_days\":10}");
        until_job_over(w, 3);
        assert_string_equal(w->cloud.job_status, "SUCCEEDED");
        after = ob_onboard_next_rotation(w->ob);
        assert_true(after < before);
        /* saved: a new machine from state.json has it */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_next_rotation(w->ob), after);
        st = ob_onboard_status(w->ob, w->now);
        assert_true(json_object_object_get_ex(st, "rotation_policy", &p) && p);
        json_object_put(st);
        world_free(w);
}

static void test_unknown_rejected(void **state)
{
        World *w = jobs_world(false);

        (void)state;
        onboard_now(w);
        queue_job(w, "bad-1", "{\"operation\":\"format-disk\"}");
        until_job_over(w, 3);
        assert_string_equal(w->cloud.job_status, "REJECTED");
        assert_non_null(strstr(w->cloud.job_details, "reason"));
        assert_int_equal(current_gen(w), 1);
        world_free(w);
}

/* kill -9 after each saved stage of the rotation a job asked for: the restart resumes that
 * rotation and reports it; the job never rotates twice. */
static void test_crash_never_twice(void **state)
{
        (void)state;
        for (int s = OB_STAGE_NEW; s <= OB_STAGE_ONBOARDED; s++) {
                World *w = jobs_world(false);

                onboard_now(w);
                queue_job(w, "rotate-2", "{\"operation\":\"rotate\",\"force\":true}");
                w->crash_at_stage = s;
                until_job_over(w, 2);
                assert_true(w->crashed);
                crash(w);
                assert_string_equal(w->cloud.job_status, "IN_PROGRESS");
                w->crash_at_stage = -1;
                w->now += 5000;
                new_machine(w);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 30);
                until_job_over(w, 6);
                assert_string_equal(w->cloud.job_status, "SUCCEEDED");
                assert_int_equal(current_gen(w), 2);
                assert_int_equal(w->cloud.rotations_seen, 1);
                assert_details_name_cert(w);
                world_free(w);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rotate_job),
                cmocka_unit_test(test_rotate_job_rolled_back),
                cmocka_unit_test(test_reprovision_job),
                cmocka_unit_test(test_reprovision_without_claim_fails),
                cmocka_unit_test(test_report_job),
                cmocka_unit_test(test_policy_job_persists),
                cmocka_unit_test(test_unknown_rejected),
                cmocka_unit_test(test_crash_never_twice),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
