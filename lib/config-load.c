/* SPDX-License-Identifier: Apache-2.0 */
/* Loading the configuration (main file and config.d drop-ins, trusted files only) and
 * writing it out as JSON. */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-digest.h"
#include "config-file.h"
#include "config-trust.h"
#include "log.h"
#include "config-private.h"
#include "macro.h"

/* A file or folder someone other than root (or us) could write: an error of the configuration
 * (lib/config-trust.h). -ENOMEM, else 0. */
static int untrusted(ObConfigDiags *d, const char *path, const struct stat *st, bool is_dir)
{
        char why[96];

        if (!ob_config_trust_problem(st->st_uid, st->st_mode, is_dir, geteuid(), why, sizeof(why)))
                return 0;
        return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                                  "%s %s: anyone who can write it can make the agent run a program "
                                  "(rotation.hook); chown root and chmod go-w",
                                  is_dir ? "folder" : "file", why) < 0
                       ? -ENOMEM
                       : 0;
}

int ob_config_apply_file(ObConfig *c, const char *path, ObConfigDiags *d)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "cannot open: %s",
                                          strerror(errno));
        if (fstat(fd, &st) < 0)
                return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0, "cannot stat: %s",
                                          strerror(errno));
        if (!S_ISREG(st.st_mode))
                return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                                          "not a regular file");
        /* the very file read (its fd): no window to swap it after the check */
        if (untrusted(d, path, &st, false) < 0)
                return -ENOMEM;
        if (st.st_size > CONFIG_FILE_MAX)
                return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                                          "file is larger than %d bytes", CONFIG_FILE_MAX);
        buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len <= (size_t)st.st_size) {
                ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                                                  "cannot read: %s", strerror(errno));
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > (size_t)st.st_size)
                return ob_config_diag_add(d, OB_CONFIG_ERROR, path, NULL, 0, 0,
                                          "file grew while being read");
        return ob_config_apply_buffer(c, path, buf, len, d);
}

/* ------------------------------------------------------------------ loading */

static char *parent_dir(const char *path)
{
        const char *slash = strrchr(path, '/');
        char *ret;

        if (!slash)
                return strdup(".");
        if (slash == path)
                return strdup("/");
        return asprintf(&ret, "%.*s", (int)(slash - path), path) < 0 ? NULL : ret;
}

char *ob_config_dropin_dir_for(const char *main_path)
{
        const char *slash = strrchr(main_path, '/');
        char *ret;
        if (!slash)
                return strdup("config.d");
        if (asprintf(&ret, "%.*s/config.d", (int)(slash - main_path), main_path) < 0)
                return NULL;
        return ret;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void closedirp(DIR **d)
{
        if (*d)
                closedir(*d);
}

/* The main file, then the drop-ins in lexical order, into c. < 0: stopped (the main file could
 * not be used, out of memory); the diagnostics say what is wrong either way. */
static int load_files(ObConfig *c, const char *main_path, const char *dropin_dir, ObConfigDiags *d)
{
        _cleanup_free_ char *dir = NULL;
        _cleanup_(closedirp) DIR *dh = NULL;
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r;

        r = ob_config_apply_file(c, main_path, d);
        if (r < 0)
                return r;

        dir = dropin_dir ? strdup(dropin_dir) : ob_config_dropin_dir_for(main_path);
        if (!dir)
                return -ENOMEM;
        dh = opendir(dir);
        if (!dh && errno != ENOENT) {
                r = ob_config_diag_add(d, OB_CONFIG_ERROR, dir, NULL, 0, 0,
                                       "cannot open drop-in directory: %s", strerror(errno));
                if (r < 0)
                        return r;
        }
        /* the folders that hold what is read: the main file's and the drop-ins' */
        {
                _cleanup_free_ char *main_dir = parent_dir(main_path);
                struct stat st;

                if (!main_dir)
                        return -ENOMEM;
                if (stat(main_dir, &st) == 0 && untrusted(d, main_dir, &st, true) < 0)
                        return -ENOMEM;
                if (dh && fstat(dirfd(dh), &st) == 0 && untrusted(d, dir, &st, true) < 0)
                        return -ENOMEM;
        }
        for (struct dirent *de;;) {
                errno = 0;
                if (!dh || !(de = readdir(dh))) {
                        /* a read error is not "no drop-ins": they would be silently skipped
                         * (EOVERFLOW with a 32-bit off_t on 64-bit directory offsets) */
                        if (dh && errno != 0) {
                                int e = errno;
                                /* an error of the configuration (exit 78), like an
                                 * unreadable file */
                                r = ob_config_diag_add(d, OB_CONFIG_ERROR, dir, NULL, 0, 0,
                                                       "cannot read drop-in directory: %s",
                                                       strerror(e));
                        }
                        break;
                }
                size_t l = strlen(de->d_name);
                char *p;
                struct stat st;
                if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
                        continue;
                if (asprintf(&p, "%s/%s", dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode) || n >= 256) {
                        free(p);
                        continue;
                }
                if (n + 1 >= cap) {
                        size_t nc = cap ? cap * 2 : 16;
                        char **nn = realloc(names, nc * sizeof(char *));
                        if (!nn) {
                                free(p);
                                r = -ENOMEM;
                                break;
                        }
                        names = nn;
                        cap = nc;
                }
                names[n++] = p;
        }
        if (r >= 0 && n > 0)
                qsort(names, n, sizeof(char *), cmp_str);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = ob_config_apply_file(c, names[i], d);
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

int ob_config_load(const char *main_path, const char *dropin_dir, ObConfig **ret, ObConfigDiags *d)
{
        _cleanup_config_ ObConfig *c = ob_config_new();
        int r;

        if (!c)
                return -ENOMEM;
        r = load_files(c, main_path, dropin_dir, d);
        if (r < 0)
                return r;
        r = ob_config_finish(c, main_path, d);
        if (r < 0)
                return r;
        if (d->n_errors > 0)
                return -EINVAL;
        if (ob_config_digest(main_path, dropin_dir, c->sha256) < 0)
                c->sha256[0] = 0;
        *ret = TAKE_PTR(c);
        return 0;
}

int ob_config_load_lenient(const char *main_path, ObConfig **ret, ObConfigDiags *d)
{
        _cleanup_config_ ObConfig *c = ob_config_new();
        int r;

        if (!c)
                return -ENOMEM;
        r = load_files(c, main_path, NULL, d);
        if (r == -ENOMEM)
                return r;
        /* what was valid stays; the rest keeps its defaults */
        r = ob_config_finish(c, main_path, d);
        if (r == -ENOMEM)
                return r;
        *ret = TAKE_PTR(c);
        return d->n_errors > 0 ? -EINVAL : 0;
}

/* ------------------------------------------------------------------ output */

json_object *ob_config_value_to_json(const ObConfig *c, const ObConfigKey *k)
{
        const void *f = ob_config_cfield(c, k);
        char buf[32];

        switch (k->type) {
        case OB_CONFIG_STRING:
        case OB_CONFIG_PATH: {
                const char *s = *(char *const *)f;
                return s ? json_object_new_string(s) : json_object_new_null();
        }
        case OB_CONFIG_BOOL:
                return json_object_new_boolean(*(const bool *)f);
        case OB_CONFIG_UINT:
                return json_object_new_int64(*(const uint32_t *)f);
        case OB_CONFIG_HANDLE:
                if (*(const uint32_t *)f == 0)
                        return json_object_new_null();
                snprintf(buf, sizeof(buf), "0x%08x", *(const uint32_t *)f);
                return json_object_new_string(buf);
        case OB_CONFIG_DOUBLE:
                snprintf(buf, sizeof(buf), "%g", *(const double *)f);
                return json_object_new_double_s(*(const double *)f, buf);
        case OB_CONFIG_ENUM: {
                int e = *(const int *)f;
                return e >= 0 ? json_object_new_string(k->values[e]) : json_object_new_null();
        }
        case OB_CONFIG_DURATION:
                ob_config_format_duration(*(const uint64_t *)f, buf, sizeof(buf));
                return json_object_new_string(buf);
        case OB_CONFIG_STRLIST: {
                char *const *l = *(char **const *)f;
                json_object *a = json_object_new_array();
                for (size_t i = 0; a && l && l[i]; i++)
                        json_object_array_add(a, json_object_new_string(l[i]));
                return a;
        }
        case OB_CONFIG_STRMAP: {
                char *const *l = *(char **const *)f;
                json_object *o = json_object_new_object();
                for (size_t i = 0; o && l && l[i] && l[i + 1]; i += 2)
                        json_object_object_add(o, l[i], json_object_new_string(l[i + 1]));
                return o;
        }
        case _OB_CONFIG_TYPE_MAX:
                break;
        }
        return json_object_new_null();
}

json_object *ob_config_to_json(const ObConfig *c)
{
        json_object *root = json_object_new_object();
        for (size_t i = 0; root && i < ob_config_n_keys; i++) {
                json_object *e = json_object_new_object();
                if (!e) {
                        json_object_put(root);
                        return NULL;
                }
                json_object_object_add(e, "value",
                                       ob_config_value_to_json(c, &ob_config_key_table[i]));
                json_object_object_add(
                        e, "source", c->sources[i] ? json_object_new_string(c->sources[i]) : NULL);
                json_object_object_add(root, ob_config_key_table[i].name, e);
        }
        return root;
}
