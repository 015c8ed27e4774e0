/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>

#include "health.h"
#include "macro.h"

#define DAY_S 86400

static const char *const result_names[_OB_HEALTH_RESULT_MAX] = {
        [OB_HEALTH_PASS] = "pass",
        [OB_HEALTH_SKIP] = "skip",
        [OB_HEALTH_WARN] = "warn",
        [OB_HEALTH_FAIL] = "fail",
};

const char *ob_health_result_to_string(ObHealthResult r)
{
        if ((unsigned)r >= _OB_HEALTH_RESULT_MAX)
                return NULL;
        return result_names[r];
}

ObHealthResult ob_health_worst(const ObHealthResult *results, size_t n)
{
        ObHealthResult worst = OB_HEALTH_PASS;

        for (size_t i = 0; i < n; i++)
                if (results[i] > worst && results[i] < _OB_HEALTH_RESULT_MAX)
                        worst = results[i];
        return worst == OB_HEALTH_SKIP ? OB_HEALTH_PASS : worst;
}

int ob_health_exit_code(ObHealthResult worst)
{
        switch (worst) {
        case OB_HEALTH_PASS:
        case OB_HEALTH_SKIP:
                return OB_HEALTH_EXIT_PASS;
        case OB_HEALTH_WARN:
                return OB_HEALTH_EXIT_WARN;
        case OB_HEALTH_FAIL:
        case _OB_HEALTH_RESULT_MAX:
                break;
        }
        return OB_HEALTH_EXIT_FAIL;
}

int ob_health_rotation_due(int64_t not_before, int64_t not_after, double fraction,
                           uint32_t days_before_expiry, uint32_t max_age_days, int64_t *ret_due)
{
        int64_t life, due;

        if (not_after <= not_before || !(fraction > 0.0 && fraction < 1.0))
                return -EINVAL;
        life = not_after - not_before; /* > 0; both come from 64-bit certificate times */
        /* life * fraction >= 0: the cast truncates, which is floor (no libm) */
        due = not_before + (int64_t)((double)life * fraction);
        /* days_before_expiry never before half the life: 30 days before the end of a 7-day
         * certificate would mean "renew at once, forever" */
        if (days_before_expiry > 0)
                due = OB_MIN(due, OB_MAX(not_after - (int64_t)days_before_expiry * DAY_S,
                                         not_before + life / 2));
        if (max_age_days > 0)
                due = OB_MIN(due, not_before + (int64_t)max_age_days * DAY_S);
        *ret_due = OB_MAX(due, not_before);
        return 0;
}

ObHealthResult ob_health_cert_validity(int64_t now_s, int64_t not_before, int64_t not_after,
                                       int64_t due)
{
        if (now_s < not_before || now_s >= not_after)
                return OB_HEALTH_FAIL;
        if (now_s >= due)
                return OB_HEALTH_WARN;
        return OB_HEALTH_PASS;
}

#define DAY_S 86400

int64_t ob_health_server_time(uint32_t gmt_unix_time, int64_t cert_not_before,
                              int64_t cert_not_after, int64_t now_s)
{
        int64_t t = (int64_t)gmt_unix_time, d = t - now_s;

        if (t < cert_not_before || t >= cert_not_after || d > DAY_S || d < -DAY_S)
                return -1;
        return t;
}
