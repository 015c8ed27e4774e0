/* SPDX-License-Identifier: Apache-2.0 */
/* The persisted state: state.json <-> struct ObOnboard (the codec), and saving it. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert-accept.h"
#include "creds.h"
#include "csr.h"
#include "factory-paths.h"
#include "fleet-proto.h"
#include "health.h"
#include "isotime.h"
#include "log.h"
#include "onboard-checkin.h"
#include "onboard-heal.h"
#include "onboard-jobs.h"
#include "onboard-private.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ persistence */

json_object *ob_onboard_state_to_json(const ObOnboard *ob)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *p, *cur, *e;

        if (!o)
                return NULL;
        json_object_object_add(o, "version", json_object_new_int(STATE_VERSION));
        json_object_object_add(o, "method",
                               json_object_new_string(ob_provisioning_method_to_string(
                                       ob->c->provisioning.method)));
        json_object_object_add(o, "stage",
                               json_object_new_string(ob_onboard_stage_names[ob->stage]));
        json_object_object_add(o, "serial", json_object_new_string(ob->d.serial));
        if (ob->rotating)
                json_object_object_add(o, "rotating", json_object_new_boolean(true));
        if (ob->rotate_requested)
                json_object_object_add(o, "rotate_requested", json_object_new_boolean(true));
        if (ob->decommissioned)
                json_object_object_add(o, "decommissioned", json_object_new_boolean(true));
        if (ob->refusals > 0)
                json_object_object_add(o, "refusals", json_object_new_int64(ob->refusals));
        ob_onboard_heal_to_json(ob, o);
        if (ob->retired.n > 0) {
                /* "previous" (the newest) is what versions before "retired" read */
                const ObRetired *nw = ob_retire_newest(&ob->retired);
                json_object *pr = json_object_new_object();
                json_object_object_add(o, "previous", pr);
                json_object_object_add(pr, "generation", json_object_new_uint64(nw->gen));
                json_object_object_add(pr, "retired_ms", json_object_new_int64(nw->retired_ms));
                json_object_object_add(o, "retired", ob_retire_to_json(&ob->retired));
        }
        {
                int64_t next = ob_onboard_next_rotation(ob);
                /* a requested or overdue rotation that failed: its next attempt is the
                 * backoff's; "due now" (0) is no date to show */
                if (next >= 0 && (ob->rotating || ob->rotate_requested) &&
                    ob->backoff.next_ms > next)
                        next = ob->backoff.next_ms;
                if (next > 0)
                        json_object_object_add(o, "next_rotation_ms", json_object_new_int64(next));
        }

        p = json_object_new_object();
        json_object_object_add(o, "pending", p);
        json_object_object_add(p, "generation", json_object_new_uint64(ob->gen));
        if (ob->cert_id)
                json_object_object_add(p, "certificate_id", json_object_new_string(ob->cert_id));
        if (ob->token) {
                json_object_object_add(p, "ownership_token", json_object_new_string(ob->token));
                json_object_object_add(p, "token_received_ms", json_object_new_int64(ob->token_ms));
        }
        if (ob->not_after_s) {
                json_object_object_add(p, "not_before", json_object_new_int64(ob->not_before_s));
                json_object_object_add(p, "not_after", json_object_new_int64(ob->not_after_s));
        }
        if (ob->thing_name)
                json_object_object_add(p, "thing_name", json_object_new_string(ob->thing_name));
        if (ob->devconf)
                json_object_object_add(p, "device_configuration", json_object_get(ob->devconf));

        if (ob->cur_gen > 0) {
                cur = json_object_new_object();
                json_object_object_add(o, "current", cur);
                json_object_object_add(cur, "generation", json_object_new_uint64(ob->cur_gen));
                if (ob->cur_thing)
                        json_object_object_add(cur, "thing_name",
                                               json_object_new_string(ob->cur_thing));
                json_object_object_add(cur, "certificate_id",
                                       json_object_new_string(ob->cur_cert_id));
                json_object_object_add(cur, "not_before",
                                       json_object_new_int64(ob->cur_not_before_s));
                json_object_object_add(cur, "not_after",
                                       json_object_new_int64(ob->cur_not_after_s));
                json_object_object_add(cur, "onboarded_ms",
                                       json_object_new_int64(ob->onboarded_ms));
        }

        json_object_object_add(o, "backoff", ob_backoff_to_json(&ob->backoff));
        if (ob->err_code[0]) {
                e = json_object_new_object();
                json_object_object_add(o, "last_error", e);
                json_object_object_add(e, "code", json_object_new_string(ob->err_code));
                json_object_object_add(e, "class",
                                       ob->err_class >= 0
                                               ? json_object_new_string(ob_err_class_to_string(
                                                         (ObErrClass)ob->err_class))
                                               : NULL);
                json_object_object_add(e, "text", json_object_new_string(ob->err_text));
                json_object_object_add(e, "time_ms", json_object_new_int64(ob->err_ms));
        }
        ob_onboard_checkin_to_json(ob, o);
        ob_onboard_jobs_to_json(ob, o);
        return TAKE_PTR(o);
}

int ob_onboard_persist(ObOnboard *ob)
{
        _cleanup_(json_object_putp) json_object *o = ob_onboard_state_to_json(ob);

        int r = o ? ob_store_save(ob->d.store, o) : -ENOMEM;

        ob->save_error = r < 0 ? r : 0;
        if (r >= 0)
                ob->request_unsaved = false;
        return r;
}

int ob_onboard_save(ObOnboard *ob, char *lost, size_t lostsize)
{
        int r;

        /* every change is saved when it is made: only a failed last save needs another try
         * (no write at a normal stop: flash wear, and what is on disk is already the truth) */
        if (ob->save_error == 0)
                return 0;
        r = ob_onboard_persist(ob);

        if (r < 0)
                snprintf(lost, lostsize, "%s",
                         ob->request_unsaved && (ob->rotate_requested || ob->rotating)
                                 ? "the rotation requested with agentctl rotate"
                                 : "");
        return r;
}

/* A save whose failure does not stop the step (bookkeeping: a request, a retirement, the
 * backoff): the machine carries on from memory and the next save tries again, but an operator
 * is told, naming the file (found by the power-loss harness: such failures were silent). */
void ob_onboard_persist_or_say(ObOnboard *ob)
{
        int r = ob_onboard_persist(ob);

        if (r < 0)
                ob_onboard_notify(
                        ob, OB_CHANGE_NOTICE,
                        "cannot save the state to %s/state.json: %s (carrying on; the next save "
                        "tries again)",
                        ob->c->paths.state_dir, strerror(-r));
}

/* Strict readers: a field of the wrong type is an error naming it. */
static int get_field(json_object *o, const char *key, json_type type, bool required,
                     json_object **ret, char *err, size_t errsize)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required) {
                        snprintf(err, errsize, "state: \"%s\" is missing", key);
                        return -EBADMSG;
                }
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, type)) {
                snprintf(err, errsize, "state: \"%s\" has the wrong type", key);
                return -EBADMSG;
        }
        *ret = v;
        return 0;
}

#define GET(o, key, type, req, var)                                                                \
        do {                                                                                       \
                r = get_field((o), (key), (type), (req), &(var), err, errsize);                    \
                if (r < 0)                                                                         \
                        return r;                                                                  \
        } while (0)

/* A string field into *dst (a copy); an absent one leaves *dst as it is. */
#define GET_STR(o, key, req, dst)                                                                  \
        do {                                                                                       \
                GET(o, key, json_type_string, req, v);                                             \
                if (v && ob_onboard_set_str(dst, json_object_get_string(v)) < 0)                   \
                        return -ENOMEM;                                                            \
        } while (0)

static int state_from_json(ObOnboard *ob, json_object *o, char *err, size_t errsize)
{
        json_object *v, *p, *cur, *e, *bo;
        int r;

        GET(o, "version", json_type_int, true, v);
        if (json_object_get_int(v) != STATE_VERSION) {
                snprintf(err, errsize, "state: version %d is not supported",
                         json_object_get_int(v));
                return -EPROTONOSUPPORT;
        }
        GET(o, "stage", json_type_string, true, v);
        if (ob_onboard_stage_from_string(json_object_get_string(v), &ob->stage) < 0) {
                snprintf(err, errsize, "state: unknown stage \"%.40s\"", json_object_get_string(v));
                return -EBADMSG;
        }

        GET(o, "rotating", json_type_boolean, false, v);
        ob->rotating = v && json_object_get_boolean(v);
        GET(o, "rotate_requested", json_type_boolean, false, v);
        ob->rotate_requested = v && json_object_get_boolean(v);
        GET(o, "decommissioned", json_type_boolean, false, v);
        ob->decommissioned = v && json_object_get_boolean(v);
        GET(o, "refusals", json_type_int, false, v);
        ob->refusals = v && json_object_get_int64(v) > 0 ? (uint32_t)json_object_get_int64(v) : 0;
        ob_onboard_heal_from_json(ob, o);
        GET(o, "previous", json_type_object, false, v);
        if (v) {
                json_object *pv = v;
                int64_t g;
                GET(pv, "generation", json_type_int, true, v);
                g = json_object_get_int64(v);
                GET(pv, "retired_ms", json_type_int, true, v);
                if (g > 0 &&
                    ob_retire_add(&ob->retired, (uint64_t)g, json_object_get_int64(v)) == -ENOMEM)
                        return -ENOMEM;
        }
        GET(o, "retired", json_type_array, false, v);
        if (v && ob_retire_from_json(v, &ob->retired) < 0) {
                snprintf(err, errsize, "state: \"retired\" is malformed");
                return -EBADMSG;
        }

        GET(o, "pending", json_type_object, true, p);
        GET(p, "generation", json_type_int, true, v);
        ob->gen = (uint64_t)json_object_get_int64(v);
        GET_STR(p, "certificate_id", ob->stage == OB_STAGE_CERT_ISSUED, &ob->cert_id);
        /* a factory certificate (static/jitp/jitr) comes without an ownership token */
        GET_STR(p, "ownership_token",
                ob->stage == OB_STAGE_CERT_ISSUED &&
                        (!ob_onboard_method_uses_factory_cert(ob->c) || ob->rotating),
                &ob->token);
        GET(p, "token_received_ms", json_type_int, ob->token != NULL, v);
        ob->token_ms = v ? json_object_get_int64(v) : 0;
        GET(p, "not_before", json_type_int, false, v);
        ob->not_before_s = v ? json_object_get_int64(v) : 0;
        GET(p, "not_after", json_type_int, false, v);
        ob->not_after_s = v ? json_object_get_int64(v) : 0;
        GET_STR(p, "thing_name", false, &ob->thing_name);
        GET(p, "device_configuration", json_type_object, false, v);
        if (v)
                ob->devconf = json_object_get(v);
        if (ob->stage >= OB_STAGE_KEY_READY && ob->stage < OB_STAGE_ONBOARDED && ob->gen == 0) {
                snprintf(err, errsize, "state: stage %s without a pending generation",
                         ob_onboard_stage_names[ob->stage]);
                return -EBADMSG;
        }

        GET(o, "current", json_type_object, ob->stage == OB_STAGE_ONBOARDED || ob->rotating, cur);
        if (cur) {
                GET(cur, "generation", json_type_int, true, v);
                ob->cur_gen = (uint64_t)json_object_get_int64(v);
                GET_STR(cur, "certificate_id", true, &ob->cur_cert_id);
                GET_STR(cur, "thing_name", false, &ob->cur_thing);
                GET(cur, "not_before", json_type_int, true, v);
                ob->cur_not_before_s = json_object_get_int64(v);
                GET(cur, "not_after", json_type_int, true, v);
                ob->cur_not_after_s = json_object_get_int64(v);
                GET(cur, "onboarded_ms", json_type_int, false, v);
                ob->onboarded_ms = v ? json_object_get_int64(v) : 0;
                if (ob->cur_gen == 0) {
                        snprintf(err, errsize, "state: current generation 0");
                        return -EBADMSG;
                }
        }

        GET(o, "backoff", json_type_object, false, bo);
        if (bo && ob_backoff_from_json(bo, &ob->backoff) < 0) {
                snprintf(err, errsize, "state: \"backoff\" is malformed");
                return -EBADMSG;
        }
        GET(o, "last_error", json_type_object, false, e);
        if (e) {
                GET(e, "code", json_type_string, true, v);
                snprintf(ob->err_code, sizeof(ob->err_code), "%s", json_object_get_string(v));
                GET(e, "text", json_type_string, true, v);
                snprintf(ob->err_text, sizeof(ob->err_text), "%s", json_object_get_string(v));
                GET(e, "time_ms", json_type_int, false, v);
                ob->err_ms = v ? json_object_get_int64(v) : 0;
                GET(e, "class", json_type_string, false, v);
                ObErrClass cl;
                ob->err_class = v && ob_err_class_from_string(json_object_get_string(v), &cl) == 0
                                        ? (int)cl
                                        : -1;
        }
        r = ob_onboard_checkin_from_json(ob, o, err, errsize);
        if (r < 0)
                return r;
        return ob_onboard_jobs_from_json(ob, o, err, errsize);
}

int ob_onboard_load(ObOnboard *ob, ObStoreLoadInfo *info, char *err, size_t errsize)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        int r;

        r = ob_store_load(ob->d.store, &o, info);
        if (r == -ENOENT)
                return 0; /* a fresh device */
        if (r < 0) {
                snprintf(err, errsize, "state file unreadable: %s", strerror(-r));
                return r;
        }
        return state_from_json(ob, o, err, errsize);
}
