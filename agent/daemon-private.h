/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the daemon's modules share (agent/daemon.c: the event loop and the control verbs;
 * agent/daemon-watch.c: the key provider and transport watched for a lost TPM). Not an API.
 *
 * The loop and the control socket live for the whole process: they exist before the TPM is
 * reachable and stay up across reloads. What a configuration sets up (identity, keys,
 * transport, state machine: "the run") is torn down and set up again by a reload.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "backoff.h"
#include "config-file.h"
#include "control.h"
#include "key-provider.h"
#include "onboard.h"
#include "store.h"
#include "transport.h"

struct ObTpm;

typedef struct Daemon {
        sd_event *event;
        const char *config_path;
        ObConfig *config;
        ObKeyProvider *keys;
        ObTransport transport;
        ObStore *store;
        ObOnboard *ob; /* NULL until the run is set up (waiting for the TPM) */
        ObControlServer *control;
        char *control_path;
        gid_t control_group;
        sd_event_source *transport_src, *timer_src, *claim_src, *tpm_src;
        uint64_t seed;
        ObRandom random;
        char *serial, *serial_source, *machine_id;
        struct ObTpm *tpm;         /* the key provider's (it closes it); NULL with software keys */
        int64_t tpm_wait_since_ms; /* waiting for the TPM since, 0 when not waiting */
        int64_t tpm_next_ms;       /* the next attempt to open it */
        uint64_t tpm_delay_ms;
        char tpm_wait_error[256];
        char hardware_token[65];
        bool have_token, token_warned;
        bool failed;            /* the loop ends with a failure */
        char reload_error[512]; /* a refused reload, for status once the machine runs again */
        bool tpm_lost;          /* the TPM connection is gone: exit, let systemd start us again */
        bool srk_transient;     /* said: the SRK has no persistent handle (docs/tpm.md) */
        /* the TPM's manufacturer and firmware for the shadow, read once per TPM connection ("":
         * not known: software keys, or the TPM did not answer) */
        char tpm_manufacturer[5], tpm_firmware[24];
} Daemon;

/* agent/daemon.c */
int64_t ob_daemon_now_ms(void);
/* Arm the machine's timer and the claim poll after every call into the machine. */
void ob_daemon_rearm(Daemon *d);
/* The service's STATUS= line from the machine's status. */
void ob_daemon_update_status(Daemon *d);
/* Set up the run for d->config and start it: 0 running or waiting for the TPM, or failed. */
int ob_daemon_start_run(Daemon *d);
/* Re-read the configuration (SIGHUP, the reload verb): 0, -EINVAL refused (the running one
 * stays, status.last_error says why), or another error: the daemon ends. */
int ob_daemon_reload(Daemon *d);

/* agent/daemon-events.c: the machine's changes, the transport's and timers' events, the trusted
 * user's drop directory (polled every CLAIM_POLL_USEC while a claim is awaited). */
#define CLAIM_POLL_USEC (2 * 1000 * 1000ULL)
void ob_daemon_on_change(ObOnboard *ob, const ObOnboardChange *c, void *userdata);
int ob_daemon_on_transport(sd_event_source *s, int fd, uint32_t revents, void *userdata);
int ob_daemon_on_timer(sd_event_source *s, uint64_t usec, void *userdata);
int ob_daemon_on_claim_poll(sd_event_source *s, uint64_t usec, void *userdata);
/* Delete claim files left in the drop directory from before this run. */
void ob_daemon_drop_dir_discard_stale(Daemon *d);

/* agent/daemon-control.c: the control socket's handler (agent/control.h). */
int ob_daemon_control_handler(const ObCtlCommand *cmd, json_object *args, const ObControlPeer *peer,
                              void *userdata, json_object **ret_result, char *code,
                              size_t code_size, char *message, size_t message_size);

#ifdef HAVE_TPM
/* Wrap *keys / *t (taken over, also on failure) so that -ENODEV ends the loop. */
int ob_daemon_watch_keys(Daemon *d, ObKeyProvider **keys);
int ob_daemon_watch_transport(Daemon *d, ObTransport *t);
/* Say once when the SRK went transient, and once when it is persistent again. */
void ob_daemon_note_srk(Daemon *d);
#endif
