/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake ObKeyProvider for unit tests of the flows (lib/): real software keys (libcrypto) kept
 * in memory by path, no files, no TPM; any call of any operation can be made to fail with a
 * chosen error, so tests can walk every failure path of a flow. Signatures verify like the
 * real backends' (ECDSA DER, RSA PKCS#1 v1.5; digest length 32 = SHA-256, 48 = SHA-384).
 */
#pragma once

#include <openssl/evp.h>

#include "key-provider.h"

typedef enum ObFakeKeyOp {
        OB_FAKE_KEY_CREATE,
        OB_FAKE_KEY_LOAD,
        OB_FAKE_KEY_SIGN,
        OB_FAKE_KEY_DESTROY,
        _OB_FAKE_KEY_OP_MAX,
} ObFakeKeyOp;

#define OB_FAKE_KEY_MAX 8 /* keys held at once; create beyond that: -ENOSPC */

/* A new fake with no keys and no failures; free it with ob_key_provider_free(). -ENOMEM. */
int ob_fake_key_provider_new(ObKeyProvider **ret);

/*
 * Make call number `call` (1-based, counted per operation since the fake was made, failed calls
 * included) of op return `error` (a negative errno) without doing anything; call 0 makes every
 * later call fail. One rule per operation; error 0 removes it.
 */
void ob_fake_key_provider_fail(ObKeyProvider *p, ObFakeKeyOp op, int error, unsigned call);

/* How many times op was called (failed calls included). */
unsigned ob_fake_key_provider_calls(ObKeyProvider *p, ObFakeKeyOp op);

/* The key stored at path (private; owned by the fake), NULL if none. */
EVP_PKEY *ob_fake_key_provider_key(ObKeyProvider *p, const char *path);
