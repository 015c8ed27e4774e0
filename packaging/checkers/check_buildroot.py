#!/usr/bin/env python3
"""Project checker for the Buildroot external tree (packaging/check-buildroot.sh).

Buildroot's own utils/check-package is not available on the build machines (Buildroot is not
packaged in Debian), so this re-implements the rules of its coding style that matter for our
package, and adds project rules: real Buildroot symbols, selected libraries listed as
dependencies, the systemd unit only for a systemd init, the users line, the version agreeing
with configure.ac and license hashes agreeing with the files. `FILE:LINE: rule: message`.
"""
import hashlib
import os
import re
import sys

# Buildroot symbols we may depend on or select, and the package each one builds
# (None: an option or a run-time-only package that need not be in _DEPENDENCIES).
KNOWN_SYMBOLS = {
    "BR2_PACKAGE_JSON_C": "json-c",
    "BR2_PACKAGE_OPENSSL": "openssl",
    "BR2_PACKAGE_OPENSSL_FORCE_LIBOPENSSL": None,
    "BR2_PACKAGE_PAHO_MQTT_C": "paho-mqtt-c",
    "BR2_PACKAGE_TPM2_TSS": "tpm2-tss",
    "BR2_PACKAGE_TPM2_OPENSSL": None,
    "BR2_PACKAGE_SYSTEMD": "systemd",
    "BR2_PACKAGE_CMOCKA": "cmocka",
    "BR2_TOOLCHAIN_HAS_THREADS": None,
    "BR2_TOOLCHAIN_HAS_SYNC_4": None,
    "BR2_STATIC_LIBS": None,
    "BR2_INIT_SYSTEMD": None,
    "BR2_USE_MMU": None,
}
# What a selected library needs from the toolchain (repeat it: Kconfig does not propagate).
SELECT_NEEDS = {
    "BR2_PACKAGE_JSON_C": ["BR2_TOOLCHAIN_HAS_SYNC_4"],
    "BR2_PACKAGE_PAHO_MQTT_C": ["BR2_TOOLCHAIN_HAS_THREADS"],
    "BR2_PACKAGE_TPM2_TSS": ["!BR2_STATIC_LIBS"],
    "BR2_PACKAGE_TPM2_OPENSSL": ["!BR2_STATIC_LIBS", "BR2_TOOLCHAIN_HAS_THREADS"],
}
ATTR_ORDER = {"bool": 1, "prompt": 1, "string": 1, "int": 1, "hex": 1, "tristate": 1,
              "default": 2, "depends": 3, "select": 4, "help": 5}
TOP_LEVEL = ("choice", "comment", "config", "endchoice", "endif", "endmenu", "if", "menu",
             "menuconfig", "source")
INDENTED = ("bool", "default", "depends", "help", "prompt", "select", "string", "int", "hex")
HASH_LEN = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}
COND_START = ("ifeq", "ifneq", "ifdef", "ifndef")

problems = []


def report(path, line, rule, msg):
    problems.append("%s:%s: %s: %s" % (path, line, rule, msg))


def read_lines(path):
    data = open(path, "rb").read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        report(path, 0, "utf8", "not UTF-8")
        text = data.decode("utf-8", "replace")
    if data and not data.endswith(b"\n"):
        report(path, 0, "newline-at-eof", "missing newline at end of file")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if lines and lines[-1].strip() == "":
        report(path, len(lines), "empty-last-line", "remove the empty last line")
    prev_empty = False
    for no, line in enumerate(lines, 1):
        if line != line.rstrip():
            report(path, no, "trailing-space", "trailing whitespace")
        empty = line.strip() == ""
        if empty and prev_empty:
            report(path, no, "consecutive-empty-lines", "consecutive empty lines")
        prev_empty = empty
    if os.access(path, os.X_OK):
        report(path, 0, "not-executable", "file need not be executable")
    return lines


def configure_version(top):
    try:
        text = open(os.path.join(top, "configure.ac"), encoding="utf-8").read()
    except OSError:
        return None
    m = re.search(r'AC_INIT\(\[[^\]]+\],\s*\[([^\]]+)\]', text)
    return m.group(1) if m else None


def check_config_in(path):
    lines = read_lines(path)
    state = 0
    in_help = False
    first_help = False
    backslash = False
    symbols = {}        # config symbol -> {"depends": [...], "select": [...]}
    current = None
    comments = []       # (line, [depends lines])
    for no, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped == "" or stripped.startswith("#"):
            backslash = False
            continue
        word = stripped.split()[0]
        if in_help:
            if line.startswith("\t  "):
                fmt = r"^\t  \S.{0,61}$" if first_help else r"^\t  .{0,62}$"
                first_help = False
                if not re.match(fmt, line) and not re.match(r"^(http|https|git)://\S*$", stripped):
                    report(path, no, "help-text", "help text: <tab><2 spaces><62 chars>")
                continue
            if word not in TOP_LEVEL:
                report(path, no, "help-text", "help text must be indented <tab><2 spaces>")
                continue
            in_help = False
        if backslash:
            if not line.startswith("\t"):
                report(path, no, "indent", "continuation line should be indented using tabs")
            backslash = line.endswith("\\")
            continue
        backslash = line.endswith("\\")
        if word in TOP_LEVEL:
            if line != line.lstrip():
                report(path, no, "indent", "'%s' should not be indented" % word)
            state = 0
            current = None
            m = re.match(r"^(menu)?config\s+(BR2_\w+)", stripped)
            if m:
                current = symbols.setdefault(m.group(2), {"depends": [], "select": [], "line": no})
            if word == "comment":
                comments.append((no, []))
                current = {"depends": comments[-1][1], "select": []}
            if word == "source" and not re.match(r'^source "\$BR2_EXTERNAL_\w+_PATH/', stripped):
                report(path, no, "source", "source paths must start with $BR2_EXTERNAL_<NAME>_PATH")
            continue
        if word in INDENTED and not line.startswith("\t" + word):
            report(path, no, "indent", "'%s' should be indented with one tab" % word)
        if word in ATTR_ORDER:
            new = ATTR_ORDER[word]
            if state > new:
                report(path, no, "attributes-order", "attributes order: type, default, depends on, select, help")
            state = new
        if re.match(r"^default\s+n\s*(#.*)?$", stripped):
            report(path, no, "default-n", "'default n' is redundant")
        if word == "help":
            in_help = True
            first_help = True
        if current is not None and word in ("depends", "select"):
            expr = stripped.split("#", 1)[0]
            expr = expr[len("depends on"):] if word == "depends" else expr[len("select"):]
            current[word].append(expr.strip())
            for sym in re.findall(r"BR2_\w+", expr):
                if sym not in KNOWN_SYMBOLS and sym not in symbols:
                    report(path, no, "unknown-symbol", "%s is not a Buildroot symbol we know "
                           "(typo? see package/*/Config.in in Buildroot)" % sym)
    return symbols, comments


def check_package_config(path, symbols, comments, mk_deps):
    main = symbols.get("BR2_PACKAGE_ONBOARD_AGENT")
    if not main:
        report(path, 1, "config", "no 'config BR2_PACKAGE_ONBOARD_AGENT'")
        return
    depends = " ".join(main["depends"])
    for sel in main["select"]:
        sym = sel.split()[0]
        for need in SELECT_NEEDS.get(sym, []):
            if need not in depends.replace(" ", "") and need.lstrip("!") not in depends:
                report(path, main["line"], "select-depends",
                       "selects %s, so it must also 'depends on %s'" % (sym, need))
        pkg = KNOWN_SYMBOLS.get(sym)
        if pkg and pkg not in mk_deps:
            report(path, main["line"], "select-dependencies",
                   "selects %s but %s is not in ONBOARD_AGENT_DEPENDENCIES" % (sym, pkg))
    if not comments:
        report(path, main["line"], "comment", "add a 'comment \"onboard-agent needs ...\"' for the toolchain options")


def check_mk(path, top):
    lines = read_lines(path)
    name = os.path.basename(path)[:-3]
    prefix = name.replace("-", "_").upper() + "_"
    header = ["#" * 80, "#", "# " + name, "#", "#" * 80, ""]
    for i, want in enumerate(header):
        if i >= len(lines) or lines[i].rstrip() != want:
            report(path, i + 1, "package-header", "header must be 80 hashes, '#', '# %s', '#', 80 hashes, blank" % name)
            break
    define = False
    backslash = False
    cond = 0
    variables = {}
    set_uncond = set()
    for no, line in enumerate(lines, 1):
        stripped = line.strip()
        if re.match(r"^\s*define\s", line):
            define = True
            m = re.match(r"^define\s+([A-Z0-9_]+)", line)
            if m and not m.group(1).startswith(prefix):
                report(path, no, "variable-prefix", "possible typo: %s -> *%s*" % (m.group(1), prefix))
            if m:
                variables.setdefault(m.group(1), []).append((no, "define", ""))
            continue
        if re.match(r"^\s*endef\b", line):
            define = False
            continue
        expect_tab = define or backslash
        if not backslash and re.match(r"^\s*(%s|else|endif)\b" % "|".join(COND_START), line):
            expect_tab = False
        was_backslash = backslash
        backslash = bool(re.match(r"^[^#].*\\$", line))
        if re.match(r"^.*(  |\t ?)\\$", line.rstrip()):
            report(path, no, "space-before-backslash", "use only one space before backslash")
        if was_backslash and stripped == "":
            report(path, no - 1, "trailing-backslash", "remove trailing backslash")
        if stripped == "":
            continue
        if define and stripped.startswith("#"):
            continue
        if expect_tab and not line.startswith("\t"):
            report(path, no, "indent", "expected indent with tabs")
        elif not expect_tab and line.startswith("\t"):
            report(path, no, "indent", "unexpected indent with tabs")
        if stripped.startswith("#") or define:
            continue
        if re.match(r"^[^#].*[^$]\$\{\w+\}", line):
            report(path, no, "variable-with-braces", "use $() to delimit variables, not ${}")
        if re.match(r"^\s*(%s)\b" % "|".join(COND_START), line):
            if line.startswith("ifdef") or line.startswith("ifndef"):
                report(path, no, "ifdef", "use ifeq ($(BR2_...),y), not ifdef")
            cond += 1
            continue
        if re.match(r"^\s*endif\b", line):
            cond -= 1
            continue
        if was_backslash:
            continue
        m = re.match(r"^([A-Z0-9_]+)\s*(\+=|:=|\?=|=)\s*(.*)$", line)
        if not m:
            continue
        var, op, value = m.groups()
        if not var.startswith(prefix):
            report(path, no, "variable-prefix", "possible typo: %s -> *%s*" % (var, prefix))
        if re.match(r".*_(INSTALL_TARGET\s*=\s*YES|INSTALL_STAGING\s*=\s*NO|INSTALL_IMAGES\s*=\s*NO|"
                    r"INSTALL_REDISTRIBUTE\s*=\s*YES|AUTORECONF\s*=\s*NO|LIBTOOL_PATCH\s*=\s*YES)", line) and cond == 0:
            report(path, no, "useless-flag", "useless default value")
        if op in ("=", ":="):
            if cond == 0 and var in set_uncond:
                report(path, no, "overridden-variable", "unconditional override of variable %s" % var)
            if cond > 0 and re.search(r"_(CONF_OPTS|DEPENDENCIES)$", var):
                report(path, no, "overridden-variable", "conditional override of variable %s" % var)
        if cond == 0:
            set_uncond.add(var)
        variables.setdefault(var, []).append((no, op, value))
    last = [l for l in lines if l.strip()]
    if not last or last[-1].strip() != "$(eval $(autotools-package))":
        report(path, len(lines), "eval", "the last line must be $(eval $(autotools-package))")
    for suffix in ("VERSION", "SITE", "LICENSE", "LICENSE_FILES", "DEPENDENCIES", "USERS"):
        if prefix + suffix not in variables:
            report(path, 1, "mandatory-var", "%s%s is missing" % (prefix, suffix))
    # the systemd unit only for a systemd init
    text = "\n".join(lines)
    for m in re.finditer(r"--with-systemdsystemunitdir=(\S+)", text):
        if m.group(1) == "no":
            continue
        before = text[:m.start()]
        opened = before.rfind("ifeq ($(BR2_INIT_SYSTEMD),y)")
        closed = before.rfind("endif")
        if opened < 0 or closed > opened:
            report(path, before.count("\n") + 1, "systemd-unit",
                   "the unit directory may only be set under ifeq ($(BR2_INIT_SYSTEMD),y)")
    if "_INSTALL_INIT_SYSTEMD" not in text and "BR2_INIT_SYSTEMD" not in text:
        report(path, 1, "systemd-unit", "no BR2_INIT_SYSTEMD condition: the unit would be installed for every init")
    m = re.search(r"define %sUSERS\n(.*?)\nendef" % prefix, text, re.S)
    if m:
        for uline in m.group(1).split("\n"):
            fields = uline.split()
            if len(fields) < 9:
                report(path, 1, "users", "makeusers line needs 9 fields: %r" % uline.strip())
            elif "tss" not in fields[7].split(","):
                report(path, 1, "users", "the agent user must be in group tss (/dev/tpmrm0)")
    version = variables.get(prefix + "VERSION")
    want = configure_version(top)
    if version and want and version[0][2] != want:
        report(path, version[0][0], "version", "%sVERSION %s differs from configure.ac (%s)"
               % (prefix, version[0][2], want))
    deps = " ".join(v[2] for v in variables.get(prefix + "DEPENDENCIES", []))
    lic_files = " ".join(v[2] for v in variables.get(prefix + "LICENSE_FILES", [])).split()
    return deps.split(), lic_files


def check_hash(path, lic_files, top):
    lines = read_lines(path)
    seen = {}
    had_comment = False
    for no, line in enumerate(lines, 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            had_comment = True
            continue
        if not had_comment:
            report(path, no, "hash-comment", "say where the hash comes from in a comment above it")
        fields = line.split()
        if len(fields) != 3:
            report(path, no, "hash-fields", "expected three fields")
            continue
        htype, hexa, fname = fields
        if htype not in HASH_LEN:
            report(path, no, "hash-type", "unexpected type of hash")
        elif not re.fullmatch(r"[0-9A-Fa-f]{%d}" % HASH_LEN[htype], hexa):
            report(path, no, "hash-size", "hash size does not match type (%d hex digits)" % HASH_LEN[htype])
        if line != "%s  %s  %s" % (htype, hexa, fname):
            report(path, no, "hash-spaces", "separate the fields with exactly two spaces")
        seen[fname] = (no, htype, hexa)
    for lf in lic_files:
        if lf not in seen:
            report(path, 0, "hash-license", "no hash for license file %s" % lf)
            continue
        no, htype, hexa = seen[lf]
        p = os.path.join(top, lf)
        if htype in HASH_LEN and os.path.exists(p):
            if hashlib.new(htype, open(p, "rb").read()).hexdigest() != hexa.lower():
                report(path, no, "hash-license", "%s hash does not match %s" % (htype, lf))


def main(argv):
    if len(argv) < 2:
        print("usage: check-buildroot.sh TREE [SOURCE_TOP]", file=sys.stderr)
        return 2
    tree = argv[1]
    top = argv[2] if len(argv) > 2 else os.path.join(tree, "..", "..")
    desc = os.path.join(tree, "external.desc")
    name = None
    if not os.path.exists(desc):
        report(desc, 0, "external", "missing")
    else:
        for no, line in enumerate(read_lines(desc), 1):
            m = re.match(r"^name:\s*(\S+)$", line)
            if m:
                name = m.group(1)
                if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                    report(desc, no, "external", "name may only use [A-Za-z0-9_]")
        if not name:
            report(desc, 1, "external", "no 'name:' line")
    for fn in ("Config.in", "external.mk"):
        if not os.path.exists(os.path.join(tree, fn)):
            report(os.path.join(tree, fn), 0, "external", "missing")
    pkgroot = os.path.join(tree, "package")
    packages = sorted(os.listdir(pkgroot)) if os.path.isdir(pkgroot) else []
    if os.path.exists(os.path.join(tree, "Config.in")):
        check_config_in(os.path.join(tree, "Config.in"))
        top_cfg = open(os.path.join(tree, "Config.in"), encoding="utf-8").read()
        for pkg in packages:
            want = 'source "$BR2_EXTERNAL_%s_PATH/package/%s/Config.in"' % (name, pkg)
            if want not in top_cfg:
                report(os.path.join(tree, "Config.in"), 0, "external", "missing: %s" % want)
    if os.path.exists(os.path.join(tree, "external.mk")):
        mk = open(os.path.join(tree, "external.mk"), encoding="utf-8").read()
        if "$(BR2_EXTERNAL_%s_PATH)/package/" % name not in mk:
            report(os.path.join(tree, "external.mk"), 1, "external",
                   "must include $(BR2_EXTERNAL_%s_PATH)/package/*/*.mk" % name)
    if "onboard-agent" not in packages:
        report(pkgroot, 0, "package", "no package/onboard-agent")
    for pkg in packages:
        d = os.path.join(pkgroot, pkg)
        for fn in ("Config.in", pkg + ".mk", pkg + ".hash"):
            if not os.path.exists(os.path.join(d, fn)):
                report(os.path.join(d, fn), 0, "package", "missing")
        mk_deps, lic_files = [], []
        if os.path.exists(os.path.join(d, pkg + ".mk")):
            mk_deps, lic_files = check_mk(os.path.join(d, pkg + ".mk"), top)
        if os.path.exists(os.path.join(d, "Config.in")):
            symbols, comments = check_config_in(os.path.join(d, "Config.in"))
            if pkg == "onboard-agent":
                check_package_config(os.path.join(d, "Config.in"), symbols, comments, mk_deps)
        if os.path.exists(os.path.join(d, pkg + ".hash")):
            check_hash(os.path.join(d, pkg + ".hash"), lic_files, top)
    for p in problems:
        print(p)
    print("check-buildroot: %s: %d problem(s)" % (tree, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
