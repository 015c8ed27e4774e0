/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The AWS IoT Jobs device MQTT API as the agent will use it (issue 23, "cloud-steered
 * operations"; not wired into the daemon yet): topic names, the StartNextPendingJobExecution
 * and UpdateJobExecution requests, strict parsers of their replies, and the job documents the
 * agent executes ({"operation": ..., arguments}). Pure: json-c only. Replies and job documents
 * are untrusted input: every field is type- and size-checked, and a malformed one never yields
 * a half-filled result.
 *
 * Topics (thing THING, job JOB): $aws/things/THING/jobs/start-next[/accepted|/rejected],
 * $aws/things/THING/jobs/JOB/update[/accepted|/rejected], $aws/things/THING/jobs/JOB/get[/accepted|
 * /rejected], $aws/things/THING/jobs/notify-next.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define OB_JOBS_ID_MAX           64          /* jobId: 1..64 of [a-zA-Z0-9_-] */
#define OB_JOBS_THING_MAX        128         /* thingName: 1..128 of [a-zA-Z0-9:_-] */
#define OB_JOBS_DETAIL_KEY_MAX   128         /* statusDetails keys: 1..128 of [a-zA-Z0-9:_-] */
#define OB_JOBS_DETAIL_VAL_MAX   1024        /* statusDetails values: 1..1024 characters */
#define OB_JOBS_STEP_TIMEOUT_MAX 10080       /* stepTimeoutInMinutes: 1..10080 (7 days) */
#define OB_JOBS_MAX_PAYLOAD      (32 * 1024) /* a job document is at most 32 KB at AWS */
/* set-rotation-policy's safe bounds (also what a saved "rotation_policy" must keep to) */
#define OB_JOBS_POLICY_FRACTION_MIN 0.1
#define OB_JOBS_POLICY_FRACTION_MAX 0.9
#define OB_JOBS_POLICY_DAYS_MAX     365  /* days_before_expiry */
#define OB_JOBS_POLICY_AGE_MAX      3650 /* max_age_days */

/* "start-next", "start-next/accepted", "update", "update/accepted", "notify-next", ...: the
 * topic for thing (and job, NULL for the thing's own topics). -EINVAL for an invalid thing name,
 * job id or op, -ENOBUFS when it does not fit; 0. */
int ob_jobs_topic(char *buf, size_t size, const char *thing, const char *job_id, const char *op);

bool ob_jobs_id_valid(const char *id);
bool ob_jobs_thing_valid(const char *thing);

/* A job execution as StartNextPendingJobExecution returns it. */
typedef struct ObJobExecution {
        bool present; /* false: no pending job (the reply has no "execution") */
        char job_id[OB_JOBS_ID_MAX + 1];
        char status[24];       /* QUEUED, IN_PROGRESS, ... */
        int64_t version;       /* versionNumber: expectedVersion of the next update */
        int64_t execution;     /* executionNumber */
        json_object *document; /* jobDocument (owned), an object */
} ObJobExecution;

void ob_job_execution_clear(ObJobExecution *e);

/* The request: {"stepTimeoutInMinutes": step (0: none), "clientToken": token (NULL: none)}. */
json_object *ob_jobs_build_start_next(int step_timeout_min, const char *client_token);

/* Parse start-next/accepted. 0 (ret->present says whether a job came), -EBADMSG with err saying
 * which field is wrong. */
int ob_jobs_parse_start_next(const char *payload, size_t len, ObJobExecution *ret, char *err,
                             size_t errsize);

/* DescribeJobExecution ($aws/things/THING/jobs/JOB/get): the request ({"includeJobDocument":
 * true}, the job document is what a resumed execution is checked against), and its get/accepted
 * reply, shaped like start-next's but always with an execution: 0 and ret filled (present),
 * -EBADMSG with err saying which field is wrong (or that the execution is missing). */
json_object *ob_jobs_build_describe(void);
int ob_jobs_parse_describe(const char *payload, size_t len, ObJobExecution *ret, char *err,
                           size_t errsize);

/* The UpdateJobExecution request: status (IN_PROGRESS, SUCCEEDED, FAILED, REJECTED), the
 * string-to-string details (NULL: unchanged; keys and values are checked: -EINVAL), the
 * expectedVersion (< 0: none), the step timeout (0: none). NULL with *ret_error set on bad
 * input. */
json_object *ob_jobs_build_update(const char *status, json_object *details,
                                  int64_t expected_version, int step_timeout_min,
                                  const char *client_token, int *ret_error);

/* Parse update/accepted (*ret_version: the execution's new versionNumber, -1 when the reply
 * does not say) or update/rejected (-EPROTO, *ret_code: AWS's code, e.g. "VersionMismatch",
 * "InvalidStateTransition", "TerminalStateReached"; err: its message). -EBADMSG: malformed. */
int ob_jobs_parse_update_reply(const char *payload, size_t len, bool accepted, int64_t *ret_version,
                               char *ret_code, size_t codesize, char *err, size_t errsize);

/* The operations a job document may ask for (docs: the job document schema). */
typedef enum ObJobOpKind {
        OB_JOB_OP_ROTATE,              /* {"force": bool}: now, or when the policy says so */
        OB_JOB_OP_REPROVISION,         /* with a claim available */
        OB_JOB_OP_REPORT,              /* publish the status now (the named shadow) */
        OB_JOB_OP_SET_ROTATION_POLICY, /* threshold/age within safe bounds, persisted */
        _OB_JOB_OP_MAX,
} ObJobOpKind;

typedef struct ObJobOp {
        ObJobOpKind kind;
        bool force; /* rotate */
        bool has_fraction, has_days, has_age;
        double lifetime_fraction;    /* OB_JOBS_POLICY_FRACTION_MIN .. _MAX */
        uint32_t days_before_expiry; /* 0 .. OB_JOBS_POLICY_DAYS_MAX */
        uint32_t max_age_days;       /* 0 .. OB_JOBS_POLICY_AGE_MAX */
} ObJobOp;

/* The operation of a job document. -EOPNOTSUPP for an unknown operation (the job is REJECTED
 * with reason), -EINVAL for arguments that are missing, of the wrong type, unknown or out of
 * their safe bounds (reason names which). */
int ob_jobs_parse_operation(json_object *document, ObJobOp *ret, char *reason, size_t reasonsize);

const char *ob_job_op_to_string(ObJobOpKind k);
