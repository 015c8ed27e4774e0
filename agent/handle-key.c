/* SPDX-License-Identifier: Apache-2.0 */
/* TLS with a key at a persistent TPM handle (handle-key.h; docs/tpm.md). No state: safe on
 * Paho's threads. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/store.h>

#include "handle-key.h"
#include "key-provider.h"

/* Enough for the one key a handle names, and a bound should a store never say EOF. */
#define MAX_STORE_OBJECTS 8

/* "handle:0x" and 8 hex digits within 0x81000000..0x81FFFFFF (how the agent writes a vendor
 * key's path; tpm2-openssl reads the same string). */
static bool persistent_handle(const char *path)
{
        const char *h = path + strlen(OB_KEY_PATH_HANDLE_PREFIX);
        unsigned long v;

        if (strlen(h) != 10 || h[0] != '0' || h[1] != 'x' ||
            strspn(h + 2, "0123456789abcdefABCDEF") != 8)
                return false;
        v = strtoul(h + 2, NULL, 16);
        return v >= 0x81000000ul && v <= 0x81fffffful;
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

int ob_handle_key_use(SSL_CTX *ctx, const char *path)
{
        EVP_PKEY *pkey;
        int r;

        /* from here on every queued error is about this key (key_error() quotes the last) */
        ERR_clear_error();
        if (!ob_key_path_is_handle(path) || !persistent_handle(path)) {
                key_error(path ? path : "(null)",
                          "not a persistent TPM handle (0x81000000..0x81ffffff)");
                return 0;
        }
        pkey = load_from_store(path);
        if (!pkey) {
                key_error(path, "no key there (tpm2 provider)");
                return 0;
        }
        /* checks the key against the certificate set before (Paho's keyStore) */
        r = SSL_CTX_use_PrivateKey(ctx, pkey);
        EVP_PKEY_free(pkey);
        if (r != 1)
                key_error(path, "not usable with the certificate");
        return r == 1 ? 1 : 0;
}
