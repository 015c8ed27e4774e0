/* SPDX-License-Identifier: Apache-2.0 */
/* check cloud (agent/check-cloud.c): a real MQTT CONNECT with the device identity. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "check.h"

/* What the check appends to the daemon's client id: its own session, never the daemon's. */
#define OB_CHECK_CLOUD_SUFFIX "-agentctl-check"

/* The check's client id: endpoint.client_id expanded as the daemon does, with suffix plus
 * OB_CHECK_CLOUD_SUFFIX (the whole at most 128 bytes). 0, -ENOBUFS, -ENOMEM. */
int ob_check_cloud_client_id(ObCheckContext *ctx, bool suffix, char *buf, size_t size);

void ob_check_cloud(ObCheckContext *ctx, ObCheckOutcome *o);
