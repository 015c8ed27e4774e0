/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleet provisioning (lib/onboard-fleet.c), for the onboarding machine's other modules: its flow
 * (the first identity of the fleet methods, and every rotation), the claims, the requests and
 * their replies. Not an API.
 */
#pragma once

#include <stdint.h>

#include "onboard.h"
#include "transport.h"

/* The next step of fleet provisioning for the stage (the clock is plausible). */
int ob_onboard_fleet_resume(ObOnboard *ob, int64_t now);
int ob_onboard_connect_claim(ObOnboard *ob, int64_t now);
/* The trusted user's temporary claim is deleted; every claim path is forgotten. */
void ob_onboard_drop_claim(ObOnboard *ob);

/* Subscribe, send the next request, take a reply */
void ob_onboard_on_cert_reply(ObOnboard *ob, const ObTransportEvent *ev, int64_t now);
void ob_onboard_on_register_reply(ObOnboard *ob, const ObTransportEvent *ev, int64_t now);
void ob_onboard_rejected(ObOnboard *ob, const char *what, const ObTransportEvent *ev, int64_t now);
int ob_onboard_send_request(ObOnboard *ob, int64_t now);
int ob_onboard_subscribe_all(ObOnboard *ob, int64_t now);
