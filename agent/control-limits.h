/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who gets a control-socket connection (docs/control.md, "Limits and timeouts"). A peer that
 * may only read (a member of the agent group) must not be able to crowd root out: every uid
 * but root has its own small share, and a few connections are kept for root alone, so root's
 * agentctl works whatever the group members do. Pure: the server counts, this decides.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OB_CONTROL_MAX_CLIENTS_DEFAULT   16 /* all connections at once */
#define OB_CONTROL_ROOT_RESERVED_DEFAULT 4  /* of those, only root may use */
#define OB_CONTROL_PER_UID_DEFAULT       4  /* one non-root uid at once */

typedef struct ObControlLimits {
        unsigned max_clients;   /* all connections; root may use every one */
        unsigned root_reserved; /* kept free for root: others share max_clients - this */
        unsigned per_uid;       /* connections one non-root uid may hold at once */
} ObControlLimits;

/* The defaults above. */
ObControlLimits ob_control_limits_default(void);

/*
 * May a new connection from uid be served, with n_all connections open already, n_uid of them
 * from this uid? 0 yes; -EBUSY no, with a human reason (static storage, may be NULL) in
 * *ret_reason: the uid's share is used, the shared slots are full, or all slots are.
 */
int ob_control_limits_admit(const ObControlLimits *l, uid_t uid, unsigned n_all, unsigned n_uid,
                            const char **ret_reason);

/* The start of the busy refusal's message: agentctl retries only this busy (the request was
 * never read), not a handler's (docs/control.md). */
#define OB_CONTROL_BUSY_MESSAGE "too many control connections"
