/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS through Paho with a key at a persistent TPM handle (a vendor's pre-provisioned key).
 *
 * Paho MQTT C 1.3.12 loads the client key only with SSL_CTX_use_PrivateKey_file(ctx, path,
 * SSL_FILETYPE_PEM) and offers no hook with its SSL_CTX; tpm2-openssl 1.1.1 reaches a persistent
 * key only through its OSSL_STORE loader ("handle:0x81000002"), never through a file. So this
 * file defines SSL_CTX_use_PrivateKey_file in the executable. The executable comes first in the
 * dynamic linker's lookup scope, so Paho's call (and any other library's) binds to this
 * definition, provided the executable exports it (agent/local.mk: -Wl,--export-dynamic-symbol;
 * ob_tls_handle_key_active() checks it at run time).
 *
 * A path "handle:0x81XXXXXX" (OB_KEY_PATH_HANDLE_PREFIX, as the agent writes
 * tpm.vendor_key_handle) is opened as a store URI with the tpm2 provider only, and the key is
 * given to SSL_CTX_use_PrivateKey, which also checks it against the certificate already set.
 * The tpm2 provider must already be loaded (agent/transport-paho.c does it, with the TCTI from
 * our config). Every other path goes unchanged to libssl's function (dlsym(RTLD_NEXT)), so file
 * keys (TSS2 PEM and software PEM) behave exactly as before. No state: safe on Paho's threads.
 *
 * It also defines EVP_DigestSignInit_ex, for TLS 1.2 with a TPM key (see the end of the file).
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/store.h>

#include "key-provider.h"
#include "tls-handle-key.h"

/* Enough for the one key a handle names, and a bound should a store never say EOF. */
#define MAX_STORE_OBJECTS 8

typedef int (*UsePrivateKeyFile)(SSL_CTX *ctx, const char *file, int type);

/* 1: "handle:0x" and 8 hex digits within 0x81000000..0x81FFFFFF (how the agent writes a vendor
 * key's path; tpm2-openssl reads the same string); 0: not a "handle:" path (a file);
 * -1: a "handle:" path that is not such a handle. */
static int handle_path(const char *path)
{
        size_t n = strlen(OB_KEY_PATH_HANDLE_PREFIX);
        const char *h;

        if (strncmp(path, OB_KEY_PATH_HANDLE_PREFIX, n) != 0)
                return 0;
        h = path + n;
        if (strlen(h) != 10 || h[0] != '0' || h[1] != 'x' ||
            strspn(h + 2, "0123456789abcdefABCDEF") != 8)
                return -1;
        unsigned long v = strtoul(h + 2, NULL, 16);
        return v >= 0x81000000ul && v <= 0x81fffffful ? 1 : -1;
}

/* The private key at the store URI, from the tpm2 provider only; NULL with the store's errors
 * queued when there is none. */
static EVP_PKEY *load_from_store(const char *uri)
{
        OSSL_STORE_CTX *s;
        EVP_PKEY *pkey = NULL;

        s = OSSL_STORE_open_ex(uri, NULL, "provider=tpm2", NULL, NULL, NULL, NULL, NULL);
        if (!s)
                return NULL;
        for (int i = 0; i < MAX_STORE_OBJECTS && !pkey && !OSSL_STORE_eof(s); i++) {
                OSSL_STORE_INFO *info = OSSL_STORE_load(s);
                if (!info) {
                        if (OSSL_STORE_error(s))
                                break;
                        continue;
                }
                if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
                        pkey = OSSL_STORE_INFO_get1_PKEY(info);
                OSSL_STORE_INFO_free(info);
        }
        OSSL_STORE_close(s);
        return pkey;
}

/* Queue the reason for a failure with the key at path, naming it, as the last error. Paho 1.3.12
 * takes the first error off the queue before it prints the others to its ssl_error_cb
 * (SSLSocket_error), so the last one is the one that must say it all, and it must not be the
 * only one: the reason already queued (e.g. "key values mismatch") goes into its text. No
 * source position: the transport keeps 200 bytes of the line, the reason is what counts. */
static void key_error(const char *path, const char *why)
{
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;

        if (!e)
                ERR_raise(ERR_LIB_SSL, ERR_R_PASSED_INVALID_ARGUMENT);
        ERR_new();
        ERR_set_debug(NULL, 0, NULL);
        ERR_set_error(ERR_LIB_SSL, ERR_R_PASSED_INVALID_ARGUMENT, "%s: %s%s%s", path, why,
                      reason ? ": " : "", reason ? reason : "");
}

/* Replaces libssl's function for the whole process (see the top of the file). Returns 1 or 0
 * with the reason on the OpenSSL error queue, as libssl's does. */
int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type)
{
        UsePrivateKeyFile real;
        EVP_PKEY *pkey;
        int r;

        r = file ? handle_path(file) : 0;
        if (r == 0) {
                real = (UsePrivateKeyFile)dlsym(RTLD_NEXT, "SSL_CTX_use_PrivateKey_file");
                if (!real) {
                        ERR_raise_data(ERR_LIB_SSL, ERR_R_INTERNAL_ERROR,
                                       "libssl's SSL_CTX_use_PrivateKey_file not found");
                        return 0;
                }
                return real(ctx, file, type);
        }
        /* from here on every queued error is about this key (key_error() quotes the last) */
        ERR_clear_error();
        if (r < 0) {
                key_error(file, "not a persistent TPM handle (0x81000000..0x81ffffff)");
                return 0;
        }
        pkey = load_from_store(file);
        if (!pkey) {
                key_error(file, "no key there (tpm2 provider)");
                return 0;
        }
        /* checks the key against the certificate Paho set before (its keyStore) */
        r = SSL_CTX_use_PrivateKey(ctx, pkey);
        EVP_PKEY_free(pkey);
        if (r != 1)
                key_error(file, "not usable with the certificate");
        return r;
}

bool ob_tls_handle_key_active(void)
{
        return dlsym(RTLD_DEFAULT, "SSL_CTX_use_PrivateKey_file") ==
               (void *)SSL_CTX_use_PrivateKey_file;
}

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
