/* SPDX-License-Identifier: Apache-2.0 */
/* AWS IoT Jobs for the emulator: see jobs.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jobs.h"

static const char *const terminal[] = {"SUCCEEDED", "FAILED",   "REJECTED",
                                       "TIMED_OUT", "CANCELED", "REMOVED"};

void ob_emu_jobs_answer_clear(ObEmuJobsAnswer *a)
{
        json_object_put(a->reply);
        json_object_put(a->notify);
        json_object_put(a->events);
        *a = (ObEmuJobsAnswer){0};
}

static bool chars_ok(const char *s, size_t max, const char *extra)
{
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > max)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr(extra, *p)))
                        return false;
        return true;
}

bool ob_emu_jobs_id_valid(const char *id)
{
        return chars_ok(id, 64, "_-");
}

static json_object *member(json_object *o, const char *key)
{
        json_object *v = NULL;

        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
                       ? v
                       : NULL;
}

static const char *str(json_object *o, const char *key)
{
        json_object *v = member(o, key);

        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

static int64_t num(json_object *o, const char *key)
{
        return json_object_get_int64(member(o, key));
}

static bool is_terminal(const char *status)
{
        for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
                if (!strcmp(status, terminal[i]))
                        return true;
        return false;
}

static bool pending(json_object *x)
{
        return !strcmp(str(x, "status"), "QUEUED") || !strcmp(str(x, "status"), "IN_PROGRESS");
}

static json_object *jobs_of(json_object *reg)
{
        json_object *j = member(reg, "jobs");

        if (!json_object_is_type(j, json_type_object)) {
                j = json_object_new_object();
                json_object_object_add(reg, "jobs", j);
        }
        return j;
}

static json_object *copy(json_object *o)
{
        json_object *c = NULL;

        if (o && json_object_deep_copy(o, &c, NULL) < 0)
                return NULL;
        return c;
}

static void event(ObEmuJobsAnswer *a, const char *op, const char *thing, const char *job_id,
                  const char *status, const char *code)
{
        json_object *e = json_object_new_object();

        if (!a->events)
                a->events = json_object_new_array();
        json_object_object_add(e, "op", json_object_new_string(op));
        if (thing)
                json_object_object_add(e, "thingName", json_object_new_string(thing));
        if (job_id)
                json_object_object_add(e, "jobId", json_object_new_string(job_id));
        if (status)
                json_object_object_add(e, "status", json_object_new_string(status));
        if (code)
                json_object_object_add(e, "code", json_object_new_string(code));
        json_object_array_add(a->events, e);
}

/* The thing's next pending execution: the oldest IN_PROGRESS one, else the oldest QUEUED one
 * (queuedAt, then the job's creation order). NULL when none; *ret_job gets its job. */
static json_object *next_of(json_object *reg, const char *thing, json_object **ret_job)
{
        json_object *best = NULL, *best_job = NULL;

        json_object_object_foreach(jobs_of(reg), id, job)
        {
                json_object *x = member(member(job, "executions"), thing);
                bool better;

                (void)id;
                if (!x || !pending(x))
                        continue;
                if (!best)
                        better = true;
                else if (strcmp(str(x, "status"), str(best, "status")))
                        better = !strcmp(str(x, "status"), "IN_PROGRESS");
                else
                        better = num(x, "queuedAt") < num(best, "queuedAt") ||
                                 (num(x, "queuedAt") == num(best, "queuedAt") &&
                                  num(job, "seq") < num(best_job, "seq"));
                if (better) {
                        best = x;
                        best_job = job;
                }
        }
        if (ret_job)
                *ret_job = best_job;
        return best;
}

static const char *next_id(json_object *reg, const char *thing)
{
        json_object *job = NULL;

        return next_of(reg, thing, &job) ? str(job, "jobId") : "";
}

/* JobExecution as the device API shows it. */
static json_object *execution_view(json_object *job, const char *thing, json_object *x,
                                   bool with_document, int64_t now_s)
{
        static const char *const keys[] = {"status",         "statusDetails", "queuedAt",
                                           "startedAt",      "lastUpdatedAt", "versionNumber",
                                           "executionNumber"};
        json_object *o = json_object_new_object();

        json_object_object_add(o, "jobId", json_object_new_string(str(job, "jobId")));
        json_object_object_add(o, "thingName", json_object_new_string(thing));
        if (with_document)
                json_object_object_add(o, "jobDocument", copy(member(job, "document")));
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                if (member(x, keys[i]))
                        json_object_object_add(o, keys[i], copy(member(x, keys[i])));
        if (member(x, "stepTimeoutAt") && !is_terminal(str(x, "status")))
                json_object_object_add(
                        o, "approximateSecondsBeforeTimedOut",
                        json_object_new_int64(num(x, "stepTimeoutAt") - now_s > 0
                                                      ? num(x, "stepTimeoutAt") - now_s
                                                      : 0));
        return o;
}

/* The next pending execution of thing changed from before: NextJobExecutionChanged. */
static void note(ObEmuJobsAnswer *a, json_object *reg, const char *thing, const char *before,
                 int64_t now_s)
{
        json_object *job = NULL, *x = next_of(reg, thing, &job), *o;

        if (!strcmp(before, x ? str(job, "jobId") : ""))
                return;
        o = json_object_new_object();
        json_object_object_add(o, "timestamp", json_object_new_int64(now_s));
        if (x)
                json_object_object_add(o, "execution", execution_view(job, thing, x, true, now_s));
        if (!a->notify)
                a->notify = json_object_new_object();
        json_object_object_add(a->notify, thing, o);
}

/* A job whose executions are all terminal is COMPLETED. */
static void job_settle(json_object *job, int64_t now_s)
{
        json_object_object_foreach(member(job, "executions"), thing, x)
        {
                (void)thing;
                if (!is_terminal(str(x, "status")))
                        return;
        }
        if (!strcmp(str(job, "status"), "IN_PROGRESS")) {
                json_object_object_add(job, "status", json_object_new_string("COMPLETED"));
                json_object_object_add(job, "lastUpdatedAt", json_object_new_int64(now_s));
        }
}

static void set_status(json_object *job, json_object *x, const char *status, int64_t now_s)
{
        json_object_object_add(x, "status", json_object_new_string(status));
        json_object_object_add(x, "versionNumber",
                               json_object_new_int64(num(x, "versionNumber") + 1));
        json_object_object_add(x, "lastUpdatedAt", json_object_new_int64(now_s));
        if (!strcmp(status, "IN_PROGRESS") && !member(x, "startedAt"))
                json_object_object_add(x, "startedAt", json_object_new_int64(now_s));
        if (is_terminal(status)) {
                json_object_object_del(x, "stepTimeoutAt");
                job_settle(job, now_s);
        }
}

int ob_emu_jobs_tick(json_object *reg, int64_t now_s, ObEmuJobsAnswer *a)
{
        int n = 0;

        json_object_object_foreach(jobs_of(reg), id, job)
        {
                json_object_object_foreach(member(job, "executions"), thing, x)
                {
                        char before[65];

                        if (strcmp(str(x, "status"), "IN_PROGRESS") ||
                            !member(x, "stepTimeoutAt") || num(x, "stepTimeoutAt") > now_s)
                                continue;
                        snprintf(before, sizeof(before), "%s", next_id(reg, thing));
                        set_status(job, x, "TIMED_OUT", now_s);
                        note(a, reg, thing, before, now_s);
                        event(a, "timeout", thing, id, "TIMED_OUT", NULL);
                        a->changed = true;
                        n++;
                }
        }
        return n;
}

/* ------------------------------------------------------------------ device requests */

static void token_to(json_object *o, json_object *req)
{
        json_object *t = member(req, "clientToken");

        if (t)
                json_object_object_add(o, "clientToken", json_object_get(t));
}

static json_object *exec_state(json_object *x)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "status", copy(member(x, "status")));
        if (member(x, "statusDetails"))
                json_object_object_add(o, "statusDetails", copy(member(x, "statusDetails")));
        json_object_object_add(o, "versionNumber", copy(member(x, "versionNumber")));
        return o;
}

/* AWS's error document {code, message, timestamp, clientToken?, executionState?}. */
static void reject(ObEmuJobsAnswer *a, const char *prefix, const char *code, const char *message,
                   json_object *req, json_object *x, int64_t now_s)
{
        json_object *e = json_object_new_object();

        json_object_object_add(e, "code", json_object_new_string(code));
        json_object_object_add(e, "message", json_object_new_string(message));
        json_object_object_add(e, "timestamp", json_object_new_int64(now_s));
        token_to(e, req);
        if (x)
                json_object_object_add(e, "executionState", exec_state(x));
        a->code = code;
        a->reply = e;
        snprintf(a->topic, sizeof(a->topic), "%s/rejected", prefix);
}

static void accept(ObEmuJobsAnswer *a, const char *prefix, json_object *o, json_object *req,
                   int64_t now_s)
{
        json_object_object_add(o, "timestamp", json_object_new_int64(now_s));
        token_to(o, req);
        a->reply = o;
        snprintf(a->topic, sizeof(a->topic), "%s/accepted", prefix);
}

static bool details_ok(json_object *d)
{
        if (!json_object_is_type(d, json_type_object))
                return false;
        json_object_object_foreach(d, key, v)
        {
                const char *s = json_object_get_string(v);
                int n = json_object_get_string_len(v);

                if (!chars_ok(key, OB_EMU_JOBS_DETAIL_KEY, ":_-") ||
                    !json_object_is_type(v, json_type_string) || n < 1 ||
                    n > OB_EMU_JOBS_DETAIL_VAL)
                        return false;
                for (int i = 0; i < n; i++)
                        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                                return false;
        }
        return true;
}

/* The request's common members; NULL when they are fine, else what is wrong. */
static const char *check_request(json_object *req)
{
        json_object *v;

        v = member(req, "clientToken");
        if (v && (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) < 1 ||
                  json_object_get_string_len(v) > OB_EMU_JOBS_MAX_TOKEN))
                return "clientToken must be a string of 1 to 64 characters";
        v = member(req, "statusDetails");
        if (v && !details_ok(v))
                return "statusDetails must map keys of 1 to 128 of [a-zA-Z0-9:_-] to strings of "
                       "1 to 1024 characters without control characters";
        v = member(req, "stepTimeoutInMinutes");
        if (v && (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 1 ||
                  json_object_get_int64(v) > OB_EMU_JOBS_STEP_MAX))
                return "stepTimeoutInMinutes must be an integer from 1 to 10080";
        v = member(req, "expectedVersion");
        if (v && !json_object_is_type(v, json_type_int))
                return "expectedVersion must be an integer";
        v = member(req, "executionNumber");
        if (v && !json_object_is_type(v, json_type_int))
                return "executionNumber must be an integer";
        for (size_t i = 0; i < 2; i++) {
                v = member(req, i ? "includeJobDocument" : "includeJobExecutionState");
                if (v && !json_object_is_type(v, json_type_boolean))
                        return "includeJobExecutionState and includeJobDocument must be booleans";
        }
        v = member(req, "status");
        if (v && !json_object_is_type(v, json_type_string))
                return "status must be a string";
        return NULL;
}

static void step_timer(json_object *x, json_object *req, int64_t now_s)
{
        json_object *m = member(req, "stepTimeoutInMinutes");

        if (m)
                json_object_object_add(
                        x, "stepTimeoutAt",
                        json_object_new_int64(now_s + json_object_get_int64(m) * 60));
}

static void start_next(json_object *reg, const char *thing, const char *prefix, json_object *req,
                       int64_t now_s, ObEmuJobsAnswer *a)
{
        json_object *job = NULL, *x = next_of(reg, thing, &job), *o = json_object_new_object();

        if (x && !strcmp(str(x, "status"), "QUEUED")) {
                set_status(job, x, "IN_PROGRESS", now_s);
                if (member(req, "statusDetails"))
                        json_object_object_add(x, "statusDetails",
                                               copy(member(req, "statusDetails")));
                step_timer(x, req, now_s);
                a->changed = true;
        }
        if (x)
                json_object_object_add(o, "execution", execution_view(job, thing, x, true, now_s));
        event(a, "start-next", thing, x ? str(job, "jobId") : NULL, x ? str(x, "status") : NULL,
              NULL);
        accept(a, prefix, o, req, now_s);
}

static const char *const settable[] = {"IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"};
static const char *const known[] = {"QUEUED",   "IN_PROGRESS", "SUCCEEDED", "FAILED",
                                    "REJECTED", "TIMED_OUT",   "CANCELED",  "REMOVED"};

static bool in(const char *s, const char *const *set, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(s, set[i]))
                        return true;
        return false;
}

static void update(json_object *reg, const char *thing, const char *job_id, const char *prefix,
                   json_object *req, int64_t now_s, ObEmuJobsAnswer *a)
{
        json_object *job = member(jobs_of(reg), job_id),
                    *x = member(member(job, "executions"), thing);
        json_object *ev, *o;
        const char *status = str(req, "status");
        char before[65], msg[256];

        if (!member(req, "status") || !in(status, known, sizeof(known) / sizeof(known[0]))) {
                reject(a, prefix, "InvalidRequest",
                       "status must be one of IN_PROGRESS, SUCCEEDED, FAILED, REJECTED", req, NULL,
                       now_s);
                return;
        }
        if (!x || (member(req, "executionNumber") &&
                   num(req, "executionNumber") != num(x, "executionNumber"))) {
                snprintf(msg, sizeof(msg), "No job execution exists for job %s and thing %s",
                         job_id, thing);
                reject(a, prefix, "ResourceNotFound", msg, req, NULL, now_s);
                return;
        }
        ev = member(req, "expectedVersion");
        if (ev && json_object_get_int64(ev) != num(x, "versionNumber")) {
                reject(a, prefix, "VersionMismatch",
                       "The expected version does not match the version of the job execution", req,
                       x, now_s);
                return;
        }
        if (is_terminal(str(x, "status")) ||
            !in(status, settable, sizeof(settable) / sizeof(settable[0]))) {
                snprintf(msg, sizeof(msg), "Job execution cannot be changed from %s to %s",
                         str(x, "status"), status);
                reject(a, prefix, "InvalidStateTransition", msg, req, x, now_s);
                return;
        }
        snprintf(before, sizeof(before), "%s", next_id(reg, thing));
        set_status(job, x, status, now_s);
        if (member(req, "statusDetails"))
                json_object_object_add(x, "statusDetails", copy(member(req, "statusDetails")));
        if (!strcmp(status, "IN_PROGRESS"))
                step_timer(x, req, now_s);
        a->changed = true;
        note(a, reg, thing, before, now_s);
        o = json_object_new_object();
        if (json_object_get_boolean(member(req, "includeJobExecutionState")))
                json_object_object_add(o, "executionState", exec_state(x));
        if (json_object_get_boolean(member(req, "includeJobDocument")))
                json_object_object_add(o, "jobDocument", copy(member(job, "document")));
        event(a, "update", thing, job_id, status, NULL);
        accept(a, prefix, o, req, now_s);
}

static void describe(json_object *reg, const char *thing, const char *job_id, const char *prefix,
                     json_object *req, int64_t now_s, ObEmuJobsAnswer *a)
{
        json_object *job = NULL, *x, *o, *doc = member(req, "includeJobDocument");
        char msg[256];

        if (!strcmp(job_id, "$next")) {
                x = next_of(reg, thing, &job);
        } else {
                job = member(jobs_of(reg), job_id);
                x = member(member(job, "executions"), thing);
                if (!x || (member(req, "executionNumber") &&
                           num(req, "executionNumber") != num(x, "executionNumber"))) {
                        snprintf(msg, sizeof(msg),
                                 "No job execution exists for job %s and thing %s", job_id, thing);
                        reject(a, prefix, "ResourceNotFound", msg, req, NULL, now_s);
                        return;
                }
        }
        o = json_object_new_object();
        if (x)
                json_object_object_add(
                        o, "execution",
                        execution_view(job, thing, x, !doc || json_object_get_boolean(doc), now_s));
        event(a, "describe", thing, x ? str(job, "jobId") : NULL, NULL, NULL);
        accept(a, prefix, o, req, now_s);
}

static int by_queued(const void *pa, const void *pb)
{
        json_object *const *x = pa, *const *y = pb;
        int64_t d = num(*x, "queuedAt") - num(*y, "queuedAt");

        return d < 0 ? -1 : d > 0;
}

/* JobExecutionSummary lists of GetPendingJobExecutions, oldest first. */
static void get_pending(json_object *reg, const char *thing, const char *prefix, json_object *req,
                        int64_t now_s, ObEmuJobsAnswer *a)
{
        json_object *o = json_object_new_object(),
                    *lists[2] = {json_object_new_array(), json_object_new_array()};

        json_object_object_foreach(jobs_of(reg), id, job)
        {
                json_object *x = member(member(job, "executions"), thing), *s;
                static const char *const keys[] = {"queuedAt", "startedAt", "lastUpdatedAt",
                                                   "versionNumber", "executionNumber"};

                if (!x || !pending(x))
                        continue;
                s = json_object_new_object();
                json_object_object_add(s, "jobId", json_object_new_string(id));
                for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
                        if (member(x, keys[i]))
                                json_object_object_add(s, keys[i], copy(member(x, keys[i])));
                json_object_array_add(lists[!strcmp(str(x, "status"), "QUEUED")], s);
        }
        json_object_array_sort(lists[0], by_queued);
        json_object_array_sort(lists[1], by_queued);
        json_object_object_add(o, "inProgressJobs", lists[0]);
        json_object_object_add(o, "queuedJobs", lists[1]);
        event(a, "get", thing, NULL, NULL, NULL);
        accept(a, prefix, o, req, now_s);
}

static json_object *parse(const char *payload, size_t len, bool *ret_bad_json)
{
        json_tokener *tok;
        json_object *o = NULL;

        *ret_bad_json = false;
        if (len == 0)
                return json_object_new_object();
        tok = json_tokener_new();
        if (tok)
                o = json_tokener_parse_ex(tok, payload, (int)len);
        if (!tok || json_tokener_get_error(tok) != json_tokener_success) {
                json_object_put(o);
                o = NULL;
                *ret_bad_json = true;
        }
        json_tokener_free(tok);
        return o;
}

bool ob_emu_jobs_request(json_object *reg, const char *topic, const char *payload, size_t len,
                         int64_t now_s, ObEmuJobsAnswer *a)
{
        char thing[129], rest[160], prefix[512], job_id[80] = "", op[16] = "";
        json_object *req;
        const char *err;
        bool bad_json;
        int n = 0;

        *a = (ObEmuJobsAnswer){0};
        if (sscanf(topic, "$aws/things/%128[^/]/jobs/%159s%n", thing, rest, &n) != 2 ||
            topic[n] != 0)
                return false;
        if (!strcmp(rest, "get") || !strcmp(rest, "start-next"))
                snprintf(op, sizeof(op), "%s", strcmp(rest, "get") ? "start-next" : "get");
        else if (sscanf(rest, "%79[^/]/%15s", job_id, op) != 2 ||
                 (strcmp(op, "get") && strcmp(op, "update")) ||
                 (!ob_emu_jobs_id_valid(job_id) && strcmp(job_id, "$next")) ||
                 (!strcmp(job_id, "$next") && strcmp(op, "get")))
                return false;
        snprintf(prefix, sizeof(prefix), "$aws/things/%s/jobs/%s", thing, rest);
        ob_emu_jobs_tick(reg, now_s, a);
        req = parse(payload, len, &bad_json);
        if (!json_object_is_type(req, json_type_object)) {
                reject(a, prefix, bad_json ? "InvalidJson" : "InvalidRequest",
                       bad_json ? "The request payload is not valid JSON"
                                : "The request payload must be a JSON object",
                       NULL, NULL, now_s);
        } else if ((err = check_request(req))) {
                reject(a, prefix, "InvalidRequest", err, req, NULL, now_s);
        } else if (!strcmp(op, "start-next")) {
                start_next(reg, thing, prefix, req, now_s, a);
        } else if (!strcmp(op, "update")) {
                update(reg, thing, job_id, prefix, req, now_s, a);
        } else if (job_id[0]) {
                describe(reg, thing, job_id, prefix, req, now_s, a);
        } else {
                get_pending(reg, thing, prefix, req, now_s, a);
        }
        if (a->code)
                event(a, op, thing, job_id[0] ? job_id : NULL, NULL, a->code);
        json_object_put(req);
        return true;
}

/* ------------------------------------------------------------------ operator commands */

/* Is thing in group (its registry record lists it in thingGroups)? */
static bool in_group(json_object *rec, const char *group)
{
        json_object *g = member(rec, "thingGroups");

        for (size_t i = 0;
             json_object_is_type(g, json_type_array) && i < json_object_array_length(g); i++)
                if (!strcmp(json_object_get_string(json_object_array_get_idx(g, i)), group))
                        return true;
        return false;
}

/* The things targets name, in order, each once; NULL with *err set when one names nothing. */
static json_object *resolve(json_object *reg, json_object *targets, const char **err)
{
        json_object *things = json_object_new_array(), *all = member(reg, "things");
        size_t n = json_object_is_type(targets, json_type_array) ? json_object_array_length(targets)
                                                                 : 0;

        *err = n ? NULL : "targets: at least one \"thing/NAME\" or \"thinggroup/NAME\"";
        for (size_t i = 0; i < n && !*err; i++) {
                const char *t = json_object_get_string(json_object_array_get_idx(targets, i));
                size_t before = json_object_array_length(things);

                if (t && !strncmp(t, "thing/", 6)) {
                        if (member(all, t + 6))
                                json_object_array_add(things, json_object_new_string(t + 6));
                } else if (t && !strncmp(t, "thinggroup/", 11)) {
                        json_object_object_foreach(all, name, rec)
                        {
                                if (in_group(rec, t + 11))
                                        json_object_array_add(things, json_object_new_string(name));
                        }
                } else {
                        *err = "targets: each is \"thing/NAME\" or \"thinggroup/NAME\"";
                        break;
                }
                if (json_object_array_length(things) == before)
                        *err = "a target names no thing (unknown thing, or no thing is in the "
                               "group)";
        }
        if (*err) {
                json_object_put(things);
                return NULL;
        }
        return things;
}

static int create_job(json_object *reg, json_object *cmd, int64_t now_s, json_object *res,
                      const char **ret_error, const char **ret_code, ObEmuJobsAnswer *a)
{
        const char *id = str(cmd, "jobId");
        json_object *doc = member(cmd, "document"), *things, *job, *execs;

        *ret_code = "InvalidRequestException";
        if (!ob_emu_jobs_id_valid(id)) {
                *ret_error = "jobId: 1 to 64 of [a-zA-Z0-9_-]";
                return -EINVAL;
        }
        if (member(jobs_of(reg), id)) {
                *ret_code = "ResourceAlreadyExistsException";
                *ret_error = "a job with this jobId exists";
                return -EEXIST;
        }
        if (!json_object_is_type(doc, json_type_object) ||
            strlen(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN)) >
                    OB_EMU_JOBS_MAX_DOCUMENT) {
                *ret_error = "document: a JSON object of at most 32 KB";
                return -EINVAL;
        }
        things = resolve(reg, member(cmd, "targets"), ret_error);
        if (!things) {
                *ret_code = "ResourceNotFoundException";
                return -ENOENT;
        }
        job = json_object_new_object();
        execs = json_object_new_object();
        json_object_object_add(job, "jobId", json_object_new_string(id));
        json_object_object_add(job, "document", copy(doc));
        json_object_object_add(job, "targets", copy(member(cmd, "targets")));
        json_object_object_add(job, "status", json_object_new_string("IN_PROGRESS"));
        json_object_object_add(job, "createdAt", json_object_new_int64(now_s));
        json_object_object_add(job, "lastUpdatedAt", json_object_new_int64(now_s));
        json_object_object_add(job, "seq",
                               json_object_new_int64(json_object_object_length(jobs_of(reg)) + 1));
        json_object_object_add(job, "executions", execs);
        json_object_object_add(jobs_of(reg), id, job);
        for (size_t i = 0; i < json_object_array_length(things); i++) {
                const char *thing = json_object_get_string(json_object_array_get_idx(things, i));
                json_object *x;
                char before[65];

                if (member(execs, thing))
                        continue;
                snprintf(before, sizeof(before), "%s", next_id(reg, thing));
                x = json_object_new_object();
                json_object_object_add(x, "status", json_object_new_string("QUEUED"));
                json_object_object_add(x, "queuedAt", json_object_new_int64(now_s));
                json_object_object_add(x, "lastUpdatedAt", json_object_new_int64(now_s));
                json_object_object_add(x, "versionNumber", json_object_new_int64(1));
                json_object_object_add(x, "executionNumber", json_object_new_int64(1));
                json_object_object_add(execs, thing, x);
                note(a, reg, thing, before, now_s);
                event(a, "queued", thing, id, "QUEUED", NULL);
        }
        json_object_object_add(res, "jobId", json_object_new_string(id));
        json_object_object_add(res, "things", things);
        a->changed = true;
        return 1;
}

static int cancel_job(json_object *reg, json_object *cmd, int64_t now_s, json_object *res,
                      const char **ret_error, const char **ret_code, ObEmuJobsAnswer *a)
{
        json_object *job = member(jobs_of(reg), str(cmd, "jobId")), *things;
        bool force = json_object_get_boolean(member(cmd, "force"));

        if (!job) {
                *ret_code = "ResourceNotFoundException";
                *ret_error = "no such job";
                return -ENOENT;
        }
        if (!strcmp(str(job, "status"), "COMPLETED") ||
            (!strcmp(str(job, "status"), "CANCELED") && !force)) {
                *ret_code = "InvalidRequestException";
                *ret_error = "the job is COMPLETED, or CANCELED already (force cancels its "
                             "IN_PROGRESS executions too)";
                return -EINVAL;
        }
        json_object_object_add(job, "status", json_object_new_string("CANCELED"));
        json_object_object_add(job, "lastUpdatedAt", json_object_new_int64(now_s));
        things = json_object_new_array();
        json_object_object_foreach(member(job, "executions"), thing, x)
        {
                char before[65];

                if (strcmp(str(x, "status"), "QUEUED") &&
                    (!force || strcmp(str(x, "status"), "IN_PROGRESS")))
                        continue;
                snprintf(before, sizeof(before), "%s", next_id(reg, thing));
                set_status(job, x, "CANCELED", now_s);
                note(a, reg, thing, before, now_s);
                event(a, "canceled", thing, str(job, "jobId"), "CANCELED", NULL);
                json_object_array_add(things, json_object_new_string(thing));
        }
        json_object_object_add(res, "jobId", copy(member(job, "jobId")));
        json_object_object_add(res, "things", things);
        a->changed = true;
        return 1;
}

int ob_emu_jobs_admin(json_object *reg, json_object *cmd, int64_t now_s, json_object *res,
                      const char **ret_error, const char **ret_code, ObEmuJobsAnswer *a)
{
        const char *op = str(cmd, "op");

        *a = (ObEmuJobsAnswer){0};
        *ret_error = NULL;
        *ret_code = NULL;
        if (!strcmp(op, "create-job"))
                return create_job(reg, cmd, now_s, res, ret_error, ret_code, a);
        if (!strcmp(op, "cancel-job"))
                return cancel_job(reg, cmd, now_s, res, ret_error, ret_code, a);
        return 0;
}
