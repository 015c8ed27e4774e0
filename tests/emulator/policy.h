/* SPDX-License-Identifier: Apache-2.0 */
/*
 * AWS IoT policy evaluation for the emulator: Allow/Deny statements, actions iot:Connect,
 * iot:Publish, iot:Subscribe, iot:Receive, resources as ARNs with `*` and `?` globs and the
 * policy variables ${iot:ClientId} and ${iot:Connection.Thing.ThingName}.
 * Pure: json-c only, no broker, no clock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

typedef enum ObEmuAction {
        OB_EMU_ACTION_CONNECT,
        OB_EMU_ACTION_PUBLISH,
        OB_EMU_ACTION_SUBSCRIBE,
        OB_EMU_ACTION_RECEIVE,
} ObEmuAction;

typedef struct ObEmuPolicyContext {
        const char *region;     /* e.g. "us-east-1" */
        const char *account;    /* 12 digits */
        const char *client_id;  /* ${iot:ClientId} */
        const char *thing_name; /* ${iot:Connection.Thing.ThingName}; NULL if none attached */
} ObEmuPolicyContext;

/* "iot:Publish" etc. */
const char *ob_emu_action_name(ObEmuAction action);

/* Glob match: `*` any run of characters (also '/'), `?` exactly one. Case-sensitive. */
bool ob_emu_glob_match(const char *pattern, const char *text);

/*
 * Decide whether the policy documents allow `action` on `resource` (the part after the account,
 * e.g. "topic/$aws/certificates/create/json", "topicfilter/...", "client/dev1"). An explicit
 * Deny in any document wins; no matching Allow means deny. Malformed statements match nothing.
 */
bool ob_emu_policy_allows(json_object *const *docs, size_t n_docs, ObEmuAction action,
                          const char *resource, const ObEmuPolicyContext *ctx);

/* Check that a policy document has the AWS shape (Statement array of Effect/Action/Resource).
 * Returns 0 or -EINVAL. */
int ob_emu_policy_validate(json_object *doc);
