/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MQTT 3.1.1 packets of `agentctl check cloud` (lib/mqtt-connect): CONNECT byte for byte
 * (MQTT 3.1.1, 3.1, one- and two-byte remaining length), CONNACK parsed and refused when it is
 * not one, DISCONNECT.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt-connect.h"

static void test_connect_short(void **state)
{
        static const uint8_t want[] = {0x10, 15,   0x00, 0x04, 'M',  'Q', 'T', 'T', 0x04,
                                       0x02, 0x00, 60,   0x00, 0x03, 'a', 'b', 'c'};
        uint8_t buf[OB_MQTT_CONNECT_MAX];

        (void)state;
        assert_int_equal(ob_mqtt_connect_build("abc", 60, buf, sizeof(buf)), sizeof(want));
        assert_memory_equal(buf, want, sizeof(want));
        /* keep-alive big-endian */
        assert_int_equal(ob_mqtt_connect_build("abc", 0x1234, buf, sizeof(buf)), sizeof(want));
        assert_int_equal(buf[10], 0x12);
        assert_int_equal(buf[11], 0x34);
}

static void test_connect_long_id(void **state)
{
        char id[OB_MQTT_CLIENT_ID_MAX + 2];
        uint8_t buf[OB_MQTT_CONNECT_MAX];
        ssize_t n;

        (void)state;
        /* 115 bytes: remaining length 127, still one byte */
        memset(id, 'x', 115);
        id[115] = 0;
        n = ob_mqtt_connect_build(id, 30, buf, sizeof(buf));
        assert_int_equal(n, 2 + 127);
        assert_int_equal(buf[1], 127);
        /* 116 bytes: remaining length 128 = 0x80 0x01 */
        memset(id, 'x', 116);
        id[116] = 0;
        n = ob_mqtt_connect_build(id, 30, buf, sizeof(buf));
        assert_int_equal(n, 3 + 128);
        assert_int_equal(buf[1], 0x80);
        assert_int_equal(buf[2], 0x01);
        /* AWS's maximum, 128 bytes: 140 = 0x8c 0x01, the id at the end */
        memset(id, 'y', OB_MQTT_CLIENT_ID_MAX);
        id[OB_MQTT_CLIENT_ID_MAX] = 0;
        n = ob_mqtt_connect_build(id, 30, buf, sizeof(buf));
        assert_int_equal(n, OB_MQTT_CONNECT_MAX);
        assert_int_equal(buf[1], 0x8c);
        assert_int_equal(buf[2], 0x01);
        assert_int_equal(buf[13], 0);
        assert_int_equal(buf[14], OB_MQTT_CLIENT_ID_MAX);
        assert_memory_equal(buf + 15, id, OB_MQTT_CLIENT_ID_MAX);
        /* one byte more is refused, as is an empty id or a short buffer */
        memset(id, 'y', OB_MQTT_CLIENT_ID_MAX + 1);
        id[OB_MQTT_CLIENT_ID_MAX + 1] = 0;
        assert_int_equal(ob_mqtt_connect_build(id, 30, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(ob_mqtt_connect_build("", 30, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(ob_mqtt_connect_build(NULL, 30, buf, sizeof(buf)), -EINVAL);
        assert_int_equal(ob_mqtt_connect_build("abc", 30, buf, 16), -ENOBUFS);
        assert_int_equal(ob_mqtt_connect_build("abc", 30, buf, 17), 17);
}

static void test_connack(void **state)
{
        static const uint8_t ok[] = {0x20, 0x02, 0x00, 0x00};
        static const uint8_t present[] = {0x20, 0x02, 0x01, 0x00};
        static const uint8_t refused[] = {0x20, 0x02, 0x00, 0x05};
        static const uint8_t publish[] = {0x30, 0x02, 0x00, 0x00};
        static const uint8_t bad_len[] = {0x20, 0x03, 0x00, 0x00};
        static const uint8_t bad_flags[] = {0x20, 0x02, 0x02, 0x00};

        (void)state;
        assert_int_equal(ob_mqtt_connack_parse(ok, 4), 0);
        assert_int_equal(ob_mqtt_connack_parse(present, 4), 0);
        assert_int_equal(ob_mqtt_connack_parse(refused, 4), 5);
        assert_string_equal(ob_mqtt_connack_text(5), "not authorized");
        assert_string_equal(ob_mqtt_connack_text(2), "identifier rejected");
        assert_string_equal(ob_mqtt_connack_text(0), "accepted");
        assert_string_equal(ob_mqtt_connack_text(6), "unknown code");
        assert_string_equal(ob_mqtt_connack_text(-1), "unknown code");
        assert_int_equal(ob_mqtt_connack_parse(ok, 0), -EAGAIN);
        assert_int_equal(ob_mqtt_connack_parse(ok, 3), -EAGAIN);
        assert_int_equal(ob_mqtt_connack_parse(publish, 1), -EBADMSG);
        assert_int_equal(ob_mqtt_connack_parse(publish, 4), -EBADMSG);
        assert_int_equal(ob_mqtt_connack_parse(bad_len, 2), -EBADMSG);
        assert_int_equal(ob_mqtt_connack_parse(bad_flags, 4), -EBADMSG);
        assert_int_equal(ob_mqtt_disconnect[0], 0xe0);
        assert_int_equal(ob_mqtt_disconnect[1], 0x00);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connect_short),
                cmocka_unit_test(test_connect_long_id),
                cmocka_unit_test(test_connack),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
