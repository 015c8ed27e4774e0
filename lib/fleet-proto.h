/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fleet provisioning MQTT API (shared/reference/aws-iot-protocol.md §1): topic names,
 * request payloads and strict parsers for the replies, in JSON or CBOR. Pure: no I/O.
 * Replies from the cloud are untrusted input: every field is type- and size-checked, and a
 * malformed reply never yields a half-filled result.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errclass.h"

#define OB_FLEET_MAX_PAYLOAD       (128 * 1024)
#define OB_FLEET_TEMPLATE_NAME_MAX 36

typedef enum ObFleetFormat {
        OB_FLEET_JSON,
        OB_FLEET_CBOR,
} ObFleetFormat;

typedef enum ObFleetOp {
        OB_FLEET_CREATE_FROM_CSR, /* CreateCertificateFromCsr */
        OB_FLEET_CREATE_KEYS,     /* CreateKeysAndCertificate */
        OB_FLEET_REGISTER_THING,  /* RegisterThing */
} ObFleetOp;

typedef enum ObFleetTopicKind {
        OB_FLEET_REQUEST,
        OB_FLEET_ACCEPTED,
        OB_FLEET_REJECTED,
} ObFleetTopicKind;

/* 1-36 characters of [0-9A-Za-z_-]. */
bool ob_fleet_template_name_valid(const char *name);

/* The topic for op/format/kind (template_name only for RegisterThing). -EINVAL bad template
 * name, -ENOBUFS buffer too small. */
int ob_fleet_topic(ObFleetOp op, ObFleetFormat fmt, const char *template_name,
                   ObFleetTopicKind kind, char *buf, size_t size);

/* Request payloads (malloc'ed, *ret_len bytes; JSON is also NUL-terminated). params is a
 * NULL-terminated list of alternating keys and values, or NULL. */
int ob_fleet_build_create_from_csr(ObFleetFormat fmt, const char *csr_pem, uint8_t **ret,
                                   size_t *ret_len);
int ob_fleet_build_create_keys(ObFleetFormat fmt, uint8_t **ret, size_t *ret_len);
int ob_fleet_build_register_thing(ObFleetFormat fmt, const char *ownership_token,
                                  const char *const *params, uint8_t **ret, size_t *ret_len);

typedef struct ObFleetCertReply {
        char *certificate_id; /* 64 lower-case hex */
        char *certificate_pem;
        char *private_key;     /* CreateKeysAndCertificate only; a secret, wiped on clear */
        char *ownership_token; /* a secret: never logged */
} ObFleetCertReply;

typedef struct ObFleetRegisterReply {
        char *thing_name;            /* NULL when the template creates no thing */
        char **device_configuration; /* NULL-terminated alternating keys and values */
} ObFleetRegisterReply;

typedef struct ObFleetError {
        int status_code;
        char error_code[64];
        char error_message[256];
        ObErrClass err_class; /* throttled for 429; network (retry) for 5xx; rejected else */
} ObFleetError;

/* AWS IoT's rule for thing names: 1 to 128 of a-z A-Z 0-9 : _ - (CreateThing, thingName). */
bool ob_fleet_thing_name_valid(const char *name);

/*
 * Parse an accepted reply. Errors: -EMSGSIZE larger than OB_FLEET_MAX_PAYLOAD; -EBADMSG not
 * well-formed JSON/CBOR or not an object; -EPROTO a required field is missing, of the wrong
 * type, too long or malformed (e.g. a certificateId that is not 64 hex digits, a private key
 * where none belongs). Nothing is returned on error.
 */
int ob_fleet_parse_cert_reply(ObFleetFormat fmt, const void *payload, size_t len,
                              bool expect_private_key, ObFleetCertReply *ret);
/* RegisterThing's reply also fails with -EILSEQ when thingName breaks AWS's thing-name rule. */
int ob_fleet_parse_register_reply(ObFleetFormat fmt, const void *payload, size_t len,
                                  ObFleetRegisterReply *ret);
/* Parse a rejected reply {statusCode, errorCode, errorMessage}; same errors. */
int ob_fleet_parse_rejected(ObFleetFormat fmt, const void *payload, size_t len, ObFleetError *ret);

ObErrClass ob_fleet_status_class(int status_code);

void ob_fleet_cert_reply_clear(ObFleetCertReply *r);
void ob_fleet_register_reply_clear(ObFleetRegisterReply *r);
