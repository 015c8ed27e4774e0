/* SPDX-License-Identifier: Apache-2.0 */
/* What a loaded OpenSSL provider says of itself, and whether it is known to be unusable here
 * (lib/provider-compat.h). Shared by the transport and `agentctl check tls-provider`. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/provider.h>

/* The provider's version ("1.1.1") into buf, or "unknown". Returns buf. */
const char *ob_provider_version(OSSL_PROVIDER *p, char *buf, size_t size);

/* True when p is a tpm2 provider that cannot use persistent handles on this platform
 * (tpm2-openssl < 1.2.0 with a 32-bit long); its version goes to version. */
bool ob_provider_tpm2_unusable(OSSL_PROVIDER *p, char *version, size_t size);
