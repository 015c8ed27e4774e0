/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT Jobs for the emulator (docs/emulator.md, "Jobs device MQTT API"): jobs and their
 * executions in the registry's "jobs" member, the operator's create-job and cancel-job, and the
 * device MQTT API with AWS's payload shapes and error codes — StartNextPendingJobExecution
 * (jobs/start-next), UpdateJobExecution (jobs/JOBID/update), GetPendingJobExecutions (jobs/get),
 * DescribeJobExecution (jobs/JOBID/get, JOBID "$next") and the NextJobExecutionChanged event
 * (jobs/notify-next). Step timeouts (stepTimeoutInMinutes) are enforced by ob_emu_jobs_tick and
 * before each request.
 *
 * Pure: json-c only, time passed in (seconds since the epoch). It changes the registry object in
 * place and says what to publish; the plugin publishes, saves and logs.
 *
 * Stored: "jobs": {JOBID: {"jobId", "document", "targets": [...], "status": IN_PROGRESS |
 * CANCELED | COMPLETED, "createdAt", "lastUpdatedAt", "seq", "executions": {THING: {"status",
 * "statusDetails"?, "queuedAt", "startedAt"?, "lastUpdatedAt", "versionNumber",
 * "executionNumber", "stepTimeoutAt"?}}}}.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#define OB_EMU_JOBS_MAX_DOCUMENT (32 * 1024) /* bytes of a job document (CreateJob) */
#define OB_EMU_JOBS_MAX_TOKEN    64          /* clientToken bytes */
#define OB_EMU_JOBS_DETAIL_KEY   128         /* statusDetails key: 1..128 of [a-zA-Z0-9:_-] */
#define OB_EMU_JOBS_DETAIL_VAL   1024        /* statusDetails value: 1..1024, no control chars */
#define OB_EMU_JOBS_STEP_MAX     10080       /* stepTimeoutInMinutes: 1..10080 */

typedef struct ObEmuJobsAnswer {
        const char *code;    /* NULL: accepted; else AWS's error code ("VersionMismatch", ...) */
        char topic[512];     /* where reply goes: ".../accepted" or ".../rejected" ("": none) */
        json_object *reply;  /* the accepted document or the error document */
        json_object *notify; /* {THING: NextJobExecutionChanged payload}, NULL when none */
        json_object *events; /* [{"op", "thingName", "jobId", "status"?, "code"?}], NULL: none */
        bool changed;        /* the registry changed: save it */
} ObEmuJobsAnswer;

void ob_emu_jobs_answer_clear(ObEmuJobsAnswer *a);

/* Is id a valid jobId (1..64 of [a-zA-Z0-9_-])? */
bool ob_emu_jobs_id_valid(const char *id);

/*
 * A device's request on topic ("$aws/things/THING/jobs/{get,start-next,JOBID/get,JOBID/update}")
 * with payload (len bytes) at now_s. false when the topic is none of these (nothing done);
 * true with the answer in a (a->topic and a->reply always set).
 */
bool ob_emu_jobs_request(json_object *reg, const char *topic, const char *payload, size_t len,
                         int64_t now_s, ObEmuJobsAnswer *a);

/* Executions whose step timer ran out by now_s become TIMED_OUT. Returns how many. */
int ob_emu_jobs_tick(json_object *reg, int64_t now_s, ObEmuJobsAnswer *a);

/*
 * The operator's commands (the admin inbox, docs/emulator-cli.md): {"op": "create-job",
 * "jobId", "document": {...}, "targets": ["thing/NAME" | "thinggroup/NAME", ...]} and
 * {"op": "cancel-job", "jobId", "force": bool}. Returns 0 when cmd is neither (nothing done), 1
 * when done (res gets "jobId" and "things"), or -EINVAL/-ENOENT/-EEXIST with *ret_error a static
 * text and *ret_code AWS's exception name; on an error the registry is unchanged.
 */
int ob_emu_jobs_admin(json_object *reg, json_object *cmd, int64_t now_s, json_object *res,
                      const char **ret_error, const char **ret_code, ObEmuJobsAnswer *a);
