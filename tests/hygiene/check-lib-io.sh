#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# lib/ performs no I/O of its own (docs/architecture.md, "The I/O seam"): every filesystem call
# goes through ObFsOps (lib/fsops.h), the network through the transport, and the time comes from
# the caller (now_ms). This fails when a file in lib/ calls the system directly. Run by
# `make check-layering`; usage: check-lib-io.sh LIBDIR.
#
# Allowed: lib/fsops.c (ob_fsops_posix, the real calls) and the configuration loader
# (config-load.c, config-digest.c), which reads /etc before any ObOnboardDeps exists and is
# driven by the agent, not by the onboarding machine.
set -eu
libdir=${1:-lib}
calls='open|openat|creat|fopen|fdopen|freopen|popen|access|faccessat|eaccess|euidaccess|unlink|unlinkat|remove|rename|renameat|renameat2|link|linkat|symlink|symlinkat|mkdir|mkdirat|rmdir|opendir|fdopendir|readdir|scandir|stat|lstat|fstat|fstatat|statx|readlink|readlinkat|realpath|chmod|fchmod|chown|truncate|ftruncate|socket|connect|bind|getaddrinfo|clock_gettime|gettimeofday|time|sleep|usleep|nanosleep'
bad=0
for f in "$libdir"/*.c "$libdir"/*.h; do
        case ${f##*/} in
        fsops.c | config-load.c | config-digest.c) continue ;;
        esac
        # strings and comments are not calls: drop them, then look for NAME( not preceded by
        # an identifier character, '.' or '->' (ops->openat( and ob_fs_access( are fine)
        hits=$(sed -e 's/"\([^"\\]\|\\.\)*"/""/g' -e 's|/\*.*\*/||g' -e 's|^[[:space:]]*/\?\*.*||' \
                -e 's|//.*||' "$f" |
                grep -nE "(^|[^A-Za-z0-9_.>])($calls)[[:space:]]*\(" || true)
        if [ -n "$hits" ]; then
                echo "$hits" | sed "s|^|$f:|"
                bad=1
        fi
done
if [ $bad -ne 0 ]; then
        echo "layering: lib/ calls the system above; go through ObFsOps (lib/fsops.h), the transport or now_ms"
        exit 1
fi
