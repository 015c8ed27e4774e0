#!/usr/bin/env bash
# The systemd unit under a real systemd (PID 1 in its own namespaces, tests/system/boot.sh),
# with the agent installed the way a distribution package installs it and the test world's
# emulator as the cloud. `make check-system`; needs root, unshare/nsenter and debootstrap (or a
# cached rootfs). Cases (docs/testing.md "System tests"):
#   install: unit verifies with its binary, sysusers.d user in group tss, tmpfiles.d modes
#   broken configuration: failed, exit status 78, no restart loop
#   TPM behind tpm2-abrmd on the booted system's D-Bus (swtpm on the host loopback), onboarding:
#   active only after READY=1, StatusText progress, the sandbox seen from /proc
#   agentctl as root, as a member of the agent's group (mutating commands refused), as others
#   reload keeps the service up; the watchdog kills a SIGSTOPped agent and systemd restarts it
# Prints the time of every step ("# time: ...").
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir

if [ "${1:-}" != --inside ]; then
        [ "$(id -u)" = 0 ] || { echo "# SKIP: needs root (unshare, chroot, mounts)"; exit 77; }
        for p in unshare nsenter chroot findmnt swtpm jq; do
                command -v "$p" >/dev/null 2>&1 || { echo "# SKIP: $p is not installed"; exit 77; }
        done
        exec "$top_srcdir/tests/world/world.sh" run -- "$0" --inside
fi

. "$top_srcdir/tests/integration/common.sh"
. "$top_srcdir/tests/system/boot.sh"
[ "$OB_EMULATOR" = 1 ] || { echo "# SKIP: the emulator plugin is not built"; exit 77; }

T_START=$(sys_ms)
T_LAST=$T_START
timing() { local n; n=$(sys_ms); echo "# time: $1: $((n - T_LAST)) ms"; T_LAST=$n; }

work=$OB_WORLD_DIR/system
mkdir -p "$work"
swtpm_pid=
cleanup() {
        sys_teardown
        [ -n "$swtpm_pid" ] && kill "$swtpm_pid" 2>/dev/null
        return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the agent, built like a package
# A private build with distribution paths (the compiled-in default config is /etc/...), from a
# copy of the sources so that an in-tree build of the checkout does not get in the way.
# Incremental: the copy keeps mtimes and the build directory is reused.
sysbuild=$top_builddir/tests/system/_build
src=$sysbuild/src
mkdir -p "$src"
if [ -d "$top_srcdir/.git" ] || git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
        (cd "$top_srcdir" && git ls-files -z --cached --others --exclude-standard |
                xargs -0 cp -a -u --parents -t "$src" 2>/dev/null)
else
        echo "# SKIP: the system build copies the sources with git ls-files (not a git checkout)"
        exit 77
fi
if [ ! -f "$sysbuild/obj/Makefile" ]; then
        (cd "$src" && ./autogen.sh >"$sysbuild/autogen.log" 2>&1) ||
                { bad "autogen (log: $sysbuild/autogen.log)"; exit 1; }
        mkdir -p "$sysbuild/obj"
        (cd "$sysbuild/obj" && "$src/configure" --prefix=/usr --sysconfdir=/etc \
                --localstatedir=/var --disable-emulator >"$sysbuild/configure.log" 2>&1) ||
                { bad "configure (log: $sysbuild/configure.log)"; exit 1; }
fi
make -C "$sysbuild/obj" -j2 >"$sysbuild/make.log" 2>&1 ||
        { bad "build with --prefix=/usr"; tail -n 20 "$sysbuild/make.log"; exit 1; }
timing "build the agent with distribution paths"

# ---------------------------------------------------------------- rootfs, TPM, boot
sys_prepare "$work/sys" || { bad "rootfs (tests/system/rootfs.sh)"; exit 1; }
timing "rootfs (build or reuse the cache, then copy)"
R=$SYS_ROOT
if [ -n "${OB_SYSTEM_DEB:-}" ]; then
        # the Debian package (packaging/build-deb.sh), installed like on a device: dpkg runs its
        # maintainer scripts (sysusers, tmpfiles, deb-systemd-helper) inside the rootfs
        cp "$OB_SYSTEM_DEB" "$R/tmp/onboard-agent.deb"
        chroot "$R" dpkg -i /tmp/onboard-agent.deb >"$work/install.log" 2>&1 &&
                ok "dpkg -i $(basename "$OB_SYSTEM_DEB") in the rootfs" ||
                { bad "dpkg -i the Debian package"; tail -n 20 "$work/install.log"; exit 1; }
        rm -f "$R/tmp/onboard-agent.deb"
        # no live configuration: the example is documentation, the unit waits for config.json
        [ ! -e "$R/etc/onboard-agent/config.json" ] &&
                [ -f "$R/usr/share/onboard-agent/config.json.example" ] &&
                ok "the package installs no live configuration (example in /usr/share/onboard-agent)" ||
                bad "package configuration: $(ls -l "$R/etc/onboard-agent" "$R/usr/share/onboard-agent" 2>&1 | tr '\n' ' ')"
        timing "dpkg -i the Debian package"
else
        make -C "$sysbuild/obj" install DESTDIR="$R" >"$work/install.log" 2>&1 ||
                { bad "make install DESTDIR"; tail "$work/install.log"; exit 1; }
        timing "make install DESTDIR=rootfs"
fi

# The TPM: a swtpm of this test on the host loopback; inside, tpm2-abrmd is the resource manager
# on the booted system's D-Bus (the distribution unit wants /dev/tpm0, so a local unit replaces it).
tport=$(python3 -c 'import socket
for p in range(30000, 60000, 7):
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 1))
        print(p); break
    except OSError: pass')
mkdir -p "$work/tpm"
swtpm socket --tpm2 --tpmstate "dir=$work/tpm" --flags not-need-init,startup-clear \
        --server "type=tcp,port=$tport,bindaddr=127.0.0.1" \
        --ctrl "type=tcp,port=$((tport + 1)),bindaddr=127.0.0.1" --log "file=$work/swtpm.log" &
swtpm_pid=$!
cat >"$R/etc/systemd/system/tpm2-abrmd.service" <<UNIT
[Unit]
Description=TPM2 Access Broker and Resource Manager (test: swtpm on the host loopback)
[Service]
Type=dbus
BusName=com.intel.tss2.Tabrmd
ExecStart=/usr/sbin/tpm2-abrmd --tcti=swtpm:host=127.0.0.1,port=$tport
User=tss
[Install]
WantedBy=multi-user.target
UNIT

sys_boot && sys_wait_boot 60 || { bad "systemd did not boot"; exit 1; }
timing "boot to is-system-running"

# what a package's postinst does (dh_installsysusers, dh_installtmpfiles, dh_installsystemd)
sys_run systemd-sysusers onboard-agent.conf >/dev/null 2>&1 &&
        sys_run systemd-tmpfiles --create onboard-agent.conf >/dev/null 2>&1 &&
        sys_run systemctl daemon-reload && ok "postinst: sysusers, tmpfiles, daemon-reload" ||
        bad "postinst steps"

# ---------------------------------------------------------------- unconfigured box
# The package enabled the unit and the boot tried it: with no config.json the condition keeps
# it from starting (no dial-out to the example endpoint, no failed unit, no restarts).
if [ -n "${OB_SYSTEM_DEB:-}" ]; then
        s=$(sys_run systemctl show -p ActiveState -p ConditionResult -p NRestarts -p UnitFileState \
                onboard-agent.service | tr '\n' ' ')
        case "$s" in
        *"ActiveState=inactive"*) echo "$s" | grep -q "ConditionResult=no" &&
                echo "$s" | grep -q "UnitFileState=enabled" && echo "$s" | grep -q "NRestarts=0" &&
                ok "unconfigured box: enabled, not started (ConditionPathExists unmet at boot: $s)" ||
                bad "unconfigured box: $s" ;;
        *) bad "unconfigured box: the unit ran: $s" ;;
        esac
        sys_run systemctl status onboard-agent.service 2>&1 | grep -q "start condition failed" &&
                grep -q "^ConditionPathExists=/etc/onboard-agent/config.json$" \
                        "$R/lib/systemd/system/onboard-agent.service" &&
                ok "systemctl status: start condition failed (ConditionPathExists=/etc/onboard-agent/config.json)" ||
                bad "systemctl status: $(sys_run systemctl status onboard-agent.service 2>&1 | head -5 | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- install checks
out=$(sys_run systemd-analyze verify --man=no onboard-agent.service 2>&1)
[ -z "$out" ] && ok "systemd-analyze verify onboard-agent.service (installed, with its binary)" ||
        bad "verify: $out"
grep -q '^ExecStart=/usr/sbin/onboard-agent$' "$R/usr/lib/systemd/system/onboard-agent.service" &&
        ok "ExecStart is the installed /usr/sbin/onboard-agent" || bad "ExecStart path"
ids=$(sys_run id onboard-agent 2>&1)
echo "$ids" | grep -q "groups=.*(onboard-agent)" && echo "$ids" | grep -q "(tss)" &&
        ok "sysusers.d: user onboard-agent, member of tss ($ids)" || bad "sysusers: $ids"
m=$(sys_run stat -c '%a %U %G' /etc/onboard-agent)
[ "$m" = "750 root onboard-agent" ] && ok "tmpfiles.d: /etc/onboard-agent is 0750 root:onboard-agent" ||
        bad "/etc/onboard-agent is $m"
sys_run systemctl start tpm2-abrmd.service && ok "tpm2-abrmd on the system bus (swtpm port $tport)" ||
        { bad "tpm2-abrmd did not start"; sys_run journalctl -b -u tpm2-abrmd --no-pager | tail; }
timing "install checks"

# show PROP...: systemctl show values of the agent's unit, one "NAME=VALUE" per line
show() { local a=""; for p in "$@"; do a="$a -p $p"; done; sys_run systemctl show $a onboard-agent.service; }
prop() { sys_run systemctl show -P "$1" onboard-agent.service; }
# wait_prop PROP REGEX SECONDS: until the property matches
wait_prop() {
        local i=0 lim=$(( $3 * 10 ))
        while [ $i -lt $lim ]; do
                prop "$1" | grep -Eq "$2" && return 0
                sleep 0.1; i=$((i + 1))
        done
        return 1
}
journal() { sys_run journalctl -b -u onboard-agent.service --no-pager -o cat "$@"; }
dropin() { # NAME CONTENT: a drop-in for the agent's unit, then daemon-reload
        mkdir -p "$R/etc/systemd/system/onboard-agent.service.d"
        printf '[Service]\n%s\n' "$2" >"$R/etc/systemd/system/onboard-agent.service.d/$1.conf"
        sys_run systemctl daemon-reload
}

# ---------------------------------------------------------------- broken configuration
# A short RestartSec makes a restart loop show within a second; the point is that exit status
# 78 (RestartPreventExitStatus=) stops it.
dropin 50-test-restart 'RestartSec=200ms'
echo '{ "endpoint": { "host": "x", "port": 0 }, "no_such_key": 1 }' >"$R/etc/onboard-agent/config.json"
sys_run systemctl start onboard-agent.service 2>/dev/null && bad "start with a broken config succeeded"
sleep 1.5 # > 5 x RestartSec: a loop would have restarted it several times
s=$(show ActiveState Result ExecMainStatus NRestarts | tr '\n' ' ')
case "$s" in
*"ActiveState=failed"*"ExecMainStatus=78"*"NRestarts=0"* | *"NRestarts=0"*"ActiveState=failed"*"ExecMainStatus=78"*)
        ok "broken config: failed, exit status 78, no restart ($s)" ;;
*)
        # property order follows systemd's, check each
        echo "$s" | grep -q "ActiveState=failed" && echo "$s" | grep -q "ExecMainStatus=78" &&
                echo "$s" | grep -q "NRestarts=0" && ok "broken config: failed, exit status 78, no restart ($s)" ||
                bad "broken config: $s" ;;
esac
journal | grep -q "invalid configuration" && ok "the journal names the invalid configuration" ||
        { bad "no config error in the journal"; journal | tail -5; }
sys_run systemctl reset-failed onboard-agent.service
timing "broken configuration"

# ---------------------------------------------------------------- a real configuration
install -m 0644 "$OB_ROOT_CA" "$R/etc/onboard-agent/root-ca.pem"
mkdir -p "$R/etc/onboard-agent/claim"
install -m 0644 "$OB_CLAIM_CERT" "$R/etc/onboard-agent/claim/claim.crt"
install -m 0640 "$OB_CLAIM_KEY" "$R/etc/onboard-agent/claim/claim.key"
sys_run chgrp -R onboard-agent /etc/onboard-agent/claim
sys_run chmod 0750 /etc/onboard-agent/claim
serial="SYS-$$"
echo "$serial" >"$R/etc/onboard-agent/serial"
cat >"$R/etc/onboard-agent/config.json" <<JSON
{
  "endpoint": { "host": "127.0.0.1", "port": $OB_MQTT_PORT, "root_ca": "/etc/onboard-agent/root-ca.pem",
                "connect_timeout": 5, "step_timeout": 5 },
  "provisioning": { "method": "fleet-claim", "template": "OnboardTemplate",
                    "claim_cert": "/etc/onboard-agent/claim/claim.crt",
                    "claim_key": "/etc/onboard-agent/claim/claim.key" },
  "identity": { "serial_sources": ["file:/etc/onboard-agent/serial"] },
  "key": { "backend": "tpm" },
  "tpm": { "tcti": "tabrmd" },
  "retry": { "network": { "base": 1, "cap": 2 }, "tls": { "base": 1, "cap": 2 },
             "timeout": { "base": 1, "cap": 2 } }
}
JSON
sys_run onboard-agent --check-config >/dev/null 2>&1 && ok "the test configuration is valid" ||
        bad "config: $(sys_run onboard-agent --check-config 2>&1)"

agent_bin=$R/usr/sbin/onboard-agent
has_notify=0 has_ctl=0
grep -aq 'READY=1' "$agent_bin" && has_notify=1
grep -aq 'control.sock' "$agent_bin" && has_ctl=1

# ---------------------------------------------------------------- start: READY, status text
if [ $has_notify = 0 ]; then
        echo "# SKIP: this onboard-agent does not send READY=1 yet (no sd_notify): start checks skipped"
else
        sys_run systemctl start --no-block onboard-agent.service
        states="" texts=""
        i=0
        while [ $i -lt 300 ]; do
                s=$(prop ActiveState)
                t=$(prop StatusText)
                case " $states " in *" $s "*) ;; *) states="$states $s" ;; esac
                [ -n "$t" ] && case "$texts" in *"|$t|"*) ;; *) texts="$texts|$t|" ;; esac
                case "$t" in "onboarded as"*) break ;; esac
                [ "$s" = failed ] && break
                sleep 0.1; i=$((i + 1))
        done
        [ "$(prop ActiveState)" = active ] && ok "active (states seen:$states)" ||
                { bad "not active: states$states"; journal | tail -20; }
        # Type=notify: systemd logs "Started" only when READY=1 arrives; the agent logs
        # "... ready" right after sending it, and sets up identity, TPM and socket before.
        j=$(journal -o short-monotonic)
        l_ready=$(echo "$j" | grep -n "onboard-agent .* ready (method" | head -1 | cut -d: -f1)
        l_tpm=$(echo "$j" | grep -n "Serial number $serial" | head -1 | cut -d: -f1)
        l_started=$(echo "$j" | grep -n "Started onboard-agent.service" | head -1 | cut -d: -f1)
        if [ -n "$l_ready" ] && [ -n "$l_started" ] && [ -n "$l_tpm" ] &&
                [ "$l_tpm" -lt "$l_started" ]; then
                ok "active only after READY=1 (setup logged before systemd's Started line)"
        else
                bad "READY ordering: setup line $l_tpm, ready line $l_ready, Started line $l_started"
                echo "$j" | tail -20 | sed 's/^/#   /'
        fi
        echo "$texts" | tr '|' '\n' | grep -v '^$' | sed 's/^/#   StatusText: /'
        n=$(echo "$texts" | tr '|' '\n' | grep -cv '^$')
        case "$texts" in
        *"|onboarded as ob-$serial"*) [ "$n" -ge 2 ] && ok "StatusText shows progress ($n texts), ends onboarded" ||
                bad "StatusText: only $n text(s)" ;;
        *) bad "StatusText never said onboarded:$texts"; journal | tail -20 ;;
        esac
fi
# the journal's fields (docs/operations.md, "The journal"): the onboarded line carries the status
if [ $has_notify = 1 ]; then
        jl=$(sys_run journalctl -b -u onboard-agent.service -o json --no-pager \
                MESSAGE_ID=6f8d5c2a1b3e4f7a9c0d1e2f3a4b5c6d | tail -1)
        [ "$(echo "$jl" | jq -r .OB_THING)" = "ob-$serial" ] &&
                [ "$(echo "$jl" | jq -r .OB_METHOD)" = fleet-claim ] &&
                [ "$(echo "$jl" | jq -r .OB_STATE)" = onboarded ] &&
                echo "$jl" | jq -r .OB_CERT_ID | grep -Eq '^[0-9a-f]{64}$' &&
                ok "journal: MESSAGE_ID onboarded with OB_THING, OB_METHOD, OB_STATE, OB_CERT_ID" ||
                bad "journal fields of the onboarded line: $(echo "$jl" | jq -c '{MESSAGE, OB_STATE, OB_THING, OB_METHOD, OB_CERT_ID}' 2>&1)"
fi
timing "start and onboarding"

# ---------------------------------------------------------------- the sandbox, from /proc
pid=$(prop MainPID)
if [ -n "$pid" ] && [ "$pid" != 0 ]; then
        st=$(sys_run cat "/proc/$pid/status")
        tss_gid=$(sys_run getent group tss | cut -d: -f3)
        echo "$st" | grep -q "^CapEff:[[:space:]]*0*$" && echo "$st" | grep -q "^NoNewPrivs:[[:space:]]*1" &&
                echo "$st" | grep -q "^Seccomp:[[:space:]]*2" &&
                echo "$st" | grep "^Groups:" | grep -qw "$tss_gid" &&
                ok "sandbox: no capabilities, no_new_privs, seccomp filter, group tss" ||
                bad "sandbox: $(echo "$st" | grep -E '^(Uid|Groups|CapEff|NoNewPrivs|Seccomp):' | tr '\n' ' ')"
        [ "$(sys_run stat -c '%a %U' /var/lib/onboard-agent)" = "700 onboard-agent" ] &&
                ok "state directory 0700 onboard-agent" || bad "state dir: $(sys_run stat -c '%a %U' /var/lib/onboard-agent)"
        if [ $has_notify = 1 ]; then
                head -1 "$R/var/lib/onboard-agent/credentials/current/device.key" 2>/dev/null |
                        grep -q 'TSS2 PRIVATE KEY' &&
                        ok "device key in the TPM via tabrmd on the system bus (TSS2 PEM in the state dir)" ||
                        bad "no TPM device key in the state dir"
        fi
else
        bad "no MainPID"
fi

# ---------------------------------------------------------------- agentctl: root, group, others
if [ $has_ctl = 0 ]; then
        echo "# SKIP: this onboard-agent has no control socket yet: agentctl checks skipped"
else
        sys_run useradd -M -N -g users -G onboard-agent operator 2>/dev/null
        sys_run useradd -M -N -g users stranger 2>/dev/null
        as() { local u=$1; shift; sys_run setpriv --reuid="$u" --regid=users --init-groups "$@"; }
        out=$(sys_run agentctl status 2>&1)
        echo "$out" | grep -q "onboarded" && ok "agentctl status as root" || bad "agentctl status as root: $out"
        out=$(as operator agentctl status 2>&1)
        echo "$out" | grep -q "onboarded" && ok "agentctl status as a member of group onboard-agent" ||
                bad "agentctl status as group member: $out"
        echo x >"$R/tmp/c.pem"; chmod 644 "$R/tmp/c.pem"
        out=$(as operator agentctl provision --claim-cert /tmp/c.pem --claim-key /tmp/c.pem 2>&1)
        rc=$?
        [ $rc = 77 ] && echo "$out" | grep -qi "permission denied\|must be run as root" &&
                ok "a mutating command (provision) is refused for the group member (exit 77)" ||
                bad "provision as group member: rc=$rc $out"
        out=$(as stranger agentctl status 2>&1)
        rc=$?
        [ $rc != 0 ] && ok "a user outside the group gets nothing (rc=$rc)" || bad "stranger: $out"
fi
timing "agentctl"

# ---------------------------------------------------------------- upgrade (Debian package)
# dpkg -i of a newer build while the agent runs: postinst restarts it, so the new binary runs
# (not the old one from a deleted file) with the identity it had.
if [ -n "${OB_SYSTEM_DEB_UPGRADE:-}" ] && [ -n "${OB_SYSTEM_DEB:-}" ] && [ $has_notify = 1 ]; then
        pid0=$(prop MainPID)
        v0=$(sys_run dpkg-query -W -f '${Version}' onboard-agent)
        # (the booted system's /tmp is a tmpfs of its own)
        cp "$OB_SYSTEM_DEB_UPGRADE" "$R/var/tmp/onboard-agent-up.deb"
        sys_run dpkg -i /var/tmp/onboard-agent-up.deb >"$work/upgrade.log" 2>&1 &&
                ok "dpkg -i $(basename "$OB_SYSTEM_DEB_UPGRADE") over $v0 while running" ||
                { bad "upgrade"; tail -n 20 "$work/upgrade.log"; }
        rm -f "$R/var/tmp/onboard-agent-up.deb"
        v1=$(sys_run dpkg-query -W -f '${Version}' onboard-agent)
        wait_prop ActiveState '^active$' 20
        pid1=$(prop MainPID)
        exe=$(sys_run readlink "/proc/$pid1/exe" 2>&1)
        [ "$v1" != "$v0" ] && [ "$pid1" != 0 ] && [ "$pid1" != "$pid0" ] &&
                case "$exe" in */usr/sbin/onboard-agent) true ;; *) false ;; esac &&
                [ "$(prop ActiveState)" = active ] &&
                ok "after the upgrade to $v1: restarted (PID $pid0 -> $pid1), running /usr/sbin/onboard-agent" ||
                bad "upgrade $v0 -> $v1: PID $pid0 -> $pid1, exe '$exe', $(prop ActiveState)"
        out=$(sys_run agentctl status 2>&1)
        echo "$out" | grep -q "onboarded" && ok "still onboarded after the upgrade" ||
                bad "status after the upgrade: $out"
        timing "upgrade"
fi

# ---------------------------------------------------------------- reload, watchdog, stop
if [ $has_notify = 1 ]; then
        pid=$(prop MainPID)
        sys_run systemctl reload onboard-agent.service && [ "$pid" != 0 ] &&
                [ "$(prop ActiveState)" = active ] && [ "$(prop MainPID)" = "$pid" ] &&
                ok "systemctl reload: same process, still active" ||
                { bad "reload: $(show ActiveState MainPID | tr '\n' ' ')"; journal | tail -15 | sed 's/^/#   /'; }
        journal | grep -q "Reloaded the configuration" && ok "reload re-read the configuration" ||
                bad "no reload in the journal"

        dropin 60-test-watchdog 'WatchdogSec=2s'
        sys_run systemctl restart onboard-agent.service || bad "restart with WatchdogSec=2s"
        pid=$(prop MainPID)
        n0=$(prop NRestarts)
        [ "$(prop WatchdogUSec)" = 2s ] || echo "# WatchdogUSec is $(prop WatchdogUSec)"
        sleep 3 # longer than the watchdog: a daemon that pings stays up
        [ "$pid" != 0 ] && [ "$(prop MainPID)" = "$pid" ] && ok "a running agent pings the watchdog (alive after 3s with WatchdogSec=2s)" ||
                bad "restarted without being stopped"
        t0=$(sys_ms)
        sys_run kill -STOP "$pid"
        if wait_prop NRestarts "^$((n0 + 1))$" 15 && wait_prop ActiveState '^active$' 10; then
                ok "SIGSTOPped agent killed by the watchdog and restarted in $(( $(sys_ms) - t0 )) ms (new PID $(prop MainPID))"
        else
                bad "watchdog: $(show ActiveState Result NRestarts MainPID | tr '\n' ' ')"
        fi
        sys_run journalctl -b -u onboard-agent.service --no-pager | grep -q "Watchdog timeout" &&
                ok "systemd logged the watchdog timeout" || bad "no watchdog timeout in the journal"
        rm -f "$R/etc/systemd/system/onboard-agent.service.d/60-test-watchdog.conf"
        sys_run systemctl daemon-reload

        sys_run systemctl stop onboard-agent.service
        s=$(show ActiveState Result | tr '\n' ' ')
        echo "$s" | grep -q "ActiveState=inactive" && echo "$s" | grep -q "Result=success" &&
                ok "systemctl stop: inactive, result success" || bad "stop: $s"
        # SIGTERM reached the event loop (not the default action in some library's thread)
        journal | grep -q "Received Terminated, stopping" &&
                ok "SIGTERM handled by the daemon's loop (graceful stop logged)" ||
                bad "no graceful stop in the journal"
else
        echo "# SKIP: this onboard-agent does not send READY=1/WATCHDOG=1 yet: reload and watchdog checks skipped"
fi
timing "reload, watchdog, stop"

# ---------------------------------------------------------------- remove, purge (Debian package)
if [ -n "${OB_SYSTEM_DEB:-}" ] && [ $has_notify = 1 ]; then
        sys_run systemctl start onboard-agent.service && wait_prop ActiveState '^active$' 20 ||
                bad "start before remove: $(prop ActiveState)"
        sys_run dpkg -r onboard-agent >"$work/remove.log" 2>&1 || { bad "dpkg -r"; tail "$work/remove.log"; }
        s=$(sys_run systemctl show -p ActiveState -p MainPID onboard-agent.service | tr '\n' ' ')
        echo "$s" | grep -q "ActiveState=inactive" && echo "$s" | grep -q "MainPID=0" &&
                ! sys_run sh -c 'ls -l /proc/[0-9]*/exe 2>/dev/null' | grep -q 'onboard-agent' &&
                ok "dpkg -r: the service is stopped, no agent process left ($s)" || bad "dpkg -r: $s"
        [ -f "$R/var/lib/onboard-agent/state.json" ] && ok "dpkg -r keeps the identity (state.json)" ||
                bad "dpkg -r removed the state"
        out=$(sys_run dpkg -P onboard-agent 2>&1)
        [ ! -e "$R/var/lib/onboard-agent" ] && echo "$out" | grep -q "removing /var/lib/onboard-agent" &&
                ok "dpkg -P removes the state and says so" || bad "purge: $out; $(ls -a "$R/var/lib/onboard-agent" 2>&1 | tr '\n' ' ')"
        timing "remove, purge"
fi

if [ $fail != 0 ]; then
        echo "# journal of onboard-agent.service:"
        sys_run journalctl -b -u onboard-agent.service --no-pager | tail -40 | sed 's/^/#   /'
fi
echo "# time: total: $(( $(sys_ms) - T_START )) ms"
exit $fail
