#!/usr/bin/env python3
"""Project checker for meta-onboard-agent (packaging/check-yocto.sh).

oelint-adv cannot be installed on the build machines, so this catches the mistakes that break
our layer on one of the supported releases or that the OE style guide and QA checks reject:
see docs/packaging.md "Checks". Exit 1 and one `FILE:LINE: rule: message` per problem.
"""
import hashlib
import os
import re
import subprocess
import sys

RELEASES = {"scarthgap", "whinlatter", "wrynose"}
REQUIRED_INHERIT = {"autotools", "pkgconfig", "systemd", "useradd", "ptest"}
ASSIGN = re.compile(r'^(?:export\s+)?([A-Za-z0-9_${}@\-\.:/\[\]]+?)(\s*)(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)(\s*)(.*)$')
HARDCODED = re.compile(r'(?<![\w}$])(/usr/(bin|sbin|lib|share|include|libexec)|/etc/|/var/|/bin/|/sbin/|/lib/)')
OLD_OVERRIDE = re.compile(r'^[A-Za-z0-9_${}\-]+_(append|prepend|remove)\b|_\$\{PN\}|^(RDEPENDS|RRECOMMENDS|FILES|SYSTEMD_SERVICE|USERADD_PARAM|GROUPADD_PARAM|CONFFILES|RPROVIDES|RCONFLICTS)_')
ENDPOINT = re.compile(r'[A-Za-z0-9-]+(-ats)?\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?')

problems = []


def report(path, line, rule, msg):
    problems.append("%s:%s: %s: %s" % (path, line, rule, msg))


def logical_lines(path):
    """(first line number, text) with backslash continuations joined, like bitbake."""
    out = []
    with open(path, encoding="utf-8") as f:
        raw = f.read().split("\n")
    i = 0
    while i < len(raw):
        start, text = i + 1, raw[i]
        while text.endswith("\\") and i + 1 < len(raw):
            i += 1
            text = text[:-1] + raw[i]
        out.append((start, text, raw[start - 1]))
        i += 1
    return out


def parse(path):
    """Variables set in a recipe: name -> list of (line, op, value), plus the lines."""
    lines = logical_lines(path)
    variables = {}
    in_func = False
    for no, text, first in lines:
        stripped = text.strip()
        if in_func:
            if first.startswith("}"):
                in_func = False
            continue
        if re.match(r'^(python\s+)?[\w:${}\-]+\s*\(\)\s*\{', stripped) or re.match(r'^python\s*\{', stripped) \
                or re.match(r'^python\s+__anonymous', stripped):
            in_func = not stripped.endswith("}")
            continue
        if not stripped or stripped.startswith("#"):
            continue
        m = ASSIGN.match(text)
        if m:
            name, sp1, op, sp2, value = m.groups()
            value = value.strip()
            if len(value) >= 2 and value[0] in "\"'" and value[-1] == value[0]:
                value = value[1:-1]
            variables.setdefault(name, []).append((no, op, value, sp1, sp2, m.group(5).strip()))
    return lines, variables


def last(variables, name):
    v = variables.get(name)
    return v[-1][2] if v else None


def configure_version(top):
    try:
        text = open(os.path.join(top, "configure.ac"), encoding="utf-8").read()
    except OSError:
        return None
    m = re.search(r'AC_INIT\(\[[^\]]+\],\s*\[([^\]]+)\]', text)
    return m.group(1) if m else None


def configure_options(top):
    """--with-X/--enable-X names that configure.ac defines."""
    path = os.path.join(top, "configure.ac")
    if not os.path.exists(path):
        return None
    text = open(path, encoding="utf-8").read()
    withs = set(re.findall(r'AC_ARG_WITH\(\[([\w-]+)\]', text))
    enables = set(re.findall(r'AC_ARG_ENABLE\(\[([\w-]+)\]', text))
    return withs, enables


def check_configure_flags(path, no, text, opts):
    if opts is None:
        return
    withs, enables = opts
    for kind, name in re.findall(r'--(with|without|enable|disable)-([A-Za-z0-9_-]+)', text):
        known = withs if kind in ("with", "without") else enables
        if name not in known:
            report(path, no, "unknown-configure-option",
                   "--%s-%s is not an option of configure.ac (OE QA unknown-configure-option)" % (kind, name))


def check_common(path, lines, variables, opts):
    for no, text, first in lines:
        code = text.split("#", 1)[0] if not text.lstrip().startswith("python") else text
        if text.lstrip().startswith("#"):
            continue
        if re.search(r'\$\{(WORKDIR|UNPACKDIR)\}', code):
            report(path, no, "workdir", "WORKDIR/UNPACKDIR differ between scarthgap and whinlatter+; "
                   "take files from ${S}/${B} or make install instead")
        if "AUTOREV" in code:
            report(path, no, "autorev", "AUTOREV in a published layer: pin SRCREV")
        if OLD_OVERRIDE.search(text.strip()):
            report(path, no, "override-syntax", "old override syntax (_append, RDEPENDS_${PN}); use ':'")
        if ENDPOINT.search(code) and "/examples/" not in path:
            report(path, no, "hardcoded-endpoint", "an AWS IoT endpoint in the layer: products set "
                   "ONBOARD_AGENT_ENDPOINT in their own bbappend")
    for no, text, first in lines:
        if "\t" in first:
            report(path, no, "indent", "tab character: the OE style guide indents with 4 spaces")
        if first != first.rstrip():
            report(path, no, "trailing-space", "trailing whitespace")
    for name, sets in variables.items():
        for no, op, value, sp1, sp2, rawv in sets:
            if (sp1 != " " or sp2 != " ") and not name.startswith("export"):
                report(path, no, "assign-spacing", "%s: one space either side of '%s'" % (name, op))
            if rawv and rawv[0] not in "\"'":
                report(path, no, "assign-quotes", "%s: quote the value" % name)
            if name.startswith("PACKAGECONFIG[") or name in ("EXTRA_OECONF",) or name.startswith("EXTRA_OECONF:"):
                check_configure_flags(path, no, value, opts)


def check_recipe(path, top, opts):
    lines, variables = parse(path)
    check_common(path, lines, variables, opts)
    base = os.path.basename(path)
    if not re.match(r'^[a-z0-9][a-z0-9+.-]*_([0-9][\w.+-]*|git)\.bb$', base):
        report(path, 1, "file-name", "recipe file must be named <name>_<version>.bb or <name>_git.bb")
    for var in ("SUMMARY", "LICENSE", "LIC_FILES_CHKSUM", "HOMEPAGE"):
        if not last(variables, var):
            report(path, 1, "mandatory-var", "%s is missing" % var)
    lic = last(variables, "LIC_FILES_CHKSUM") or ""
    for uri in lic.split():
        if "md5=" not in uri and "sha256=" not in uri:
            report(path, 1, "license-checksum", "%s has no md5= or sha256=" % uri)
            continue
        m = re.match(r'file://([^;]+);.*md5=([0-9a-f]{32})', uri)
        if m and "${" not in m.group(1) and top:
            lf = os.path.join(top, m.group(1))
            if not os.path.exists(lf):
                report(path, 1, "license-checksum", "%s does not exist in the source tree" % m.group(1))
            elif hashlib.md5(open(lf, "rb").read()).hexdigest() != m.group(2):
                report(path, 1, "license-checksum", "md5 of %s changed: update LIC_FILES_CHKSUM" % m.group(1))
    srcuri = " ".join(v[2] for v in variables.get("SRC_URI", []))
    if "git://" in srcuri or "gitsm://" in srcuri or "ONBOARD_AGENT_GIT_URI" in srcuri:
        rev = last(variables, "SRCREV")
        if not rev:
            report(path, 1, "srcrev", "git SRC_URI without SRCREV")
        elif not re.fullmatch(r'[0-9a-f]{40}', rev):
            report(path, 1, "srcrev", "SRCREV must be a full 40-digit commit id, not %r" % rev)
        elif set(rev) == {"0"}:
            report(path, 1, "srcrev", "SRCREV is a placeholder")
        elif top and os.path.isdir(os.path.join(top, ".git")) or (top and os.path.isfile(os.path.join(top, ".git"))):
            r = subprocess.run(["git", "-C", top, "cat-file", "-e", rev + "^{commit}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode != 0:
                report(path, 1, "srcrev", "SRCREV %s is not a commit of this repository" % rev)
        if "branch=" not in srcuri:
            report(path, 1, "srcrev", "git SRC_URI needs branch=")
        if "destsuffix=${BP}" not in srcuri:
            report(path, 1, "git-destsuffix", "git SRC_URI without destsuffix=${BP}: S differs between releases")
    pv = last(variables, "PV")
    want = configure_version(top) if top else None
    if pv and want and os.path.basename(path).startswith("onboard-agent_") and not pv.startswith(want):
        report(path, variables["PV"][-1][0], "version", "PV %s does not start with configure.ac's version %s" % (pv, want))
    if "S" in variables:
        report(path, variables["S"][0][0], "workdir", "do not set S: the default is right on every release")
    return lines, variables


def check_main_recipe(path, lines, variables, top):
    inherits = set()
    for no, text, first in lines:
        m = re.match(r'^inherit\s+(.*)$', text.strip())
        if m:
            inherits.update(m.group(1).split())
    missing = REQUIRED_INHERIT - inherits
    if missing:
        report(path, 1, "inherit", "missing inherit: %s" % " ".join(sorted(missing)))
    deps = " ".join(v[2] for v in variables.get("DEPENDS", []))
    pc = {n[len("PACKAGECONFIG["):-1]: v[-1][2] for n, v in variables.items() if n.startswith("PACKAGECONFIG[")}
    alldeps = deps + " " + " ".join(f.split(",")[2] if len(f.split(",")) > 2 else "" for f in pc.values())
    for dep in ("json-c", "openssl", "paho-mqtt-c", "tpm2-tss", "systemd", "cmocka"):
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(dep), alldeps):
            report(path, 1, "depends", "%s is in neither DEPENDS nor a PACKAGECONFIG" % dep)
    for flag in ("tpm", "systemd"):
        if flag not in pc:
            report(path, 1, "packageconfig", "PACKAGECONFIG[%s] is missing" % flag)
    rdeps = " ".join(v[2] for n, vs in variables.items() if n.startswith("RDEPENDS") for v in vs)
    rdeps += " " + " ".join(f.split(",")[3] if len(f.split(",")) > 3 else "" for f in pc.values())
    for dep in ("tpm2-openssl", "libtss2-tcti-device"):
        if dep not in rdeps.split():
            report(path, 1, "rdepends", "%s is dlopened and must be named in RDEPENDS (or PACKAGECONFIG)" % dep)
    if not variables.get("USERADD_PACKAGES"):
        report(path, 1, "useradd", "USERADD_PACKAGES is missing")
    up = " ".join(v[2] for n, vs in variables.items() if n.startswith("USERADD_PARAM") for v in vs)
    if not up:
        report(path, 1, "useradd", "USERADD_PARAM is missing")
    if "tss" in up and "tpm2-tss" not in (last(variables, "USERADD_DEPENDS") or ""):
        report(path, 1, "useradd", "the user joins group tss: USERADD_DEPENDS must name tpm2-tss")
    if not any(n.startswith("SYSTEMD_SERVICE") for n in variables):
        report(path, 1, "systemd", "SYSTEMD_SERVICE is missing")
    for name in ("ONBOARD_AGENT_ENDPOINT", "ONBOARD_AGENT_METHOD", "ONBOARD_AGENT_TEMPLATE"):
        if name in variables:
            report(path, variables[name][0][0], "hardcoded-config",
                   "%s belongs in onboard-agent-config or a product bbappend" % name)
    for no, text, first in lines:
        if text.lstrip().startswith("#") or re.match(r'^\s*(SUMMARY|DESCRIPTION|HOMEPAGE)', text):
            continue
        if HARDCODED.search(text.split("#", 1)[0]):
            report(path, no, "path-hardcode", "use ${bindir}, ${sysconfdir}, ${localstatedir}... not literal paths")
        if re.search(r'"(method|template)"\s*:', text):
            report(path, no, "hardcoded-config", "configuration values belong in onboard-agent-config")
    if top:
        mk = ""
        for p in ("Makefile.am", "packaging/local.mk", "tests/local.mk"):
            if os.path.exists(os.path.join(top, p)):
                mk += open(os.path.join(top, p), encoding="utf-8").read()
        if "ptest" in inherits and not re.search(r'^install-ptest:', mk, re.M):
            report(path, 1, "ptest", "inherit ptest but the source tree has no install-ptest target")


def check_layer_conf(path):
    lines, variables = parse(path)
    check_common(path, lines, variables, None)
    colls = (last(variables, "BBFILE_COLLECTIONS") or "").split()
    if not colls:
        report(path, 1, "layer-conf", "BBFILE_COLLECTIONS is missing")
        return
    c = colls[0]
    for var in ("BBFILE_PATTERN_", "BBFILE_PRIORITY_", "LAYERDEPENDS_", "LAYERSERIES_COMPAT_"):
        if not last(variables, var + c):
            report(path, 1, "layer-conf", "%s%s is missing" % (var, c))
    compat = set((last(variables, "LAYERSERIES_COMPAT_" + c) or "").split())
    if compat and compat != RELEASES:
        report(path, 1, "layer-compat", "LAYERSERIES_COMPAT must be exactly %s (got %s)"
               % (" ".join(sorted(RELEASES)), " ".join(sorted(compat))))


def main(argv):
    if len(argv) < 2:
        print("usage: check-yocto.sh LAYERDIR [SOURCE_TOP]", file=sys.stderr)
        return 2
    layer = argv[1]
    top = argv[2] if len(argv) > 2 else None
    opts = configure_options(top) if top else None
    conf = os.path.join(layer, "conf", "layer.conf")
    if not os.path.exists(conf):
        report(conf, 0, "layer-conf", "missing")
    else:
        check_layer_conf(conf)
    if not os.path.exists(os.path.join(layer, "README.md")):
        report(layer, 0, "readme", "the layer needs a README.md (yocto-check-layer test_readme)")
    found_main = False
    for dirpath, dirnames, filenames in os.walk(layer):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if fn.endswith(".bb"):
                lines, variables = check_recipe(p, top, opts)
                if fn.startswith("onboard-agent_"):
                    found_main = True
                    check_main_recipe(p, lines, variables, top)
            elif fn.endswith((".bbappend", ".inc", ".bbclass")):
                lines, variables = parse(p)
                check_common(p, lines, variables, opts)
            elif fn.endswith(".patch"):
                if "Upstream-Status:" not in open(p, encoding="utf-8", errors="replace").read():
                    report(p, 1, "patch-status", "patch without Upstream-Status:")
    if not found_main:
        report(layer, 0, "recipe", "no onboard-agent_*.bb recipe")
    for p in problems:
        print(p)
    print("check-yocto: %s: %d problem(s)" % (layer, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
