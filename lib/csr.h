/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#10 certificate signing requests whose signature is made elsewhere (in the TPM): the
 * request is assembled here with libcrypto, its to-be-signed part hashed with SHA-256, and
 * the digest handed to a signing callback. ECDSA (P-256) keys, ecdsa-with-SHA256.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Sign a SHA-256 digest; return a DER ECDSA-Sig-Value in a malloc'ed buffer. 0 or -errno. */
typedef int (*ObCsrSignFunc)(void *userdata, const uint8_t *digest, size_t digest_len,
                             uint8_t **ret_sig, size_t *ret_sig_len);

/*
 * Build a CSR for the public key pub with subject like "CN=gw-123,O=Acme" (attribute=value,
 * comma-separated; a literal comma is written "\,"). Returns the PEM in *ret_pem (free()).
 * -EINVAL bad subject or a key that is not EC; the signer's error otherwise.
 */
int ob_csr_build(const char *subject, EVP_PKEY *pub, ObCsrSignFunc sign, void *userdata,
                 char **ret_pem);
