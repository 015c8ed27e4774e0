/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PKCS#10 certificate signing requests whose signature is made elsewhere (in the TPM): the
 * request is assembled here with libcrypto, its to-be-signed part hashed, and the digest handed
 * to a signing callback. EC P-256: ecdsa-with-SHA256; EC P-384: ecdsa-with-SHA384; RSA (2048
 * bits or more): sha256WithRSAEncryption (PKCS#1 v1.5).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* Sign a digest (32 bytes: SHA-256, 48: SHA-384) and return the signature in a malloc'ed buffer:
 * a DER ECDSA-Sig-Value for EC keys, the raw PKCS#1 v1.5 signature for RSA. 0 or -errno. On
 * failure the builder returns the signer's error and no output. */
typedef int (*ObCsrSignFunc)(void *userdata, const uint8_t *digest, size_t digest_len,
                             uint8_t **ret_sig, size_t *ret_sig_len);

/*
 * Build a CSR for the public key pub with subject like "CN=gw-123,O=Acme" (attribute=value,
 * comma-separated; a literal comma is written "\,"). Returns the PEM in *ret_pem (free()).
 * -EINVAL bad subject or a key that is not EC P-256/P-384 or RSA >= 2048 bits; the signer's
 * error otherwise (*ret_pem untouched).
 */
int ob_csr_build(const char *subject, EVP_PKEY *pub, ObCsrSignFunc sign, void *userdata,
                 char **ret_pem);
