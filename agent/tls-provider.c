/* SPDX-License-Identifier: Apache-2.0 */
/* OpenSSL providers and property queries for the agent's TLS connections (tls-provider.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "handle-key.h"
#include "key-provider.h"
#include "macro.h"
#include "provider-info.h"
#include "tls-handle-key.h"
#include "tls-provider.h"

static OSSL_PROVIDER *deflt;

/* Randomness always comes from the default provider. Otherwise a thread whose DRBG was set up
 * while "?provider=tpm2" was in force fails to make an SSL_CTX once the preference is back on
 * default (Paho then crashes on the NULL context). Must happen before anything in the process
 * draws random bytes, so it runs when the transport is made, not at the first connect: a
 * software device key is generated (random bytes drawn) before the first connect. */
int ob_tls_provider_load_default(void)
{
        if (deflt)
                return 0;
        if (!RAND_set_DRBG_type(NULL, "CTR-DRBG", "provider=default", "AES-256-CTR", NULL) ||
            !RAND_set_seed_source_type(NULL, "SEED-SRC", "provider=default"))
                return -EINVAL;
        deflt = OSSL_PROVIDER_load(NULL, "default");
        return deflt ? 0 : -ENOPKG;
}

int ob_tls_provider_select(const ObConnectOptions *o)
{
        static OSSL_PROVIDER *tpm2;
        /* a key at a TPM handle can only ever be used through the tpm2 provider */
        bool want_tpm = (o->provider && strcmp(o->provider, "tpm2") == 0) ||
                        ob_key_path_is_handle(o->key_file);
        int r;

        r = ob_tls_provider_load_default();
        if (r < 0)
                return r;
        if (want_tpm) {
                if (!tpm2) {
                        /* the provider reads its TCTI from the environment when it loads */
                        if (o->tcti && setenv("TPM2OPENSSL_TCTI", o->tcti, 1) < 0)
                                return ob_negative_errno();
                        tpm2 = OSSL_PROVIDER_load(NULL, "tpm2");
                        if (!tpm2)
                                return -ENOPKG;
                }
                /* a provider that cannot load our keys would fail every handshake alike:
                 * say so once, plainly, instead (lib/provider-compat.h) */
                char version[32];
                if (ob_provider_tpm2_unusable(tpm2, version, sizeof(version)))
                        return -ELIBBAD;
        }
        return EVP_set_default_properties(NULL, ob_tls_default_properties(want_tpm)) ? 0 : -EINVAL;
}

const char *ob_tls_default_properties(bool tpm_key)
{
        if (tpm_key && !(ob_tls_tpm_sign_active && ob_tls_tpm_sign_active()))
                return "?provider=tpm2";
        return "?provider=default";
}

int ob_tls_use_handle_key_files(SSL_CTX *ctx, const char *cert_file, const char *key_file)
{
        if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
                return 0;
        return ob_handle_key_use(ctx, key_file);
}
