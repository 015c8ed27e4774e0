/* SPDX-License-Identifier: Apache-2.0 */
#include "mqtt-connect.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

const uint8_t ob_mqtt_disconnect[2] = {0xe0, 0x00};

ssize_t ob_mqtt_connect_build(const char *client_id, uint16_t keepalive_s, uint8_t *buf,
                              size_t size)
{
        static const uint8_t head[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04 /* 3.1.1 */,
                                       0x02 /* clean session */};
        size_t id_len = client_id ? strlen(client_id) : 0, rest, n = 0;

        if (id_len == 0 || id_len > OB_MQTT_CLIENT_ID_MAX)
                return -EINVAL;
        rest = sizeof(head) + 2 + 2 + id_len; /* at most 140: one or two length bytes */
        if (size < 1 + (rest < 128 ? 1 : 2) + rest)
                return -ENOBUFS;
        buf[n++] = 0x10;
        if (rest < 128)
                buf[n++] = (uint8_t)rest;
        else {
                buf[n++] = (uint8_t)(0x80 | (rest & 0x7f));
                buf[n++] = (uint8_t)(rest >> 7);
        }
        memcpy(buf + n, head, sizeof(head));
        n += sizeof(head);
        buf[n++] = (uint8_t)(keepalive_s >> 8);
        buf[n++] = (uint8_t)(keepalive_s & 0xff);
        buf[n++] = 0;
        buf[n++] = (uint8_t)id_len;
        memcpy(buf + n, client_id, id_len);
        return (ssize_t)(n + id_len);
}

int ob_mqtt_connack_parse(const uint8_t *p, size_t n)
{
        if (n >= 1 && p[0] != 0x20)
                return -EBADMSG;
        if (n >= 2 && p[1] != 0x02)
                return -EBADMSG;
        if (n < OB_MQTT_CONNACK_LEN)
                return -EAGAIN;
        if (p[2] & 0xfe) /* only the session-present flag is defined */
                return -EBADMSG;
        return p[3];
}

const char *ob_mqtt_connack_text(int code)
{
        static const char *const text[] = {
                "accepted",           "unacceptable protocol version", "identifier rejected",
                "server unavailable", "bad user name or password",     "not authorized",
        };

        return code >= 0 && (size_t)code < OB_ELEMENTSOF(text) ? text[code] : "unknown code";
}
