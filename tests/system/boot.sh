# Boot a Debian rootfs with a real systemd as PID 1 (sourced by tests/system/test-*.sh; bash).
#
# How (DESIGN.md §2; systemd-nspawn does not work on these machines): a copy of the cached
# rootfs (tests/system/rootfs.sh), then `unshare --fork --pid --mount --uts --ipc` runs a small
# shell that mounts proc, a read-only sys, a private /dev and tmpfs /run and /tmp under the copy
# and execs `chroot ROOT /lib/systemd/systemd` as PID 1 of the new PID namespace. There is no
# network namespace: the host's loopback (where the test world listens) is reachable inside.
#
#   sys_prepare DIR          copy the cached rootfs to DIR/root (sets SYS_ROOT)
#   sys_boot                 start systemd (sets SYS_PID, the host PID of the namespace's PID 1)
#   sys_wait_boot [SECONDS]  until `systemctl is-system-running` says running or degraded
#   sys_run CMD...           run CMD inside (nsenter into the namespaces, chroot, clean env)
#   sys_teardown             SIGKILL PID 1 from outside (the namespace dies with it), remove DIR
#
# Every function returns non-zero on failure; sys_teardown is safe to call more than once and
# from an EXIT trap.

SYS_DIR=
SYS_ROOT=
SYS_PID=
SYS_UNSHARE_PID=

sys_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# sys_prepare DIR: DIR/root becomes a private copy of the cached rootfs (reflinks where the file
# system has them, so a copy is cheap on btrfs/xfs and ~seconds on ext4).
sys_prepare() {
        local cache
        SYS_DIR=$1
        cache=$("$top_srcdir/tests/system/rootfs.sh") || return $?
        mkdir -p "$SYS_DIR"
        SYS_ROOT=$SYS_DIR/root
        cp -a --reflink=auto "$cache" "$SYS_ROOT" || return 1
}

# The script that runs as PID 1 of the new namespaces until it execs systemd.
sys_init_script() {
        cat <<'SH'
set -e
r=$1
mount --make-rprivate /
mount --bind "$r" "$r"
mount -t proc proc "$r/proc"
# read-only sysfs: systemd treats the system as a container and skips udev (its units have
# ConditionPathIsReadWrite=/sys), so nothing touches the host's devices
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$r/sys"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$r/dev"
for n in null zero full random urandom tty; do
        touch "$r/dev/$n"
        mount --bind "/dev/$n" "$r/dev/$n"
done
mkdir -p "$r/dev/pts" "$r/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts"
ln -s pts/ptmx "$r/dev/ptmx"
ln -s /proc/self/fd "$r/dev/fd"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/dev/shm"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs "$r/run"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$r/tmp"
# host paths the test hands in (SYS_BIND="HOSTPATH:ROOTPATH ..."), e.g. a socket
for b in ${SYS_BIND:-}; do
        mkdir -p "$r${b#*:}"
        mount --bind "${b%%:*}" "$r${b#*:}"
done
cd "$r"
exec chroot "$r" /usr/bin/env -i container=other TERM=dumb \
        /lib/systemd/systemd --system --show-status=false
SH
}

sys_boot() {
        [ -n "$SYS_ROOT" ] || return 1
        # stdin from /dev/null, output to a log: the console of the booted system
        SYS_BIND=${SYS_BIND:-} unshare --fork --pid --mount --uts --ipc --propagation private \
                /bin/sh -c "$(sys_init_script)" ob-sys-init "$SYS_ROOT" \
                </dev/null >"$SYS_DIR/console.log" 2>&1 &
        SYS_UNSHARE_PID=$!
        # PID 1 of the namespace is unshare's child once it has exec'd systemd
        local i p
        for i in $(seq 200); do
                for p in $(cat "/proc/$SYS_UNSHARE_PID/task/$SYS_UNSHARE_PID/children" 2>/dev/null); do
                        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd ] && SYS_PID=$p && return 0
                done
                kill -0 "$SYS_UNSHARE_PID" 2>/dev/null || break
                sleep 0.05
        done
        echo "# boot: the namespace did not start; console:" >&2
        sed 's/^/#   /' "$SYS_DIR/console.log" >&2
        return 1
}

sys_run() {
        [ -n "$SYS_PID" ] || return 1
        nsenter -t "$SYS_PID" -m -p -u -i chroot "$SYS_ROOT" /usr/bin/env -i \
                PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 \
                "$@"
}

# sys_wait_boot [SECONDS]: running, or degraded (some unit that needs hardware failed) is fine.
sys_wait_boot() {
        local lim=$(( ${1:-60} * 10 )) i=0 s=
        while [ $i -lt $lim ]; do
                s=$(sys_run systemctl is-system-running 2>/dev/null)
                case "$s" in
                running | degraded) return 0 ;;
                esac
                kill -0 "$SYS_PID" 2>/dev/null || break
                sleep 0.1
                i=$((i + 1))
        done
        echo "# boot: system state '$s' after ${1:-60}s; console (last lines):" >&2
        tail -n 30 "$SYS_DIR/console.log" | sed 's/^/#   /' >&2
        sys_run systemctl --failed --no-legend 2>/dev/null | sed 's/^/#   failed: /' >&2
        return 1
}

sys_teardown() {
        if [ -n "$SYS_PID" ]; then
                kill -KILL "$SYS_PID" 2>/dev/null
                wait "$SYS_UNSHARE_PID" 2>/dev/null
                SYS_PID=
        fi
        [ -n "$SYS_DIR" ] || return 0
        # The mounts lived in the namespace's own mount table; never delete through one that
        # leaked into the host (a bind mount of /dev would take the host's device nodes along).
        if [ -n "$SYS_ROOT" ] && findmnt -rn -o TARGET | grep -q "^$SYS_ROOT\(/\|$\)"; then
                echo "# teardown: mounts under $SYS_ROOT are visible on the host; not removing $SYS_DIR" >&2
                return 1
        fi
        if [ "${OB_SYSTEM_KEEP:-0}" = 1 ]; then
                echo "# teardown: kept $SYS_DIR" >&2
        else
                rm -rf "$SYS_DIR"
        fi
        SYS_DIR=
}
