/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The check-in (lib/onboard-checkin.c): while onboarded and idle (or a rotation waits for its
 * retry, the current identity intact), the machine
 * connects with its current identity every jobs.poll_interval_minutes (plus up to 10 % of
 * jitter), does the session's work (the named shadow's report, docs/shadow.md), and
 * disconnects. No persistent connection: between sessions the daemon sleeps. For the flow
 * engine (lib/onboard.c) and the rotation module (ob_onboard_idle()); not an API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "onboard.h"
#include "shadow-report.h"

/* A change that matters (onboarded, rotated, a rotation rolled back) is reported this soon
 * (the one-CONNECT-per-second floor still holds). */
#define OB_CHECKIN_SOON_MS 3000

/* The next check-in (wall-clock ms), or -1: none (not onboarded, interval 0 and nothing to
 * report). Schedules one from the last check-in when none is scheduled. */
int64_t ob_onboard_checkin_next(ObOnboard *ob, int64_t now);
/* Is a check-in due now (onboarded, idle or a rotation waiting for its retry)? */
bool ob_onboard_checkin_due(ObOnboard *ob, int64_t now);
/* Begin the check-in session: connect with the current identity (activity checking-in). */
int ob_onboard_checkin_begin(ObOnboard *ob, int64_t now);
/* A change that matters: check in soon (when shadow.report is on). */
void ob_onboard_checkin_soon(ObOnboard *ob, int64_t now);

/* A rotation waiting for its retry with the current identity intact (lib/onboard.c's failure
 * path calls this after a failure): check-ins go on meanwhile, so the shadow shows the failure
 * and jobs reach the gateway; one follows soon when the failure is one the shadow should show
 * (rolled back, or the cloud rejected the request) and has not shown yet. */
void ob_onboard_checkin_rotation_failed(ObOnboard *ob, int64_t now);
/* The flow engine's resume(): 1 when a rotation's retry is not due yet (a check-in begun, or
 * the wait set to the earlier of the two), 0 when the rotation goes on now. */
int ob_onboard_checkin_while_retrying(ObOnboard *ob, int64_t now);
/* The rotation's retry time while check-ins go on meanwhile, else -1. */
int64_t ob_onboard_checkin_retry_at(const ObOnboard *ob);

/* Transport events of the session (the flow engine calls these while checking-in).
 * connected: the one place where "connected with the current identity" happens;
 * refused: the one place where a CONNECT with the current identity fails. */
int ob_onboard_checkin_connected(ObOnboard *ob, int64_t now);
void ob_onboard_checkin_refused(ObOnboard *ob, int cls, const char *detail, int64_t now);
/* Any other event while checking-in: true when it was the session's. */
bool ob_onboard_checkin_event(ObOnboard *ob, const ObTransportEvent *ev, int64_t now);
/* The deadline passed while checking-in. */
int ob_onboard_checkin_timeout(ObOnboard *ob, int64_t now);

/* Within the session (-ENOTCONN outside a connected one): subscribe to n (<= 8) filters, in one
 * SUBSCRIBE when the transport can (one round trip, like the claim session's), else one each:
 * returns the number of OB_TEV_SUBSCRIBED events to await, their tokens in tokens[0..] (or a
 * negative errno); publish at QoS 1 (the reply comes back as OB_TEV_PUBLISHED with *token). */
int ob_onboard_checkin_subscribe_all(ObOnboard *ob, const char *const *topics, size_t n,
                                     int *tokens);
int ob_onboard_checkin_publish(ObOnboard *ob, const char *topic, const char *payload, int *token);

/* A report job (lib/onboard-jobs.c): publish the shadow's report now, in the session. */
int ob_onboard_checkin_report_now(ObOnboard *ob, int64_t now);

/* state.json: "checkin": {"last_ms"}, "shadow": {"reported", "time_ms", "result"} */
void ob_onboard_checkin_to_json(const ObOnboard *ob, json_object *state);
int ob_onboard_checkin_from_json(ObOnboard *ob, json_object *state, char *err, size_t errsize);
/* status: "checkin": {"last", "next"}, "shadow": {"reported_at", "result"} from state.json's
 * members; next_ms <= 0: none known (the daemon is not running, or none scheduled) */
void ob_onboard_checkin_status(json_object *status, json_object *state, int64_t next_ms);
