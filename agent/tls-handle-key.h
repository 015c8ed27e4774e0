/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

/*
 * The TLS-with-TPM-key seam: the one place where the agent changes how libssl and libcrypto
 * behave for the whole process, so that Paho's TLS works with keys held by tpm2-openssl.
 * docs/tpm.md, "The TLS-with-TPM-key seam", says the same at length.
 *
 * Why interposition. Paho MQTT C <= 1.3.x loads the client key only with
 * SSL_CTX_use_PrivateKey_file(ctx, privateKey, SSL_FILETYPE_PEM) and gives no application code
 * its SSL_CTX (upstream: eclipse-paho/paho.mqtt.c issue #1674 and pull request #1463, both
 * open); tpm2-openssl reaches a persistent key only through its OSSL_STORE loader
 * ("handle:0x81000002"). And libssl 3.0 signs the TLS CertificateVerify under the default
 * property query, which cannot say "everything from default, the TPM key's signature from tpm2".
 *
 * Exactly these two symbols, defined in agent/tls-handle-key.c and exported from the
 * executable (agent/local.mk: OB_EXPORT_TLS_LDFLAGS, -Wl,--export-dynamic-symbol), so the
 * dynamic linker binds every library's call to them (the executable comes first in the lookup
 * scope); anything they do not handle goes unchanged to the real one (dlsym(RTLD_NEXT)):
 *   SSL_CTX_use_PrivateKey_file  a path "handle:0x81XXXXXX" goes to ob_handle_key_use()
 *                                (agent/handle-key.h, the loader; it knows nothing of this)
 *   EVP_DigestSignInit_ex        a key held by the tpm2 provider signs with "?provider=tpm2"
 *
 * Proven with Paho MQTT C 1.3.12, OpenSSL 3.0.22 and tpm2-openssl 1.1.1 (Debian 12: amd64 in
 * CI; arm64 and s390x under qemu; armhf builds, but tpm2-openssl < 1.2.0 cannot use persistent
 * handles with a 32-bit long at all, docs/tpm.md), by tests/integration/test-transport.sh,
 * test-tpm-key.sh, test-vendor-key.sh and tests/unit/test-tls-seam.c.
 *
 * Switched off: a program without agent/tls-handle-key.c (a separate agentctl, the plain test
 * probe) has neither replacement; the functions below are then NULL (weak) and the transport
 * refuses a "handle:" key with -EOPNOTSUPP and prefers tpm2 for a TPM-key connection (TLS 1.3
 * only). When configure finds a Paho whose MQTTAsync_SSLOptions has an SSL_CTX callback
 * (HAVE_PAHO_SSL_CTX_CALLBACK), the transport calls the loader from that callback instead and
 * SSL_CTX_use_PrivateKey_file is not replaced (EVP_DigestSignInit_ex still is: no Paho option
 * reaches libssl's signature fetch).
 */

/*
 * True when this program's SSL_CTX_use_PrivateKey_file is the definition the dynamic linker
 * binds callers in shared libraries (Paho) to: dlsym(RTLD_DEFAULT, ...) is its own address.
 */
bool ob_tls_handle_key_active(void) __attribute__((weak));

/*
 * How many times the replacement SSL_CTX_use_PrivateKey_file has been given a "handle:" path,
 * ever, in this process. The transport takes it before a connection and compares after Paho
 * made its SSL_CTX (ob_tls_handle_key_reached()): unchanged means Paho's call went elsewhere.
 */
unsigned ob_tls_handle_key_calls(void) __attribute__((weak));

/*
 * True when SSL_CTX_use_PrivateKey_file was given a "handle:" path since ob_tls_handle_key_calls()
 * returned before. False also in a program without the seam.
 */
static inline bool ob_tls_handle_key_reached(unsigned before)
{
        return ob_tls_handle_key_calls && ob_tls_handle_key_calls() != before;
}

/* What a connection with a "handle:" key fails with when the seam is linked but not the one the
 * call reached (ob_tls_handle_key_active() false, or ob_tls_handle_key_reached() false). */
#define OB_TLS_SEAM_UNBOUND_TEXT                                                                   \
        "libssl/Paho bound SSL_CTX_use_PrivateKey_file elsewhere, not to the agent's: the TPM "    \
        "handle key cannot be used (docs/tpm.md, \"The TLS-with-TPM-key seam\")"

/*
 * True when signatures with a key the tpm2 provider holds go to tpm2 whatever the preferred
 * provider: this program's EVP_DigestSignInit_ex is the one bound (TLS 1.2 with a TPM key
 * needs it, see ob_tls_default_properties() in agent/tls-provider.h).
 */
bool ob_tls_tpm_sign_active(void) __attribute__((weak));
