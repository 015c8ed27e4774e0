/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The broker's view of the registered CAs: a hashed certificate directory (OpenSSL's
 * X509_LOOKUP_hash_dir format, what `openssl rehash` / c_rehash make) that mosquitto's
 * `capath` names. OpenSSL looks a client certificate's issuer up in it during each handshake,
 * so a CA written here is trusted by the next TLS connection, with no restart (checked with
 * mosquitto 2.0.11 and OpenSSL 3.0: docs/emulator.md, "CA trust"). OpenSSL caches what it
 * loaded, so removing a file does not untrust a CA in a running broker: the plugin refuses
 * such connections at CONNECT.
 */
#pragma once

#include <stddef.h>

#include <openssl/x509.h>

/* Make DIR hold exactly `cas` as <subject-hash>.N files (N counts CAs with the same subject
 * hash, in the order given); other <hash>.N files are removed, nothing else is touched.
 * Files are replaced atomically and only when their content changes. 0 or negative errno
 * (the first failure; the rest is still done). */
int ob_emu_trust_sync(const char *dir, X509 *const *cas, size_t n);
