/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include <openssl/ssl.h>

#include "transport.h"

/*
 * OpenSSL providers and the default property query for the agent's TLS connections (the Paho
 * transport and its probe): the default provider for randomness and everything else, tpm2 for
 * TPM keys. Process-wide OpenSSL state, set before each connection (connections never
 * overlap). It asks the seam (agent/tls-handle-key.h) whether signatures with TPM keys are
 * routed, and never includes Paho. docs/tpm.md, "TLS 1.2 and the tpm2 provider".
 */

/*
 * Randomness from the default provider, and the default provider loaded; once per process,
 * before anything draws random bytes. 0, -EINVAL or -ENOPKG.
 */
int ob_tls_provider_load_default(void);

/*
 * The providers and the default property query for a connection with o's key: tpm2 loaded
 * (with o->tcti) for a TPM key or a key at a TPM handle. 0, -ENOPKG (a provider does not
 * load), -ELIBBAD (the tpm2 provider cannot use our keys here, lib/provider-compat.h), -EINVAL,
 * -errno.
 */
int ob_tls_provider_select(const ObConnectOptions *o);

/*
 * The default property query for a TLS connection, before its SSL_CTX is made. A connection with
 * a TPM key prefers the tpm2 provider only where signatures with a tpm2 key are not routed to
 * tpm2 by ob_tls_tpm_sign_active(): preferring tpm2 for the whole connection breaks TLS 1.2 (the
 * SSL_CTX then offers no NIST groups: tpm2-openssl 1.1.1's "EC" key manager declares no TLS
 * groups, so the server finds no shared cipher with an ECDSA certificate, or refuses the P-256
 * CertificateVerify with an RSA one). docs/tpm.md, "TLS 1.2 and the tpm2 provider".
 */
const char *ob_tls_default_properties(bool tpm_key);

/*
 * For a Paho with an SSL_CTX callback (HAVE_PAHO_SSL_CTX_CALLBACK, agent/tls-handle-key.h):
 * give ctx the certificate chain at cert_file and the key at the "handle:" path key_file
 * (ob_handle_key_use()), what Paho would have done with keyStore and privateKey. 1, or 0 with
 * the reason on the OpenSSL error queue (libssl's convention).
 */
int ob_tls_use_handle_key_files(SSL_CTX *ctx, const char *cert_file, const char *key_file);
