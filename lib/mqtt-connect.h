/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The two MQTT 3.1.1 packets `agentctl check cloud` exchanges itself over its own TLS session
 * (the daemon's MQTT is Paho's): a CONNECT (clean session, no will, no user name or password,
 * as AWS IoT Core takes with a client certificate) and its CONNACK; and the DISCONNECT that
 * ends the session. Pure: bytes in, bytes out.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OB_MQTT_CLIENT_ID_MAX 128 /* AWS IoT Core's limit, in bytes */
#define OB_MQTT_CONNACK_LEN   4
#define OB_MQTT_CONNECT_MAX   (15 + OB_MQTT_CLIENT_ID_MAX)

/* A DISCONNECT packet. */
extern const uint8_t ob_mqtt_disconnect[2];

/* A CONNECT for client_id (1..128 bytes) with keep-alive keepalive_s into buf: its length, or
 * -EINVAL (client id empty or too long), -ENOBUFS (buf too small). */
ssize_t ob_mqtt_connect_build(const char *client_id, uint16_t keepalive_s, uint8_t *buf,
                              size_t size);

/* The first n bytes the server sent after CONNECT: its return code 0..255 (0 accepted; 1..5 the
 * refusals of MQTT 3.1.1, 3.2.2.3), -EAGAIN when fewer than 4 bytes came, -EBADMSG when they are
 * not a CONNACK. */
int ob_mqtt_connack_parse(const uint8_t *p, size_t n);

/* The words of MQTT 3.1.1 for a CONNACK return code ("not authorized", ...). */
const char *ob_mqtt_connack_text(int code);
