/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>

#include "control-limits.h"

ObControlLimits ob_control_limits_default(void)
{
        return (ObControlLimits){
                .max_clients = OB_CONTROL_MAX_CLIENTS_DEFAULT,
                .root_reserved = OB_CONTROL_ROOT_RESERVED_DEFAULT,
                .per_uid = OB_CONTROL_PER_UID_DEFAULT,
        };
}

int ob_control_limits_admit(const ObControlLimits *l, uid_t uid, unsigned n_all, unsigned n_uid,
                            const char **ret_reason)
{
        const char *reason = NULL;
        unsigned shared = l->max_clients > l->root_reserved ? l->max_clients - l->root_reserved : 0;

        if (n_all >= l->max_clients)
                reason = "all control connections are in use";
        else if (uid != 0 && n_uid >= l->per_uid)
                reason = "this user holds as many control connections as one user may";
        else if (uid != 0 && n_all >= shared)
                reason = "the remaining control connections are kept for root";
        if (ret_reason)
                *ret_reason = reason;
        return reason ? -EBUSY : 0;
}
