/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The factory-certificate methods (lib/onboard-factory.c, lib/onboard-jit.c) against the fake
 * cloud (onboard-harness.h): static waiting for its certificate and refused, JITP's registering
 * refusals and its give-up, JITR waiting for activation, the CA chain, crashes at every stage,
 * and the connect floor, retries and timeouts as a factory device meets them.
 */
#include "config.h"

#include "onboard-harness.h"

static void test_static_waits_for_certificate(void **state)
{
        World *w = world_method("static", NULL, NULL);
        char buf[512], id[65];

        (void)state;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CERT);
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "waiting-for-certificate");
        assert_string_equal(error_code(w, buf, sizeof(buf)), "no-certificate");
        assert_non_null(strstr(w->last_error_text, "agentctl factory install-cert"));
        assert_int_equal(ob_onboard_deadline(w->ob), w->now + OB_ONBOARD_CERT_POLL_MS);
        /* re-checked periodically, quietly: one report, no connect, no crash loop */
        run_until_settled(w, 20);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CERT);
        assert_int_equal(w->changes[OB_CHANGE_ERROR], 1);
        assert_int_equal(w->cloud.connects, 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_NEW);

        make_factory(w, false, id);
        run_until_settled(w, 5);
        assert_factory_onboarded(w, id);
        assert_int_equal(w->cloud.connects, 1);
        assert_int_equal(w->cloud.last_cert_count, 1); /* static: no chain */
        /* agentctl rotate has nothing to renew with */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, buf, sizeof(buf)), -EOPNOTSUPP);
        assert_non_null(strstr(buf, "rotation.template"));
        world_free(w);
}

static void test_static_refused(void **state)
{
        World *w = world_method("static", NULL, NULL);
        char buf[512], id[65];
        int64_t start = w->now;

        (void)state;
        make_factory(w, false, id);
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 40);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "certificate-refused");
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_CERT_ISSUED);
        /* a long schedule (retry.refused: 5 s doubling to 1 h), never a crash loop */
        assert_true(min_gap(&w->cloud) >= 1000);
        assert_true(w->now - start > 4 * HOUR_MS / 2);
        assert_true(w->cloud.connects <= 41);
        /* persistent across a restart */
        crash(w);
        new_machine(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "certificate-refused");
        /* registered and activated meanwhile: the next attempt onboards */
        w->cloud.fail_connects = 0;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 3);
        assert_factory_onboarded(w, id);
        world_free(w);
}

/* Refusals count for the one-CONNECT-per-second floor, from when they arrive. */
static void test_refusal_counts_for_connect_floor(void **state)
{
        World *w = world_method("static", NULL,
                                "\"retry\": {\"refused\": {\"base\": \"100ms\", \"cap\": 1}}");
        char id[65];

        (void)state;
        make_factory(w, false, id);
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        for (int i = 0; i < 20; i++) {
                int64_t refused_at;
                /* the refusal arrives 700 ms after the CONNECT */
                w->now += 700;
                refused_at = w->now;
                pump(w);
                assert_true(ob_onboard_deadline(w->ob) >= refused_at + 1000);
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        }
        assert_int_equal(w->cloud.connects, 21);
        assert_true(min_gap(&w->cloud) >= 1700);
        world_free(w);
}

static void test_jitp(void **state)
{
        /* a slow refused schedule: the soon retry must not come from its jitter */
        World *w = world_method("jitp", NULL, "\"retry\": {\"refused\": {\"base\": 600}}");
        char buf[512], id[65];

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1; /* JITP registers on the first connect and refuses it */
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(w->cloud.last_cert_count, 2); /* certificate + CA */
        assert_string_equal(w->cloud.last_client_id, FACTORY_CN);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "waiting-to-retry");
        /* retried soon: 1-2 s */
        assert_true(ob_onboard_deadline(w->ob) >= w->now + 1000);
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 2000);
        run_until_settled(w, 3);
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(w->cloud.last_cert_count, 2); /* still with the CA until a success */
        assert_factory_onboarded(w, id);
        world_free(w);
}

/* A TLS alert about our certificate is not a registration in progress: JITP says what it is
 * at once, on the refused schedule, never "registration-pending". */
static void test_jitp_tls_alert_not_pending(void **state)
{
        World *w = world_method("jitp", NULL, "\"retry\": {\"refused\": {\"base\": 600}}");
        char buf[512], id[65];

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        w->cloud.fail_cause = OB_CONN_TLS_ALERT;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "certificate-refused");
        assert_non_null(strstr(w->last_error_text, "fake failure"));
        /* no "soon" retry: the refused schedule (up to 600 s) */
        assert_true(ob_onboard_deadline(w->ob) >= w->now + 1000);
        world_free(w);
}

/* A broker that takes TLS and never answers the CONNECT is a timeout, not a refusal; a close
 * before the timeout is still a refusal (JITP: pending). */
static void test_no_connack_is_timeout(void **state)
{
        World *w = world_method("jitp", NULL, NULL);
        char buf[512], id[65];
        json_object *st, *e, *v;

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        w->cloud.fail_cause = OB_CONN_CLOSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        w->now += 30000; /* endpoint.connect_timeout's default */
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "connect-failed");
        assert_non_null(strstr(w->last_error_text, "no CONNACK within 30000 ms"));
        st = ob_onboard_status(w->ob, w->now);
        assert_true(json_object_object_get_ex(st, "last_error", &e));
        assert_true(json_object_object_get_ex(e, "class", &v));
        assert_string_equal(json_object_get_string(v), "timeout");
        json_object_put(st);
        world_free(w);

        w = world_method("jitp", NULL, NULL);
        make_factory(w, true, id);
        w->cloud.fail_connects = 1;
        w->cloud.fail_class = OB_ERR_REFUSED;
        w->cloud.fail_cause = OB_CONN_CLOSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        w->now += 300;
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        world_free(w);
}

/* The time of a CONNECT is on disk before it is sent: a process started right after a crash
 * mid-connect waits out AWS's one CONNECT per second per client id. */
static void test_restart_keeps_connect_floor(void **state)
{
        World *w = world_method("static", NULL, NULL);
        char id[65];
        int64_t first;

        (void)state;
        make_factory(w, false, id);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(w->cloud.connects, 1);
        first = w->now;
        crash(w); /* before the CONNACK is seen: it is dropped with the connection */
        w->now += 200;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 5);
        assert_true(w->cloud.connects >= 1);
        assert_true(w->cloud.connect_times[w->cloud.connects - 1] >= first + 1000);
        world_free(w);
}

static void test_jitp_refused_not_pending(void **state)
{
        World *w = world_method("jitp", "\"jitp_max_refusals\": 3", NULL);
        char buf[512], id[65];

        (void)state;
        make_factory(w, true, id);
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        run_until_settled(w, 1);
        assert_int_equal(w->cloud.connects, 2);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "registration-pending");
        run_until_settled(w, 1);
        assert_int_equal(w->cloud.connects, 3);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "refused-not-pending");
        assert_true(strncmp(w->last_error_text, "refused, not pending", 20) == 0);
        /* keeps retrying on the refused schedule, the status stays */
        run_until_settled(w, 10);
        assert_int_equal(w->cloud.connects, 13);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "refused-not-pending");
        assert_true(min_gap(&w->cloud) >= 1000);
        /* the count survives a restart */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_string_equal(error_code(w, buf, sizeof(buf)), "refused-not-pending");
        world_free(w);
}

/* A JITR device with its factory certificate, started against a cloud that refuses it (not
 * activated yet): after its first attempt. */
static void jitr_start_refused(World *w, char id[65])
{
        make_factory(w, true, id);
        w->cloud.fail_connects = 100000;
        w->cloud.fail_class = OB_ERR_REFUSED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
}

static void test_jitr_never_gives_up(void **state)
{
        World *w = world_method("jitr", NULL, NULL);
        char buf[512], id[65];
        int64_t start = w->now, day_start;
        int at_day;

        (void)state;
        jitr_start_refused(w, id);
        assert_string_equal(status_str(w, "state", buf, sizeof(buf)), "waiting-for-activation");
        assert_true(ob_onboard_deadline(w->ob) <= w->now + 2000); /* first retry soon */
        while (w->now - start < 24 * HOUR_MS) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
                assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_ACTIVATION);
        }
        assert_string_equal(error_code(w, buf, sizeof(buf)), "waiting-for-activation");
        assert_true(min_gap(&w->cloud) >= 1000);
        /* patient: at most about one attempt an hour once backed off (cap 1 h, full jitter) */
        at_day = w->cloud.connects;
        day_start = w->now;
        while (w->now - day_start < 24 * HOUR_MS) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_true(w->cloud.connects - at_day >= 24);
        assert_true(w->cloud.connects - at_day <= 24 * 8);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_ACTIVATION);
        /* the cloud function activates it */
        w->cloud.fail_connects = 0;
        run_until_settled(w, 2);
        assert_factory_onboarded(w, id);
        world_free(w);
}

/* agentctl retry (issue 17): the wait ends now, not at the backoff's deadline; the failure
 * count stays; the one-CONNECT-per-second floor holds; next_retry is shown while waiting for
 * activation; onboarded, connecting and waiting for a claim are refused with the reason. */
static void test_retry_now(void **state)
{
        World *w = world_method("jitr", NULL, NULL);
        char buf[512], id[65], err[256];
        int connects, attempts;

        (void)state;
        jitr_start_refused(w, id);
        /* back off far: a few hours of refusals */
        for (int i = 0; i < 12; i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_ACTIVATION);
        assert_non_null(status_str(w, "next_retry", buf, sizeof(buf)));
        assert_true(ob_onboard_deadline(w->ob) > w->now + 2000);
        attempts = atoi(status_str(w, "attempts", buf, sizeof(buf)));
        connects = w->cloud.connects;
        w->now += 2000;             /* past the connect floor */
        w->cloud.fail_connects = 0; /* activated in the cloud */
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        assert_int_equal(w->cloud.connects, connects + 1); /* at once, not at the deadline */
        run_until_settled(w, 2);
        assert_factory_onboarded(w, id);
        assert_true(attempts > 1);
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now, err, sizeof(err)), -EALREADY);
        assert_non_null(strstr(err, "onboarded"));
        world_free(w);

        /* within a second of the last CONNECT: the floor holds, the retry waits for it */
        w = world_method("jitr", NULL, NULL);
        jitr_start_refused(w, id);
        connects = w->cloud.connects;
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now + 10, err, sizeof(err)), 0);
        pump(w);
        assert_int_equal(w->cloud.connects, connects);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_true(ob_onboard_deadline(w->ob) >= w->cloud.connect_times[connects - 1] + 1000);
        world_free(w);

        /* a claim is awaited: nothing to retry until one is given */
        w = world_new("\"control\": {}");
        crash(w);
        w->cfg->provisioning.method = OB_METHOD_FLEET_TRUSTED_USER;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_int_equal(ob_onboard_retry_now(w->ob, w->now, err, sizeof(err)), -EAGAIN);
        assert_non_null(strstr(err, "claim"));
        world_free(w);
}

static void test_factory_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_CERT_ISSUED; s <= OB_STAGE_ONBOARDED;
             s += OB_STAGE_ONBOARDED - OB_STAGE_CERT_ISSUED) {
                World *w = world_method("jitp", NULL, NULL);
                char id[65];

                make_factory(w, true, id);
                w->cloud.fail_connects = 1;
                w->cloud.fail_class = OB_ERR_REFUSED;
                w->crash_at_stage = s;
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_true(w->crashed);
                crash(w);
                w->crash_at_stage = -1;
                new_machine(w);
                assert_int_equal(ob_onboard_stage(w->ob), s);
                w->now += 1000;
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_factory_onboarded(w, id);
                world_free(w);
        }
}

static void test_alpn_offered(void **state)
{
        World *w = world_method("static", NULL,
                                "\"endpoint\": {\"host\": \"iot.example\", "
                                "\"root_ca\": \"/x/ca.pem\", \"alpn\": true}");
        char id[65];

        (void)state;
        make_factory(w, false, id);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_string_equal(w->cloud.last_alpn, "x-amzn-mqtt-ca");
        assert_int_equal(w->cloud.last_port, 443);
        world_free(w);
}

/* After the first success the CA is not sent again: a rotation (possible with a fleet
 * template) connects with credentials/current, the certificate alone. */
static void test_jitp_later_connects_without_ca(void **state)
{
        World *w = world_method("jitp", "\"template\": \"Tmpl\"", NULL);
        char buf[256], id[65];
        uint64_t gen = 0;

        (void)state;
        make_factory(w, true, id);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(w->cloud.last_cert_count, 2);
        run_until_settled(w, 3);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_ONBOARDED);
        assert_true(ob_onboard_next_rotation(w->ob) > w->now); /* a template: renewal planned */
        w->now += 2000;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, buf, sizeof(buf)), 0);
        assert_int_equal(w->cloud.connects, 2);
        assert_int_equal(w->cloud.last_cert_count, 1);
        run_until_settled(w, 10);
        assert_int_equal(ob_creds_current(w->state, &gen, NULL), 0);
        assert_int_equal(gen, 2);
        assert_int_equal(w->cloud.last_cert_count, 1);
        world_free(w);
}

int main(void)
{
        if (getenv("OB_TEST_FILTER"))
                cmocka_set_test_filter(getenv("OB_TEST_FILTER"));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_static_waits_for_certificate),
                cmocka_unit_test(test_static_refused),
                cmocka_unit_test(test_refusal_counts_for_connect_floor),
                cmocka_unit_test(test_jitp),
                cmocka_unit_test(test_jitp_refused_not_pending),
                cmocka_unit_test(test_jitp_tls_alert_not_pending),
                cmocka_unit_test(test_no_connack_is_timeout),
                cmocka_unit_test(test_restart_keeps_connect_floor),
                cmocka_unit_test(test_jitr_never_gives_up),
                cmocka_unit_test(test_retry_now),
                cmocka_unit_test(test_factory_crash_after_each_stage),
                cmocka_unit_test(test_alpn_offered),
                cmocka_unit_test(test_jitp_later_connects_without_ca),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
