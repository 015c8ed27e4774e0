/* SPDX-License-Identifier: Apache-2.0 */
/* Forgetting the identity: agentctl reprovision and decommission. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cert-accept.h"
#include "creds.h"
#include "csr.h"
#include "factory-paths.h"
#include "fleet-proto.h"
#include "health.h"
#include "isotime.h"
#include "log.h"
#include "onboard-factory.h"
#include "onboard-private.h"
#include "onboard.h"
#include "retire.h"
#include "x509.h"

/* ------------------------------------------------------------------ forgetting */

static bool slot_name(const char *name, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        if (name[0] < '1' || name[0] > '9')
                return false;
        errno = 0;
        v = strtoull(name, &end, 10);
        if (errno || *end)
                return false;
        *ret = v;
        return true;
}

int ob_onboard_forget(ObOnboard *ob, bool decommission, bool dry_run, int64_t now_ms,
                      json_object **ret_deleted)
{
        _cleanup_(json_object_putp) json_object *deleted = json_object_new_array();
        _cleanup_free_ char *dir = NULL, *current = NULL;
        const ObFsOps *fs = ob_fs_ops(ob->d.fs);
        char **names = NULL;

        if (!deleted || asprintf(&dir, "%s/credentials", ob->c->paths.state_dir) < 0 ||
            asprintf(&current, "%s/current", dir) < 0)
                return -ENOMEM;
        if (!dry_run) {
                ob_onboard_disconnect(ob);
                /* nothing points at a slot any more before slots go */
                if (ob_fs_unlink(fs, current) < 0 && errno != ENOENT)
                        return -errno;
        }
        /* A directory that cannot be read is an error, never "nothing to delete": with a 32-bit
         * off_t, readdir() fails with EOVERFLOW on file systems with 64-bit directory offsets, and
         * the key material would have stayed while reprovisioning reported success. */
        int r = 0;
        int dfd = fs->openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (dfd < 0 && errno != ENOENT)
                return -errno;
        if (dfd >= 0) {
                r = fs->list_dir(dfd, &names) < 0 ? ob_negative_errno() : 0;
                (void)fs->close(dfd);
                if (r < 0)
                        return r;
        }
        for (char **de = names; de && *de; de++) {
                _cleanup_free_ char *key = NULL, *slot = NULL;
                uint64_t gen;

                if (!slot_name(*de, &gen))
                        continue;
                slot = ob_creds_slot_dir(ob->c->paths.state_dir, gen);
                key = ob_creds_slot_file(ob->c->paths.state_dir, gen, "device.key");
                if (!slot || !key) {
                        r = -ENOMEM;
                        break;
                }
                json_object_array_add(deleted, json_object_new_string(slot));
                if (dry_run)
                        continue;
                (void)ob->d.keys->ops->destroy(ob->d.keys, key);
                int q = ob_creds_remove_slot(ob->c->paths.state_dir, gen, ob->d.fs);
                if (q < 0 && q != -ENOENT && r == 0)
                        r = q;
        }
        ob_fs_list_free(names);
        if (r < 0)
                return r;
        if (dry_run)
                goto out;

        ob_onboard_discard_pending_cert(ob);
        free(ob->thing_name);
        free(ob->cur_thing);
        free(ob->cur_cert_id);
        ob->thing_name = ob->cur_thing = ob->cur_cert_id = NULL;
        json_object_put(ob->devconf);
        ob->devconf = NULL;
        ob->gen = ob->cur_gen = 0;
        ob->cur_not_before_s = ob->cur_not_after_s = ob->onboarded_ms = 0;
        ob_retire_clear(&ob->retired);
        ob->rotating = ob->rotate_requested = false;
        ob->refusals = 0;
        ob->post_commit = POST_COMMIT_NONE; /* the identity it would announce is gone */
        free(ob->post_commit_old_id);
        ob->post_commit_old_id = NULL;
        ob_onboard_drop_chain_file(ob);
        ob->decommissioned = decommission;
        ob_backoff_init(&ob->backoff);
        ob->err_code[0] = 0;
        ob->err_class = -1;
        ob->stage = OB_STAGE_NEW;
        ob_onboard_persist_or_say(ob);
        ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                          "%s: the identity and %zu credential generation(s) deleted",
                          decommission ? "decommissioned" : "reprovisioning",
                          json_object_array_length(deleted));
        /* decommissioned: start() stops at once; reprovision: onboarding starts over */
        (void)ob_onboard_start(ob, now_ms);
out:
        if (ret_deleted)
                *ret_deleted = TAKE_PTR(deleted);
        return 0;
}
