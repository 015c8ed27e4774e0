/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The onboarding machine's unit-test harness (tests/unit/onboard-harness.c): a fake transport
 * whose "IoT Core" issues real X.509 certificates (a test CA signs the CSR the machine sends),
 * hands out ownership tokens with an expiry on the test's clock and registers things; the key
 * provider is the real software backend. A World is one device: a state directory, a
 * configuration, the fake cloud, the machine, the test's clock, and crash injection. Shared by
 * tests/unit/test-onboard*.c.
 */
#pragma once

#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config-file.h"
#include "creds.h"
#include "fake-events.h"
#include "fleet-proto.h"
#include "key-provider.h"
#include "isotime.h"
#include "onboard.h"
#include "store.h"
#include "transport.h"

#define T0         ((int64_t)1900000000 * 1000) /* 2030-03-17: after any build date */
#define SERIAL     "SN0042"
#define HOUR_MS    (3600 * 1000LL)
#define FACTORY_CN "gw-factory-0042"

typedef struct Cloud {
        FakeEvents ev; /* first: the fake_events_op_* ops take the Cloud as a FakeEvents */
        int next_token;
        bool connected;
        int64_t *now;
        EVP_PKEY *ca_key;
        X509 *ca;
        /* what happened */
        int connects, certs_issued, registrations, publishes;
        int64_t connect_times[64];
        char last_client_id[128];
        char last_cert_file[512];
        char last_provider[16];
        char last_alpn[32];
        int last_port;
        int last_cert_count;   /* certificates in the file presented (2+: with its chain) */
        int64_t token_life_ms; /* 0: one hour */
        bool dead; /* the agent was killed: whatever it still tries does not reach the cloud */
        /* misbehaviour, consumed as used */
        int fail_connects; /* this many connects fail with fail_class */
        ObErrClass fail_class;
        ObConnCause fail_cause; /* what the transport says it saw (0: nothing) */
        int connect_error;      /* < 0: connect() itself fails with it */
        int swallow;            /* this many requests get no reply */
        int reject_csr;         /* this many CSR requests are rejected with reject_status */
        int reject_register;
        int reject_status;
        int garbage;        /* this many replies are garbage */
        int cert_days;      /* validity of issued certificates; 0: 365 */
        int refuse_gen;     /* refuse connections with credentials/<refuse_gen>/ */
        int rotations_seen; /* RegisterThing calls that named a ThingName (rotations) */
        int oversized;      /* this many replies are too large (dropped by the transport) */
        bool wrong_key;     /* issue the certificate for another key */
        bool extra_noise;   /* also send a message on an unrelated topic */
        int no_thing_name;  /* this many RegisterThing replies lack thingName */
        /* ownership tokens: "tok-N" valid until token_expiry[N] */
        int64_t token_expiry[16];

        /* subscribe_many refuses the filter containing this */
        const char *refuse_filter;
        int subscribe_many_calls;
        int probes;             /* connects made through probe (fake_ops_probe) */
        char last_hw_token[16]; /* HardwareToken of the last RegisterThing, "" if none */
        int announcements;      /* publishes to rotation.old_cert_topic ("devices/.../old") */
        int shadow_updates;     /* publishes to the named shadow's update topic */
        int reject_shadow;      /* this many shadow updates are rejected */
        char last_shadow[1200]; /* the last update request */
        /* AWS IoT Jobs: one execution for this thing (job_id[0] == 0: none pending) */
        char job_id[64];
        char job_doc[256];     /* its jobDocument */
        char job_status[32];   /* QUEUED, IN_PROGRESS, SUCCEEDED, FAILED, REJECTED */
        int64_t job_version;   /* versionNumber */
        char job_details[512]; /* the last update's statusDetails */
        int job_updates;       /* UpdateJobExecution requests accepted */
        int start_next_calls;  /* StartNextPendingJobExecution requests */

        ObConnCause refuse_cause; /* what refuse_gen's refusals look like (0: nothing seen) */
        int refused_connects;     /* connects refused because of refuse_gen */
} Cloud;

typedef struct World {
        char dir[64], state[128], run[128], claim_crt[160], claim_key[160];
        ObConfig *cfg;
        ObKeyProvider *keys;
        Cloud cloud;
        ObTransport tr;
        ObStore *store;
        uint64_t seed;
        ObRandom rnd;
        int64_t now;
        ObOnboard *ob;
        /* crash injection: stop driving the machine when this stage is saved */
        int crash_at_stage; /* -1 none */
        bool crashed;
        int changes[8];
        char last_error_text[512];
        int token_asks; /* calls of the hardware token getter */
} World;

extern const ObTransportOps fake_ops_many;
extern const ObTransportOps fake_ops_probe;
extern const ObFsOps *store_ops;

/* The fake cloud's CA: a certificate for pub; its fingerprint (hex) */
X509 *issue(Cloud *c, EVP_PKEY *pub, int64_t now_s, int days);
void fingerprint(X509 *x, char out[65]);
/* Worlds: a device with a state directory, its configuration, the fake cloud and the machine */
void make_claim(World *w, const char *crt, const char *key, int64_t nb, int64_t na);
void read_text(const char *path, char *buf, size_t size);
void new_machine(World *w);
void crash(World *w);
World *world_new(const char *extra_json);
void world_free(World *w);
void pump(World *w);
void run_until_settled(World *w, int n);
const char *status_str(World *w, const char *key, char *buf, size_t n);
void assert_onboarded(World *w);
/* Shared steps and checks */
void onboard_now(World *w);
uint64_t current_gen(World *w);
size_t slot_count(World *w);
void make_factory(World *w, bool with_chain, char out_id[65]);
World *world_method(const char *method, const char *extra_prov, const char *extra);
int64_t min_gap(const Cloud *c);
const char *error_code(World *w, char *buf, size_t n);
void assert_factory_onboarded(World *w, const char *id);
