/* SPDX-License-Identifier: Apache-2.0 */
#include "provider-compat.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

/* One decimal component of a version string; *end is left after it. False when none is there. */
static bool version_part(const char *s, unsigned long *out, const char **end)
{
        char *e;

        if (!isdigit((unsigned char)*s))
                return false;
        errno = 0;
        *out = strtoul(s, &e, 10);
        if (errno)
                return false;
        *end = e;
        return true;
}

bool ob_tpm2_provider_handle_bug(const char *version, unsigned long_bits)
{
        unsigned long major, minor;
        const char *p;

        if (long_bits >= 64 || !version || !version_part(version, &major, &p) || *p != '.' ||
            !version_part(p + 1, &minor, &p))
                return false;
        return major < 1 || (major == 1 && minor < 2);
}
