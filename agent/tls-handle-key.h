/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

/*
 * MQTT TLS (Paho) with a key at a persistent TPM handle: agent/tls-handle-key.c defines
 * SSL_CTX_use_PrivateKey_file in the executable so Paho's call for a key path
 * "handle:0x81XXXXXX" loads that key through tpm2-openssl's store. Linked into the daemon only;
 * docs/tpm.md says why and what it relies on.
 *
 * True when this program's definition is the one the dynamic linker binds callers in shared
 * libraries (Paho) to, i.e. the executable exports it. agent/transport-paho.c asks before it
 * hands a "handle:" key to Paho (through a weak reference: programs without this file, such
 * as agentctl, refuse such keys with -EOPNOTSUPP).
 */
bool ob_tls_handle_key_active(void);

/*
 * TLS 1.2 with a TPM key: agent/tls-handle-key.c also defines EVP_DigestSignInit_ex, which sends
 * a signature with a key the tpm2 provider holds to that provider whatever the preferred
 * provider is, so the transport can prefer the default provider for everything else (docs/tpm.md,
 * "TLS 1.2 and the tpm2 provider"). True when the executable exports it (libssl binds to it).
 */
bool ob_tls_tpm_sign_active(void);
