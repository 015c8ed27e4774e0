/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One interface over the places a device key can live: the TPM (tpm/tpm-key.c) or a software
 * key file (devices without a TPM, CreateKeysAndCertificate, large fleet simulations). The
 * agent's flows (lib/) use only this interface, so it lives in lib/; the backends live in tpm/.
 * Unit tests use a fake with the same vtable.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "macro.h"

typedef struct ObKeyProvider ObKeyProvider;

typedef struct ObKeyProviderOps {
        /* Create a new key stored at path (atomically); the public key goes to *ret_pub. */
        int (*create)(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub);
        /* Load the key at path and return its public key; proves the key is usable here. */
        int (*load)(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub);
        /* ECDSA over a SHA-256 digest; DER signature in *ret_sig (free()). */
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

/* The software backend: EC P-256 PEM files, mode 0600, written atomically. */
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
