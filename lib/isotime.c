/* SPDX-License-Identifier: Apache-2.0 */
#include "isotime.h"

#include <stdio.h>

#include <json-c/json.h>

/* Howard Hinnant's days_from_civil / civil_from_days (public domain algorithms), on int64. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);                       /* [0, 399] */
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
        return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, unsigned *ret_m, unsigned *ret_d)
{
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);                          /* [0, 146096] */
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
        unsigned mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
        *ret_d = doy - (153 * mp + 2) / 5 + 1;
        *ret_m = mp < 10 ? mp + 3 : mp - 9;
        *ret_y = (int64_t)yoe + era * 400 + (*ret_m <= 2);
}

int64_t ob_isotime_from_civil(int64_t year, unsigned month, unsigned day, unsigned hour,
                              unsigned minute, unsigned second)
{
        return days_from_civil(year, month, day) * 86400 + (int64_t)hour * 3600 +
               (int64_t)minute * 60 + second;
}

bool ob_isotime_format(int64_t s, char *buf, size_t size)
{
        if (s < OB_ISOTIME_MIN || s > OB_ISOTIME_MAX || size < 21) {
                if (size > 0)
                        snprintf(buf, size, "@%lld", (long long)s);
                return false;
        }
        int64_t days = s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
        int64_t secs = s - days * 86400; /* [0, 86399] */
        int64_t y;
        unsigned m, d;

        civil_from_days(days, &y, &m, &d);
        snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
                 (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
        return true;
}

struct json_object *ob_isotime_json(int64_t s)
{
        char buf[32];

        return ob_isotime_format(s, buf, sizeof(buf)) ? json_object_new_string(buf) : NULL;
}
