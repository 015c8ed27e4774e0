/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "macro.h"
#include "store.h"

#define MAGIC "ONBOARD-STATE "

struct ObStore {
        const ObFsOps *ops;
        int dirfd;
        char *name;
        char *prev_name;
        char *tmp_name;
        char *prevtmp_name;
        uint64_t generation;
        bool main_good; /* the main file is known intact: it may become the .prev copy */
};

ObStore *ob_store_free(ObStore *s)
{
        if (!s)
                return NULL;
        if (s->dirfd >= 0)
                s->ops->close(s->dirfd);
        free(s->name);
        free(s->prev_name);
        free(s->tmp_name);
        free(s->prevtmp_name);
        free(s);
        return NULL;
}

int ob_store_open(const char *dir, const char *name, const ObFsOps *ops, ObStore **ret)
{
        _cleanup_(ob_store_freep) ObStore *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ops = ops ? ops : &ob_fsops_posix;
        s->dirfd = -1;
        if (!name || !*name || strchr(name, '/'))
                return -EINVAL;
        if (asprintf(&s->prev_name, "%s.prev", name) < 0 ||
            asprintf(&s->tmp_name, ".%s.tmp", name) < 0 ||
            asprintf(&s->prevtmp_name, ".%s.prev.tmp", name) < 0) {
                s->prev_name = s->tmp_name = s->prevtmp_name = NULL;
                return -ENOMEM;
        }
        s->name = strdup(name);
        if (!s->name)
                return -ENOMEM;
        s->dirfd = s->ops->openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (s->dirfd < 0)
                return ob_negative_errno();
        *ret = TAKE_PTR(s);
        return 0;
}

uint64_t ob_store_generation(const ObStore *s)
{
        return s->generation;
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
        unsigned char md[32];
        unsigned int len = 0;

        EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
        for (size_t i = 0; i < 32; i++)
                snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int ob_store_parse(const char *data, size_t size, json_object **ret, uint64_t *ret_generation,
                   char *reason, size_t reason_size)
{
#define BAD(...)                                                                                   \
        do {                                                                                       \
                snprintf(reason, reason_size, __VA_ARGS__);                                        \
                return -EBADMSG;                                                                   \
        } while (0)
        const char *nl;
        char header[257], hex[65];
        unsigned format;
        uint64_t generation;
        size_t length;
        int consumed = 0;

        if (!data || size == 0)
                BAD("empty file");
        nl = memchr(data, '\n', OB_MIN(size, (size_t)256));
        if (!nl)
                BAD("no header line (torn or not a state file)");
        memcpy(header, data, (size_t)(nl - data));
        header[nl - data] = 0;
        if (strncmp(header, MAGIC, strlen(MAGIC)) != 0)
                BAD("bad magic (not a state file)");
        if (strlen(header) != (size_t)(nl - data))
                BAD("malformed header");
        /* NOLINTNEXTLINE(cert-err34-c): out-of-range numbers fail the canonical check below */
        if (sscanf(header + strlen(MAGIC), "%u %" SCNu64 " sha256:%64[0-9a-f] %zu%n", &format,
                   &generation, hex, &length, &consumed) != 4 ||
            header[strlen(MAGIC) + (size_t)consumed] != 0 || strlen(hex) != 64)
                BAD("malformed header");
        /* Only the canonical spelling the writer produces: sscanf alone also takes signs ("-1"
         * is SIZE_MAX), leading zeros, missing spaces and out-of-range numbers (saturated). */
        char canonical[sizeof(header)];
        snprintf(canonical, sizeof(canonical), MAGIC "%u %" PRIu64 " sha256:%s %zu", format,
                 generation, hex, length);
        if (strcmp(canonical, header) != 0)
                BAD("malformed header");
        if (format > OB_STORE_FORMAT) {
                snprintf(reason, reason_size, "format %u is newer than this agent's %d", format,
                         OB_STORE_FORMAT);
                return -EPROTONOSUPPORT;
        }
        if (format < 1)
                BAD("unknown format %u", format);
        const char *body = nl + 1;
        size_t avail = size - (size_t)(body - data);
        if (avail == 0 || avail - 1 != length || body[length] != '\n')
                BAD("payload is %zu bytes, header says %zu (torn write)", avail > 0 ? avail - 1 : 0,
                    length);
        char actual[65];
        sha256_hex(body, length, actual);
        if (strcmp(actual, hex) != 0)
                BAD("checksum mismatch (corrupt)");
        if (memchr(body, 0, length))
                BAD("NUL byte in payload");

        json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_object *obj = json_tokener_parse_ex(tok, body, (int)length);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t parsed = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!obj || jerr != json_tokener_success || parsed != length ||
            !json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                BAD("payload is not a JSON object");
        }
        *ret = obj;
        *ret_generation = generation;
        return 0;
#undef BAD
}

static int read_file(ObStore *s, const char *name, char **ret, size_t *ret_size)
{
        int fd = s->ops->openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
        OB_FS_CLOSE_AT_EXIT(s->ops, fd);
        struct stat st;

        if (fd < 0)
                return ob_negative_errno();
        if (s->ops->fstat(fd, &st) < 0)
                return ob_negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (st.st_size > OB_STORE_MAX_SIZE)
                return -EFBIG;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t have = 0;
        for (;;) {
                if (have > (size_t)OB_STORE_MAX_SIZE)
                        return -EFBIG;
                ssize_t k = s->ops->read(fd, buf + have, (size_t)st.st_size + 1 - have);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return ob_negative_errno();
                }
                if (k == 0)
                        break;
                have += (size_t)k;
                if (have == (size_t)st.st_size + 1)
                        return -EFBIG; /* grew while reading */
        }
        buf[have] = 0;
        *ret = TAKE_PTR(buf);
        *ret_size = have;
        return 0;
}

static int load_one(ObStore *s, const char *name, json_object **ret, uint64_t *gen, char *reason,
                    size_t reason_size)
{
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = read_file(s, name, &data, &size);

        if (r < 0) {
                snprintf(reason, reason_size, "%s",
                         r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                return r;
        }
        return ob_store_parse(data, size, ret, gen, reason, reason_size);
}

int ob_store_load(ObStore *s, json_object **ret, ObStoreLoadInfo *info)
{
        ObStoreLoadInfo dummy;
        json_object *obj = NULL;
        uint64_t gen = 0;
        char prev_reason[160] = "";
        int r, rp;

        if (!info)
                info = &dummy;
        memset(info, 0, sizeof(*info));

        r = load_one(s, s->name, &obj, &gen, info->main_reason, sizeof(info->main_reason));
        if (r == 0) {
                info->main_reason[0] = 0;
                info->source = OB_STORE_SOURCE_MAIN;
                info->generation = s->generation = gen;
                s->main_good = true;
                *ret = obj;
                return 0;
        }
        s->main_good = false;
        info->main_error = r;
        if (r == -EPROTONOSUPPORT)
                return r; /* never silently fall back over a newer agent's state */

        rp = load_one(s, s->prev_name, &obj, &gen, prev_reason, sizeof(prev_reason));
        if (rp == 0) {
                info->source = OB_STORE_SOURCE_PREV;
                info->generation = s->generation = gen;
                *ret = obj;
                return 0;
        }
        if (r == -ENOENT && rp == -ENOENT)
                return -ENOENT;
        if (rp == -EPROTONOSUPPORT)
                return rp;
        bool corrupt = r == -EBADMSG || r == -EFBIG || rp == -EBADMSG || rp == -EFBIG;
        return corrupt ? -EBADMSG : (r != -ENOENT ? r : rp);
}

static int fsync_dir(ObStore *s)
{
        return s->ops->fsync(s->dirfd) < 0 ? ob_negative_errno() : 0;
}

int ob_store_save(ObStore *s, json_object *payload)
{
        const char *body;
        size_t length;
        char hex[65], header[160];
        int r;

        if (!json_object_is_type(payload, json_type_object))
                return -EINVAL;
        body = json_object_to_json_string_ext(payload, JSON_C_TO_STRING_PLAIN);
        if (!body)
                return -ENOMEM;
        length = strlen(body);
        sha256_hex(body, length, hex);
        int hl = snprintf(header, sizeof(header), MAGIC "%d %" PRIu64 " sha256:%s %zu\n",
                          OB_STORE_FORMAT, s->generation + 1, hex, length);
        if (hl < 0 || (size_t)hl >= sizeof(header))
                return -EOVERFLOW;
        if ((size_t)hl + length + 1 > OB_STORE_MAX_SIZE)
                return -EFBIG;

        /* A temp file left by a crash is garbage: remove it. */
        if (s->ops->unlinkat(s->dirfd, s->tmp_name, 0) < 0 && errno != ENOENT)
                return ob_negative_errno();

        int fd = s->ops->openat(s->dirfd, s->tmp_name,
                                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return ob_negative_errno();
        r = ob_fs_write_all(s->ops, fd, header, (size_t)hl);
        if (r == 0)
                r = ob_fs_write_all(s->ops, fd, body, length);
        if (r == 0)
                r = ob_fs_write_all(s->ops, fd, "\n", 1);
        if (r == 0 && s->ops->fsync(fd) < 0)
                r = ob_negative_errno();
        if (s->ops->close(fd) < 0 && r == 0)
                r = ob_negative_errno();
        if (r < 0)
                goto fail;

        /* Keep the current good copy as .prev (link + rename: NAME never disappears). */
        if (s->main_good) {
                if (s->ops->unlinkat(s->dirfd, s->prevtmp_name, 0) < 0 && errno != ENOENT) {
                        r = ob_negative_errno();
                        goto fail;
                }
                if (s->ops->linkat(s->dirfd, s->name, s->dirfd, s->prevtmp_name, 0) < 0) {
                        r = ob_negative_errno();
                        goto fail;
                }
                if (s->ops->renameat(s->dirfd, s->prevtmp_name, s->dirfd, s->prev_name) < 0) {
                        r = ob_negative_errno();
                        (void)s->ops->unlinkat(s->dirfd, s->prevtmp_name, 0);
                        goto fail;
                }
        }
        if (s->ops->renameat(s->dirfd, s->tmp_name, s->dirfd, s->name) < 0) {
                r = ob_negative_errno();
                goto fail;
        }
        s->generation++;
        s->main_good = true;
        /* The rename is done; a failed directory fsync means it may not survive power loss. */
        return fsync_dir(s);
fail:
        (void)s->ops->unlinkat(s->dirfd, s->tmp_name, 0);
        return r;
}
