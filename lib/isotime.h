/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calendar arithmetic on 64-bit seconds since the epoch, independent of time_t's width: a
 * 32-bit-time_t build (armhf on Debian 12) shows AWS's 2049-12-31T23:59:59Z and a CA's
 * 9999-12-31T23:59:59Z as they are, where gmtime_r() on a (time_t) cast wrapped them to 1913
 * and 1969. Pure (no clock, no locale), UTC only.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Smallest and largest seconds formatted: 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. */
#define OB_ISOTIME_MIN (-62167219200LL)
#define OB_ISOTIME_MAX 253402300799LL

/* Writes s as "YYYY-MM-DDTHH:MM:SSZ" (20 characters) into buf. Returns true; false (buf holds
 * "@<seconds>") when s is outside OB_ISOTIME_MIN..MAX or size is below 21 (then buf gets what
 * fits). */
bool ob_isotime_format(int64_t s, char *buf, size_t size);

/* The same as a JSON string (a new reference), NULL (JSON null) outside the range or without
 * memory: how status reports and state files show a time. */
struct json_object *ob_isotime_json(int64_t s);

/* Seconds since the epoch of the UTC date (days from civil, proleptic Gregorian). */
int64_t ob_isotime_from_civil(int64_t year, unsigned month, unsigned day, unsigned hour,
                              unsigned minute, unsigned second);
