/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT Device Shadow documents for the emulator (docs/emulator.md, "Shadows"): update, get and
 * delete of one shadow document with AWS's payload shapes — the request state document
 * (state.desired / state.reported, clientToken, version), the accepted, documents and delta
 * response documents, and the error document {code, message, timestamp, clientToken} with AWS's
 * codes (400, 404, 409, 413). Null deletes a member; objects merge; anything else replaces.
 * Pure: json-c only. It computes the new stored document and the answers; the plugin stores and
 * publishes them (the topics are the caller's business).
 *
 * The stored document: {"state": {"desired": {...}, "reported": {...}}, "metadata":
 * {"desired": {...}, "reported": {...}}, "version": N} (a member absent when empty).
 */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

/* AWS's service limits for a named or classic shadow (docs: "Device Shadow service limits"). */
#define OB_EMU_SHADOW_MAX_STATE    8192 /* bytes of the JSON state document */
#define OB_EMU_SHADOW_MAX_DEPTH    6    /* levels of nesting below desired/reported */
#define OB_EMU_SHADOW_MAX_TOKEN    64   /* clientToken bytes */
#define OB_EMU_SHADOW_MAX_NAME     64   /* shadowName bytes */
#define OB_EMU_SHADOW_MAX_DOCUMENT 8192 /* bytes of the whole update request payload */

typedef struct ObEmuShadowAnswer {
        int code;               /* 0 accepted, else the error document's code */
        json_object *accepted;  /* update/get/delete accepted, or the error document */
        json_object *documents; /* update: {previous, current, timestamp, clientToken} */
        json_object *delta;     /* update: desired that differs from reported, or NULL */
        json_object *stored;    /* update: the new stored document (delete: NULL) */
} ObEmuShadowAnswer;

void ob_emu_shadow_answer_clear(ObEmuShadowAnswer *a);

/* Is name a valid shadowName ([a-zA-Z0-9:_-], 1..64 bytes)? */
int ob_emu_shadow_name_valid(const char *name);

/*
 * Apply the update request (payload, len bytes) to stored (NULL: no shadow yet) at now_s. On
 * success a->code is 0 and every answer is set (delta only when desired and reported differ
 * in a member the request set in desired); on failure a->accepted is the error document and
 * stored is unchanged. Returns a->code.
 */
int ob_emu_shadow_update(json_object *stored, const char *payload, size_t len, int64_t now_s,
                         ObEmuShadowAnswer *a);

/* GET: the state with its delta, metadata, version, timestamp (404 when stored is NULL; the
 * message names what: "No shadow exists with name: 'THING~NAME'" with name "THING~NAME"). */
int ob_emu_shadow_get(json_object *stored, const char *payload, size_t len, const char *name,
                      int64_t now_s, ObEmuShadowAnswer *a);

/* DELETE: {version, timestamp, clientToken} (404 like GET). The caller forgets the document. */
int ob_emu_shadow_delete(json_object *stored, const char *payload, size_t len, const char *name,
                         int64_t now_s, ObEmuShadowAnswer *a);
