/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding flow and fleet provisioning against the fake cloud (onboard-harness.h): the
 * happy path, a crash after every stage (a new machine from the same state directory resumes
 * without minting a second certificate while the first can still be registered), tokens,
 * rejections, throttling, timeouts, bad replies, the trusted user's claim, reprovision and
 * decommission, the state file, and failed saves. Rotation: test-onboard-rotate.c; the factory
 * methods: test-onboard-factory.c.
 */
#include "config.h"

#include "onboard-harness.h"
#include "onboard-method.h"

static void test_happy_path(void **state)
{
        World *w = world_new(NULL);
        char buf[256];

        (void)state;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_CONNECT_CLAIM);
        assert_string_equal(w->cloud.last_cert_file, w->claim_crt);
        assert_string_equal(w->cloud.last_client_id, SERIAL); /* {thing_name} = serial, for now */
        pump(w);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_int_equal(w->cloud.registrations, 1);
        assert_int_equal(w->cloud.connects, 2);
        assert_string_equal(w->cloud.last_client_id, "ob-" SERIAL);
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        assert_string_equal(w->cloud.last_provider, "default");
        assert_null(strstr(status_str(w, "last_error", buf, sizeof(buf)), "code"));
        /* a restart of an onboarded device does nothing */
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_onboarded(w);
        assert_int_equal(w->cloud.connects, 2);
        world_free(w);
}

/* With subscribe_many, one SUBSCRIBE carries the four reply topics; a refused filter (SUBACK
 * 0x80 for one of them) fails the attempt and the error names that filter. */
static void test_one_subscribe_for_all_topics(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->tr.ops = &fake_ops_many;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        assert_int_equal(w->cloud.subscribe_many_calls, 1);
        world_free(w);

        w = world_new(NULL);
        w->tr.ops = &fake_ops_many;
        w->cloud.refuse_filter = "provision/json/rejected";
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        run_until_settled(w, 1);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "provision/json/rejected"));
        assert_int_equal(w->cloud.certs_issued, 0);
        world_free(w);
}

/* kill -9 right after each persisted stage: resume, end onboarded, one certificate. */
static void test_crash_after_each_stage(void **state)
{
        (void)state;
        for (int s = OB_STAGE_KEY_READY; s <= OB_STAGE_ONBOARDED; s++) {
                World *w = world_new(NULL);

                w->crash_at_stage = s;
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                pump(w);
                if (s != OB_STAGE_ONBOARDED)
                        assert_true(w->crashed);
                crash(w);
                w->crash_at_stage = -1;
                w->now += 5000;
                new_machine(w);
                assert_int_equal((int)ob_onboard_stage(w->ob), s);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                run_until_settled(w, 5);
                assert_onboarded(w);
                assert_int_equal(w->cloud.certs_issued, 1);
                assert_int_equal(w->cloud.registrations, 1);
                world_free(w);
        }
}

/* A crash after the certificate, then a restart more than an hour later: new certificate. */
static void test_token_expired_restarts_from_csr(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->crash_at_stage = OB_STAGE_CERT_ISSUED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_true(w->crashed);
        crash(w);
        w->crash_at_stage = -1;
        w->now += 2 * HOUR_MS;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.registrations, 1);
        world_free(w);
}

/* The cloud's token died sooner than our hour: InvalidCertificateOwnershipToken -> new CSR. */
static void test_cloud_says_token_invalid(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.token_life_ms = 60 * 1000;
        w->crash_at_stage = OB_STAGE_CERT_ISSUED;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        crash(w);
        w->crash_at_stage = -1;
        w->now += 10 * 60 * 1000; /* young for us, dead for the cloud */
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "InvalidCertificateOwnershipToken"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 2);
        assert_int_equal(w->cloud.registrations, 1);
        world_free(w);
}

/* RegisterThing rejected while the token is young: retry RegisterThing, no second certificate. */
static void test_register_rejected_retries_same_token(void **state)
{
        World *w = world_new(NULL);
        char buf[256];

        (void)state;
        w->cloud.reject_register = 1;
        w->cloud.reject_status = 500;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_CERT_ISSUED);
        json_object *st = ob_onboard_status(w->ob, w->now), *e, *v;
        assert_true(json_object_object_get_ex(st, "last_error", &e));
        assert_true(json_object_object_get_ex(e, "code", &v));
        assert_string_equal(json_object_get_string(v), "rejected-500");
        assert_true(json_object_object_get_ex(e, "class", &v));
        assert_string_equal(json_object_get_string(v), "network");
        assert_true(json_object_object_get_ex(st, "next_retry", &v) && v);
        json_object_put(st);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_null(strstr(status_str(w, "last_error", buf, sizeof(buf)), "rejected"));
        world_free(w);
}

static void test_throttled_backs_off(void **state)
{
        World *w = world_new(NULL);
        int64_t t0;

        (void)state;
        w->cloud.reject_csr = 2;
        w->cloud.reject_status = 429;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        t0 = w->now;
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_true(ob_onboard_deadline(w->ob) >= t0 + 1000); /* connect floor at least */
        assert_non_null(strstr(w->last_error_text, "429"));
        run_until_settled(w, 10);
        assert_onboarded(w);
        assert_int_equal(w->cloud.connects, 4); /* 3 claim connects + verify */
        world_free(w);
}

static void test_broker_down_then_up(void **state)
{
        World *w = world_new(NULL);
        char buf[64];

        (void)state;
        w->cloud.fail_connects = 6;
        w->cloud.fail_class = OB_ERR_NETWORK;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_string_equal(status_str(w, "attempts", buf, sizeof(buf)), "1");
        run_until_settled(w, 20);
        assert_onboarded(w);
        assert_int_equal(w->cloud.connects, 8); /* 6 failed + claim + verify */
        /* never two CONNECTs with the claim's client id within a second */
        for (int i = 1; i < 7; i++)
                assert_true(w->cloud.connect_times[i] - w->cloud.connect_times[i - 1] >= 1000);
        world_free(w);
}

static void test_timeout_then_success(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.swallow = 1;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_REQUEST_CERT);
        w->now += 29000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0); /* early: nothing */
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_REQUEST_CERT);
        w->now += 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_non_null(strstr(w->last_error_text, "timeout"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        world_free(w);
}

static void test_malformed_reply_and_noise(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.garbage = 1;
        w->cloud.extra_noise = true;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY); /* nothing damaged */
        assert_non_null(strstr(w->last_error_text, "bad-reply"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        json_object *st = ob_onboard_status(w->ob, w->now), *v;
        assert_true(json_object_object_get_ex(st, "ignored_messages", &v));
        assert_true(json_object_get_int(v) >= 2);
        json_object_put(st);
        world_free(w);
}

static void test_oversized_reply(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.oversized = 1;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "larger than 128 KiB"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        world_free(w);
}

/* A RegisterThing reply without thingName while the client id is the thing name: refused
 * before the token is spent (it used to commit the stage and then try to connect with the
 * serial as client id forever), RegisterThing retried with the same certificate. */
static void test_register_reply_without_thing_name(void **state)
{
        World *w = world_new(NULL);
        char buf[256];

        (void)state;
        w->cloud.no_thing_name = 1;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_CERT_ISSUED);
        assert_non_null(strstr(w->last_error_text, "without thingName"));
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 1);
        assert_int_equal(w->cloud.registrations, 2);
        assert_null(strstr(status_str(w, "last_error", buf, sizeof(buf)), "bad-reply"));
        world_free(w);
}

static void test_certificate_for_another_key_refused(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->cloud.wrong_key = true;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY);
        assert_non_null(strstr(w->last_error_text, "certificate-key-mismatch"));
        w->cloud.wrong_key = false;
        run_until_settled(w, 5);
        assert_onboarded(w);
        world_free(w);
}

static void test_create_keys_software(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        crash(w);
        w->cfg->provisioning.create_keys = true;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_NEW); /* no key made here */
        pump(w);
        assert_onboarded(w);
        assert_true(w->changes[OB_CHANGE_NOTICE] >= 1); /* "the key was sent over the network" */
        world_free(w);
}

static void test_claim_expired_and_not_yet_valid(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        make_claim(w, w->claim_crt, w->claim_key, -7200, -3600);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        assert_non_null(strstr(w->last_error_text, "claim-expired"));
        assert_int_equal(w->cloud.connects, 0);
        make_claim(w, w->claim_crt, w->claim_key, 3600, 7200);
        w->now = ob_onboard_deadline(w->ob);
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_non_null(strstr(w->last_error_text, "claim-unusable"));
        assert_non_null(strstr(w->last_error_text, "not valid before"));
        assert_int_equal(w->cloud.connects, 0);
        world_free(w);
}

static void test_clock_before_build_date(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        w->now = T0 - 86400 * 1000LL;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLOCK);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_NEW); /* not even a key */
        w->now = T0;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        world_free(w);
}

static void test_trusted_user(void **state)
{
        World *w = world_new("\"control\": {}");
        char crt_pem[4096], key_pem[4096], err[256], path[256];

        (void)state;
        crash(w);
        w->cfg->provisioning.method = OB_METHOD_FLEET_TRUSTED_USER;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_int_equal(ob_onboard_stage(w->ob), OB_STAGE_KEY_READY); /* key made already */

        /* expired claim refused with a reason, still waiting */
        make_claim(w, w->claim_crt, w->claim_key, -600, -300);
        read_text(w->claim_crt, crt_pem, sizeof(crt_pem));
        read_text(w->claim_key, key_pem, sizeof(key_pem));
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)),
                -EKEYEXPIRED);
        assert_non_null(strstr(err, "expired"));
        /* a key that is not the certificate's */
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, "garbage", w->now, err, sizeof(err)),
                -EINVAL);

        make_claim(w, w->claim_crt, w->claim_key, -60, 300);
        read_text(w->claim_crt, crt_pem, sizeof(crt_pem));
        read_text(w->claim_key, key_pem, sizeof(key_pem));
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)), 0);
        snprintf(path, sizeof(path), "%s/claim/claim.key", w->run);
        assert_int_equal(access(path, F_OK), 0);
        pump(w);
        assert_onboarded(w);
        /* the temporary key does not outlive the flow */
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)),
                -EALREADY);
        world_free(w);
}

/* The temporary claim expires while the broker is down: back to waiting for a claim. */
static void test_trusted_user_claim_expires_midway(void **state)
{
        World *w = world_new(NULL);
        char crt_pem[4096], key_pem[4096], err[256], buf[256], code[64];

        (void)state;
        crash(w);
        w->cfg->provisioning.method = OB_METHOD_FLEET_TRUSTED_USER;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        make_claim(w, w->claim_crt, w->claim_key, -60, 300);
        read_text(w->claim_crt, crt_pem, sizeof(crt_pem));
        read_text(w->claim_key, key_pem, sizeof(key_pem));
        w->cloud.fail_connects = 1000;
        w->cloud.fail_class = OB_ERR_NETWORK;
        assert_int_equal(
                ob_onboard_provide_claim(w->ob, crt_pem, key_pem, w->now, err, sizeof(err)), 0);
        pump(w);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_RETRY);
        w->now += 301 * 1000;
        assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_WAIT_CLAIM);
        assert_string_equal(error_code(w, code, sizeof(code)), "claim-expired");
        snprintf(buf, sizeof(buf), "%s/claim/claim.key", w->run);
        assert_int_equal(access(buf, F_OK), -1); /* the expired temporary key is gone */
        world_free(w);
}

/* The hardware token is asked for when RegisterThing needs it, not when an onboarded machine
 * starts (the daemon reads it from the TPM's endorsement key, which is slow on real TPMs). */
static void test_hardware_token_asked_when_used(void **state)
{
        World *w = world_new(NULL);

        (void)state;
        onboard_now(w);
        assert_string_equal(w->cloud.last_hw_token, "ab12");
        assert_true(w->token_asks >= 1);
        crash(w);
        w->token_asks = 0;
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_onboarded(w);
        assert_int_equal(w->token_asks, 0);
        world_free(w);
}

/* With a probe, the verification before a commit is a probe (CONNACK, no session); a
 * rotation that announces the old certificate afterwards needs a session and connects; one
 * that does not, probes. A refused probe counts like a refused connect. */
static void test_verify_by_probe(void **state)
{
        World *w = world_new(NULL);
        char err[256];

        (void)state;
        w->tr.ops = &fake_ops_probe;
        onboard_now(w);
        assert_int_equal(w->cloud.probes, 1);
        assert_int_equal(w->cloud.connects, 2); /* the claim's session and the probe */
        assert_non_null(strstr(w->cloud.last_cert_file, "/credentials/1/device.crt"));
        /* a rotation without an announcement probes too */
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        assert_int_equal(w->cloud.probes, 2);
        world_free(w);

        w = world_new("\"rotation\": {\"old_cert_topic\": \"devices/{thing_name}/old\"}");
        w->tr.ops = &fake_ops_probe;
        onboard_now(w);
        assert_int_equal(w->cloud.probes, 1);
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(current_gen(w), 2);
        /* the rotation's verify was a session, on which the old id went out (f_publish
         * asserts a connection) */
        assert_int_equal(w->cloud.probes, 1);
        assert_int_equal(w->cloud.announcements, 1);
        world_free(w);

        /* a refused probe of a rotation's new certificate rolls back like a refused connect */
        w = world_new(NULL);
        w->tr.ops = &fake_ops_probe;
        onboard_now(w);
        w->cloud.refuse_gen = 2;
        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
        pump(w);
        for (int i = 0; i < 6 && !strstr(w->last_error_text, "rotation-rolled-back"); i++) {
                w->now = ob_onboard_deadline(w->ob);
                assert_int_equal(ob_onboard_tick(w->ob, w->now), 0);
                pump(w);
        }
        assert_non_null(strstr(w->last_error_text, "rotation-rolled-back"));
        assert_int_equal(current_gen(w), 1);
        assert_true(w->cloud.probes >= 2);
        world_free(w);
}

static void test_reprovision_and_decommission(void **state)
{
        World *w = world_new(NULL);
        json_object *deleted = NULL;
        char path[512], buf[64], code[64];

        (void)state;
        onboard_now(w);
        /* a dry run lists and keeps */
        assert_int_equal(ob_onboard_forget(w->ob, false, true, w->now, &deleted), 0);
        assert_int_equal(json_object_array_length(deleted), 1);
        json_object_put(deleted);
        assert_int_equal(current_gen(w), 1);
        /* reprovision: everything goes, onboarding starts over */
        w->now += 5000;
        assert_int_equal(ob_onboard_forget(w->ob, false, false, w->now, &deleted), 0);
        json_object_put(deleted);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_int_equal(w->cloud.certs_issued, 2);
        /* decommission: nothing left, and it stays stopped across a restart */
        assert_int_equal(ob_onboard_forget(w->ob, true, false, w->now, NULL), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_FAILED);
        snprintf(path, sizeof(path), "%s/credentials/current", w->state);
        assert_int_equal(access(path, F_OK), -1);
        snprintf(path, sizeof(path), "%s/credentials/1", w->state);
        assert_int_equal(access(path, F_OK), -1);
        crash(w);
        new_machine(w);
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        assert_int_equal(ob_onboard_activity(w->ob), OB_ACT_FAILED);
        assert_string_equal(error_code(w, code, sizeof(code)), "decommissioned");
        assert_int_equal(w->cloud.connects, 4);
        /* a reprovision brings it back */
        assert_int_equal(ob_onboard_forget(w->ob, false, false, w->now, NULL), 0);
        run_until_settled(w, 5);
        assert_onboarded(w);
        assert_string_equal(status_str(w, "stage", buf, sizeof(buf)), "onboarded");
        world_free(w);
}

static void test_corrupt_state_refused(void **state)
{
        World *w = world_new(NULL);
        json_object *o;
        char err[256] = "";

        (void)state;
        crash(w);
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &w->store), 0);
        o = json_tokener_parse("{\"version\":1,\"stage\":\"certificate-issued\","
                               "\"pending\":{\"generation\":1}}");
        assert_int_equal(ob_store_save(w->store, o), 0);
        json_object_put(o);
        w->store = ob_store_free(w->store);

        ObOnboardDeps d = {.config = w->cfg,
                           .keys = w->keys,
                           .transport = &w->tr,
                           .random = &w->rnd,
                           .serial = SERIAL};
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &w->store), 0);
        d.store = w->store;
        assert_int_equal(ob_onboard_new(&d, &w->ob), 0);
        assert_int_equal(ob_onboard_load(w->ob, NULL, err, sizeof(err)), -EBADMSG);
        assert_non_null(strstr(err, "certificate_id"));
        world_free(w);
}

/* Every provisioning.method has its row in the method table, for that method, with a resume
 * step; a configuration without one makes no machine. */
static void test_method_table(void **state)
{
        World *w = world_new(NULL);
        ObOnboard *ob = NULL;

        (void)state;
        for (int m = 0; m < _OB_METHOD_MAX; m++) {
                const ObOnboardMethod *row = ob_onboard_method_find(m);

                assert_non_null(row);
                assert_int_equal(row->method, m);
                assert_non_null(row->resume);
                assert_non_null(row->first_identity);
                /* the factory methods are told apart by a refusal, the fleet ones by a reply */
                assert_true(row->factory_cert == (row->refused != NULL));
        }
        assert_null(ob_onboard_method_find(OB_METHOD_UNSET));
        assert_null(ob_onboard_method_find(_OB_METHOD_MAX));

        crash(w);
        w->cfg->provisioning.method = OB_METHOD_UNSET;
        ObOnboardDeps d = {.config = w->cfg,
                           .keys = w->keys,
                           .transport = &w->tr,
                           .random = &w->rnd,
                           .serial = SERIAL};
        assert_int_equal(ob_store_open(w->state, "state.json", NULL, &w->store), 0);
        d.store = w->store;
        assert_int_equal(ob_onboard_new(&d, &ob), -EINVAL);
        assert_null(ob);
        world_free(w);
}

static void test_status_from_state_file(void **state)
{
        World *w = world_new(NULL);
        json_object *st, *o, *v;

        (void)state;
        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
        pump(w);
        assert_int_equal(ob_store_load(w->store, &st, NULL), 0);
        o = ob_onboard_status_from_state(st);
        /* no daemon: stopped, never "onboarded" (the stage still says how far it got) */
        assert_true(json_object_object_get_ex(o, "state", &v));
        assert_string_equal(json_object_get_string(v), "stopped");
        assert_true(json_object_object_get_ex(o, "stage", &v));
        assert_string_equal(json_object_get_string(v), "onboarded");
        assert_true(json_object_object_get_ex(o, "daemon_running", &v));
        assert_false(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(o, "certificate_not_after", &v));
        assert_int_equal(strlen(json_object_get_string(v)), 20); /* 2031-03-17T...Z */
        assert_true(json_object_object_get_ex(o, "method", &v));
        assert_string_equal(json_object_get_string(v), "fleet-claim");
        /* the ownership token never shows in the status */
        assert_null(strstr(json_object_to_json_string(o), "tok-"));
        json_object_put(o);
        json_object_put(st);
        world_free(w);
}

/* The state saves fail at their rename, one at a time, with ENOSPC (the power-loss harness,
 * tests/powerloss, found this over the real daemon): a failed save may leave the machine
 * between two stages in memory; what it saves next must still load. */
static int rename_calls, rename_fail_at;

static int failing_renameat(int od, const char *op, int nd, const char *np)
{
        if (++rename_calls == rename_fail_at) {
                errno = ENOSPC;
                return -1;
        }
        return renameat(od, op, nd, np);
}

/* One rename of state.json fails (ENOSPC) at each position in turn, of an onboarding and then a
 * rotation. kill: a kill -9 while the retry waits, then a new machine from what is on disk;
 * otherwise the machine retries on retry.local by itself. Either way it ends committed in
 * generation 2. Without the kill, what a commit announces happens exactly once: ONBOARDED for
 * the onboarding, ROTATED (the daemon's hook) for the rotation, also when the failed save was
 * the commit's own (stage onboarded). */
static void failed_save_sweep(bool kill)
{
        ObFsOps ops = ob_fsops_posix;
        bool fired = true;

        ops.renameat = failing_renameat;
        for (rename_fail_at = 1; fired; rename_fail_at++) {
                char err[256];

                rename_calls = 0;
                store_ops = &ops;
                World *w = world_new(NULL);
                assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                if (kill)
                        pump(w);
                else {
                        run_until_settled(w, 5);
                        assert_onboarded(w);
                        assert_int_equal(w->changes[OB_CHANGE_ONBOARDED], 1);
                }
                fired = rename_calls >= rename_fail_at;
                if (!kill || !fired) {
                        assert_onboarded(w);
                        assert_int_equal(ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                        run_until_settled(w, kill ? 3 : 5);
                        if (!kill)
                                assert_int_equal(w->changes[OB_CHANGE_ROTATED], 1);
                }
                fired = rename_calls >= rename_fail_at;
                store_ops = NULL;
                if (kill) {
                        /* the next start must load what is on disk */
                        crash(w);
                        w->now += 5000;
                        new_machine(w);
                        assert_int_equal(ob_onboard_start(w->ob, w->now), 0);
                        run_until_settled(w, 5);
                        if (current_gen(w) == 1 && !ob_onboard_rotating(w->ob)) {
                                assert_int_equal(
                                        ob_onboard_rotate_now(w->ob, w->now, err, sizeof(err)), 0);
                                run_until_settled(w, 5);
                        }
                }
                assert_onboarded(w);
                assert_int_equal(current_gen(w), 2);
                world_free(w);
        }
        assert_true(rename_fail_at > 10);
}

static void test_failed_save_then_crash(void **state)
{
        (void)state;
        failed_save_sweep(true);
}

static void test_failed_save_commit_still_announced(void **state)
{
        (void)state;
        failed_save_sweep(false);
}

int main(void)
{
        if (getenv("OB_TEST_FILTER"))
                cmocka_set_test_filter(getenv("OB_TEST_FILTER"));
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_happy_path),
                cmocka_unit_test(test_failed_save_commit_still_announced),
                cmocka_unit_test(test_crash_after_each_stage),
                cmocka_unit_test(test_one_subscribe_for_all_topics),
                cmocka_unit_test(test_verify_by_probe),
                cmocka_unit_test(test_hardware_token_asked_when_used),
                cmocka_unit_test(test_token_expired_restarts_from_csr),
                cmocka_unit_test(test_register_rejected_retries_same_token),
                cmocka_unit_test(test_cloud_says_token_invalid),
                cmocka_unit_test(test_throttled_backs_off),
                cmocka_unit_test(test_broker_down_then_up),
                cmocka_unit_test(test_timeout_then_success),
                cmocka_unit_test(test_malformed_reply_and_noise),
                cmocka_unit_test(test_oversized_reply),
                cmocka_unit_test(test_register_reply_without_thing_name),
                cmocka_unit_test(test_certificate_for_another_key_refused),
                cmocka_unit_test(test_create_keys_software),
                cmocka_unit_test(test_claim_expired_and_not_yet_valid),
                cmocka_unit_test(test_clock_before_build_date),
                cmocka_unit_test(test_trusted_user),
                cmocka_unit_test(test_trusted_user_claim_expires_midway),
                cmocka_unit_test(test_reprovision_and_decommission),
                cmocka_unit_test(test_corrupt_state_refused),
                cmocka_unit_test(test_status_from_state_file),
                cmocka_unit_test(test_method_table),
                cmocka_unit_test(test_failed_save_then_crash),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
