/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <limits.h>
#include <stdio.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include "provider-compat.h"
#include "provider-info.h"

const char *ob_provider_version(OSSL_PROVIDER *p, char *buf, size_t size)
{
        char *v = NULL;
        OSSL_PARAM params[] = {
                OSSL_PARAM_construct_utf8_ptr(OSSL_PROV_PARAM_VERSION, &v, 0),
                OSSL_PARAM_construct_end(),
        };

        if (!p || !OSSL_PROVIDER_get_params(p, params) || !v) {
                ERR_clear_error();
                snprintf(buf, size, "unknown");
        } else
                snprintf(buf, size, "%s", v);
        return buf;
}

bool ob_provider_tpm2_unusable(OSSL_PROVIDER *p, char *version, size_t size)
{
        ob_provider_version(p, version, size);
        return ob_tpm2_provider_handle_bug(version, (unsigned)(sizeof(long) * CHAR_BIT));
}
