/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding methods: one table row per provisioning.method, defined in its family's module
 * (lib/onboard-fleet.c: fleet-claim, fleet-trusted-user; lib/onboard-factory.c: static;
 * lib/onboard-jit.c: jitp, jitr). The flow engine (lib/onboard.c) looks the row up once, in
 * ob_onboard_new(), and calls through it: what a method does differently is here, not in
 * `if (method == ...)` chains. A new method is a new module with its row, plus its line in the
 * table (ob_onboard_method_find(), lib/onboard.c) and its name in lib/config-file.h.
 * A rotation renews through fleet provisioning whatever the method (lib/onboard-rotate.c). Not
 * an API.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "config-file.h"
#include "onboard.h"

typedef struct ObOnboardMethod {
        ObProvisioningMethod method;
        bool factory_cert;  /* the first identity is a factory certificate (static, jitp, jitr) */
        bool sends_chain;   /* its first handshakes carry the CA chain (jitp, jitr) */
        bool thing_from_cn; /* the thing is named after the certificate's CN, never after
                               identity.thing_name (jitp: the CA's template names it) */
        bool claim_at_runtime; /* the claim is handed over while running (agentctl provision) */
        const char *first_identity; /* how the first identity comes (agentctl rotate's refusal) */
        /* before the first resume (a restart too): find what the method starts from; NULL: none */
        int (*start)(ObOnboard *ob, int64_t now);
        /* the first identity: the next step the stage calls for (the clock is plausible) */
        int (*resume)(ObOnboard *ob, int64_t now);
        /* the first identity's certificate was refused in a way a pending registration or
         * activation looks; NULL: an ordinary failure (verify-failed) */
        void (*refused)(ObOnboard *ob, const char *detail, int64_t now);
} ObOnboardMethod;

/* The row of provisioning.method m, NULL if there is none (lib/onboard.c). */
const ObOnboardMethod *ob_onboard_method_find(int m);

/* The rows */
extern const ObOnboardMethod ob_onboard_method_fleet_claim;        /* lib/onboard-fleet.c */
extern const ObOnboardMethod ob_onboard_method_fleet_trusted_user; /* lib/onboard-fleet.c */
extern const ObOnboardMethod ob_onboard_method_static;             /* lib/onboard-factory.c */
extern const ObOnboardMethod ob_onboard_method_jitp;               /* lib/onboard-jit.c */
extern const ObOnboardMethod ob_onboard_method_jitr;               /* lib/onboard-jit.c */
