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

/*
 * Give ctx the private key at the handle path, opened as an OSSL_STORE URI with the tpm2
 * provider only (it must already be loaded), checked against the certificate already set.
 * Returns 1, or 0 with a last error on the OpenSSL queue that names the path and says why (a
 * malformed or non-persistent handle, nothing there, not the certificate's key): libssl's
 * convention, as its callers pass it on as an OpenSSL failure.
 */
int ob_handle_key_use(SSL_CTX *ctx, const char *path);

/* Defined in agent/tls-handle-key.c, which only the daemon's program links: it makes Paho load a
 * key path "handle:0x81XXXXXX" through tpm2-openssl's store. The address is NULL in other
 * programs (a separate agentctl), which then refuse such keys with -EOPNOTSUPP instead of a
 * puzzling file error. */
bool ob_tls_handle_key_active(void) __attribute__((weak));
/* Also agent/tls-handle-key.c: true when signatures with a tpm2-held key go to tpm2 whatever the
 * preferred provider (TLS 1.2 with a TPM key needs it, see ob_tls_default_properties()). */
bool ob_tls_tpm_sign_active(void) __attribute__((weak));

/*
 * The default property query for a TLS connection, before its SSL_CTX is made. A connection with
 * a TPM key prefers the tpm2 provider only where signatures with a tpm2 key are not routed to
 * tpm2 by ob_tls_tpm_sign_active(): preferring tpm2 for the whole connection breaks TLS 1.2 (the
 * SSL_CTX then offers no NIST groups: tpm2-openssl 1.1.1's "EC" key manager declares no TLS
 * groups, so the server finds no shared cipher with an ECDSA certificate, or refuses the P-256
 * CertificateVerify with an RSA one). docs/tpm.md, "TLS 1.2 and the tpm2 provider".
 */
const char *ob_tls_default_properties(bool tpm_key);
