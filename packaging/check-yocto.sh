#!/bin/sh
# Check the Yocto layer for the mistakes that break it on a supported release or that the OE
# style guide and QA reject (docs/packaging.md "Checks"); oelint-adv is not installable here.
#
#   packaging/check-yocto.sh [LAYERDIR [SOURCE_TOP]]
#
# SOURCE_TOP (default: this source tree) is where LIC_FILES_CHKSUM files, configure.ac options,
# the install-ptest target and the SRCREV commit are looked up.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
layer=${1:-$here/yocto/meta-onboard-agent}
top=${2:-$(cd "$here/.." && pwd)}
exec python3 "$here/checkers/check_yocto.py" "$layer" "$top"
