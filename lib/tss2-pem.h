/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "TSS2 PRIVATE KEY" PEM format that tpm2-openssl (and the tpm2 engine) load:
 *
 *   TPMKey ::= SEQUENCE {
 *       type       OBJECT IDENTIFIER,        -- 2.23.133.10.1.3 (loadable key)
 *       emptyAuth  [0] EXPLICIT BOOLEAN OPTIONAL,
 *       parent     INTEGER,                  -- e.g. 0x81000001, the persistent SRK
 *       pubkey     OCTET STRING,             -- TPM2B_PUBLIC, marshalled
 *       privkey    OCTET STRING }            -- TPM2B_PRIVATE, marshalled (wrapped by the parent)
 *
 * Pure DER, no TPM access: the blobs are opaque bytes here. We write emptyAuth TRUE (our keys
 * have no auth value; tpm2_encodeobject 5.4 writes FALSE, a bug, see DESIGN.md §2).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OB_TSS2_PEM_MAX_BLOB 4096

typedef struct ObTss2Key {
        bool empty_auth;
        uint32_t parent;
        uint8_t pub[OB_TSS2_PEM_MAX_BLOB];
        size_t pub_len;
        uint8_t priv[OB_TSS2_PEM_MAX_BLOB];
        size_t priv_len;
} ObTss2Key;

/* DER encoding into a newly allocated buffer. Returns 0, -EINVAL (blob too large), -ENOMEM. */
int ob_tss2_key_to_der(const ObTss2Key *k, uint8_t **ret, size_t *ret_len);
/* Strict DER decoding: wrong OID, bad lengths, trailing bytes -> -EBADMSG. */
int ob_tss2_key_from_der(const uint8_t *der, size_t len, ObTss2Key *ret);

/* PEM ("-----BEGIN TSS2 PRIVATE KEY-----") to/from the struct. to_pem returns a NUL-terminated
 * string to free(). from_pem: -EBADMSG for anything that is not one well-formed key. */
int ob_tss2_key_to_pem(const ObTss2Key *k, char **ret);
int ob_tss2_key_from_pem(const char *pem, size_t len, ObTss2Key *ret);
