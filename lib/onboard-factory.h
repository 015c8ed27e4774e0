/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the factory-certificate methods share (lib/onboard-factory.c), for the static row there
 * and the jitp/jitr rows (lib/onboard-jit.c). Not an API.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "onboard.h"

/* static, jitp, jitr (the row's factory_cert) */
bool ob_onboard_factory_method(const ObOnboard *ob);
/* The key for the factory certificate in slot gen: the slot's copy, or the vendor's handle. */
char *ob_onboard_factory_key_path(const ObOnboard *ob, uint64_t gen);
/* jitp/jitr: delete the runtime file with the certificate and its chain */
void ob_onboard_drop_chain_file(ObOnboard *ob);
/* The first identity: import the factory certificate into slot N, then connect with it. */
int ob_onboard_factory_resume(ObOnboard *ob, int64_t now);
/* One more refusal of the factory certificate (persisted: "refusals"): how many so far. */
uint32_t ob_onboard_factory_count_refusal(ObOnboard *ob);
/* The refused schedule (soon_ms > 0: sooner, see ob_onboard_fail_text()), waiting in act. */
void ob_onboard_factory_refusal_fail(ObOnboard *ob, const char *code, int64_t soon_ms,
                                     ObOnboardActivity act, int64_t now, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));
