/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fleet health in a named shadow (issue 23, docs/emulator.md "Shadows"): what the agent reports
 * in its thing's named shadow `onboard-agent`, built from the status report (lib/onboard.h,
 * ob_onboard_status()) and what the agent knows of itself and its TPM. Pure: json-c only; the
 * caller publishes the request on the topic ob_shadow_topic() names when it is connected
 * anyway, and keeps what it last reported to compare.
 *
 * The request: {"state": {"reported": {"schema": 1, "agent_version", "method", "state",
 * "thing_name", "certificate_id", "certificate_not_after", "certificate_not_after_s" (the same
 * as epoch seconds: fleet indexing's range queries compare numbers), "next_rotation", "generation",
 * "last_error": {"code", "class", "time"} | null, "tpm": {"manufacturer", "firmware"} | null}}}
 * (a member the status does not have is null). At most OB_SHADOW_REPORT_MAX bytes: each string
 * is cut to its bound, so the request always fits.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#define OB_SHADOW_NAME          "onboard-agent"
#define OB_SHADOW_REPORT_SCHEMA 1
#define OB_SHADOW_REPORT_MAX    1024 /* bytes of the request, as the issue asks (< 1 KiB) */

typedef struct ObShadowReportInfo {
        const char *agent_version;    /* PACKAGE_VERSION */
        const char *tpm_manufacturer; /* NULL: no TPM (software keys) or not known */
        const char *tpm_firmware;
} ObShadowReportInfo;

/* The "reported" object for status (ob_onboard_status()'s JSON). NULL only without memory. */
json_object *ob_shadow_report_reported(json_object *status, const ObShadowReportInfo *info);

/* The update request around reported ({"state": {"reported": ...}}; takes a reference). */
json_object *ob_shadow_report_request(json_object *reported);

/* Does reported differ from what was last reported (NULL: nothing yet)? Only then is an update
 * sent: the shadow is written when something changed, not at every connection. */
bool ob_shadow_report_changed(json_object *reported, json_object *last);

/*
 * "$aws/things/THING/shadow/name/onboard-agent/OP" into buf (OP: "update", "update/accepted",
 * "update/rejected", "get", ...). -ENAMETOOLONG when it does not fit, -EINVAL for an empty or
 * wildcard-bearing thing name or OP; 0.
 */
int ob_shadow_topic(char *buf, size_t size, const char *thing, const char *op);
