#!/usr/bin/env bash
# Build (or reuse) the Debian 12 (bookworm) root filesystem the system tests boot with a real
# systemd as PID 1 (tests/system/boot.sh, docs/testing.md "System tests").
#
#   rootfs.sh            print the path of a ready rootfs, building it if needed
#   rootfs.sh --rebuild  build it again even if the cache is valid
#
# Cache: $OB_ROOTFS_CACHE (default /var/cache/onboard-agent-test/rootfs-bookworm). It is reused
# while its stamp file holds the hash of the package list below; change the list and the next
# run rebuilds. The mirror is the one this machine's apt uses (override: $OB_DEBIAN_MIRROR).
# Needs root and debootstrap; exits 77 (skip) without them.
set -euo pipefail

CACHE=${OB_ROOTFS_CACHE:-/var/cache/onboard-agent-test/rootfs-bookworm}
SUITE=bookworm
# What the agent needs at run time (ldd of onboard-agent and agentctl, the TCTI modules that
# tctildr dlopens, the tpm2 OpenSSL provider), plus systemd/dbus to boot and a few tools the
# tests run inside. procps: the unit's ExecReload runs /bin/kill. tpm2-abrmd: the resource
# manager the agent reaches over the system D-Bus.
PACKAGES="systemd systemd-sysv dbus libjson-c5 libpaho-mqtt1.3 \
libtss2-esys-3.0.2-0 libtss2-tctildr0 libtss2-tcti-tabrmd0 libtss2-tcti-device0 \
libtss2-tcti-swtpm0 libtss2-tcti-mssim0 libtss2-mu0 libtss2-rc0 libsystemd0 libssl3 openssl \
tpm2-openssl tpm2-abrmd procps ca-certificates"

log() { echo "rootfs: $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (apt-get install debootstrap)"

stamp_want=$(printf '%s\n' "$SUITE" $PACKAGES | sha256sum | cut -c1-16)
stamp=$CACHE/.ob-rootfs-stamp

if [ "${1:-}" != --rebuild ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_want" ] &&
        [ -x "$CACHE/lib/systemd/systemd" ]; then
        log "reusing $CACHE"
        echo "$CACHE"
        exit 0
fi

# The mirror this machine's apt uses: the first URI of a bookworm (non-security) source.
mirror() {
        [ -n "${OB_DEBIAN_MIRROR:-}" ] && { echo "$OB_DEBIAN_MIRROR"; return; }
        local f m=""
        for f in /etc/apt/sources.list.d/*.sources; do
                [ -f "$f" ] || continue
                m=$(awk -v s="$SUITE" '
                        /^$/ { if (uri && suite) { print uri; exit } uri = ""; suite = 0; next }
                        /^URIs:/ { uri = $2 }
                        /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
                        END { if (uri && suite) print uri }' "$f" | head -1)
                [ -n "$m" ] && { echo "$m"; return; }
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
                [ -f "$f" ] || continue
                m=$(awk -v s="$SUITE" '$1 == "deb" { u = $2; if (u ~ /^\[/) u = $3
                        for (i = 2; i <= NF; i++) if ($i == s) { print u; exit } }' "$f" | head -1)
                [ -n "$m" ] && { echo "$m"; return; }
        done
        echo "http://deb.debian.org/debian"
}

t0=$(date +%s)
url=$(mirror)
tmp="$CACHE.tmp.$$"
rm -rf "$tmp"
mkdir -p "$(dirname "$CACHE")"
trap 'rm -rf "$tmp"' EXIT
log "debootstrap $SUITE (minbase) from $url into $tmp"
debootstrap --variant=minbase --include="$(echo $PACKAGES | tr ' ' ',')" \
        "$SUITE" "$tmp" "$url" >"$tmp.log" 2>&1 || {
        tail -n 30 "$tmp.log" >&2
        log "debootstrap failed (full log: $tmp.log)"
        exit 99
}
rm -f "$tmp.log"

# A container-friendly boot: no getty, nothing that waits for hardware or the network.
for u in getty@tty1.service serial-getty@.service systemd-networkd-wait-online.service \
        systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
        rm -f "$tmp"/etc/systemd/system/*/"$u"
done
ln -sf /dev/null "$tmp/etc/systemd/system/systemd-networkd-wait-online.service"
ln -sf /dev/null "$tmp/etc/systemd/system/getty@tty1.service"
ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
ln -sf /dev/null "$tmp/etc/systemd/system/systemd-timesyncd.service"
echo "ob-system-test" >"$tmp/etc/hostname"
# machine-id is created at first boot in each copy (empty file = "uninitialized")
: >"$tmp/etc/machine-id"
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*_Packages

echo "$stamp_want" >"$tmp/.ob-rootfs-stamp"
rm -rf "$CACHE"
mv "$tmp" "$CACHE"
trap - EXIT
log "built $CACHE in $(( $(date +%s) - t0 )) s"
echo "$CACHE"
