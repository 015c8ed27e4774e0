/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small, strict CBOR (RFC 8949) codec mapping to and from json-c objects, for the fleet
 * provisioning API's CBOR topics. Decoding accepts: unsigned/negative integers within int64,
 * text strings (valid UTF-8, definite or indefinite), arrays and maps (definite or indefinite;
 * map keys must be text), false/true/null/undefined (undefined -> null), half/single/double
 * floats. It rejects byte strings, tags and other simple values (-ENOTSUP), truncated or
 * trailing data (-EBADMSG), nesting deeper than OB_CBOR_MAX_DEPTH (-ELOOP), integers outside
 * int64 (-ERANGE). Encoding writes definite lengths and the shortest integer heads.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define OB_CBOR_MAX_DEPTH 32
#define OB_CBOR_MAX_SIZE  (1024 * 1024)

/* Decode exactly one item filling buf[0..len). On success *ret is a new reference. */
int ob_cbor_decode(const uint8_t *buf, size_t len, json_object **ret);

/* Encode o (NULL encodes null). On success *ret is malloc'd (caller frees), *ret_len its size. */
int ob_cbor_encode(json_object *o, uint8_t **ret, size_t *ret_len);
