/* SPDX-License-Identifier: Apache-2.0 */
/* check device-key, key-cert-match, cert-expiry, claim-cert, old-certs (agent/check-identity.c). */
#pragma once

#include "check.h"

void ob_check_device_key(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_key_cert_match(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_cert_expiry(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_claim_cert(ObCheckContext *ctx, ObCheckOutcome *o);
void ob_check_old_certs(ObCheckContext *ctx, ObCheckOutcome *o);
