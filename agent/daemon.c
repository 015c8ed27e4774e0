/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's event loop (STYLE.md §9): sd-event with
 *   - the transport's event fd (Paho's callbacks, queued by agent/transport-paho.c),
 *   - one timer for the state machine's next deadline (retry, step timeout, clock check),
 *   - a poll timer for the trusted-user drop directory while a claim is awaited,
 *   - the control socket (agent/control.c), SIGTERM/SIGINT/SIGHUP, the systemd watchdog.
 * Idle (onboarded) means: no MQTT client, no timer but the watchdog.
 * This file sets the loop up (the control socket first), sets up and tears down what a
 * configuration needs (keys, identity, transport, machine; waiting for the TPM; reload in
 * place) and runs it; the reactions to events are agent/daemon-events.c, the control verbs
 * agent/daemon-control.c, the lost-TPM watch agent/daemon-watch.c.
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

int64_t ob_daemon_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t random_next(void *userdata)
{
        uint64_t v;

        if (RAND_bytes((unsigned char *)&v, sizeof(v)) == 1)
                return v;
        return ob_random_splitmix64(userdata); /* never expected; still random enough */
}

/* ------------------------------------------------------------------ status text */

void ob_daemon_update_status(Daemon *d)
{
        _cleanup_(json_object_putp) json_object *st =
                d->ob ? ob_onboard_status(d->ob, ob_daemon_now_ms()) : NULL;
        json_object *v, *e;
        char text[400], day[32];
        const char *state = "?";

        if (!st)
                return;
        if (json_object_object_get_ex(st, "state", &v))
                state = json_object_get_string(v);
        if (ob_onboard_stage(d->ob) == OB_STAGE_ONBOARDED) {
                const char *thing = json_object_object_get_ex(st, "thing_name", &v) && v
                                            ? json_object_get_string(v)
                                            : d->serial;
                day[0] = 0;
                if (json_object_object_get_ex(st, "certificate_not_after", &v) && v)
                        snprintf(day, sizeof(day), "%.10s", json_object_get_string(v));
                if (json_object_object_get_ex(st, "next_rotation", &v) && v)
                        snprintf(text, sizeof(text),
                                 "onboarded as %s, cert expires %s, next rotation %.10s", thing,
                                 day, json_object_get_string(v));
                else
                        snprintf(text, sizeof(text), "onboarded as %s, cert expires %s", thing,
                                 day);
        } else if (ob_onboard_activity(d->ob) == OB_ACT_WAIT_RETRY &&
                   json_object_object_get_ex(st, "last_error", &e) && e &&
                   json_object_object_get_ex(e, "code", &v)) {
                int64_t secs = (ob_onboard_next_retry(d->ob) - ob_daemon_now_ms() + 999) / 1000;
                snprintf(text, sizeof(text), "%s: %s, retry in %llds", state,
                         json_object_get_string(v), (long long)(secs > 0 ? secs : 0));
        } else if (ob_onboard_activity(d->ob) == OB_ACT_WAIT_CLAIM) {
                snprintf(text, sizeof(text), "waiting for claim");
        } else if (ob_onboard_activity(d->ob) == OB_ACT_WAIT_CERT) {
                snprintf(text, sizeof(text),
                         "waiting for certificate (install one with agentctl factory "
                         "install-cert)");
        } else if (ob_onboard_activity(d->ob) == OB_ACT_WAIT_ACTIVATION) {
                int64_t secs = (ob_onboard_deadline(d->ob) - ob_daemon_now_ms() + 999) / 1000;
                snprintf(text, sizeof(text), "waiting for activation, retry in %llds",
                         (long long)(secs > 0 ? secs : 0));
        } else if (strcmp(state, "rotating") == 0 &&
                   json_object_object_get_ex(st, "activity", &v)) {
                snprintf(text, sizeof(text), "rotating: %s", json_object_get_string(v));
                for (char *p = text; *p; p++)
                        if (*p == '-')
                                *p = ' ';
        } else {
                snprintf(text, sizeof(text), "%s", state);
                for (char *p = text; *p; p++)
                        if (*p == '-')
                                *p = ' ';
        }
        if (ob_onboard_stage(d->ob) == OB_STAGE_ONBOARDED) { /* the check-in (docs/shadow.md) */
                size_t n = strlen(text);
                if (ob_onboard_activity(d->ob) == OB_ACT_CHECKIN)
                        snprintf(text + n, sizeof(text) - n, ", checking in");
                else if (json_object_object_get_ex(st, "last_error", &e) && e &&
                         json_object_object_get_ex(e, "code", &v) &&
                         strncmp(json_object_get_string(v), "checkin-", 8) == 0)
                        snprintf(text + n, sizeof(text) - n, ", last check-in failed (%s)",
                                 json_object_get_string(v));
        }
        if (d->srk_transient) {
                size_t n = strlen(text);
                snprintf(text + n, sizeof(text) - n,
                         " (transient SRK: free a persistent TPM handle)");
        }
        (void)sd_notifyf(false, "STATUS=%s", text);
}

/* ------------------------------------------------------------------ signals */

#define LOST_NOTE "lost-request"

/*
 * Stopping: save the state once more and say truthfully whether it is saved. What an operator
 * asked for that is lost with a failed save is noted in the runtime directory (a tmpfs, writable
 * when the state directory is full or read-only), for the next start to report.
 */
static void stop_saving(Daemon *d, const char *why)
{
        _cleanup_free_ char *note = NULL;
        char lost[200] = "";
        int r = d->ob ? ob_onboard_save(d->ob, lost, sizeof(lost)) : 0;

        if (r >= 0) {
                ob_log_info("Received %s, stopping (state is saved: onboarding resumes at the next "
                            "start)",
                            why);
                return;
        }
        ob_log_error("Received %s, stopping: the state could NOT be saved to %s/state.json (%s); "
                     "%s%s",
                     why, d->config->paths.state_dir, strerror(-r),
                     lost[0] ? "lost with it: "
                             : "the next start resumes from the last saved "
                               "step, with a new retry schedule",
                     lost);
        if (lost[0] && asprintf(&note, "%s/" LOST_NOTE, d->config->paths.runtime_dir) >= 0)
                (void)ob_fs_write_file_atomic(NULL, note, lost, strlen(lost), 0600);
}

/* At start: what the last stop could not save, in status and the journal (then forgotten). */
static void report_lost(Daemon *d)
{
        _cleanup_free_ char *note = NULL, *lost = NULL;
        char text[300];

        if (asprintf(&note, "%s/" LOST_NOTE, d->config->paths.runtime_dir) < 0 ||
            ob_fs_read_file(note, O_NOFOLLOW, 512, &lost, NULL) < 0)
                return;
        snprintf(text, sizeof(text),
                 "the last stop could not save the state: lost %s; ask for it again", lost);
        ob_onboard_report(d->ob, "request-lost", text, ob_daemon_now_ms());
        (void)unlink(note);
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        Daemon *d = userdata;

        (void)s;
        (void)sd_notify(false, "STOPPING=1");
        if (!d->ob && d->tpm_wait_since_ms)
                ob_log_info("Stopped while waiting for the TPM (%s)",
                            strsignal((int)si->ssi_signo));
        else
                stop_saving(d, strsignal((int)si->ssi_signo));
        return sd_event_exit(d->event, 0);
}

/* SIGHUP: reload in place; the loop and the control socket stay (issue 17). */
static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)s;
        (void)si;
        (void)ob_daemon_reload(userdata);
        return 0;
}

/* ------------------------------------------------------------------ setup */

#define TPM_RETRY_FIRST_MS 1000
#define TPM_RETRY_CAP_MS   30000

#ifdef HAVE_TPM
static int on_tpm_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        Daemon *d = userdata;
        int r;

        (void)s;
        (void)usec;
        d->tpm_delay_ms = OB_MIN(d->tpm_delay_ms * 2, TPM_RETRY_CAP_MS);
        r = ob_daemon_start_run(d);
        if (r < 0) {
                d->failed = true;
                return sd_event_exit(d->event, r);
        }
        return 0;
}

/*
 * The TPM is unreachable (-ENODEV: no device yet, the resource manager down or restarting):
 * wait in the loop instead of exiting into a restart loop that systemd's start limit would end
 * for good. READY with a status that says why; the control socket answers (state
 * waiting-for-tpm, since when, the next attempt); the loop feeds the watchdog; attempts after
 * 1, 2, 4 ... s (at most 30 s); SIGHUP and agentctl retry try at once. Returns 1 (waiting).
 */
static int wait_for_tpm(Daemon *d, const char *tcti, const char *err)
{
        static const char *const fields[] = {"OB_STATE=waiting-for-tpm", NULL};
        int64_t now = ob_daemon_now_ms();
        int r;

        if (!d->tpm_wait_since_ms) {
                ob_log_full(OB_LOG_WARNING, 0, NULL, fields, "Waiting for the TPM (%s): %s", tcti,
                            err);
                d->tpm_wait_since_ms = now;
                d->tpm_delay_ms = TPM_RETRY_FIRST_MS;
        }
        snprintf(d->tpm_wait_error, sizeof(d->tpm_wait_error), "%s", err);
        d->tpm_next_ms = now + (int64_t)d->tpm_delay_ms;
        if (!d->tpm_src)
                r = sd_event_add_time_relative(d->event, &d->tpm_src, CLOCK_BOOTTIME,
                                               d->tpm_delay_ms * 1000, 0, on_tpm_retry, d);
        else {
                r = sd_event_source_set_time_relative(d->tpm_src, d->tpm_delay_ms * 1000);
                if (r >= 0)
                        r = sd_event_source_set_enabled(d->tpm_src, SD_EVENT_ONESHOT);
        }
        if (r < 0)
                return ob_log_error_errno(r, "Cannot arm the timer that waits for the TPM");
        (void)sd_notifyf(false, "READY=1\nSTATUS=waiting for the TPM: %.200s", err);
        return 1;
}
#endif

#ifdef HAVE_TPM
/* The TPM's manufacturer and firmware for the shadow (docs/shadow.md), read once per TPM
 * connection. Nice to know, never a reason to stop: a TPM that does not answer leaves them
 * unknown ("tpm": null), and a lost connection is the watch's to notice. */
static void read_tpm_info(Daemon *d)
{
        ObTpmInfo info;

        if (ob_tpm_get_info(d->tpm, &info) < 0) {
                ob_log_debug("No TPM manufacturer and firmware for the shadow: %s",
                             ob_tpm_last_error(d->tpm));
                return;
        }
        snprintf(d->tpm_manufacturer, sizeof(d->tpm_manufacturer), "%s", info.manufacturer);
        snprintf(d->tpm_firmware, sizeof(d->tpm_firmware), "%s", info.firmware);
        ob_log_debug("TPM manufacturer %s, firmware %s", info.manufacturer, info.firmware);
}
#endif

/* The key provider: 0, 1 waiting for the TPM (d->tpm_src armed), or a negative errno (said). */
static int setup_keys(Daemon *d)
{
        const ObConfig *c = d->config;

        d->tpm_manufacturer[0] = d->tpm_firmware[0] = 0;
        if (c->key.backend == OB_KEY_BACKEND_SOFTWARE)
                return ob_key_provider_software_new(&d->keys);
#ifdef HAVE_TPM
        {
                const char *tcti = c->tpm.tcti ? c->tpm.tcti : OB_TPM_DEFAULT_TCTI;
                char err[512] = "";
                int r;
                ObTpm *t = NULL;
                bool created = false;

                r = ob_tpm_open_config(c, NULL, true, &t, &created, err, sizeof(err));
                if (r == -ENODEV)
                        return wait_for_tpm(d, tcti, err);
                if (d->tpm_wait_since_ms && r >= 0)
                        ob_log_notice("The TPM is reachable again (%s)", tcti);
                d->tpm_wait_since_ms = 0;
                if (r < 0) {
                        err[0] = (char)toupper((unsigned char)err[0]); /* a log line's capital */
                        return ob_log_error_errno(r, "%s", err);
                }
                if (created)
                        ob_log_notice("Created the storage root key at 0x%08x",
                                      c->tpm.srk_handle ? c->tpm.srk_handle : OB_TPM_DEFAULT_SRK);
                r = ob_key_provider_tpm_new(t, &d->keys);
                if (r < 0) {
                        ob_tpm_close(t);
                        return r;
                }
                d->tpm = t;
                ob_daemon_note_srk(d);
                read_tpm_info(d);
                return ob_daemon_watch_keys(d, &d->keys);
        }
#else
        ob_log_error("key.backend is tpm but this build has no TPM support (--without-tpm)");
        return -EOPNOTSUPP;
#endif
}

static int setup_identity(Daemon *d)
{
        char err[512] = "";
        int r;

        r = ob_identity_serial((const char *const *)d->config->identity.serial_sources, NULL,
                               &d->serial, &d->serial_source, err, sizeof(err));
        if (r == -ENOENT) { /* no source gave a usable one: err says why for each */
                ob_log_error("No serial number: %s", err);
                return r;
        }
        if (r < 0)
                return ob_log_error_errno(r, "No serial number: %s", err);
        (void)ob_identity_machine_id(NULL, &d->machine_id);
        ob_log_info("Serial number %s (from %s)", d->serial, d->serial_source);
        return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* The machine asks for the hardware token only when it uses it (RegisterThing, a template
 * naming {hardware_token}): reading it makes the TPM derive its endorsement key, which takes a
 * real TPM 0.1-1 s and is not needed at the start of an onboarded daemon. Read once; a failure
 * is said once and asked again next time. */
static const char *daemon_hardware_token(void *userdata)
{
        Daemon *d = userdata;

#ifdef HAVE_TPM
        if (!d->have_token && d->tpm) {
                if (ob_tpm_hardware_token(d->tpm, d->hardware_token) >= 0)
                        d->have_token = true;
                else if (!d->token_warned) {
                        d->token_warned = true;
                        ob_log_warning("No hardware token from the endorsement key: %s",
                                       ob_tpm_last_error(d->tpm));
                }
        }
#endif
        return d->have_token ? d->hardware_token : NULL;
}

static int setup_machine(Daemon *d)
{
        ObStoreLoadInfo info = {0};
        char err[256] = "";
        int r;

        r = mkdir_p(d->config->paths.state_dir, 0700);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot create %s", d->config->paths.state_dir);
        r = ob_store_open(d->config->paths.state_dir, "state.json", NULL, &d->store);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot open the state in %s",
                                          d->config->paths.state_dir);

        ObOnboardDeps deps = {
                .hardware_token = daemon_hardware_token,
                .config = d->config,
                .keys = d->keys,
                .transport = &d->transport,
                .store = d->store,
                .random = &d->random,
                .serial = d->serial,
                .machine_id = d->machine_id,
                .build_epoch_ms = (int64_t)OB_BUILD_EPOCH * 1000,
                .changed = ob_daemon_on_change,
                .userdata = d,
        };
        r = ob_onboard_new(&deps, &d->ob);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot set up onboarding");
        if (d->tpm_manufacturer[0])
                ob_onboard_set_tpm_info(d->ob, d->tpm_manufacturer, d->tpm_firmware);
        r = ob_onboard_load(d->ob, &info, err, sizeof(err));
        if (r < 0) {
                /* the store's reason for the main copy says torn, corrupt or too large */
                ob_log_error("%s/state.json: %s%s%s%s. Refusing to start so that nothing is "
                             "overwritten; see docs/state.md (recovery)",
                             d->config->paths.state_dir, err, info.main_reason[0] ? " (" : "",
                             info.main_reason, info.main_reason[0] ? ")" : "");
                return r;
        }
        if (info.source == OB_STORE_SOURCE_PREV)
                ob_log_warning("%s/state.json was damaged (%s): using the previous copy "
                               "(generation %llu)",
                               d->config->paths.state_dir, info.main_reason,
                               (unsigned long long)info.generation);
        return 0;
}

/* The control socket for the configuration's runtime directory and group: made at the start,
 * and again only when a reload changes where or for whom (the same socket otherwise stays up,
 * with its connections). */
static int setup_control(Daemon *d)
{
        _cleanup_free_ char *sock = NULL;
        gid_t group = (gid_t)-1;
        int r;

        /* A numeric gid needs no lookup; a name is looked up once, here. On glibc a name found
         * in /etc/group (sysusers.d makes it there) loads no NSS module; a missing one goes on
         * to the next module of nsswitch.conf (libnss_systemd: +78 KiB PSS for good). */
        uint32_t gid;
        if (d->config->control.group && ob_config_group_is_gid(d->config->control.group, &gid))
                group = (gid_t)gid;
        else if (d->config->control.group) {
                struct group *g = getgrnam(d->config->control.group);
                if (g)
                        group = g->gr_gid;
                else
                        ob_log_warning("control.group %s does not exist: only root may use "
                                       "agentctl",
                                       d->config->control.group);
        }
        if (asprintf(&sock, "%s/control.sock", d->config->paths.runtime_dir) < 0)
                return -ENOMEM;
        if (d->control && strcmp(sock, d->control_path) == 0 && group == d->control_group)
                return 0;
        r = mkdir_p(d->config->paths.runtime_dir, 0755);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot create %s", d->config->paths.runtime_dir);
        d->control = ob_control_server_free(d->control); /* a new group: the same path */
        r = ob_control_server_new(d->event, sock, group, ob_daemon_control_handler, d, &d->control);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot listen on %s", sock);
        free(d->control_path);
        d->control_path = TAKE_PTR(sock);
        d->control_group = group;
        return 0;
}

/* What lives as long as the process: the loop, the signals, the watchdog, the control socket. */
static int setup_loop(Daemon *d)
{
        sigset_t ss;
        int r;

        r = sd_event_default(&d->event);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot create the event loop");
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigaddset(&ss, SIGCHLD); /* sd_event_add_child() for the rotation hook */
        sigprocmask(SIG_BLOCK, &ss, NULL);
        r = sd_event_add_signal(d->event, NULL, SIGTERM, on_term, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGINT, on_term, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGHUP, on_hup, d);
        if (r >= 0)
                r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot set up the event loop");
        return setup_control(d);
}

/* The event sources of one run: the transport's fd, the machine's timer, the claim poll. */
static int setup_run_sources(Daemon *d)
{
        int r;

        r = sd_event_add_io(d->event, &d->transport_src,
                            d->transport.ops->event_fd(d->transport.impl), EPOLLIN,
                            ob_daemon_on_transport, d);
        if (r >= 0)
                r = sd_event_add_time(d->event, &d->timer_src, CLOCK_REALTIME, UINT64_MAX, 0,
                                      ob_daemon_on_timer, d);
        if (r >= 0 && d->config->provisioning.claim_drop_dir)
                r = sd_event_add_time_relative(d->event, &d->claim_src, CLOCK_BOOTTIME,
                                               CLAIM_POLL_USEC, 0, ob_daemon_on_claim_poll, d);
        if (r < 0)
                return ob_log_error_errno(r, "Cannot set up the event loop");
        if (d->claim_src)
                (void)sd_event_source_set_enabled(d->claim_src, SD_EVENT_ON);
        return 0;
}

/*
 * Set up the run for d->config (identity, keys, transport, the machine) and start it. 0 when
 * running or waiting for the TPM (d->tpm_src armed; it calls this again), or a negative errno:
 * failed for good (said).
 */
int ob_daemon_start_run(Daemon *d)
{
        int r;

        if (d->tpm_src)
                (void)sd_event_source_set_enabled(d->tpm_src, SD_EVENT_OFF);
        if (!d->serial) {
                r = setup_identity(d);
                if (r < 0)
                        return r;
        }
        if (!d->keys) { /* kept across a reload with the same TPM settings */
                r = setup_keys(d);
                if (r != 0)
                        return r < 0 ? r : 0; /* waiting for the TPM */
        }
        r = ob_transport_paho_new(&d->transport);
#ifdef HAVE_TPM
        if (r >= 0 && d->config->key.backend != OB_KEY_BACKEND_SOFTWARE)
                r = ob_daemon_watch_transport(d, &d->transport);
#endif
        if (r >= 0)
                r = setup_machine(d);
        if (r >= 0)
                r = setup_run_sources(d);
        if (r < 0)
                return r;

        (void)sd_notify(false, "READY=1");
        ob_log_info("onboard-agent %s ready (method %s, state %s)", PACKAGE_VERSION,
                    ob_provisioning_method_to_string(d->config->provisioning.method),
                    ob_onboard_stage_to_string(ob_onboard_stage(d->ob)));
        (void)ob_onboard_start(d->ob, ob_daemon_now_ms());
        /* after a reload: refused (said in status), or worked (a refusal said before is over) */
        report_lost(d);
        ob_onboard_report(d->ob, "reload-refused", d->reload_error[0] ? d->reload_error : NULL,
                          ob_daemon_now_ms());
        d->reload_error[0] = 0;
        ob_daemon_drop_dir_discard_stale(d);
        ob_daemon_update_status(d);
        ob_daemon_rearm(d);
        return 0;
}

/* Tear down what a run set up. keep_keys: a reload keeps the key provider and with it the TPM
 * connection (P7, docs/performance.md: a TCTI set up again per reload grew tpm2-abrmd's
 * GLib/D-Bus client by ~0.9 KiB a time); ob_daemon_reload() drops it when the TPM settings change.
 */
static void stop_run(Daemon *d, bool keep_keys)
{
        d->ob = ob_onboard_free(d->ob); /* disconnects; a temporary claim stays for a restart */
        d->transport_src = sd_event_source_unref(d->transport_src);
        d->timer_src = sd_event_source_unref(d->timer_src);
        d->claim_src = sd_event_source_unref(d->claim_src);
        d->store = ob_store_free(d->store);
        if (d->transport.ops)
                ob_transport_free(&d->transport);
        if (!keep_keys) {
                d->keys = ob_key_provider_free(d->keys);
                d->tpm = NULL;
        }
        free(d->serial);
        free(d->serial_source);
        free(d->machine_id);
        d->serial = d->serial_source = d->machine_id = NULL;
}

/* Whether a and b open the same key provider: every key.* and tpm.* value equal. */
static bool same_key_settings(const ObConfig *a, const ObConfig *b)
{
        const ObConfigKey *keys;
        size_t n;

        keys = ob_config_keys(&n);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(json_object_putp) json_object *va = NULL, *vb = NULL;

                if (strncmp(keys[i].name, "key.", 4) != 0 && strncmp(keys[i].name, "tpm.", 4) != 0)
                        continue;
                va = ob_config_value_to_json(a, &keys[i]);
                vb = ob_config_value_to_json(b, &keys[i]);
                if (!json_object_equal(va, vb)) /* an unset value is NULL on both sides */
                        return false;
        }
        return true;
}

/*
 * Reload (SIGHUP), in place: re-read and validate the configuration. A broken one is refused
 * (in the journal and status.last_error) and the run goes on untouched, mid-flow included. A
 * valid one ends the run (the state is saved at every step) and starts it again with the new
 * configuration; an interrupted step resumes from the saved stage. The loop and the control
 * socket stay. Waiting for the TPM, any reload also tries the TPM at once.
 */
int ob_daemon_reload(Daemon *d)
{
        ObConfigDiags diags = {0};
        ObConfig *c = NULL;
        int r;

        (void)sd_notify(false, "RELOADING=1");
        r = ob_config_load(d->config_path, NULL, &c, &diags);
        for (size_t i = 0; i < diags.n; i++) {
                _cleanup_free_ char *line = NULL;
                if (ob_config_diag_format(&diags.items[i], &line) >= 0)
                        ob_log_warning("%s", line);
        }
        if (r < 0) {
                _cleanup_free_ char *first = NULL;

                ob_log_error("Reload: %s is invalid, keeping the running configuration",
                             d->config_path);
                /* for status.last_error: the first error, where and what */
                (void)ob_config_diags_first_error(&diags, &first);
                snprintf(d->reload_error, sizeof(d->reload_error),
                         "reload refused, running with the previous configuration: %s",
                         first ? first : d->config_path);
        }
        ob_config_diags_clear(&diags);
        if (r < 0 && d->ob) {
                ob_onboard_report(d->ob, "reload-refused", d->reload_error, ob_daemon_now_ms());
                d->reload_error[0] = 0;
                ob_daemon_update_status(d);
                (void)sd_notify(false, "READY=1");
                return -EINVAL;
        }
        bool refused = r < 0;
        stop_run(d, true);
        if (r >= 0) {
                if (d->keys && !same_key_settings(d->config, c)) { /* a new TPM or key back end */
                        ob_log_info("Reload: the key.* or tpm.* settings changed: opening the "
                                    "key provider again");
                        d->keys = ob_key_provider_free(d->keys);
                        d->tpm = NULL;
                } else if (d->keys)
                        ob_log_debug("Reload: the key provider (and TPM connection) is kept");
                ob_config_free(d->config);
                d->config = c;
                ob_log_notice("Reloaded the configuration from %s", d->config_path);
                r = setup_control(d);
        } else
                r = 0;
        if (r >= 0)
                r = ob_daemon_start_run(d);
        if (r < 0) {
                d->failed = true;
                (void)sd_event_exit(d->event, r);
                return r;
        }
        return refused ? -EINVAL : 0;
}

int ob_daemon_run(const char *config_path, ObConfig *config)
{
        Daemon d = {.config_path = config_path, .config = config, .control_group = (gid_t)-1};
        sigset_t ss;
        int r;

        /* Block the signals the loop handles before anything starts a thread (the tabrmd TCTI's
         * GDBus worker, Paho): a thread inherits the mask, and one that does not block SIGHUP
         * would let the kernel's default action end the whole process on a reload. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        (void)sigprocmask(SIG_BLOCK, &ss, NULL);

        d.seed = (uint64_t)ob_daemon_now_ms() ^ (uint64_t)getpid() << 32;
        d.random = (ObRandom){.next = random_next, .userdata = &d.seed};

        /* the loop and the control socket first: agentctl answers from the first moment */
        r = setup_loop(&d);
        if (r >= 0)
                r = ob_daemon_start_run(&d);
        if (r >= 0) {
                r = sd_event_loop(d.event);
                if (r < 0 && !d.tpm_lost && !d.failed)
                        ob_log_error_errno(r, "Event loop failed");
        }
        stop_run(&d, false);
        d.tpm_src = sd_event_source_unref(d.tpm_src);
        d.control = ob_control_server_free(d.control);
        d.event = sd_event_unref(d.event);
        free(d.control_path);
        ob_config_free(d.config);
        return r < 0 || d.failed ? OB_EXIT_FAILURE : 0;
}
