/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retry timing: exponential backoff with full jitter, per error class, persisted across
 * restarts (so a crash loop cannot hammer IoT Core), reset only after a stable success, and a
 * floor of one CONNECT per second per client id whatever the policy says.
 *
 * Pure: time is passed in (milliseconds on any monotonic-across-restarts scale, normally the
 * wall clock), randomness comes from an injected ObRandom.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "errclass.h"

#define OB_BACKOFF_CONNECT_FLOOR_MS 1000
#define OB_BACKOFF_STABLE_MS        60000 /* connected this long counts as a stable success */

typedef struct ObRandom {
        uint64_t (*next)(void *userdata); /* uniformly distributed 64-bit values */
        void *userdata;
} ObRandom;

/* A seeded generator (splitmix64) for tests and simulations; state is the seed. */
uint64_t ob_random_splitmix64(void *state);

typedef struct ObBackoffClassPolicy {
        uint64_t base_ms;
        uint64_t cap_ms;
        double factor; /* window growth per failure; 0 means 2 */
} ObBackoffClassPolicy;

typedef struct ObBackoffPolicy {
        ObBackoffClassPolicy cls[_OB_ERR_CLASS_MAX];
        uint64_t stable_ms; /* a success counts as stable after this long without failure */
} ObBackoffPolicy;

/* The policy from the configuration's retry.<class>.{base,cap} keys (docs/configuration.md). */
struct ObConfig;
void ob_backoff_policy_from_config(const struct ObConfig *c, ObBackoffPolicy *ret);

typedef struct ObBackoff {
        uint32_t attempts;        /* consecutive failures since the last stable success */
        ObErrClass last_class;    /* class of the last failure (valid when attempts > 0) */
        int64_t next_ms;          /* no attempt before this time */
        int64_t last_connect_ms;  /* last CONNECT attempt (for the 1/s floor); 0: none */
        int64_t success_since_ms; /* time of the last success; 0: none since the last failure */
} ObBackoff;

void ob_backoff_init(ObBackoff *b);

/*
 * Record a failure of class c at now. Returns the delay chosen (ms) and sets next_ms. A
 * success that lasted at least policy->stable_ms before this failure resets the count first.
 */
uint64_t ob_backoff_failure(ObBackoff *b, const ObBackoffPolicy *p, ObErrClass c, int64_t now_ms,
                            const ObRandom *rnd);

/* Record a success (e.g. CONNACK accepted) at now. The attempt count is kept until stable. */
void ob_backoff_success(ObBackoff *b, int64_t now_ms);

/* Record that a CONNECT is being sent now. */
void ob_backoff_connect_attempt(ObBackoff *b, int64_t now_ms);

/* Earliest time the next CONNECT may be sent: max(next_ms, last CONNECT + 1 s). */
int64_t ob_backoff_next_connect_ms(const ObBackoff *b);

/* Upper bound of the jitter window for the n-th consecutive failure: min(cap, base * factor^n). */
uint64_t ob_backoff_window_ms(const ObBackoffClassPolicy *p, uint32_t n);

/* Persisted form: {"attempts":N,"class":"network","next_ms":T,"last_connect_ms":T,
 * "success_since_ms":T}. from_json is strict: -EBADMSG naming nothing partial. */
json_object *ob_backoff_to_json(const ObBackoff *b);
int ob_backoff_from_json(json_object *o, ObBackoff *ret);
