/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <openssl/ssl.h>

/*
 * TLS with a key at a persistent TPM handle ("handle:0x81XXXXXX", OB_KEY_PATH_HANDLE_PREFIX, a
 * vendor's pre-provisioned key): the one loader. It knows nothing of how it is reached: the
 * TLS-with-TPM-key seam (agent/tls-handle-key.h) calls it for Paho, and `agentctl check tls`
 * calls it itself. docs/tpm.md, "TLS with a persistent key".
 */

/*
 * Give ctx the private key at the handle path, opened as an OSSL_STORE URI with the tpm2
 * provider only (it must already be loaded), checked against the certificate already set.
 * Returns 1, or 0 with a last error on the OpenSSL queue that names the path and says why (a
 * malformed or non-persistent handle, nothing there, not the certificate's key): libssl's
 * convention, as its callers pass it on as an OpenSSL failure.
 */
int ob_handle_key_use(SSL_CTX *ctx, const char *path);
