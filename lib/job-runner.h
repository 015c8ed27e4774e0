/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The job runner (issue 23, "cloud-steered operations"; docs/jobs.md): executes AWS IoT Jobs on
 * the device, one execution at a time, crash-safe. A pure state machine: the caller owns the
 * MQTT session, the clock and state.json, and fills the ops table; the runner only says what to
 * subscribe, what to publish and what to ask of the onboarding machine.
 *
 * Protocol (AWS's device MQTT API, lib/jobs-proto.h): at session_connected the runner subscribes
 * the thing's jobs topics and sends StartNextPendingJobExecution (or resumes the job it has
 * persisted). An execution received is persisted FIRST (save()), then UpdateJobExecution
 * IN_PROGRESS with expectedVersion (and the long step timeout for rotate/reprovision) is sent;
 * on accepted, the operation runs; its SUCCEEDED/FAILED (or REJECTED for an invalid document)
 * is persisted, then sent. A VersionMismatch or a lost reply is settled with
 * DescribeJobExecution: the runner acts on the cloud's current state and never runs an
 * operation twice.
 *
 * The persisted part (ob_job_runner_to_json(), state.json's "job") holds the job id, its
 * versionNumber, the operation and the phase; the phase decides what a restart does
 * (docs/jobs.md, "What a crash does").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "jobs-proto.h"

#define OB_JOB_RUNNER_REPLY_TIMEOUT_MS (30 * 1000) /* default wait for a reply */
#define OB_JOB_RUNNER_STEP_SHORT_MIN   10          /* step timeout of start-next */
#define OB_JOB_RUNNER_STEP_LONG_MIN    60          /* default step timeout of rotate/reprovision */
#define OB_JOB_RUNNER_REASON_MAX       256

typedef enum ObJobPhase {
        OB_JOB_PHASE_IDLE,      /* no job */
        OB_JOB_PHASE_RECEIVED,  /* persisted, the operation not begun: IN_PROGRESS (re)sent */
        OB_JOB_PHASE_EXECUTING, /* rotate/reprovision asked of the machine: awaiting its end */
        OB_JOB_PHASE_DONE,      /* the outcome persisted, not yet accepted by the cloud */
        _OB_JOB_PHASE_MAX,
} ObJobPhase;

typedef struct ObJobRunnerOps {
        /* The MQTT session (QoS 1): subscribe to n filters (one SUBSCRIBE where the transport
         * can), publish. 0 or a negative errno. */
        int (*subscribe)(void *ctx, const char *const *topics, size_t n);
        int (*publish)(void *ctx, const char *topic, const char *json);
        /* Ask the onboarding machine to rotate now. 0: started (operation_done() follows, maybe
         * after a restart), > 0: nothing to do (not forced and not due), < 0: refused (reason). */
        int (*rotate)(void *ctx, bool force, char *reason, size_t reasonsize);
        /* Ask it to heal / re-onboard through the claim. 0: started, < 0: refused (reason, e.g.
         * no claim). */
        int (*reprovision)(void *ctx, char *reason, size_t reasonsize);
        /* Publish the status now. 0 or < 0 with reason. */
        int (*report)(void *ctx, char *reason, size_t reasonsize);
        /* Apply the policy in memory; it is written by the save() that follows (one write of
         * state.json carries the policy and the job's outcome). 0 or < 0 with reason. */
        int (*set_rotation_policy)(void *ctx, const ObJobOp *op, char *reason, size_t reasonsize);
        /* The runner's persisted part changed: write state.json (with ob_job_runner_to_json())
         * before returning. < 0: not written; the runner stops acting in this session. */
        int (*save)(void *ctx);
        /* The current certificate id (NULL: none), and whether the machine is still working on
         * a rotation or heal: after a restart in the executing phase they say how it ended. */
        const char *(*certificate_id)(void *ctx);
        bool (*operation_pending)(void *ctx);
} ObJobRunnerOps;

typedef struct ObJobRunnerConfig {
        int64_t reply_timeout_ms; /* 0: OB_JOB_RUNNER_REPLY_TIMEOUT_MS */
        int step_long_min;        /* 0: OB_JOB_RUNNER_STEP_LONG_MIN */
} ObJobRunnerConfig;

typedef struct ObJobRunner ObJobRunner;

/* ops and ctx must outlive the runner; cfg may be NULL (defaults). NULL without memory. */
ObJobRunner *ob_job_runner_new(const ObJobRunnerOps *ops, void *ctx, const ObJobRunnerConfig *cfg);
ObJobRunner *ob_job_runner_free(ObJobRunner *r);

/* The persisted part: {"phase": "idle"} or {"phase", "job_id", "version", "operation": {the
 * job document's operation}, "from_certificate", "outcome": {"status", "details"}}. NULL only
 * without memory. */
json_object *ob_job_runner_to_json(const ObJobRunner *r);
/* Load it (strict: an unknown or ill-typed field, a bad phase or job id is -EINVAL with err
 * naming it; the runner is unchanged then). NULL j: idle. */
int ob_job_runner_from_json(ObJobRunner *r, json_object *j, char *err, size_t errsize);

/* The session with thing's identity is up: subscribe, then resume or ask for the next job. */
int ob_job_runner_session_connected(ObJobRunner *r, const char *thing, int64_t now_ms);
/* An incoming message: true when it was on the thing's jobs topics (the runner's). */
bool ob_job_runner_message(ObJobRunner *r, const char *topic, const char *payload, size_t len,
                           int64_t now_ms);
void ob_job_runner_session_lost(ObJobRunner *r, int64_t now_ms);
/* Call when the deadline has passed: a reply that did not come ends the runner's part of this
 * session (the job stays persisted and is resumed at the next one). */
void ob_job_runner_tick(ObJobRunner *r, int64_t now_ms);
/* When a reply is awaited: the ms it times out at; -1 otherwise. */
int64_t ob_job_runner_deadline(const ObJobRunner *r);
/* A rotation/heal the runner asked for committed (ok, new_cert_id) or failed (error_code, e.g.
 * "ETIMEDOUT", error_class, e.g. "network"; NULL: unknown). The outcome is persisted and sent
 * now when a session is up, else at the next session_connected. */
int ob_job_runner_operation_done(ObJobRunner *r, bool ok, const char *new_cert_id,
                                 const char *error_code, const char *error_class, int64_t now_ms);
/* The session must stay up: a request is in flight. False while the machine rotates or heals
 * (executing): the session may end so that the machine can connect. */
bool ob_job_runner_busy(const ObJobRunner *r);

ObJobPhase ob_job_runner_phase(const ObJobRunner *r);
const char *ob_job_phase_to_string(ObJobPhase p);
