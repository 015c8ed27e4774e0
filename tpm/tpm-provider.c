/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TPM as an ObKeyProvider (lib/key-provider.h): the daemon, agentctl and the CSR code use
 * TPM keys through the same vtable as software keys (tpm/key-soft.c).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fsops.h"
#include "key-provider.h"
#include "tpm-key.h"
#include "tpm-private.h"

/* ---------------------------------------------------------------- as an ObKeyProvider */

typedef struct TpmProvider {
        ObKeyProvider base;
        ObTpm *tpm;
} TpmProvider;

static int tp_create(ObKeyProvider *p, const char *path, int key_type, EVP_PKEY **ret_pub)
{
        ObTpm *t = ((TpmProvider *)p)->tpm;
        int r = ob_tpm_ensure_srk(t, NULL);
        return r < 0 ? r : ob_tpm_create_key(t, path, key_type, ret_pub);
}

static int tp_load(ObKeyProvider *p, const char *path, EVP_PKEY **ret_pub)
{
        return ob_tpm_load_key(((TpmProvider *)p)->tpm, path, ret_pub);
}

static int tp_sign(ObKeyProvider *p, const char *path, const uint8_t *digest, size_t digest_len,
                   uint8_t **ret_sig, size_t *ret_sig_len)
{
        return ob_tpm_sign_digest(((TpmProvider *)p)->tpm, path, digest, digest_len, ret_sig,
                                  ret_sig_len);
}

static int tp_destroy(ObKeyProvider *p, const char *path)
{
        ObTpm *t = ((TpmProvider *)p)->tpm;
        uint32_t handle;
        int r = ob_tpm_path_handle(t, path, &handle);
        if (r < 0)
                return r;
        if (r > 0) {
                /* not ours: the agent never evicts an object it did not create */
                ob_tpm_set_error(t, "%s is a vendor key: not destroyed", path);
                return -EOPNOTSUPP;
        }
        /* the key exists only as this blob: nothing in the TPM to evict */
        if (unlink(path) < 0 && errno != ENOENT)
                return ob_negative_errno();
        return 0;
}

static const char *tp_tls_provider(ObKeyProvider *p)
{
        return "tpm2";
}

static const char *tp_last_error(ObKeyProvider *p)
{
        return ob_tpm_last_error(((TpmProvider *)p)->tpm);
}

static void tp_free(ObKeyProvider *p)
{
        ob_tpm_close(((TpmProvider *)p)->tpm);
        free(p);
}

static const ObKeyProviderOps tpm_provider_ops = {
        .create = tp_create,
        .load = tp_load,
        .sign_digest = tp_sign,
        .destroy = tp_destroy,
        .tls_provider = tp_tls_provider,
        .last_error = tp_last_error,
        .free = tp_free,
};

int ob_key_provider_tpm_new(ObTpm *tpm, ObKeyProvider **ret)
{
        TpmProvider *p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->base.ops = &tpm_provider_ops;
        p->tpm = tpm;
        *ret = &p->base;
        return 0;
}
