/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The emulator's registry commands behind AWS IoT's control plane (tests/emulator/api-server.py,
 * docs/emulator-cli.md): things and their principals, policies created, detached and deleted,
 * certificates deleted, provisioning templates with AWS's fields. Each follows the AWS API's
 * rules for what may be changed (a certificate must not be ACTIVE to be deleted, a thing with
 * principals is not deleted, ...) and says which AWS exception applies when not.
 *
 * Pure: the registry object is changed in place; saving, logging and the inbox are the
 * plugin's (plugin.c, admin_op).
 */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

/*
 * Run the inbox command `cmd` ({"op": NAME, ...}) on the registry `reg` at time `now` (seconds
 * since the epoch). Returns 0 when NAME is not one of these commands (nothing changed), 1 when it
 * was done (answer fields added to `res`), or a negative errno with *ret_error set to a static
 * text and `res` given "errorCode" (AWS's exception name) and "message" (the detail); on an
 * error the registry is unchanged.
 */
int ob_emu_admin_cmd(json_object *reg, json_object *cmd, int64_t now, json_object *res,
                     const char **ret_error);
