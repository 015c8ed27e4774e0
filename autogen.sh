#!/bin/sh
# Regenerate the build system from a git checkout (release tarballs do not need this).
set -e
cd "$(dirname "$0")"
# Automake's warnings are errors here, for the project's own builds and CI; integrators who run
# autoreconf themselves (Yocto's autotools class, Buildroot's AUTORECONF, dh_autoreconf) get them
# as warnings, so a newer automake cannot break their build (configure.ac: AM_INIT_AUTOMAKE).
autoreconf --force --install --warnings=all,error
