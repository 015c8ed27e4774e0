/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "cbor.h"
#include "fleet-proto.h"

#define ID64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define PEM  "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"

static void test_topics(void **state)
{
        char t[128];
        assert_int_equal(ob_fleet_topic(OB_FLEET_CREATE_FROM_CSR, OB_FLEET_JSON, NULL,
                                        OB_FLEET_REQUEST, t, sizeof(t)),
                         0);
        assert_string_equal(t, "$aws/certificates/create-from-csr/json");
        ob_fleet_topic(OB_FLEET_CREATE_FROM_CSR, OB_FLEET_CBOR, NULL, OB_FLEET_ACCEPTED, t,
                       sizeof(t));
        assert_string_equal(t, "$aws/certificates/create-from-csr/cbor/accepted");
        ob_fleet_topic(OB_FLEET_CREATE_KEYS, OB_FLEET_JSON, NULL, OB_FLEET_REJECTED, t, sizeof(t));
        assert_string_equal(t, "$aws/certificates/create/json/rejected");
        assert_int_equal(ob_fleet_topic(OB_FLEET_REGISTER_THING, OB_FLEET_JSON, "GwTemplate_1",
                                        OB_FLEET_ACCEPTED, t, sizeof(t)),
                         0);
        assert_string_equal(t, "$aws/provisioning-templates/GwTemplate_1/provision/json/accepted");
        /* all 18 are distinct */
        char all[18][128];
        int k = 0;
        for (int op = 0; op < 3; op++)
                for (int f = 0; f < 2; f++)
                        for (int kind = 0; kind < 3; kind++)
                                assert_int_equal(ob_fleet_topic((ObFleetOp)op, (ObFleetFormat)f,
                                                                "T", (ObFleetTopicKind)kind,
                                                                all[k++], 128),
                                                 0);
        for (int i = 0; i < 18; i++)
                for (int j = i + 1; j < 18; j++)
                        assert_string_not_equal(all[i], all[j]);
        assert_int_equal(ob_fleet_topic(OB_FLEET_REGISTER_THING, OB_FLEET_JSON, "bad/name",
                                        OB_FLEET_REQUEST, t, sizeof(t)),
                         -EINVAL);
        assert_int_equal(
                ob_fleet_topic(OB_FLEET_CREATE_KEYS, OB_FLEET_JSON, NULL, OB_FLEET_ACCEPTED, t, 10),
                -ENOBUFS);
}

static void test_template_names(void **state)
{
        assert_true(ob_fleet_template_name_valid("a"));
        assert_true(ob_fleet_template_name_valid("Gateway-Template_01"));
        assert_true(ob_fleet_template_name_valid("abcdefghijabcdefghijabcdefghij123456")); /* 36 */
        assert_false(ob_fleet_template_name_valid("abcdefghijabcdefghijabcdefghij1234567"));
        assert_false(ob_fleet_template_name_valid(""));
        assert_false(ob_fleet_template_name_valid(NULL));
        assert_false(ob_fleet_template_name_valid("a b"));
        assert_false(ob_fleet_template_name_valid("a+"));
}

static json_object *as_json(ObFleetFormat fmt, const uint8_t *p, size_t n)
{
        json_object *o = NULL;
        if (fmt == OB_FLEET_CBOR)
                assert_int_equal(ob_cbor_decode(p, n, &o), 0);
        else
                o = json_tokener_parse((const char *)p);
        assert_non_null(o);
        return o;
}

static void test_requests(void **state)
{
        for (int f = 0; f < 2; f++) {
                uint8_t *p;
                size_t n;
                assert_int_equal(
                        ob_fleet_build_create_from_csr((ObFleetFormat)f, "CSR-PEM", &p, &n), 0);
                json_object *o = as_json((ObFleetFormat)f, p, n);
                assert_string_equal(json_object_get_string(
                                            json_object_object_get(o, "certificateSigningRequest")),
                                    "CSR-PEM");
                json_object_put(o);
                free(p);

                const char *params[] = {"SerialNumber", "GW-1", "HardwareToken", "abc", NULL};
                assert_int_equal(
                        ob_fleet_build_register_thing((ObFleetFormat)f, "tok", params, &p, &n), 0);
                o = as_json((ObFleetFormat)f, p, n);
                json_object *pp = json_object_object_get(o, "parameters");
                assert_string_equal(
                        json_object_get_string(json_object_object_get(pp, "SerialNumber")), "GW-1");
                assert_string_equal(json_object_get_string(
                                            json_object_object_get(o, "certificateOwnershipToken")),
                                    "tok");
                json_object_put(o);
                free(p);

                assert_int_equal(ob_fleet_build_create_keys((ObFleetFormat)f, &p, &n), 0);
                o = as_json((ObFleetFormat)f, p, n);
                assert_int_equal(json_object_object_length(o), 0);
                json_object_put(o);
                free(p);
        }
        uint8_t *p;
        size_t n;
        const char *odd[] = {"k", NULL};
        assert_int_equal(ob_fleet_build_register_thing(OB_FLEET_JSON, "tok", odd, &p, &n), -EINVAL);
        assert_int_equal(ob_fleet_build_register_thing(OB_FLEET_JSON, "", NULL, &p, &n), -EINVAL);
        assert_int_equal(ob_fleet_build_create_from_csr(OB_FLEET_JSON, "", &p, &n), -EINVAL);
}

static int parse_cert(const char *json, bool keys, ObFleetCertReply *c)
{
        return ob_fleet_parse_cert_reply(OB_FLEET_JSON, json, strlen(json), keys, c);
}

static void test_cert_reply(void **state)
{
        ObFleetCertReply c;
        const char *good = "{\"certificateId\":\"" ID64 "\",\"certificatePem\":\"" PEM
                           "\",\"certificateOwnershipToken\":\"secret-token\"}";
        assert_int_equal(parse_cert(good, false, &c), 0);
        assert_string_equal(c.certificate_id, ID64);
        assert_string_equal(c.ownership_token, "secret-token");
        assert_null(c.private_key);
        ob_fleet_cert_reply_clear(&c);

        /* a 100 KB ownership token (issue 19, "what held"): refused, nothing kept */
        {
                static const char head[] =
                        "{\"certificateId\":\"" ID64 "\",\"certificatePem\":\"" PEM
                        "\",\"certificateOwnershipToken\":\"";
                size_t n = 100 * 1024, h = sizeof(head) - 1;
                char *big = malloc(h + n + 3);

                assert_non_null(big);
                memcpy(big, head, h);
                memset(big + h, 'a', n);
                memcpy(big + h + n, "\"}", 3);
                assert_int_equal(parse_cert(big, false, &c), -EPROTO);
                assert_null(c.ownership_token);
                assert_null(c.certificate_id);
                free(big);
        }

        /* the same in CBOR */
        json_object *o = json_tokener_parse(good);
        uint8_t *cb;
        size_t cbn;
        assert_int_equal(ob_cbor_encode(o, &cb, &cbn), 0);
        assert_int_equal(ob_fleet_parse_cert_reply(OB_FLEET_CBOR, cb, cbn, false, &c), 0);
        assert_string_equal(c.certificate_id, ID64);
        ob_fleet_cert_reply_clear(&c);
        free(cb);
        json_object_put(o);

        static const struct {
                const char *json;
                bool keys;
                int err;
        } bad[] = {
                {"{\"certificatePem\":\"" PEM "\",\"certificateOwnershipToken\":\"t\"}", false,
                 -EPROTO}, /* no id */
                {"{\"certificateId\":\"abc\",\"certificatePem\":\"" PEM
                 "\",\"certificateOwnershipToken\":\"t\"}",
                 false, -EPROTO}, /* short id */
                {"{\"certificateId\":\"" ID64 "\",\"certificatePem\":42,"
                 "\"certificateOwnershipToken\":\"t\"}",
                 false, -EPROTO}, /* wrong type */
                {"{\"certificateId\":\"" ID64 "\",\"certificatePem\":\"not a cert\","
                 "\"certificateOwnershipToken\":\"t\"}",
                 false, -EPROTO},
                {"{\"certificateId\":\"" ID64 "\",\"certificatePem\":\"" PEM
                 "\",\"certificateOwnershipToken\":\"\"}",
                 false, -EPROTO}, /* empty token */
                {"{\"certificateId\":\"" ID64 "\",\"certificatePem\":\"" PEM
                 "\",\"certificateOwnershipToken\":\"t\"}",
                 true, -EPROTO}, /* create-keys reply without the key */
                {"{\"certificateId\":\"" ID64 "\",\"certificatePem\":\"" PEM
                 "\",\"certificateOwnershipToken\":\"t\",\"privateKey\":\"K\"}",
                 false, -EPROTO}, /* a key where none belongs */
                {"[1,2]", false, -EBADMSG},
                {"{\"certificateId\":", false, -EBADMSG},
                {"{} trailing", false, -EBADMSG},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&c, 0, sizeof(c));
                int r = parse_cert(bad[i].json, bad[i].keys, &c);
                if (r != bad[i].err)
                        fail_msg("case %zu: got %d, want %d: %s", i, r, bad[i].err, bad[i].json);
                assert_null(c.certificate_id); /* nothing half-filled */
        }

        /* every truncation of a good reply is refused, never accepted or crashing */
        for (size_t n = 0; n < strlen(good); n++)
                if (ob_fleet_parse_cert_reply(OB_FLEET_JSON, good, n, false, &c) != -EBADMSG)
                        fail_msg("truncated at %zu accepted", n);

        char *big = malloc(OB_FLEET_MAX_PAYLOAD + 1);
        memset(big, ' ', OB_FLEET_MAX_PAYLOAD + 1);
        assert_int_equal(
                ob_fleet_parse_cert_reply(OB_FLEET_JSON, big, OB_FLEET_MAX_PAYLOAD + 1, false, &c),
                -EMSGSIZE);
        free(big);
}

static void test_register_reply(void **state)
{
        ObFleetRegisterReply r;
        const char *good =
                "{\"thingName\":\"gw-1\",\"deviceConfiguration\":{\"a\":\"1\",\"b\":\"2\"}}";
        assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, good, strlen(good), &r), 0);
        assert_string_equal(r.thing_name, "gw-1");
        assert_string_equal(r.device_configuration[0], "a");
        assert_string_equal(r.device_configuration[1], "1");
        assert_string_equal(r.device_configuration[3], "2");
        assert_null(r.device_configuration[4]);
        ob_fleet_register_reply_clear(&r);

        const char *nothing = "{\"deviceConfiguration\":{}}"; /* template without a thing */
        assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, nothing, strlen(nothing), &r),
                         0);
        assert_null(r.thing_name);
        ob_fleet_register_reply_clear(&r);
        const char *empty = "{\"thingName\":\"\"}"; /* the same, as some replies say it */
        assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, empty, strlen(empty), &r), 0);
        assert_null(r.thing_name);
        ob_fleet_register_reply_clear(&r);

        const char *nested = "{\"thingName\":\"gw\",\"deviceConfiguration\":{\"a\":{\"b\":\"c\"}}}";
        assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, nested, strlen(nested), &r),
                         -EPROTO);
        const char *badname = "{\"thingName\":7}";
        assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, badname, strlen(badname), &r),
                         -EPROTO);
        /* names outside AWS's rule: a path, a forged log line, a space, a topic wildcard */
        const char *hostile[] = {
                "{\"thingName\":\"../../etc/evil\\nname\"}",
                "{\"thingName\":\"gw\\nnotice: forged\"}",
                "{\"thingName\":\"gw 1\"}",
                "{\"thingName\":\"gw/#\"}",
                "{\"thingName\":\"gw+\"}",
        };
        for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
                assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, hostile[i],
                                                               strlen(hostile[i]), &r),
                                 -EILSEQ);
        const char *colons = "{\"thingName\":\"arn:gw_1-A\"}";
        assert_int_equal(ob_fleet_parse_register_reply(OB_FLEET_JSON, colons, strlen(colons), &r),
                         0);
        assert_string_equal(r.thing_name, "arn:gw_1-A");
        ob_fleet_register_reply_clear(&r);
}

static void test_thing_name_rule(void **state)
{
        char name[130];

        assert_true(ob_fleet_thing_name_valid("gw-1"));
        assert_true(ob_fleet_thing_name_valid("a:b_c-D9"));
        assert_false(ob_fleet_thing_name_valid(""));
        assert_false(ob_fleet_thing_name_valid(NULL));
        assert_false(ob_fleet_thing_name_valid("a.b"));
        assert_false(ob_fleet_thing_name_valid("a\tb"));
        assert_false(ob_fleet_thing_name_valid("\xc3\xa9t\xc3\xa9"));
        memset(name, 'x', 128);
        name[128] = 0;
        assert_true(ob_fleet_thing_name_valid(name));
        name[128] = 'x';
        name[129] = 0;
        assert_false(ob_fleet_thing_name_valid(name));
}

static void test_rejected(void **state)
{
        ObFleetError e;
        const char *throttled =
                "{\"statusCode\":429,\"errorCode\":\"Throttling\",\"errorMessage\":\"slow down\"}";
        assert_int_equal(ob_fleet_parse_rejected(OB_FLEET_JSON, throttled, strlen(throttled), &e),
                         0);
        assert_int_equal(e.status_code, 429);
        assert_int_equal(e.err_class, OB_ERR_THROTTLED);
        assert_string_equal(e.error_code, "Throttling");
        assert_string_equal(e.error_message, "slow down");

        const char *bad_token =
                "{\"statusCode\":400,\"errorCode\":\"InvalidCertificateOwnershipToken\","
                "\"errorMessage\":\"Certificate ownership token cannot be empty.\"}";
        assert_int_equal(ob_fleet_parse_rejected(OB_FLEET_JSON, bad_token, strlen(bad_token), &e),
                         0);
        assert_int_equal(e.err_class, OB_ERR_REJECTED);
        assert_int_equal(ob_fleet_status_class(500), OB_ERR_NETWORK);
        assert_int_equal(ob_fleet_status_class(403), OB_ERR_REJECTED);
        assert_int_equal(ob_fleet_status_class(404), OB_ERR_REJECTED);

        /* no payload at all (an empty MQTT message): refused before memchr() sees a NULL
         * buffer (found by clang-tidy; a UBSan build flags the old code) */
        for (int f = 0; f < 2; f++) {
                ObFleetCertReply c;
                ObFleetRegisterReply r;
                assert_int_equal(ob_fleet_parse_rejected((ObFleetFormat)f, NULL, 0, &e), -EBADMSG);
                assert_int_equal(ob_fleet_parse_cert_reply((ObFleetFormat)f, NULL, 0, false, &c),
                                 -EBADMSG);
                assert_int_equal(ob_fleet_parse_register_reply((ObFleetFormat)f, NULL, 0, &r),
                                 -EBADMSG);
                assert_int_equal(ob_fleet_parse_rejected((ObFleetFormat)f, "", 0, &e), -EBADMSG);
        }

        static const char *const bad[] = {
                "{\"statusCode\":\"400\"}", "{\"errorCode\":\"x\"}",
                "{\"statusCode\":42}",      "{\"statusCode\":400,\"errorCode\":5}",
                "{\"statusCode\":400.5}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (ob_fleet_parse_rejected(OB_FLEET_JSON, bad[i], strlen(bad[i]), &e) != -EPROTO)
                        fail_msg("accepted rejected-reply %s", bad[i]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_topics),         cmocka_unit_test(test_template_names),
                cmocka_unit_test(test_requests),       cmocka_unit_test(test_cert_reply),
                cmocka_unit_test(test_register_reply), cmocka_unit_test(test_thing_name_rule),
                cmocka_unit_test(test_rejected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
