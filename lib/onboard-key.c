/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device's identity and key for the onboarding machine: the templates (client id, thing
 * name, CSR subject, template parameters) and the hardware token they may name, the device key
 * in the pending credential slot (made or checked before anything needs the network), and
 * signing the CSR with it. Called by the method modules and the flow engine; calls the flow
 * engine's failure path (onboard-private.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "onboard-key.h"
#include "onboard-private.h"
#include "onboard.h"

/* ------------------------------------------------------------------ identity and templates */

const char *ob_onboard_hardware_token(ObOnboard *ob)
{
        return ob->d.hardware_token ? ob->d.hardware_token(ob->d.userdata) : NULL;
}

int ob_onboard_expand(ObOnboard *ob, const char *tmpl, char **ret)
{
        const char *thing = ob->thing_name  ? ob->thing_name
                            : ob->cur_thing ? ob->cur_thing
                                            : ob->d.serial;
        /* only a template that names it pays for the token */
        const char *token = strstr(tmpl, "{hardware_token}") ? ob_onboard_hardware_token(ob) : NULL;
        const char *vars[] = {
                "serial",
                ob->d.serial,
                "machine_id",
                ob->d.machine_id ? ob->d.machine_id : "",
                "hardware_token",
                token ? token : "",
                "thing_name",
                thing,
                NULL,
        };

        return ob_config_template_expand(tmpl, vars, ret);
}

int ob_onboard_expand_or_fail(ObOnboard *ob, const char *tmpl, const char *key, const char *code,
                              int64_t now, char **ret)
{
        int r = ob_onboard_expand(ob, tmpl, ret);

        if (r < 0)
                ob_onboard_fail_for_good(ob, code, now, "%s cannot be expanded", key);
        return r;
}

/* ------------------------------------------------------------------ the key */

int ob_onboard_csr_sign(void *userdata, const uint8_t *digest, size_t digest_len, uint8_t **ret_sig,
                        size_t *ret_sig_len)
{
        ObOnboard *ob = userdata;
        char path[512];

        if (!ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                return -ENAMETOOLONG;
        return ob->d.keys->ops->sign_digest(ob->d.keys, path, digest, digest_len, ret_sig,
                                            ret_sig_len);
}

bool ob_onboard_key_error_is_local_trouble(int r)
{
        /* the TPM is there but cannot serve us now: retry; anything else means the blob is
         * unusable here (corrupt, made under another SRK, TPM cleared) */
        return r == -ENODEV || r == -ENOLCK || r == -EBUSY || r == -EAGAIN || r == -EACCES ||
               r == -ENOMEM || r == -EIO || r == -ENOSPC || r == -EROFS;
}

/* Make sure the slot's device key exists and is usable; *ret_pub gets its public key. */
int ob_onboard_ensure_key(ObOnboard *ob, int64_t now, EVP_PKEY **ret_pub)
{
        ObKeyProvider *k = ob->d.keys;
        char path[512];
        int r;

        if (ob->gen == 0)
                ob->gen = ob->cur_gen + 1;
        r = ob_onboard_slot_create(ob, now);
        if (r < 0)
                return r;
        if (!ob_onboard_slot_file(ob, "device.key", path, sizeof(path)))
                return -ENAMETOOLONG;

        r = k->ops->load(k, path, ret_pub);
        if (r == 0)
                return 0;
        if (r != -ENOENT) {
                if (ob_onboard_key_error_is_local_trouble(r)) {
                        ob_onboard_fail_local(ob, "key-unavailable", 0, now, "device key: %s",
                                              k->ops->last_error(k));
                        return r;
                }
                ob_onboard_notify(ob, OB_CHANGE_NOTICE,
                                  "device key %s is unusable (%s); creating a new one", path,
                                  k->ops->last_error(k));
                (void)k->ops->destroy(k, path);
                if (ob->stage >= OB_STAGE_CERT_ISSUED)
                        ob_onboard_discard_pending_cert(ob);
        }

        ob_onboard_set_activity(ob, OB_ACT_CREATE_KEY, -1);
        r = k->ops->create(k, path, ob->c->key.type, ret_pub);
        if (r < 0) {
                ob_onboard_fail_local(ob, "key-create-failed", 0, now,
                                      "cannot create the device key: %s", k->ops->last_error(k));
                return r;
        }
        ob_onboard_notify(ob, OB_CHANGE_NOTICE, "created the device key %s", path);
        return 0;
}
