/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include <openssl/ssl.h>

/*
 * TLS with a key at a persistent TPM handle ("handle:0x81XXXXXX", OB_KEY_PATH_HANDLE_PREFIX, a
 * vendor's pre-provisioned key): the one loader, used by the daemon's replacement of
 * SSL_CTX_use_PrivateKey_file (agent/tls-handle-key.c, for Paho) and by `agentctl check tls`.
 * docs/tpm.md, "TLS with a persistent key".
 */

/* True when path starts with "handle:" (well formed or not): not a file. */
bool ob_handle_key_path(const char *path);

/*
 * Give ctx the private key at the handle path, opened as an OSSL_STORE URI with the tpm2
 * provider only (it must already be loaded), checked against the certificate already set.
 * Returns 1, or 0 with a last error on the OpenSSL queue that names the path and says why (a
 * malformed or non-persistent handle, nothing there, not the certificate's key): libssl's
 * convention, as its callers pass it on as an OpenSSL failure.
 */
int ob_handle_key_use(SSL_CTX *ctx, const char *path);
