#!/bin/sh
# Build the tree the Yocto recipe's SRCREV names the way the recipe does (packaging/
# check-yocto-build.py); CI runs it for every commit (docs/packaging.md).
exec python3 "$(dirname "$0")/check-yocto-build.py" "$@"
