/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TLS-with-TPM-key seam (agent/tls-handle-key.h says why, which symbols, with which
 * versions it was proven and how it is switched off; docs/tpm.md, "The TLS-with-TPM-key seam").
 *
 * SSL_CTX_use_PrivateKey_file: a path "handle:0x81XXXXXX" (OB_KEY_PATH_HANDLE_PREFIX, as the
 * agent writes tpm.vendor_key_handle) goes to ob_handle_key_use() (agent/handle-key.c, shared
 * with agentctl check): opened as a store URI with the tpm2 provider only, and the key is given
 * to SSL_CTX_use_PrivateKey, which also checks it against the certificate already set. The tpm2
 * provider must already be loaded (agent/tls-provider.c does it, with the TCTI from our config).
 * Every other path goes unchanged to libssl's function (dlsym(RTLD_NEXT)), so file keys (TSS2
 * PEM and software PEM) behave exactly as before. Its only state is a counter (atomic): safe on
 * Paho's threads.
 *
 * EVP_DigestSignInit_ex: TLS 1.2 with a TPM key (see the end of the file).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "handle-key.h"
#include "key-provider.h"
#include "tls-handle-key.h"

#ifndef HAVE_PAHO_SSL_CTX_CALLBACK /* else the transport loads the key from that callback */
typedef int (*UsePrivateKeyFile)(SSL_CTX *ctx, const char *file, int type);

/* "handle:" paths this process's replacement was given (ob_tls_handle_key_calls()) */
static unsigned handle_calls;

/* Replaces libssl's function for the whole process (see the top of the file). Returns 1 or 0
 * with the reason on the OpenSSL error queue, as libssl's does. */
int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type)
{
        UsePrivateKeyFile real;

        if (ob_key_path_is_handle(file)) {
                __atomic_add_fetch(&handle_calls, 1, __ATOMIC_SEQ_CST);
                return ob_handle_key_use(ctx, file);
        }
        real = (UsePrivateKeyFile)dlsym(RTLD_NEXT, "SSL_CTX_use_PrivateKey_file");
        if (!real) {
                ERR_raise_data(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR,
                               "libssl's SSL_CTX_use_PrivateKey_file not found");
                return 0;
        }
        return real(ctx, file, type);
}

bool ob_tls_handle_key_active(void)
{
        return dlsym(RTLD_DEFAULT, "SSL_CTX_use_PrivateKey_file") ==
               (void *)SSL_CTX_use_PrivateKey_file;
}

unsigned ob_tls_handle_key_calls(void)
{
        return __atomic_load_n(&handle_calls, __ATOMIC_SEQ_CST);
}
#endif

/* ---------------------------------------------------------------- signing with a TPM key
 *
 * TLS 1.2 with a TPM key (docs/tpm.md, "TLS 1.2 and the tpm2 provider"): with "?provider=tpm2"
 * preferred while Paho makes its SSL_CTX, libssl fetches the "EC" key manager from tpm2, which
 * (tpm2-openssl 1.1.1) declares no TLS groups, so libssl drops P-256/P-384/P-521 from the
 * groups it offers: a TLS 1.2 server with an ECDSA certificate finds no shared cipher, and one
 * with an RSA certificate refuses the client's CertificateVerify (its P-256 key is on a curve
 * the client did not offer); the ephemeral ECDHE key cannot be made by tpm2 either. With
 * "?provider=default" preferred, everything works except the one signature with the TPM key:
 * libcrypto picks default's ECDSA, exports the key's public half to it, and fails ("missing
 * private key"). So the agent prefers default for the whole connection, and this replacement
 * sends a signature with a key that the tpm2 provider holds to the tpm2 provider. Called by
 * libssl for the CertificateVerify (TLS 1.2 and 1.3); keys of other providers pass unchanged. */
typedef int (*DigestSignInitEx)(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const char *mdname,
                                OSSL_LIB_CTX *libctx, const char *props, EVP_PKEY *pkey,
                                const OSSL_PARAM *params);

int EVP_DigestSignInit_ex(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const char *mdname,
                          OSSL_LIB_CTX *libctx, const char *props, EVP_PKEY *pkey,
                          const OSSL_PARAM *params)
{
        DigestSignInitEx real = (DigestSignInitEx)dlsym(RTLD_NEXT, "EVP_DigestSignInit_ex");
        const OSSL_PROVIDER *p = pkey ? EVP_PKEY_get0_provider(pkey) : NULL;

        if (!real) {
                ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR,
                               "libcrypto's EVP_DigestSignInit_ex not found");
                return 0;
        }
        if (p && strcmp(OSSL_PROVIDER_get0_name(p), "tpm2") == 0)
                props = "?provider=tpm2";
        return real(ctx, pctx, mdname, libctx, props, pkey, params);
}

bool ob_tls_tpm_sign_active(void)
{
        return dlsym(RTLD_DEFAULT, "EVP_DigestSignInit_ex") == (void *)EVP_DigestSignInit_ex;
}
