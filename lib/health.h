/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pure parts of `agentctl check` (agent/check.c, docs/operations.md "agentctl check"):
 * result names and their order, the worst result of a run and its exit code, and the
 * certificate rotation window. No clock reads: the caller passes the time.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* In order of severity: a skipped check counts like a passed one. */
typedef enum ObHealthResult {
        OB_HEALTH_PASS,
        OB_HEALTH_SKIP,
        OB_HEALTH_WARN,
        OB_HEALTH_FAIL,
        _OB_HEALTH_RESULT_MAX,
} ObHealthResult;

/* Exit codes of `agentctl check` (agentctl(8)). 2 is left out: shells use it for misuse. */
#define OB_HEALTH_EXIT_PASS 0
#define OB_HEALTH_EXIT_FAIL 1
#define OB_HEALTH_EXIT_WARN 3

/* "pass", "skip", "warn", "fail"; NULL out of range. */
const char *ob_health_result_to_string(ObHealthResult r);

/* The worst of n results: OB_HEALTH_PASS (also for n == 0 or only skips), _WARN or _FAIL. */
ObHealthResult ob_health_worst(const ObHealthResult *results, size_t n);

/* The exit code for a worst result: 0 pass, 3 warn, 1 fail. */
int ob_health_exit_code(ObHealthResult worst);

/*
 * When a certificate valid not_before..not_after (Unix seconds) is due for rotation: the
 * earliest of not_before + fraction of the lifetime, not_after - days_before_expiry days (0 =
 * off; never earlier than half the lifetime) and not_before + max_age_days days (0 = off). The
 * rule of rotation.lifetime_fraction, .days_before_expiry and .max_age_days
 * (docs/configuration.md); ob_onboard_next_rotation() uses it and adds a minimum distance from
 * the last commit.
 * 0 and *ret_due; -EINVAL when not_after <= not_before or fraction is not in (0, 1).
 */
int ob_health_rotation_due(int64_t not_before, int64_t not_after, double fraction,
                           uint32_t days_before_expiry, uint32_t max_age_days, int64_t *ret_due);

/*
 * Judge a certificate at now_s: OB_HEALTH_FAIL expired (now >= not_after) or not yet valid
 * (now < not_before); OB_HEALTH_WARN inside the rotation window (now >= due); else PASS.
 */
ObHealthResult ob_health_cert_validity(int64_t now_s, int64_t not_before, int64_t not_after,
                                       int64_t due);

/* Above this offset from a server's time the clock check warns (seconds). */
#define OB_HEALTH_CLOCK_OFFSET_WARN_S 60

/*
 * The server's time from TLS 1.2's ServerHello (the first four bytes of its random,
 * gmt_unix_time), or -1 when they are not plausibly a time: servers today send random bytes
 * there (and TLS 1.3 always does). Plausible: inside the server certificate's validity
 * (cert_not_before..cert_not_after) and within a day of now_s; random bytes pass that with a
 * chance of about 1 in 50000.
 */
int64_t ob_health_server_time(uint32_t gmt_unix_time, int64_t cert_not_before,
                              int64_t cert_not_after, int64_t now_s);
