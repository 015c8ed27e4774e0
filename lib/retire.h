/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retired credential slots (docs/rotation.md, step 6): every generation a rotation replaced
 * is kept for rotation.old_key_grace_days after its retirement, then its key and certificate
 * are deleted, however many rotations committed in between.
 *
 * The list of retired generations (with the time each was retired) is saved in state.json
 * ("retired"), but the slots on disk are the truth: a sweep first reconciles the list with the
 * slot folders (ob_creds_list), so a slot the list does not know (left by an older version that
 * remembered only the last retirement, "previous", or by a crash) is retired from the sweep's
 * time on, and a listed slot that is gone is forgotten. The current generation and the one
 * being built are never touched. Time is the caller's (wall clock, ms); the caller sweeps only
 * while the clock is plausible, so a board that boots in 1970 deletes nothing.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "fsops.h"
#include "key-provider.h"

#define OB_RETIRE_MAX 1024 /* listed generations; more are found on disk later */

typedef struct ObRetired {
        uint64_t gen;
        int64_t retired_ms;
} ObRetired;

typedef struct ObRetireList {
        ObRetired *items; /* ascending by gen, no duplicates */
        size_t n;
} ObRetireList;

/* Record gen as retired at retired_ms (an earlier record of gen is kept: the grace already
 * runs). 0; -EINVAL gen 0; -E2BIG the list is full; -ENOMEM. */
int ob_retire_add(ObRetireList *l, uint64_t gen, int64_t retired_ms);
/* Forget gen (nothing if it is not listed). */
void ob_retire_remove(ObRetireList *l, uint64_t gen);
bool ob_retire_contains(const ObRetireList *l, uint64_t gen);
void ob_retire_clear(ObRetireList *l);
/* The newest retirement (the largest gen), or NULL. */
const ObRetired *ob_retire_newest(const ObRetireList *l);

/* When the next listed slot is due for deletion (earliest retired_ms + grace_ms), or -1. */
int64_t ob_retire_next_due(const ObRetireList *l, int64_t grace_ms);

/*
 * Reconcile the list with the generations on disk (ascending, as ob_creds_list gives them):
 * unlisted ones other than keep1/keep2 (the current and the pending generation, 0 for none)
 * are added as retired at now; listed ones not on disk, or equal to keep1/keep2, are dropped; a
 * retirement later than now (the clock was stepped back since) restarts at now. Returns 1 when
 * the list changed, 0 when not, -ENOMEM.
 */
int ob_retire_reconcile(ObRetireList *l, const uint64_t *on_disk, size_t n, uint64_t keep1,
                        uint64_t keep2, int64_t now);

/* JSON: [{"generation": N, "retired_ms": T}, ...]. NULL on OOM. */
json_object *ob_retire_to_json(const ObRetireList *l);
/* Add the entries of a JSON array as ob_retire_to_json writes it. -EBADMSG names nothing: the
 * caller says "state: \"retired\" is malformed". */
int ob_retire_from_json(json_object *arr, ObRetireList *l);

typedef struct ObRetireSweep {
        const char *state_dir;
        const ObFsOps *fs;   /* NULL: the real filesystem */
        ObKeyProvider *keys; /* destroys each retired key (a TPM blob, a key file) */
        uint64_t current;    /* never deleted */
        uint64_t pending;    /* a rotation's slot being built, 0 for none: never deleted */
        int64_t grace_ms;
} ObRetireSweep;

typedef struct ObRetireResult {
        bool changed;         /* the list changed: save it */
        unsigned deleted;     /* slots deleted */
        uint64_t first, last; /* the lowest and highest generation deleted */
        int error;            /* the first failure to delete (negative errno), 0 if none */
        uint64_t error_gen;   /* ... and its generation */
} ObRetireResult;

/* Delete slot gen at once, whatever its grace (a new slot needs its number), and forget it.
 * 0 (also when there was no such slot); -EBUSY it is s->current or s->pending; or the errno of
 * ob_creds_remove_slot (it stays listed then). */
int ob_retire_delete_now(ObRetireList *l, const ObRetireSweep *s, uint64_t gen);

/*
 * Reconcile l with the slots on disk, then delete every retired slot whose grace has passed at
 * now: the key through the key provider, then the slot folder (ob_creds_remove_slot). A slot that
 * cannot be deleted stays listed (the next sweep tries again) and is reported in *ret. Returns 0,
 * or the negative errno of listing the slots (nothing deleted then).
 */
int ob_retire_sweep(ObRetireList *l, const ObRetireSweep *s, int64_t now, ObRetireResult *ret);
