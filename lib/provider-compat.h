/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Known defects of the OpenSSL providers the agent loads, decided from their version and the
 * platform (pure: the caller asks the provider for its version).
 *
 * tpm2-openssl before 1.2.0 parses a TSS2 key's parent handle (0x81000001, the SRK) and
 * "handle:0x81..." keys with strtol(): on platforms with a 32-bit long (armhf, i386) every
 * persistent handle is "out of range", so no TLS with a TPM key works ("cannot load parent ...
 * handle value is out of range"). Debian 12 ships 1.1.1; fixed in 1.2.0.
 */
#pragma once

#include <stdbool.h>

/* True when a tpm2-openssl of this version ("1.1.1") cannot use persistent handles with a long
 * of long_bits bits. An unparsable version is taken as not affected (no false alarm). */
bool ob_tpm2_provider_handle_bug(const char *version, unsigned long_bits);
