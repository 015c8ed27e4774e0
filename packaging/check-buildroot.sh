#!/bin/sh
# Check the Buildroot external tree against the rules of Buildroot's utils/check-package that
# matter for us, plus our own (docs/packaging.md "Checks"). Buildroot is not packaged in Debian,
# so its checker cannot run here; where a Buildroot checkout exists, also run
#   BUILDROOT/utils/check-package -b packaging/buildroot/package/onboard-agent/*
#
#   packaging/check-buildroot.sh [EXTERNAL_TREE]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tree=${1:-$here/buildroot}
exec python3 "$here/checkers/check_buildroot.py" "$tree" "$(cd "$here/.." && pwd)"
