/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT Jobs on the onboarding machine (docs/jobs.md): the job runner (lib/job-runner.h, pure)
 * driven inside the check-in session (lib/onboard-checkin.c) after the shadow's part, with its
 * operations done by this machine: rotate (ob_onboard_rotate_now()), reprovision
 * (ob_onboard_heal_begin()), report (the named shadow now), set-rotation-policy (persisted in
 * state.json's "rotation_policy", read by ob_onboard_next_rotation()). A rotation or heal a
 * job asked for begins when the session ends; its outcome is sent in the session that follows
 * its commit (or its failure). Not an API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "onboard.h"

/* The runner of a new machine. 0 or -ENOMEM. */
int ob_onboard_jobs_init(ObOnboard *ob);
void ob_onboard_jobs_done(ObOnboard *ob);

/* The session is connected and the shadow's part is over: true when the jobs' part began (the
 * session stays up until ob_onboard_jobs_busy() is false). Runs when jobs.poll_interval_minutes
 * is not 0, or when a job's outcome waits to be sent. */
bool ob_onboard_jobs_session(ObOnboard *ob, int64_t now);
/* A message in the jobs' part (true: the runner's). */
bool ob_onboard_jobs_message(ObOnboard *ob, const ObTransportEvent *ev, int64_t now);
void ob_onboard_jobs_lost(ObOnboard *ob, int64_t now);
void ob_onboard_jobs_tick(ObOnboard *ob, int64_t now);
bool ob_onboard_jobs_busy(const ObOnboard *ob);
int64_t ob_onboard_jobs_deadline(const ObOnboard *ob);

/* A rotation or heal ended: committed (ok) or given up (code: rotation-rolled-back, ...). Only
 * a job that asked for one hears of it; its outcome is sent at the next session (soon). */
void ob_onboard_jobs_rotation_ended(ObOnboard *ob, bool ok, const char *code, int64_t now);

/* The rotation policy a job set (ob_onboard_next_rotation()); the configuration's otherwise. */
double ob_onboard_policy_fraction(const ObOnboard *ob);
uint32_t ob_onboard_policy_days(const ObOnboard *ob);
uint32_t ob_onboard_policy_age(const ObOnboard *ob);

/* state.json: "job" (the runner's) and "rotation_policy"; the status shows both. */
void ob_onboard_jobs_to_json(const ObOnboard *ob, json_object *state);
int ob_onboard_jobs_from_json(ObOnboard *ob, json_object *state, char *err, size_t errsize);
void ob_onboard_jobs_status(json_object *state, json_object *status);
