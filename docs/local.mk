# docs/: documentation and man pages.
EXTRA_DIST += docs/architecture.md docs/emulator.md
