/* SPDX-License-Identifier: Apache-2.0 */
/* The status report: struct ObOnboard (or a state.json alone) -> the JSON agentctl status shows. */
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

/* ------------------------------------------------------------------ status */

static void add_opt_string(json_object *o, const char *key, const char *v)
{
        json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* key: the string member of src (an object or NULL), if there is one */
static void add_opt_member(json_object *o, const char *key, json_object *src, const char *member)
{
        json_object *v = NULL;

        add_opt_string(o, key,
                       src && json_object_object_get_ex(src, member, &v) ? json_object_get_string(v)
                                                                         : NULL);
}

int64_t ob_onboard_next_retry(const ObOnboard *ob)
{
        int64_t at = ob_onboard_checkin_retry_at(ob);

        return at >= 0 ? at : ob->deadline;
}

json_object *ob_onboard_status(const ObOnboard *ob, int64_t now_ms)
{
        _cleanup_(json_object_putp) json_object *st = ob_onboard_state_to_json(ob);
        json_object *o;
        int64_t retry_at;

        if (!st)
                return NULL;
        o = ob_onboard_status_from_state(st);
        if (!o)
                return NULL;
        /* a rotation at work is "rotating" by name (its step in "activity", its stage in
         * "rotation"), also while its CONNECT waits out the one-per-second floor; a rotation
         * that failed and waits says so (waiting-to-retry, with last_error) */
        bool at_work = ob_onboard_busy(ob) || ob->act == OB_ACT_CREATE_KEY ||
                       (ob->act == OB_ACT_WAIT_RETRY && !ob->err_code[0]);
        json_object_object_add(
                o, "state",
                json_object_new_string(
                        ob->rotating && at_work && ob->act != OB_ACT_CHECKIN
                                ? "rotating" /* a check-in while its retry waits: checking-in */
                                : ob_onboard_activity_names[ob->act]));
        json_object_object_add(o, "activity",
                               json_object_new_string(ob_onboard_activity_names[ob->act]));
        json_object_object_add(o, "daemon_running", json_object_new_boolean(true));
        /* a rotation waiting for its retry may check in first: the retry's time, not the
         * deadline */
        retry_at = ob_onboard_next_retry(ob);
        json_object_object_add(o, "next_retry",
                               (ob->act == OB_ACT_WAIT_RETRY || ob->act == OB_ACT_WAIT_ACTIVATION ||
                                ob->act == OB_ACT_WAIT_CERT || ob->act == OB_ACT_WAIT_CLOCK) &&
                                               retry_at > now_ms
                                       ? ob_isotime_json(retry_at / 1000)
                                       : NULL);
        ob_onboard_checkin_status(o, st,
                                  ob->act == OB_ACT_DONE || (ob->act == OB_ACT_WAIT_RETRY &&
                                                             ob_onboard_checkin_retry_at(ob) >= 0)
                                          ? ob->checkin_next_ms
                                          : 0);
        json_object_object_add(o, "ignored_messages", json_object_new_int64(ob->ignored_messages));
        if (ob->refusals > 0)
                json_object_object_add(o, "refusals", json_object_new_int64(ob->refusals));
        if (!ob_onboard_can_rotate(ob->c))
                json_object_object_add(
                        o, "rotation_note",
                        json_object_new_string("no automatic renewal: this method has no fleet "
                                               "provisioning template (set rotation.template)"));

        return o;
}

json_object *ob_onboard_status_from_state(json_object *state)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *v, *p = NULL, *cur = NULL, *e = NULL, *bo = NULL;
        const char *stage = "new";
        bool rotating = false;
        ObBackoff b;

        if (!o)
                return NULL;
        if (state && json_object_object_get_ex(state, "stage", &v))
                stage = json_object_get_string(v);
        if (state && json_object_object_get_ex(state, "rotating", &v))
                rotating = json_object_get_boolean(v);
        /* during a rotation the committed identity is what counts; the rotation has its own */
        json_object_object_add(o, "rotation", NULL);
        if (rotating) {
                json_object *rot = json_object_new_object();
                json_object_object_add(rot, "stage", json_object_new_string(stage));
                json_object_object_add(o, "rotation", rot);
                stage = "onboarded";
        }
        json_object_object_add(o, "next_rotation",
                               state && json_object_object_get_ex(state, "next_rotation_ms", &v)
                                       ? ob_isotime_json(json_object_get_int64(v) / 1000)
                                       : NULL);
        if (state) {
                json_object_object_get_ex(state, "pending", &p);
                json_object_object_get_ex(state, "current", &cur);
                json_object_object_get_ex(state, "last_error", &e);
                json_object_object_get_ex(state, "backoff", &bo);
        }
        /* no daemon: nothing is onboarded right now, whatever the stage was (issue 17) */
        json_object_object_add(o, "state", json_object_new_string("stopped"));
        json_object_object_add(o, "daemon_running", json_object_new_boolean(false));
        json_object_object_add(o, "stage", json_object_new_string(stage));
        add_opt_member(o, "method", state, "method");
        add_opt_member(o, "serial", state, "serial");

        /* the identity in use: the committed one, else what is being built */
        json_object *src = cur ? cur : p;
        add_opt_member(o, "thing_name", src, "thing_name");
        add_opt_member(o, "certificate_id", src, "certificate_id");
        json_object_object_add(o, "certificate_not_before",
                               src && json_object_object_get_ex(src, "not_before", &v)
                                       ? ob_isotime_json(json_object_get_int64(v))
                                       : NULL);
        json_object_object_add(o, "certificate_not_after",
                               src && json_object_object_get_ex(src, "not_after", &v)
                                       ? ob_isotime_json(json_object_get_int64(v))
                                       : NULL);
        json_object_object_add(o, "generation",
                               cur && json_object_object_get_ex(cur, "generation", &v)
                                       ? json_object_new_int64(json_object_get_int64(v))
                                       : NULL);
        if (e) {
                json_object *le = json_object_new_object(), *t;

                json_object_object_add(o, "last_error", le);
                if (json_object_object_get_ex(e, "code", &t))
                        json_object_object_add(le, "code", json_object_get(t));
                if (json_object_object_get_ex(e, "class", &t))
                        json_object_object_add(le, "class", json_object_get(t));
                if (json_object_object_get_ex(e, "text", &t))
                        json_object_object_add(le, "text", json_object_get(t));
                if (json_object_object_get_ex(e, "time_ms", &t))
                        json_object_object_add(le, "time",
                                               ob_isotime_json(json_object_get_int64(t) / 1000));
        } else
                json_object_object_add(o, "last_error", NULL);
        if (bo && ob_backoff_from_json(bo, &b) == 0) {
                json_object_object_add(o, "attempts", json_object_new_int64(b.attempts));
                json_object_object_add(
                        o, "next_retry",
                        b.attempts > 0 && b.next_ms > 0 ? ob_isotime_json(b.next_ms / 1000) : NULL);
        }
        ob_onboard_checkin_status(o, state, 0);
        ob_onboard_heal_status(state, o);
        ob_onboard_jobs_status(state, o);
        return TAKE_PTR(o);
}
