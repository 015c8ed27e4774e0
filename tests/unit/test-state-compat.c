/* SPDX-License-Identifier: Apache-2.0 */
/*
 * state.json written by an older agent still loads (issue 22: "state.json written by ca88530
 * still loads"). tests/data/state-ca88530/CASE/ holds state.json and state.json.prev as the
 * daemon of commit ca88530 wrote them in the test world (fleet-claim with a TPM key), and
 * status.json, what that commit's `agentctl --json status` said about them (trimmed to the
 * identity fields). Each case: the files are copied into a fresh state directory, today's
 * machine loads them from the main copy (no fallback to .prev, no -EBADMSG), and today's status
 * report says the same identity. A codec change that renames, drops or reinterprets a persisted
 * field fails here.
 *
 * How the files were made (docs/testing.md, "Saved state files"): a worktree at ca88530, its test
 * world, tests/integration/agent-lib.sh's gw_config + start; `agentctl rotate` for the rotated
 * case; OB_TEST_CRASH_AFTER_STAGE=certificate-issued for the interrupted one.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "config-file.h"
#include "key-provider.h"
#include "onboard.h"
#include "store.h"
#include "transport.h"

static int no_connect(void *impl, const ObConnectOptions *o)
{
        (void)impl;
        (void)o;
        return -ENOTCONN;
}

static const ObTransportOps no_ops = {.connect = no_connect};

static uint64_t next_random(void *userdata)
{
        return ++*(uint64_t *)userdata;
}

static void copy_file(const char *from, const char *to)
{
        char buf[4096];
        FILE *in = fopen(from, "re"), *out;
        size_t n;

        if (!in)
                fail_msg("cannot open the saved file %s", from);
        out = fopen(to, "we");
        assert_non_null(out);
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
                assert_int_equal(fwrite(buf, 1, n, out), n);
        fclose(in);
        assert_int_equal(fclose(out), 0);
        assert_int_equal(chmod(to, 0600), 0);
}

/* The member of today's status equals the one the old agentctl printed (both may be null). */
static void same_member(json_object *now, json_object *then, const char *key, const char *name)
{
        json_object *a = NULL, *b = NULL;

        json_object_object_get_ex(now, key, &a);
        json_object_object_get_ex(then, key, &b);
        if (!json_object_equal(a, b))
                fail_msg("%s: status.%s is %s today, was %s at ca88530", name, key,
                         a ? json_object_to_json_string(a) : "absent",
                         b ? json_object_to_json_string(b) : "absent");
}

static void load_case(const char *name)
{
        const char *top = getenv("top_srcdir");
        char src[512], dir[] = "/tmp/ob-test-state-compat-XXXXXX", path[600], json[1024];
        char err[256] = "", cmd[640];
        static const char *const keys[] = {"stage",
                                           "method",
                                           "serial",
                                           "thing_name",
                                           "certificate_id",
                                           "certificate_not_before",
                                           "certificate_not_after",
                                           "generation",
                                           "next_rotation"};
        json_object *then, *serial, *now;
        ObConfigDiags diags = {0};
        ObConfig *cfg;
        ObKeyProvider *kp = NULL;
        ObStore *store = NULL;
        ObStoreLoadInfo info = {0};
        ObOnboard *ob = NULL;
        uint64_t seed = 1;
        ObRandom rnd = {.next = next_random, .userdata = &seed};
        ObTransport tr = {.ops = &no_ops};

        snprintf(src, sizeof(src), "%s/tests/data/state-ca88530/%s", top ? top : ".", name);
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/status.json", src);
        then = json_object_from_file(path);
        if (!then)
                fail_msg("%s: cannot read %s", name, path);
        assert_true(json_object_object_get_ex(then, "serial", &serial));

        snprintf(path, sizeof(path), "%s/state.json", src);
        copy_file(path, (snprintf(cmd, sizeof(cmd), "%s/state.json", dir), cmd));
        snprintf(path, sizeof(path), "%s/state.json.prev", src);
        copy_file(path, (snprintf(cmd, sizeof(cmd), "%s/state.json.prev", dir), cmd));

        snprintf(json, sizeof(json),
                 "{\"endpoint\": {\"host\": \"iot.example\", \"root_ca\": \"%s/ca.pem\"},"
                 " \"provisioning\": {\"method\": \"fleet-claim\", \"template\": "
                 "\"OnboardTemplate\", \"claim_cert\": \"%s/claim.crt\", \"claim_key\": "
                 "\"%s/claim.key\"},"
                 " \"key\": {\"backend\": \"software\"},"
                 " \"paths\": {\"state_dir\": \"%s\", \"runtime_dir\": \"%s/run\"}}",
                 dir, dir, dir, dir, dir);
        cfg = ob_config_new();
        assert_non_null(cfg);
        assert_int_equal(ob_config_apply_buffer(cfg, "test.json", json, strlen(json), &diags), 0);
        ob_config_finish(cfg, "test.json", &diags);
        assert_int_equal(diags.n_errors, 0);
        ob_config_diags_clear(&diags);
        assert_int_equal(ob_key_provider_software_new(&kp), 0);
        assert_int_equal(ob_store_open(dir, "state.json", NULL, &store), 0);

        ObOnboardDeps d = {.config = cfg,
                           .keys = kp,
                           .transport = &tr,
                           .store = store,
                           .random = &rnd,
                           .serial = json_object_get_string(serial)};
        assert_int_equal(ob_onboard_new(&d, &ob), 0);
        if (ob_onboard_load(ob, &info, err, sizeof(err)) != 0)
                fail_msg("%s: today's agent does not load the state ca88530 wrote: %s", name, err);
        if (info.source != OB_STORE_SOURCE_MAIN)
                fail_msg("%s: loaded the previous copy, not state.json: %s", name,
                         info.main_reason);

        now = ob_onboard_status(ob, 1796600000000);
        assert_non_null(now);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                same_member(now, then, keys[i], name);
        if (getenv("OB_TEST_VERBOSE"))
                fprintf(stderr, "%s: %s\n", name, json_object_to_json_string(now));

        json_object_put(now);
        json_object_put(then);
        ob_onboard_free(ob);
        ob_store_free(store);
        ob_key_provider_free(kp);
        ob_config_free(cfg);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* Onboarded after one rotation: current generation 2, generation 1 retired ("previous"). */
static void test_rotated(void **state)
{
        (void)state;
        load_case("fleet-claim-rotated");
}

/* Killed after the certificate was issued: a pending generation with its ownership token. */
static void test_certificate_issued(void **state)
{
        (void)state;
        load_case("fleet-claim-certificate-issued");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rotated),
                cmocka_unit_test(test_certificate_issued),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
