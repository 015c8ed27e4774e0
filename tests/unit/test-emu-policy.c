/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"

static const ObEmuPolicyContext ctx = {
        .region = "us-east-1",
        .account = "123456789012",
        .client_id = "dev-1",
        .thing_name = "thing-1",
};

static json_object *claim_policy(void)
{
        /* AWS documented claim policy: only create/..., not create-from-csr/... */
        return json_tokener_parse(
                "{\"Version\":\"2012-10-17\",\"Statement\":["
                "{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":\"*\"},"
                "{\"Effect\":\"Allow\",\"Action\":[\"iot:Publish\",\"iot:Receive\"],\"Resource\":"
                "[\"arn:aws:iot:us-east-1:123456789012:topic/$aws/certificates/create/*\"]},"
                "{\"Effect\":\"Allow\",\"Action\":\"iot:Subscribe\",\"Resource\":"
                "[\"arn:aws:iot:us-east-1:123456789012:topicfilter/$aws/certificates/create/*\"]}]}");
}

static void test_create_star_does_not_cover_create_from_csr(void **state)
{
        json_object *p = claim_policy();
        (void)state;
        assert_true(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_PUBLISH,
                                         "topic/$aws/certificates/create/json", &ctx));
        assert_false(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_PUBLISH,
                                          "topic/$aws/certificates/create-from-csr/json", &ctx));
        assert_false(ob_emu_policy_allows(
                &p, 1, OB_EMU_ACTION_SUBSCRIBE,
                "topicfilter/$aws/certificates/create-from-csr/json/accepted", &ctx));
        json_object_put(p);
}

static void test_topic_vs_topicfilter(void **state)
{
        json_object *p = claim_policy();
        (void)state;
        /* Subscribe needs a topicfilter ARN: a topic/ ARN does not grant it */
        assert_true(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_SUBSCRIBE,
                                         "topicfilter/$aws/certificates/create/json/accepted",
                                         &ctx));
        assert_false(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_SUBSCRIBE,
                                          "topic/$aws/certificates/create/json/accepted", &ctx));
        assert_false(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_PUBLISH,
                                          "topicfilter/$aws/certificates/create/json", &ctx));
        assert_true(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_CONNECT, "client/anything", &ctx));
        json_object_put(p);
}

static void test_deny_wins_and_default_deny(void **state)
{
        json_object *docs[2];
        (void)state;
        docs[0] = json_tokener_parse("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\","
                                     "\"Resource\":\"*\"}]}");
        docs[1] = json_tokener_parse("{\"Statement\":{\"Effect\":\"Deny\",\"Action\":"
                                     "\"iot:Publish\",\"Resource\":\"arn:aws:iot:*:*:topic/secret/"
                                     "?\"}}");
        assert_true(ob_emu_policy_allows(docs, 2, OB_EMU_ACTION_PUBLISH, "topic/secret/ab", &ctx));
        assert_false(ob_emu_policy_allows(docs, 2, OB_EMU_ACTION_PUBLISH, "topic/secret/a", &ctx));
        assert_true(ob_emu_policy_allows(docs, 2, OB_EMU_ACTION_RECEIVE, "topic/secret/a", &ctx));
        assert_false(ob_emu_policy_allows(docs, 0, OB_EMU_ACTION_CONNECT, "client/x", &ctx));
        json_object_put(docs[0]);
        json_object_put(docs[1]);
}

static void test_policy_variables(void **state)
{
        json_object *p = json_tokener_parse(
                "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:Connect\",\"Resource\":"
                "\"arn:aws:iot:us-east-1:123456789012:client/${iot:Connection.Thing.ThingName}\"},"
                "{\"Effect\":\"Allow\",\"Action\":\"iot:Publish\",\"Resource\":"
                "\"arn:aws:iot:us-east-1:123456789012:topic/c/${iot:ClientId}/*\"}]}");
        ObEmuPolicyContext nothing = ctx;
        (void)state;
        assert_true(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_CONNECT, "client/thing-1", &ctx));
        assert_false(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_CONNECT, "client/thing-2", &ctx));
        assert_true(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_PUBLISH, "topic/c/dev-1/x", &ctx));
        assert_false(ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_PUBLISH, "topic/c/dev-2/x", &ctx));
        nothing.thing_name = NULL; /* no thing attached: the variable resolves to nothing */
        assert_false(
                ob_emu_policy_allows(&p, 1, OB_EMU_ACTION_CONNECT, "client/thing-1", &nothing));
        json_object_put(p);
}

static void test_glob(void **state)
{
        (void)state;
        assert_true(ob_emu_glob_match("a*c", "abbbc"));
        assert_true(ob_emu_glob_match("a*", "a/b/c"));
        assert_true(ob_emu_glob_match("a?c", "abc"));
        assert_false(ob_emu_glob_match("a?c", "ac"));
        assert_false(ob_emu_glob_match("a*d", "abc"));
        assert_true(ob_emu_glob_match("*", ""));
        assert_false(ob_emu_glob_match("", "x"));
}

static void test_validate(void **state)
{
        json_object *good = claim_policy(), *bad = json_tokener_parse("{\"Statement\":[{}]}");
        (void)state;
        assert_int_equal(ob_emu_policy_validate(good), 0);
        assert_int_equal(ob_emu_policy_validate(bad), -EINVAL);
        json_object_put(good);
        json_object_put(bad);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_star_does_not_cover_create_from_csr),
                cmocka_unit_test(test_topic_vs_topicfilter),
                cmocka_unit_test(test_deny_wins_and_default_deny),
                cmocka_unit_test(test_policy_variables),
                cmocka_unit_test(test_glob),
                cmocka_unit_test(test_validate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
