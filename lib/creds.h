/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Credential generations on disk (docs/state.md, "Credentials"): one folder per generation,
 * "<state_dir>/credentials/<gen>/", and "credentials/current", a symlink to "<gen>" that is
 * replaced with rename(2), so an application reading "current/device.crt" sees either the old
 * or the new generation, never a mixture and never nothing.
 *
 * Generations are decimal numbers >= 1. Slot folders and credentials/ are created 0750 (the
 * agent's group may read; see docs/state.md). File modes are the caller's. ops NULL: the real
 * filesystem. The functions are not safe against a concurrent commit from another process: one
 * agent owns the state directory.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fsops.h"

#define OB_CREDS_DIR          "credentials"
#define OB_CREDS_CURRENT      "current"
#define OB_CREDS_DIR_MODE     0750
#define OB_CREDS_MAX_NAME_LEN 64

/* "<state_dir>/credentials/<gen>", malloc'ed; NULL on OOM. */
char *ob_creds_slot_dir(const char *state_dir, uint64_t gen);
/* "<state_dir>/credentials/<gen>/<name>", malloc'ed; NULL on OOM. */
char *ob_creds_slot_file(const char *state_dir, uint64_t gen, const char *name);

/*
 * Create credentials/ and credentials/<gen>/ (mode 0750 each) below an existing state_dir; an
 * existing folder is kept as it is, with its files. The new directory entries are fsync'ed.
 * -EINVAL gen 0, -ENOTDIR something else is in the way, or the errno of the failed call.
 */
int ob_creds_slot_create(const char *state_dir, uint64_t gen, const ObFsOps *ops);

/*
 * Write the file name (letters, digits, '.', '_', '-', not starting with '.', at most 64 bytes,
 * e.g. "device.crt") into slot gen
 * atomically: temp file, fsync, rename, fsync of the slot folder (ob_fs_write_file_atomic).
 * The slot must exist. -EBUSY when gen is the current generation (a committed slot is never
 * changed in place), -EINVAL bad name or gen 0, or the errno of the failed call.
 */
int ob_creds_write(const char *state_dir, uint64_t gen, const char *name, const void *data,
                   size_t len, mode_t mode, const ObFsOps *ops);

/*
 * Make credentials/current point at gen: symlink "current.tmp" -> "<gen>", rename it over
 * "current", fsync credentials/. The slot folder must exist (-ENOENT otherwise). On failure
 * "current" is unchanged (old generation, or still absent) and "current.tmp" is removed; a
 * failure of the final fsync is reported although the switch is then already visible.
 */
int ob_creds_commit(const char *state_dir, uint64_t gen, const ObFsOps *ops);

/*
 * The generation "current" points at (ops NULL: the real filesystem). 0 ok; -ENOENT no current
 * link; -EBADMSG "current" is not a symlink to a canonical decimal number >= 1. Does not check that
 * the slot folder exists.
 */
int ob_creds_current(const char *state_dir, uint64_t *ret_gen, const ObFsOps *ops);

/*
 * The generations that have a slot folder in <state_dir>/credentials: entries named by a
 * canonical decimal number >= 1 that are directories (not symlinks); "current" and anything
 * else is left out. Ascending, in *ret (free(); NULL when there are none), the count in *ret_n;
 * at most OB_CREDS_MAX_LIST (the rest is found once some are removed). No credentials/ is an
 * empty list. -ENOMEM, or the errno of the failed call. ops NULL: the real filesystem.
 */
#define OB_CREDS_MAX_LIST 4096
int ob_creds_list(const char *state_dir, uint64_t **ret, size_t *ret_n, const ObFsOps *ops);

/*
 * Remove slot gen: its files, then the folder, then fsync credentials/. Refuses the current
 * generation (-EBUSY) and any slot while "current" cannot be read (its error, e.g. -EBADMSG).
 * -ENOENT no such slot; -EISDIR when the slot holds a subfolder; or the errno of the failed
 * call (files already removed stay removed).
 */
int ob_creds_remove_slot(const char *state_dir, uint64_t gen, const ObFsOps *ops);
