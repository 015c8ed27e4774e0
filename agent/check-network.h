/* SPDX-License-Identifier: Apache-2.0 */
/* check dns, tcp, tls-provider, tls (agent/check-network.c). Include config.h first. */
#pragma once

#include "check.h"

void ob_check_dns(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_tcp(ObCheckContext *ctx, ObCheckOutcome *o);
#ifdef HAVE_TPM
void ob_check_tls_provider(ObCheckContext *ctx, ObCheckOutcome *o);
#endif /* else agent/check-tpm.h: ob_check_no_tpm */
void ob_check_tls(ObCheckContext *ctx, ObCheckOutcome *o);
