/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One interface over the places a device key can live: the TPM (tpm/tpm-key.c) or a software
 * key file (devices without a TPM, CreateKeysAndCertificate, large fleet simulations). The
 * agent's flows (lib/) use only this interface, so it lives in lib/; the backends live in tpm/.
 * Unit tests use a fake with the same vtable.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/evp.h>

#include "macro.h"

typedef struct ObKeyProvider ObKeyProvider;

/*
 * Key paths: a file path (a TSS2 PEM blob for the TPM, a PEM private key for software), or
 * "handle:0x81000002" for a key that already lives at a persistent TPM handle (a vendor's
 * pre-provisioned key, config tpm.vendor_key_handle; TPM backend only). The same string is
 * tpm2-openssl's store URI for that key. Such a key can be loaded and sign, but not be created
 * or destroyed here (-EOPNOTSUPP).
 */
#define OB_KEY_PATH_HANDLE_PREFIX "handle:"

/* Does path name a key at a persistent TPM handle (rather than a file)? */
static inline bool ob_key_path_is_handle(const char *path)
{
        return path &&
               strncmp(path, OB_KEY_PATH_HANDLE_PREFIX, sizeof(OB_KEY_PATH_HANDLE_PREFIX) - 1) == 0;
}

typedef struct ObKeyProviderOps {
        /* Create a new key of key_type (ObKeyType, lib/config-file.h) stored at path
         * (atomically); the public key goes to *ret_pub. -EINVAL unknown type. */
        int (*create)(ObKeyProvider *p, const char *path, int key_type /* ObKeyType */,
                      EVP_PKEY **ret_pub);
        /* Load the key at path and return its public key; proves the key is usable here. */
        int (*load)(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub);
        /* Sign a digest whose length names its hash: 32 SHA-256, 48 SHA-384 (else -EINVAL).
         * EC keys: ECDSA, a DER ECDSA-Sig-Value; RSA keys: PKCS#1 v1.5 (RSASSA), the raw
         * signature. The signature goes to *ret_sig (free()). */
        int (*sign_digest)(ObKeyProvider *p, const char *path, const uint8_t *digest,
                           size_t digest_len, uint8_t **ret_sig, size_t *ret_sig_len);
        /* Remove the key file (for the TPM: the blob; nothing persistent is created per key). */
        int (*destroy)(ObKeyProvider *p, const char *path);
        /* The OpenSSL provider TLS must prefer for this key: "tpm2" or "default". */
        const char *(*tls_provider)(ObKeyProvider *p);
        /* Text of the last error, "" if none. */
        const char *(*last_error)(ObKeyProvider *p);
        void (*free)(ObKeyProvider *p);
} ObKeyProviderOps;

struct ObKeyProvider {
        const ObKeyProviderOps *ops;
};

/* The software backend: EC P-256/P-384 or RSA-2048 PEM files, mode 0600, written atomically. */
int ob_key_provider_software_new(ObKeyProvider **ret);

#ifdef HAVE_TPM
typedef struct ObTpm ObTpm;
/* The TPM backend over an open ObTpm (which the provider takes over and closes). */
int ob_key_provider_tpm_new(ObTpm *tpm, ObKeyProvider **ret);
#endif

static inline ObKeyProvider *ob_key_provider_free(ObKeyProvider *p)
{
        if (p)
                p->ops->free(p);
        return NULL;
}
OB_DEFINE_TRIVIAL_CLEANUP_FUNC(ObKeyProvider *, ob_key_provider_free)
