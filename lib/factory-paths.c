/* SPDX-License-Identifier: Apache-2.0 */
/* Factory identity paths (factory-paths.h, docs/state.md). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "factory-paths.h"
#include "fsops.h"
#include "key-provider.h"
#include "macro.h"

char *ob_factory_dir(const char *state_dir)
{
        char *p;

        if (asprintf(&p, "%s/" OB_FACTORY_DIR, state_dir) < 0)
                return NULL;
        return p;
}

char *ob_factory_file(const char *state_dir, const char *name)
{
        char *p;

        if (asprintf(&p, "%s/" OB_FACTORY_DIR "/%s", state_dir, name) < 0)
                return NULL;
        return p;
}

void ob_factory_paths_done(ObFactoryPaths *p)
{
        free(p->cert);
        free(p->key);
        free(p->chain);
        *p = (ObFactoryPaths){0};
}

int ob_factory_paths(const ObConfig *c, ObFactoryPaths *ret)
{
        ObFactoryPaths p = {0};
        const char *sd = c->paths.state_dir;

        p.cert_factory = !c->provisioning.device_cert;
        p.cert = p.cert_factory ? ob_factory_file(sd, OB_FACTORY_CERT)
                                : strdup(c->provisioning.device_cert);
        if (c->provisioning.device_key)
                p.key = strdup(c->provisioning.device_key);
        else if (c->key.backend == OB_KEY_BACKEND_TPM && c->tpm.vendor_key_handle) {
                p.key_handle = true;
                if (asprintf(&p.key, OB_KEY_PATH_HANDLE_PREFIX "0x%08x", c->tpm.vendor_key_handle) <
                    0)
                        p.key = NULL;
        } else
                p.key = ob_factory_file(sd, OB_FACTORY_KEY);
        p.chain_factory = !c->provisioning.device_chain;
        p.chain = p.chain_factory ? ob_factory_file(sd, OB_FACTORY_CHAIN)
                                  : strdup(c->provisioning.device_chain);
        if (!p.cert || !p.key || !p.chain) {
                ob_factory_paths_done(&p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

/* The "handle:0x........" recorded next to slot_key (OB_SLOT_KEY_HANDLE in the same folder):
 * 1 and ret filled, 0 when there is no such file or it does not hold such a path. */
static int recorded_handle(const char *slot_key, char *ret, size_t size, const ObFsOps *ops)
{
        _cleanup_free_ char *path = NULL;
        const char *slash = strrchr(slot_key, '/');
        char buf[64] = "";
        size_t n = strlen(OB_KEY_PATH_HANDLE_PREFIX), len;

        if (asprintf(&path, "%.*s" OB_SLOT_KEY_HANDLE, slash ? (int)(slash - slot_key + 1) : 0,
                     slot_key) < 0)
                return -ENOMEM;
        if (ob_fs_read_line(ops, path, buf, sizeof(buf)) < 0)
                return 0;
        len = strcspn(buf, "\n");
        buf[len] = 0;
        if (len != n + 10 || strncmp(buf, OB_KEY_PATH_HANDLE_PREFIX "0x", n + 2) != 0 ||
            strspn(buf + n + 2, "0123456789abcdefABCDEF") != 8 || len >= size)
                return 0;
        memcpy(ret, buf, len + 1);
        return 1;
}

char *ob_factory_slot_key(const ObConfig *c, const char *slot_key, const ObFsOps *ops)
{
        char rec[32], *p;
        int r;

        if (ob_fs_access(ops, slot_key, F_OK) == 0)
                return strdup(slot_key);
        r = recorded_handle(slot_key, rec, sizeof(rec), ops);
        if (r < 0)
                return NULL;
        if (r > 0)
                return strdup(rec);
        if (c->key.backend != OB_KEY_BACKEND_TPM || !c->tpm.vendor_key_handle)
                return strdup(slot_key);
        if (asprintf(&p, OB_KEY_PATH_HANDLE_PREFIX "0x%08x", c->tpm.vendor_key_handle) < 0)
                return NULL;
        return p;
}
