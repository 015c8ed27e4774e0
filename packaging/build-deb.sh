#!/bin/sh
# Build the Debian package of onboard-agent in a scratch copy of the source tree, check it with
# lintian and leave the results in OUTDIR (default: ./deb-out).
#
#   packaging/build-deb.sh [--tarball onboard-agent-X.Y.Z.tar.xz] [--revision REV] [OUTDIR]
#
# --revision REV builds the same source as Debian version REV (a changelog entry is added to the
# scratch copy): the system test upgrades an installed package to it (tests/system/test-service.sh).
#
# Without --tarball the files git knows about (committed or not) are used. Needs the build
# dependencies of packaging/debian/control plus dpkg-dev, debhelper and lintian
# (packaging/deps-debian lists them; run it as root to install).
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
tarball=""
if [ "${1:-}" = --tarball ]; then
        tarball=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
        shift 2
fi
revision=""
if [ "${1:-}" = --revision ]; then
        revision=$2
        shift 2
fi
outdir=${1:-$PWD/deb-out}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/onboard-agent-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

version=$(sed -n '1s/^onboard-agent (\([^-)]*\).*/\1/p' "$srcdir/packaging/debian/changelog")
tree=$work/onboard-agent-$version
if [ -n "$tarball" ]; then
        tar -C "$work" -xf "$tarball"
        [ -d "$tree" ] || { echo "build-deb: $tarball does not unpack to $(basename "$tree")" >&2; exit 1; }
else
        mkdir -p "$tree"
        (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
                xargs -0 cp --parents -t "$tree")
fi
cp -r "$tree/packaging/debian" "$tree/debian"
if [ -n "$revision" ]; then
        {
                printf 'onboard-agent (%s) unstable; urgency=medium\n\n' "$revision"
                printf '  * Rebuild as %s (upgrade test).\n\n' "$revision"
                printf ' -- onboard-agent developers <dev@onboard-agent.invalid>  %s\n\n' "$(date -R)"
                cat "$tree/debian/changelog"
        } >"$tree/debian/changelog.new"
        mv "$tree/debian/changelog.new" "$tree/debian/changelog"
fi

(cd "$tree" && dpkg-buildpackage -us -uc -b) >"$outdir/build.log" 2>&1 || {
        tail -40 "$outdir/build.log" >&2
        echo "build-deb: dpkg-buildpackage failed, see $outdir/build.log" >&2
        exit 1
}
changes=""
for f in "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo; do
        [ -e "$f" ] || continue
        cp "$f" "$outdir/"
        echo "build-deb: $outdir/$(basename "$f")"
        case $f in *.changes) changes=$outdir/$(basename "$f") ;; esac
done
[ -n "$changes" ] || { echo "build-deb: no .changes file" >&2; exit 1; }
lintian_root=""
[ "$(id -u)" != 0 ] || lintian_root=--allow-root
# shellcheck disable=SC2086
lintian $lintian_root --fail-on error,warning --display-info "$changes"
echo "build-deb: lintian ok"
