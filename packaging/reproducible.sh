#!/bin/sh
# Build onboard-agent twice, from copies of the source in two different directories, with the
# same SOURCE_DATE_EPOCH, and compare the installed programs byte for byte. Also fails if a
# build path is left in a binary. docs/packaging.md "Reproducible builds" has the results.
#
#   packaging/reproducible.sh            # with -ffile-prefix-map (what Debian, Yocto do)
#   OB_REPRO_PLAIN=1 packaging/reproducible.sh   # plain CFLAGS="-g -O2", to see the difference
set -eu
srcdir=$(cd "$(dirname "$0")/.." && pwd)
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$srcdir" log -1 --format=%ct)}
export SOURCE_DATE_EPOCH
work=$(mktemp -d "${TMPDIR:-/tmp}/ob-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

build() {
        src=$work/$1/onboard-agent-src
        bld=$work/$1/build-dir-$1
        mkdir -p "$src" "$bld"
        (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
                xargs -0 cp --parents -t "$src")
        (cd "$src" && ./autogen.sh >/dev/null 2>&1)
        cflags="-g -O2"
        [ "${OB_REPRO_PLAIN:-0}" = 1 ] ||
                cflags="$cflags -ffile-prefix-map=$src=. -ffile-prefix-map=$bld=."
        (cd "$bld" && "$src/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
                --disable-emulator CFLAGS="$cflags" >/dev/null &&
                make -j2 >/dev/null && make install DESTDIR="$work/$1/root" >/dev/null)
}
build a
build b

status=0
for f in usr/sbin/onboard-agent usr/bin/agentctl; do
        a=$work/a/root/$f
        b=$work/b/root/$f
        if cmp -s "$a" "$b"; then
                echo "reproducible: $f identical ($(wc -c <"$a") bytes, sha256 $(sha256sum "$a" | cut -c1-16)...)"
        else
                status=1
                strip -g -o "$work/a.s" "$a"
                strip -g -o "$work/b.s" "$b"
                if cmp -s "$work/a.s" "$work/b.s"; then
                        echo "reproducible: $f differs, identical after strip -g (debug info only)"
                else
                        objcopy -R .note.gnu.build-id "$work/a.s"
                        objcopy -R .note.gnu.build-id "$work/b.s"
                        if cmp -s "$work/a.s" "$work/b.s"; then
                                echo "reproducible: $f differs after strip -g only in the build id (a hash of the debug info)"
                        else
                                echo "reproducible: $f differs even after strip -g"
                        fi
                fi
                grep -q -a "$work" "$work/a.s" && echo "reproducible: $f has a build path outside its debug info"
        fi
        for side in a b; do
                if grep -q -a "$work/$side" "$work/$side/root/$f"; then
                        echo "reproducible: $f ($side) contains its build path"
                        status=1
                fi
        done
done
exit $status
