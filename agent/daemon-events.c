/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's reactions (agent/daemon-private.h): the onboarding machine's changes (log lines
 * with the status as journal fields, STATUS=, the credentials-changed hook), the transport's and
 * the machine timer's events, re-arming after every call into the machine, and the trusted
 * user's claim drop directory. agent/daemon.c sets the loop up and wires these in.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "control.h"
#include "ctl-proto.h"
#include "daemon-private.h"
#include "daemon.h"
#include "fsops.h"
#include "identity.h"
#include "isotime.h"
#include "journal-fields.h"
#include "journal.h"
#include "key-provider.h"
#include "log.h"
#include "onboard.h"
#include "store.h"
#include "transport-paho.h"
#ifdef HAVE_TPM
#include "tpm-key.h"
#endif

OB_DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put)

#define MAX_CLAIM_FILE (64 * 1024)

/* ------------------------------------------------------------------ state machine hookup */

static void credentials_changed(Daemon *d);

/* The prefix of the engine's log lines: a rotation says so (its failures are not onboarding's). */
static const char *flow(const ObOnboard *ob)
{
        return ob_onboard_rotating(ob) ? "rotation" : "onboarding";
}

void ob_daemon_on_change(ObOnboard *ob, const ObOnboardChange *c, void *userdata)
{
        Daemon *d = userdata;
        /* every line carries the status of this moment as fields (docs/operations.md) */
        _cleanup_(json_object_putp) json_object *st = ob_onboard_status(ob, ob_daemon_now_ms());
        ObJournalFields jf;
        const char *const *fields = ob_journal_fields(st, &jf);

        switch (c->kind) {
        case OB_CHANGE_ACTIVITY:
                ob_log_full(OB_LOG_INFO, 0, NULL, fields, "%s: %s", flow(ob), c->text);
                ob_daemon_update_status(d);
                break;
        case OB_CHANGE_STAGE: {
                const char *crash = getenv("OB_TEST_CRASH_AFTER_STAGE");

                ob_log_full(OB_LOG_INFO, 0, NULL, fields, "%s: %s (saved)", flow(ob), c->text);
                /* fault injection for the crash tests (docs/testing.md): die like kill -9 */
                if (crash) {
                        char name[64];

                        snprintf(name, sizeof(name), "%s%s",
                                 ob_onboard_rotating(ob) ? "rotation:" : "",
                                 ob_onboard_stage_to_string(ob_onboard_stage(ob)));
                        if (strcmp(crash, name) == 0)
                                (void)raise(SIGKILL);
                }
                break;
        }
        case OB_CHANGE_ERROR: {
                json_object *e, *cls;
                bool refused = st && json_object_object_get_ex(st, "last_error", &e) && e &&
                               json_object_object_get_ex(e, "class", &cls) && cls &&
                               strcmp(json_object_get_string(cls), "refused") == 0;

                bool attempt = st && json_object_object_get_ex(st, "last_error", &e) && e &&
                               json_object_object_get_ex(e, "class", &cls) && cls;

                /* a refusal of our credentials, any other failed attempt, or a report (a
                 * refused claim or reload: no class, no MESSAGE_ID) */
                ob_log_full(OB_LOG_WARNING, 0,
                            refused   ? OB_MESSAGE_CREDENTIALS_REFUSED
                            : attempt ? OB_MESSAGE_ONBOARDING_FAILED
                                      : NULL,
                            fields, "%s: %s", flow(ob), c->text);
                ob_daemon_update_status(d);
                break;
        }
        case OB_CHANGE_ONBOARDED:
                ob_log_full(OB_LOG_NOTICE, 0, OB_MESSAGE_ONBOARDED, fields, "%s", c->text);
                ob_daemon_update_status(d);
                /* idle for months from here: give the flow's heap back (docs/performance.md) */
                (void)malloc_trim(0);
                break;
        case OB_CHANGE_ROTATED:
                ob_log_full(OB_LOG_NOTICE, 0, OB_MESSAGE_ROTATED, fields, "%s", c->text);
                ob_daemon_update_status(d);
                credentials_changed(d);
                break;
        case OB_CHANGE_CHECKIN:
                /* one line per check-in outcome (docs/shadow.md) */
                ob_log_full(OB_LOG_INFO, 0, NULL, fields, "check-in: %s", c->text);
                ob_daemon_update_status(d);
                break;
        case OB_CHANGE_HEALED: /* OB_CHANGE_ROTATED follows: the hook runs there */
                ob_log_full(OB_LOG_NOTICE, 0, OB_MESSAGE_HEALED, fields, "%s", c->text);
                break;
        case OB_CHANGE_NOTICE:
                ob_log_full(strstr(c->text, "wall clock") ? OB_LOG_WARNING : OB_LOG_NOTICE, 0,
                            strstr(c->text, "wall clock") ? OB_MESSAGE_CLOCK_NOT_SET : NULL, fields,
                            "%s: %s", flow(ob), c->text);
                break;
        }
}

#define HOOK_MAX_ARGS 32

static int on_hook_exit(sd_event_source *s, const siginfo_t *si, void *userdata)
{
        const char *what = userdata;

        if (si->si_code == CLD_EXITED && si->si_status == 0)
                ob_log_info("%s finished", what);
        else if (si->si_code == CLD_EXITED)
                ob_log_warning("%s failed with exit status %d", what, si->si_status);
        else
                ob_log_warning("%s was killed by signal %d", what, si->si_status);
        sd_event_source_unref(s);
        return 0;
}

/*
 * Run a command after new credentials were committed, without waiting for it: argv split on
 * spaces (rotation.hook), environment OB_CERT_FILE, OB_KEY_FILE, OB_THING_NAME,
 * OB_CERTIFICATE_ID. Its exit is logged when the loop reaps it.
 */
static void run_hook(Daemon *d, const char *what, char *const argv[])
{
        _cleanup_(json_object_putp) json_object *st = ob_onboard_status(d->ob, ob_daemon_now_ms());
        json_object *v;
        char cert[512], key[512];
        pid_t pid;
        int r;

        snprintf(cert, sizeof(cert), "%s/credentials/current/device.crt",
                 d->config->paths.state_dir);
        snprintf(key, sizeof(key), "%s/credentials/current/device.key", d->config->paths.state_dir);
        pid = fork();
        if (pid < 0) {
                ob_log_error_errno(-errno, "Cannot start %s", what);
                return;
        }
        if (pid == 0) {
                sigset_t ss;

                sigemptyset(&ss);
                sigprocmask(SIG_SETMASK, &ss, NULL);
                setenv("OB_CERT_FILE", cert, 1);
                setenv("OB_KEY_FILE", key, 1);
                if (st && json_object_object_get_ex(st, "thing_name", &v) && v)
                        setenv("OB_THING_NAME", json_object_get_string(v), 1);
                if (st && json_object_object_get_ex(st, "certificate_id", &v) && v)
                        setenv("OB_CERTIFICATE_ID", json_object_get_string(v), 1);
                execv(argv[0], argv);
                _exit(127);
        }
        r = sd_event_add_child(d->event, NULL, pid, WEXITED, on_hook_exit, (void *)what);
        if (r < 0)
                ob_log_warning_errno(r, "Cannot watch %s (pid %d)", what, (int)pid);
        else
                ob_log_info("Started %s (pid %d)", what, (int)pid);
}

static void credentials_changed(Daemon *d)
{
        if (d->config->rotation.hook) {
                _cleanup_free_ char *copy = strdup(d->config->rotation.hook);
                char *argv[HOOK_MAX_ARGS + 1] = {NULL}, *save = NULL, *tok;
                size_t n = 0;

                for (tok = copy ? strtok_r(copy, " ", &save) : NULL; tok && n < HOOK_MAX_ARGS;
                     tok = strtok_r(NULL, " ", &save))
                        argv[n++] = tok;
                if (n > 0)
                        run_hook(d, "the rotation hook", argv);
        }
        if (d->config->rotation.reload_unit) {
                char *argv[] = {(char *)"/bin/systemctl", (char *)"reload-or-restart",
                                d->config->rotation.reload_unit, NULL};
                run_hook(d, "systemctl reload-or-restart", argv);
        }
}

/*
 * After every call into the machine: arm the deadline timer and the claim poll. The machine's
 * deadlines are wall-clock times (a renewal window is a date), so the timer is an absolute
 * CLOCK_REALTIME one: when the clock is stepped past it (NTP after a boot in 1970) it fires at
 * once, and a step backwards delays it, instead of a relative timer firing at the wrong date.
 */
void ob_daemon_rearm(Daemon *d)
{
        int64_t deadline = ob_onboard_deadline(d->ob);
        int r;

        if (deadline < 0) {
                (void)sd_event_source_set_enabled(d->timer_src, SD_EVENT_OFF);
        } else {
                r = sd_event_source_set_time(d->timer_src, (uint64_t)deadline * 1000);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->timer_src, SD_EVENT_ONESHOT);
                if (r < 0)
                        ob_log_error_errno(r, "Failed to arm the onboarding timer");
        }

        if (d->claim_src)
                (void)sd_event_source_set_enabled(
                        d->claim_src, ob_onboard_activity(d->ob) == OB_ACT_WAIT_CLAIM &&
                                                      d->config->provisioning.claim_drop_dir
                                              ? SD_EVENT_ON
                                              : SD_EVENT_OFF);
}

int ob_daemon_on_transport(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Daemon *d = userdata;
        ObTransportEvent ev = {0};

        (void)s;
        (void)fd;
        (void)revents;
        while (d->transport.ops->next_event(d->transport.impl, &ev) == 0) {
                (void)ob_onboard_handle_event(d->ob, &ev, ob_daemon_now_ms());
                ob_transport_event_clear(&ev);
        }
        ob_daemon_rearm(d);
        return 0;
}

int ob_daemon_on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;

        (void)s;
        (void)usec;
        (void)ob_onboard_tick(d->ob, ob_daemon_now_ms());
        ob_daemon_rearm(d);
        return 0;
}

/* ------------------------------------------------------------------ trusted user: claims */

/* The claim files of the drop directory; 0 when both exist, -ENOENT otherwise. */
static int drop_dir_paths(const Daemon *d, char **ret_crt, char **ret_key)
{
        const char *dir = d->config->provisioning.claim_drop_dir;
        _cleanup_free_ char *crt = NULL, *key = NULL;

        if (!dir)
                return -ENOENT;
        if (asprintf(&crt, "%s/claim.crt", dir) < 0 || asprintf(&key, "%s/claim.key", dir) < 0)
                return -ENOMEM;
        if (access(crt, F_OK) < 0 || access(key, F_OK) < 0)
                return -ENOENT;
        *ret_crt = TAKE_PTR(crt);
        *ret_key = TAKE_PTR(key);
        return 0;
}

/* A claim in the drop directory while none is awaited (left by a crash between the hand-over and
 * the delete, or dropped after onboarding) is removed: claim keys do not lie around. */
void ob_daemon_drop_dir_discard_stale(Daemon *d)
{
        _cleanup_free_ char *crt = NULL, *key = NULL;

        if (ob_onboard_activity(d->ob) == OB_ACT_WAIT_CLAIM || drop_dir_paths(d, &crt, &key) < 0)
                return;
        (void)unlink(key);
        (void)unlink(crt);
        ob_log_notice("Removed the claim left in %s: the agent is not waiting for one",
                      d->config->provisioning.claim_drop_dir);
}

int ob_daemon_on_claim_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;
        const char *dir = d->config->provisioning.claim_drop_dir;
        _cleanup_free_ char *crt_path = NULL, *key_path = NULL, *crt = NULL, *key = NULL;
        char err[256] = "", text[600];
        int r;

        (void)sd_event_source_set_time_relative(s, CLAIM_POLL_USEC);
        (void)usec;
        if (ob_onboard_activity(d->ob) != OB_ACT_WAIT_CLAIM ||
            drop_dir_paths(d, &crt_path, &key_path) < 0)
                return 0;
        /* a hand-over directory: never follow a link planted there */
        r = ob_fs_read_file(crt_path, O_NOFOLLOW, MAX_CLAIM_FILE, &crt, NULL);
        if (r >= 0)
                r = ob_fs_read_file(key_path, O_NOFOLLOW, MAX_CLAIM_FILE, &key, NULL);
        if (r < 0) {
                snprintf(text, sizeof(text), "cannot read the claim dropped in %s: %s", dir,
                         strerror(-r));
                ob_onboard_report(d->ob, "claim-unreadable", text, ob_daemon_now_ms());
        } else {
                r = ob_onboard_provide_claim(d->ob, crt, key, ob_daemon_now_ms(), err, sizeof(err));
                if (r < 0) {
                        /* in status too: the technician who dropped it asks agentctl */
                        snprintf(text, sizeof(text), "the claim dropped in %s was refused: %s", dir,
                                 err);
                        ob_onboard_report(d->ob, "claim-refused", text, ob_daemon_now_ms());
                } else
                        ob_log_notice("Claim taken from %s", dir);
        }
        /* The drop directory is a hand-over: whatever happened, the files do not stay. They go
         * only now, after the machine keeps its own copy (runtime directory), so a crash in
         * between leaves the claim here (removed at the next start) instead of nowhere. */
        (void)unlink(key_path);
        (void)unlink(crt_path);
        if (key)
                ob_explicit_bzero(key, strlen(key));
        ob_daemon_rearm(d);
        return 0;
}
