/* SPDX-License-Identifier: Apache-2.0 */
#include "provider-compat.h"

#include <stdio.h>

bool ob_tpm2_provider_handle_bug(const char *version, unsigned long_bits)
{
        unsigned major, minor;

        if (long_bits >= 64 || !version || sscanf(version, "%u.%u", &major, &minor) != 2)
                return false;
        return major < 1 || (major == 1 && minor < 2);
}
