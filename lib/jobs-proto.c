/* SPDX-License-Identifier: Apache-2.0 */
/* The AWS IoT Jobs device MQTT API: see lib/jobs-proto.h. */
#include "jobs-proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"

static const char *const op_names[_OB_JOB_OP_MAX] = {
        [OB_JOB_OP_ROTATE] = "rotate",
        [OB_JOB_OP_REPROVISION] = "reprovision",
        [OB_JOB_OP_REPORT] = "report",
        [OB_JOB_OP_SET_ROTATION_POLICY] = "set-rotation-policy",
};

const char *ob_job_op_to_string(ObJobOpKind k)
{
        return k >= 0 && k < _OB_JOB_OP_MAX ? op_names[k] : NULL;
}

static bool chars_valid(const char *s, size_t max, const char *extra)
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

bool ob_jobs_id_valid(const char *id)
{
        return chars_valid(id, OB_JOBS_ID_MAX, "_-");
}

bool ob_jobs_thing_valid(const char *thing)
{
        return chars_valid(thing, OB_JOBS_THING_MAX, ":_-");
}

int ob_jobs_topic(char *buf, size_t size, const char *thing, const char *job_id, const char *op)
{
        int n;

        if (!ob_jobs_thing_valid(thing) || (job_id && !ob_jobs_id_valid(job_id)) || !op || !*op ||
            strpbrk(op, "+#"))
                return -EINVAL;
        if (job_id)
                n = snprintf(buf, size, "$aws/things/%s/jobs/%s/%s", thing, job_id, op);
        else
                n = snprintf(buf, size, "$aws/things/%s/jobs/%s", thing, op);
        return n < 0 || (size_t)n >= size ? -ENOBUFS : 0;
}

static void say(char *err, size_t errsize, const char *fmt, ...) _printf_(3, 4);
static void say(char *err, size_t errsize, const char *fmt, ...)
{
        va_list ap;

        if (!err || errsize == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
}

static json_object *member(json_object *o, const char *key)
{
        json_object *v = NULL;

        return json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, key, &v)
                       ? v
                       : NULL;
}

static json_object *parse_object(const char *payload, size_t len)
{
        json_tokener *tok;
        json_object *o;

        if (!payload || len == 0 || len > OB_JOBS_MAX_PAYLOAD)
                return NULL;
        tok = json_tokener_new();
        if (!tok)
                return NULL;
        o = json_tokener_parse_ex(tok, payload, (int)len);
        if (json_tokener_get_error(tok) != json_tokener_success ||
            !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(tok);
        return o;
}

void ob_job_execution_clear(ObJobExecution *e)
{
        json_object_put(e->document);
        *e = (ObJobExecution){0};
}

json_object *ob_jobs_build_start_next(int step_timeout_min, const char *client_token)
{
        json_object *o = json_object_new_object();

        if (!o)
                return NULL;
        if (step_timeout_min > 0)
                json_object_object_add(
                        o, "stepTimeoutInMinutes",
                        json_object_new_int(OB_MIN(step_timeout_min, OB_JOBS_STEP_TIMEOUT_MAX)));
        if (client_token)
                json_object_object_add(o, "clientToken", json_object_new_string(client_token));
        return o;
}

static int get_int64(json_object *o, const char *key, int64_t *ret)
{
        json_object *v = member(o, key);

        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < 0)
                return -EBADMSG;
        *ret = json_object_get_int64(v);
        return 0;
}

int ob_jobs_parse_start_next(const char *payload, size_t len, ObJobExecution *ret, char *err,
                             size_t errsize)
{
        json_object *o = parse_object(payload, len), *x, *v;
        ObJobExecution e = {0};

        *ret = (ObJobExecution){0};
        if (!o) {
                say(err, errsize, "the reply is not a JSON object of at most %d bytes",
                    OB_JOBS_MAX_PAYLOAD);
                return -EBADMSG;
        }
        x = member(o, "execution");
        if (!x) {
                json_object_put(o);
                return 0; /* nothing pending */
        }
        if (!json_object_is_type(x, json_type_object)) {
                say(err, errsize, "execution is not an object");
                goto bad;
        }
        v = member(x, "jobId");
        if (!json_object_is_type(v, json_type_string) ||
            !ob_jobs_id_valid(json_object_get_string(v))) {
                say(err, errsize, "execution.jobId is missing or not 1-%d of [a-zA-Z0-9_-]",
                    OB_JOBS_ID_MAX);
                goto bad;
        }
        snprintf(e.job_id, sizeof(e.job_id), "%s", json_object_get_string(v));
        v = member(x, "status");
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) >= (int)sizeof(e.status)) {
                say(err, errsize, "execution.status is missing or too long");
                goto bad;
        }
        snprintf(e.status, sizeof(e.status), "%s", json_object_get_string(v));
        if (get_int64(x, "versionNumber", &e.version) < 0 ||
            get_int64(x, "executionNumber", &e.execution) < 0) {
                say(err, errsize,
                    "execution.versionNumber or executionNumber is missing or not "
                    "a number");
                goto bad;
        }
        v = member(x, "jobDocument");
        if (!json_object_is_type(v, json_type_object)) {
                say(err, errsize, "execution.jobDocument is missing or not an object");
                goto bad;
        }
        e.document = json_object_get(v);
        e.present = true;
        json_object_put(o);
        *ret = e;
        return 0;
bad:
        json_object_put(o);
        return -EBADMSG;
}

json_object *ob_jobs_build_describe(void)
{
        json_object *o = json_object_new_object();

        if (o)
                json_object_object_add(o, "includeJobDocument", json_object_new_boolean(true));
        return o;
}

int ob_jobs_parse_describe(const char *payload, size_t len, ObJobExecution *ret, char *err,
                           size_t errsize)
{
        int e = ob_jobs_parse_start_next(payload, len, ret, err, errsize);

        if (e == 0 && !ret->present) {
                say(err, errsize, "the reply has no execution");
                return -EBADMSG;
        }
        return e;
}

static bool details_valid(json_object *details)
{
        if (!json_object_is_type(details, json_type_object))
                return false;
        json_object_object_foreach(details, key, v)
        {
                if (!chars_valid(key, OB_JOBS_DETAIL_KEY_MAX, ":_-") ||
                    !json_object_is_type(v, json_type_string) ||
                    json_object_get_string_len(v) < 1 ||
                    json_object_get_string_len(v) > OB_JOBS_DETAIL_VAL_MAX)
                        return false;
        }
        return true;
}

json_object *ob_jobs_build_update(const char *status, json_object *details,
                                  int64_t expected_version, int step_timeout_min,
                                  const char *client_token, int *ret_error)
{
        static const char *const statuses[] = {"IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"};
        bool known = false;
        json_object *o;

        *ret_error = 0;
        for (size_t i = 0; status && i < OB_ELEMENTSOF(statuses); i++)
                known = known || strcmp(status, statuses[i]) == 0;
        if (!known || (details && !details_valid(details)) ||
            step_timeout_min > OB_JOBS_STEP_TIMEOUT_MAX) {
                *ret_error = -EINVAL;
                return NULL;
        }
        o = json_object_new_object();
        if (!o) {
                *ret_error = -ENOMEM;
                return NULL;
        }
        json_object_object_add(o, "status", json_object_new_string(status));
        if (details)
                json_object_object_add(o, "statusDetails", json_object_get(details));
        if (expected_version >= 0)
                json_object_object_add(o, "expectedVersion",
                                       json_object_new_int64(expected_version));
        if (step_timeout_min > 0)
                json_object_object_add(o, "stepTimeoutInMinutes",
                                       json_object_new_int(step_timeout_min));
        if (client_token)
                json_object_object_add(o, "clientToken", json_object_new_string(client_token));
        return o;
}

int ob_jobs_parse_update_reply(const char *payload, size_t len, bool accepted, int64_t *ret_version,
                               char *ret_code, size_t codesize, char *err, size_t errsize)
{
        json_object *o = parse_object(payload, len), *v;

        *ret_version = -1;
        if (ret_code && codesize)
                ret_code[0] = 0;
        if (!o) {
                say(err, errsize, "the reply is not a JSON object");
                return -EBADMSG;
        }
        if (accepted) {
                int64_t n;

                if (get_int64(member(o, "executionState"), "versionNumber", &n) == 0)
                        *ret_version = n;
                json_object_put(o);
                return 0;
        }
        v = member(o, "code");
        if (!json_object_is_type(v, json_type_string)) {
                say(err, errsize, "the rejection has no code");
                json_object_put(o);
                return -EBADMSG;
        }
        if (ret_code && codesize)
                snprintf(ret_code, codesize, "%s", json_object_get_string(v));
        v = member(o, "message");
        say(err, errsize, "%s",
            json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "(no message)");
        json_object_put(o);
        return -EPROTO;
}

/* A number argument in [lo, hi] (doubles and integers alike). */
static int number_arg(json_object *v, const char *name, double lo, double hi, double *ret,
                      char *reason, size_t reasonsize)
{
        double d;

        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
                say(reason, reasonsize, "%s must be a number", name);
                return -EINVAL;
        }
        d = json_object_get_double(v);
        if (!(d >= lo && d <= hi)) {
                say(reason, reasonsize, "%s must be within %g..%g (got %g)", name, lo, hi, d);
                return -EINVAL;
        }
        *ret = d;
        return 0;
}

static int policy_args(json_object *doc, ObJobOp *op, char *reason, size_t reasonsize)
{
        double d;

        json_object_object_foreach(doc, key, v)
        {
                if (strcmp(key, "operation") == 0)
                        continue;
                if (strcmp(key, "lifetime_fraction") == 0) {
                        if (number_arg(v, key, OB_JOBS_POLICY_FRACTION_MIN,
                                       OB_JOBS_POLICY_FRACTION_MAX, &op->lifetime_fraction, reason,
                                       reasonsize) < 0)
                                return -EINVAL;
                        op->has_fraction = true;
                } else if (strcmp(key, "days_before_expiry") == 0 ||
                           strcmp(key, "max_age_days") == 0) {
                        bool age = key[0] == 'm';
                        if (!json_object_is_type(v, json_type_int)) {
                                say(reason, reasonsize, "%s must be a whole number of days", key);
                                return -EINVAL;
                        }
                        if (number_arg(v, key, 0,
                                       age ? OB_JOBS_POLICY_AGE_MAX : OB_JOBS_POLICY_DAYS_MAX, &d,
                                       reason, reasonsize) < 0)
                                return -EINVAL;
                        if (age) {
                                op->max_age_days = (uint32_t)d;
                                op->has_age = true;
                        } else {
                                op->days_before_expiry = (uint32_t)d;
                                op->has_days = true;
                        }
                } else {
                        say(reason, reasonsize,
                            "set-rotation-policy takes lifetime_fraction, days_before_expiry, "
                            "max_age_days; not '%.40s'",
                            key);
                        return -EINVAL;
                }
        }
        if (!op->has_fraction && !op->has_days && !op->has_age) {
                say(reason, reasonsize,
                    "set-rotation-policy needs at least one of "
                    "lifetime_fraction, days_before_expiry, max_age_days");
                return -EINVAL;
        }
        return 0;
}

int ob_jobs_parse_operation(json_object *document, ObJobOp *ret, char *reason, size_t reasonsize)
{
        json_object *v = member(document, "operation");
        ObJobOp op = {0};
        const char *name;
        int k;

        *ret = (ObJobOp){0};
        if (!json_object_is_type(v, json_type_string)) {
                say(reason, reasonsize, "the job document has no \"operation\" string");
                return -EINVAL;
        }
        name = json_object_get_string(v);
        for (k = 0; k < _OB_JOB_OP_MAX; k++)
                if (strcmp(name, op_names[k]) == 0)
                        break;
        if (k == _OB_JOB_OP_MAX) {
                say(reason, reasonsize,
                    "unknown operation '%.40s' (this agent does rotate, reprovision, report, "
                    "set-rotation-policy)",
                    name);
                return -EOPNOTSUPP;
        }
        op.kind = (ObJobOpKind)k;
        if (op.kind == OB_JOB_OP_SET_ROTATION_POLICY) {
                if (policy_args(document, &op, reason, reasonsize) < 0)
                        return -EINVAL;
        } else {
                json_object_object_foreach(document, key, a)
                {
                        if (strcmp(key, "operation") == 0)
                                continue;
                        if (op.kind == OB_JOB_OP_ROTATE && strcmp(key, "force") == 0 &&
                            json_object_is_type(a, json_type_boolean)) {
                                op.force = json_object_get_boolean(a);
                                continue;
                        }
                        say(reason, reasonsize, "%s takes %s; not '%.40s'", name,
                            op.kind == OB_JOB_OP_ROTATE ? "only \"force\" (true/false)"
                                                        : "no arguments",
                            key);
                        return -EINVAL;
                }
        }
        *ret = op;
        return 0;
}
