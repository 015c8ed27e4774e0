#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Build the tree that the Yocto recipe's SRCREV names the way the recipe builds it, and fail
where a Yocto build of that revision would fail (docs/packaging.md "The recipe's SRCREV").

BitBake itself is not available here, so the recipe's steps are replayed: the variables the
recipe sets (with the defaults of openembedded-core's bitbake.conf and the classes it inherits),
`git archive SRCREV`, autoreconf, configure with autotools.bbclass's options + EXTRA_OECONF +
PACKAGECONFIG, make, the make targets of the recipe's tasks, `make install`, the recipe's
do_install:append, ptest.bbclass's install-ptest; then the packaging: every installed file must
be claimed by some package's FILES (insane.bbclass: installed-vs-shipped), configure must have
recognised every option (unknown-configure-option), nothing may be installed in
QA_EMPTY_DIRS (empty-dirs), and the unit named by SYSTEMD_SERVICE must be installed.

    packaging/check-yocto-build.py [--srcrev REV] [--keep DIR]

--srcrev checks another revision against the current recipe (to show the check failing for an
older one). Exit 0: the recipe's SRCREV builds and ships; 1: it would not; 2: usage or setup.
"""

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(TOP, "packaging/yocto/meta-onboard-agent/recipes-connectivity/"
                      "onboard-agent/onboard-agent_git.bb")

# openembedded-core meta/conf/bitbake.conf, with DISTRO_FEATURES "systemd usrmerge ptest" (the
# recipe requires systemd; usrmerge is required with systemd on whinlatter and later).
DEFAULTS = {
    "base_prefix": "", "prefix": "/usr", "exec_prefix": "${prefix}", "root_prefix": "${exec_prefix}",
    "baselib": "lib", "base_bindir": "${root_prefix}/bin", "base_sbindir": "${root_prefix}/sbin",
    "base_libdir": "${root_prefix}/${baselib}", "nonarch_base_libdir": "${root_prefix}/lib",
    "sysconfdir": "${base_prefix}/etc", "servicedir": "${base_prefix}/srv",
    "sharedstatedir": "${base_prefix}/com", "localstatedir": "${base_prefix}/var",
    "datadir": "${prefix}/share", "infodir": "${datadir}/info", "mandir": "${datadir}/man",
    "docdir": "${datadir}/doc", "systemd_unitdir": "${nonarch_base_libdir}/systemd",
    "systemd_system_unitdir": "${nonarch_base_libdir}/systemd/system",
    "nonarch_libdir": "${exec_prefix}/lib", "bindir": "${exec_prefix}/bin",
    "sbindir": "${exec_prefix}/sbin", "libdir": "${exec_prefix}/${baselib}",
    "libexecdir": "${exec_prefix}/libexec", "includedir": "${exec_prefix}/include",
    "SOLIBS": ".so.*", "SOLIBSDEV": ".so", "PTEST_PATH": "${libdir}/${BPN}/ptest",
    "DISTRO_FEATURES": "systemd usrmerge ptest", "PTEST_ENABLED": "1",
    "PACKAGE_BEFORE_PN": "",
    "PACKAGES": "${PN}-src ${PN}-dbg ${PN}-staticdev ${PN}-dev ${PN}-doc ${PN}-locale "
                "${PACKAGE_BEFORE_PN} ${PN}",
    "FILES:${PN}": "${bindir}/* ${sbindir}/* ${libexecdir}/* ${libdir}/lib*${SOLIBS} "
                   "${sysconfdir} ${sharedstatedir} ${localstatedir} ${base_bindir}/* "
                   "${base_sbindir}/* ${base_libdir}/*${SOLIBS} ${base_prefix}/lib/udev "
                   "${prefix}/lib/udev ${base_libdir}/udev ${libdir}/udev ${datadir}/${BPN} "
                   "${libdir}/${BPN}/* ${datadir}/pixmaps ${datadir}/applications ${datadir}/idl "
                   "${datadir}/omf ${datadir}/sounds ${libdir}/bonobo/servers",
    "FILES:${PN}-doc": "${docdir} ${mandir} ${infodir} ${datadir}/gtk-doc ${datadir}/gnome/help",
    "FILES:${PN}-dev": "${includedir} ${base_libdir}/lib*${SOLIBSDEV} ${libdir}/lib*${SOLIBSDEV} "
                       "${libdir}/*.la ${libdir}/*.o ${libdir}/pkgconfig ${datadir}/pkgconfig "
                       "${datadir}/aclocal ${base_libdir}/*.o ${libdir}/${BPN}/*.la "
                       "${base_libdir}/*.la ${libdir}/cmake ${datadir}/cmake",
    "FILES:${PN}-staticdev": "${libdir}/*.a ${base_libdir}/*.a ${libdir}/${BPN}/*.a",
    "FILES:${PN}-dbg": "/usr/lib/debug /usr/lib/debug-static /usr/src/debug",
    "FILES:${PN}-src": "", "FILES:${PN}-locale": "${datadir}/locale",
}
# what the inherited classes add (meta/classes-recipe/<class>.bbclass)
CLASSES = {
    "bash-completion": [("PACKAGE_BEFORE_PN", "+=", "${PN}-bash-completion"),
                        ("FILES:${PN}-bash-completion", "=",
                         "${datadir}/bash-completion ${sysconfdir}/bash_completion.d")],
    "ptest": [("PACKAGES", "=+", "${PN}-ptest"), ("FILES:${PN}-ptest", "+=", "${PTEST_PATH}")],
}
QA_EMPTY_DIRS = "/dev/pts /media /proc /run /tmp ${localstatedir}/run ${localstatedir}/volatile"

problems = []


def problem(rule, msg):
    problems.append("%s: %s" % (rule, msg))
    print("check-yocto-build: ERROR: %s: %s" % (rule, msg))


def logical_lines(path):
    out, cur = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.endswith("\\"):
                cur += line[:-1] + " "
                continue
            out.append(cur + line)
            cur = ""
    return out


class Recipe:
    ASSIGN = re.compile(r'^([A-Za-z0-9_${}\[\]:.+-]+)\s*(\?\?=|\?=|\+=|=\+|\.=|:=|=)\s*"(.*)"\s*$')

    def __init__(self, path, pn):
        self.vars = dict(DEFAULTS)
        self.vars.update({"PN": pn, "BPN": pn})
        self.funcs = {}
        self.inherits = []
        lines = logical_lines(path)
        i = 0
        while i < len(lines):
            line = lines[i].strip()
            i += 1
            if not line or line.startswith("#"):
                continue
            m = re.match(r'^(?:python\s+)?([A-Za-z0-9_:${}-]+)\s*\(\)\s*\{$', line)
            if m:
                body = []
                while i < len(lines) and lines[i].rstrip() != "}":
                    body.append(lines[i])
                    i += 1
                i += 1
                self.funcs[m.group(1)] = "\n".join(body)
                continue
            m = re.match(r'^inherit\s+(.*)$', line)
            if m:
                for cls in m.group(1).split():
                    self.inherits.append(cls)
                    for name, op, value in CLASSES.get(cls, []):
                        self.assign(name, op, value)
                continue
            m = self.ASSIGN.match(line)
            if m:
                self.assign(m.group(1), m.group(2), m.group(3))

    def assign(self, name, op, value):
        old = self.vars.get(name)
        if op == "??=" or op == "?=":
            if old is None:
                self.vars[name] = value
        elif op == "+=":
            self.vars[name] = (old + " " + value) if old else value
        elif op == "=+":
            self.vars[name] = (value + " " + old) if old else value
        elif op == ".=":
            self.vars[name] = (old or "") + value
        else:
            self.vars[name] = value

    def get(self, name):
        return self.expand(self.vars.get(name, ""))

    def expand(self, text, depth=0):
        if depth > 20:
            raise ValueError("recursive expansion: " + text)

        prev = None
        while prev != text:
            prev = text
            start = text.find("${@")
            if start >= 0:  # inline Python: up to the matching brace
                depth_b, end = 0, start + 1
                while end < len(text):
                    depth_b += {"{": 1, "}": -1}.get(text[end], 0)
                    if depth_b == 0:
                        break
                    end += 1
                code = self.expand(text[start + 3:end], depth + 1)
                value = eval(code, {"bb": _BB, "d": self, "os": os})  # noqa: S307 (recipe text)
                text = text[:start] + str(value) + text[end + 1:]
                continue
            text = re.sub(r'\$\{([A-Za-z0-9_:${}-]+?)\}',
                          lambda m: self.expand(self.vars[m.group(1)], depth + 1)
                          if m.group(1) in self.vars else m.group(0), text)
        return text

    def getVar(self, name, expand=True):  # noqa: N802 (BitBake's datastore API)
        return self.get(name) if expand else self.vars.get(name)


class _Utils:
    @staticmethod
    def contains(var, items, truev, falsev, d):
        have = set(d.get(var).split())
        return truev if set(items.split()) <= have else falsev

    @staticmethod
    def filter(var, items, d):
        have = set(d.get(var).split())
        return " ".join(x for x in items.split() if x in have)


class _BB:
    utils = _Utils


def run(cmd, cwd, log, env=None):
    with open(log, "a") as f:
        f.write("$ %s\n" % " ".join(cmd))
        f.flush()
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode


def matches(rel, pattern):
    """package.bbclass: a pattern names files or directories (glob); a directory takes its tree."""
    pattern = "/" + pattern.strip("/")
    if fnmatch.fnmatchcase(rel, pattern):
        return True
    parts = rel.split("/")
    for n in range(2, len(parts)):
        if fnmatch.fnmatchcase("/".join(parts[:n]), pattern):
            return True
    return False


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--srcrev")
    ap.add_argument("--keep")
    args = ap.parse_args(argv)

    r = Recipe(RECIPE, "onboard-agent")
    pv = r.get("PV")
    r.vars["BP"] = "onboard-agent-" + pv
    srcrev = args.srcrev or r.get("SRCREV")
    print("check-yocto-build: recipe %s, SRCREV %s" % (os.path.relpath(RECIPE, TOP), srcrev))
    if subprocess.run(["git", "-C", TOP, "cat-file", "-e", srcrev + "^{commit}"],
                      stderr=subprocess.DEVNULL).returncode != 0:
        problem("srcrev", "SRCREV %s is not a commit of this repository" % srcrev)
        return 1
    behind = subprocess.run(["git", "-C", TOP, "rev-list", "--count", srcrev + "..HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print("check-yocto-build: SRCREV is %s commits behind HEAD" % behind)

    work = args.keep or tempfile.mkdtemp(prefix="ob-yocto-build.")
    os.makedirs(work, exist_ok=True)
    log = os.path.join(work, "build.log")
    src, bld, dest = (os.path.join(work, n) for n in ("src", "build", "image"))
    for p in (src, bld, dest):
        shutil.rmtree(p, ignore_errors=True)
        os.makedirs(p)
    try:
        git = subprocess.Popen(["git", "-C", TOP, "archive", srcrev], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", src], stdin=git.stdout, check=True)
        git.wait()
        # autotools.bbclass: autoreconf -Wcross -Wno-obsolete --install --force
        if run(["autoreconf", "-Wcross", "-Wno-obsolete", "--install", "--force"], src, log):
            problem("autoreconf", "autoreconf failed (%s)" % log)
            return 1
        pcargs = []
        flags = {k[len("PACKAGECONFIG["):-1]: r.get(k).split(",")
                 for k in r.vars if k.startswith("PACKAGECONFIG[")}
        enabled = r.get("PACKAGECONFIG").split()
        for name, fields in sorted(flags.items()):
            fields += [""] * (4 - len(fields))
            pcargs += (fields[0] if name in enabled else fields[1]).split()
        for name in enabled:
            if name not in flags:
                problem("invalid-packageconfig", "PACKAGECONFIG has %s, no PACKAGECONFIG[%s]" % (name, name))
        opts = ["--prefix=" + r.get("prefix"), "--exec_prefix=" + r.get("exec_prefix")]
        for d in ("bindir", "sbindir", "libexecdir", "datadir", "sysconfdir", "sharedstatedir",
                  "localstatedir", "libdir", "includedir", "infodir", "mandir"):
            opts.append("--%s=%s" % (d, r.get(d)))
        opts += ["--oldincludedir=" + r.get("includedir"), "--disable-silent-rules",
                 "--disable-dependency-tracking", "--disable-static"]
        opts += r.get("EXTRA_OECONF").split() + pcargs
        print("check-yocto-build: configure %s" % " ".join(opts[13:]))
        if run([os.path.join(src, "configure")] + opts, bld, log):
            problem("configure", "configure failed with the recipe's options (%s)" % log)
            return 1
        with open(os.path.join(bld, "config.log"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if "WARNING: unrecognized options:" in line:
                    problem("unknown-configure-option", line.split(":", 1)[1].strip())
        make = ["make", "-j2"]
        if run(make, bld, log):
            problem("compile", "make failed (%s)" % log)
            return 1
        for task in sorted(r.funcs):
            if not task.startswith("do_compile"):
                continue
            for target in re.findall(r'oe_runmake\s+([A-Za-z0-9_.-]+)', r.funcs[task]):
                if run(make + [target], bld, log):
                    problem("make-target", "%s runs `make %s`, which this tree lacks or fails (%s)"
                            % (task, target, log))
        if run(make + ["install", "DESTDIR=" + dest], bld, log):
            problem("install", "make install failed (%s)" % log)
            return 1
        r.vars["D"] = dest
        # do_install runs under pseudo, where chown to the users and groups that useradd.bbclass
        # creates works; here chown/chgrp check the names against the recipe and change nothing.
        names = {"root"}
        for key in [k for k in r.vars if k.startswith(("USERADD_PARAM", "GROUPADD_PARAM"))]:
            for param in r.get(key).split(";"):
                if param.split():
                    names.add(param.split()[-1])
        shims = os.path.join(work, "pseudo-bin")
        os.makedirs(shims, exist_ok=True)
        for tool in ("chown", "chgrp"):
            with open(os.path.join(shims, tool), "w") as f:
                f.write('#!/bin/sh\nfor o in $(echo "$1" | tr ":" " "); do\n'
                        '  case " %s " in *" $o "*) ;; *) echo "%s: $o: no such user or group '
                        'in the recipe" >&2; exit 1 ;; esac\ndone\n' % (" ".join(sorted(names)), tool))
            os.chmod(os.path.join(shims, tool), 0o755)
        env = dict(os.environ, PATH=shims + ":" + os.environ["PATH"])
        for task in ("do_install:append", "do_install"):
            if task in r.funcs:
                body = r.expand(r.funcs[task]).replace("oe_runmake", "make")
                if run(["sh", "-e", "-c", body], bld, log, env):
                    problem("do_install", "%s fails on this tree (%s)" % (task, log))
        if "ptest" in r.inherits and run(["sh", "-c", "grep -q install-ptest: Makefile"], bld, log) == 0:
            if run(make + ["DESTDIR=" + dest + r.get("PTEST_PATH"), "install-ptest"], bld, log):
                problem("install-ptest", "make install-ptest failed (%s)" % log)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        problem("setup", str(e))
        return 1

    # packaging: PACKAGES in order, each claims what its FILES match
    installed = []
    for root, dirs, files in os.walk(dest):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(root, x))]:
            installed.append("/" + os.path.relpath(os.path.join(root, name), dest))
    pn = "onboard-agent"
    svc = r.get("SYSTEMD_SERVICE:${PN}").split()
    if "systemd" in r.inherits and not svc:
        problem("systemd", "inherit systemd without SYSTEMD_SERVICE:${PN}")
    for unit in svc:
        path = r.get("systemd_system_unitdir") + "/" + unit
        if path not in installed:
            problem("systemd", "SYSTEMD_SERVICE names %s, not installed at %s" % (unit, path))
        r.assign("FILES:${PN}", "+=", path)
    packages = [p.replace("${PN}", pn) for p in r.vars["PACKAGES"].split()]
    packages = r.expand(" ".join(packages)).split()
    files = {}
    for name in packages:
        key = "FILES:" + name.replace(pn, "${PN}", 1)
        files[name] = r.get(key).split() + r.get("FILES:" + name).split()
    shipped = {}
    for path in sorted(installed):
        for name in packages:
            if any(matches(path, pat) for pat in files[name]):
                shipped[path] = name
                break
        else:
            problem("installed-vs-shipped", "%s is installed but in no package's FILES" % path)
    for path, name in sorted(shipped.items()):
        for d in r.expand(QA_EMPTY_DIRS).split():
            if path.startswith(d.rstrip("/") + "/"):
                problem("empty-dirs", "%s (package %s) is under %s" % (path, name, d))
    counts = {}
    for name in shipped.values():
        counts[name] = counts.get(name, 0) + 1
    print("check-yocto-build: %d files installed; %s" % (
        len(installed), ", ".join("%s %d" % (k, v) for k, v in sorted(counts.items()))))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("check-yocto-build: %d problems: a Yocto build of SRCREV %s would fail" % (len(problems), srcrev[:12]))
        return 1
    print("check-yocto-build: ok: SRCREV %s builds with the recipe's options and ships every file" % srcrev[:12])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
