/* SPDX-License-Identifier: Apache-2.0 */
/* check tpm, srk, da-lockout (agent/check-tpm.c). Include config.h first. */
#pragma once

#include "check.h"

#ifdef HAVE_TPM
void ob_check_tpm(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_srk(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_da_lockout(ObCheckContext *ctx, ObCheckOutcome *o);
#else
/* Without TPM support each TPM check is skipped for a software key, failed for key.backend tpm. */
void ob_check_no_tpm(ObCheckContext *ctx, ObCheckOutcome *o);
#define ob_check_tpm          ob_check_no_tpm
#define ob_check_srk          ob_check_no_tpm
#define ob_check_da_lockout   ob_check_no_tpm
#define ob_check_tls_provider ob_check_no_tpm
#endif
