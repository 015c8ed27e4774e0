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
 * tpm.vendor_key_handle) goes to ob_handle_key_use() (agent/handle-key.c, shared with agentctl
 * check): opened as a store URI with the tpm2 provider only, and the key is given to
 * SSL_CTX_use_PrivateKey, which also checks it against the certificate already set.
 * The tpm2 provider must already be loaded (agent/transport-paho.c does it, with the TCTI from
 * our config). Every other path goes unchanged to libssl's function (dlsym(RTLD_NEXT)), so file
 * keys (TSS2 PEM and software PEM) behave exactly as before. No state: safe on Paho's threads.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "handle-key.h"
#include "tls-handle-key.h"

typedef int (*UsePrivateKeyFile)(SSL_CTX *ctx, const char *file, int type);

/* Replaces libssl's function for the whole process (see the top of the file). Returns 1 or 0
 * with the reason on the OpenSSL error queue, as libssl's does. */
int SSL_CTX_use_PrivateKey_file(SSL_CTX *ctx, const char *file, int type)
{
        UsePrivateKeyFile real;

        if (ob_handle_key_path(file))
                return ob_handle_key_use(ctx, file);
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
