# docs/: documentation and man pages.
EXTRA_DIST += docs/architecture.md docs/state.md docs/testing.md docs/errors.md docs/tpm.md docs/provisioning.md

# ---- config helper: configuration reference and man pages (checked against the key table by
# tests/unit/test-config.c)
EXTRA_DIST += docs/configuration.md
man_MANS += docs/man/onboard-agent.8 docs/man/agentctl.8 docs/man/onboard-agent.json.5
EXTRA_DIST += docs/man/onboard-agent.8 docs/man/agentctl.8 docs/man/onboard-agent.json.5
EXTRA_DIST += docs/emulator.md
# ---- ctl helper: the control socket
EXTRA_DIST += docs/control.md
# ---- system helper: operations (the systemd unit), installed: the unit's Documentation= names it
dist_doc_DATA += docs/operations.md

# ---- bench helper: benchmarks
EXTRA_DIST += docs/performance.md
EXTRA_DIST += docs/rotation.md
# ---- factory helper: the manufacturing guide (agentctl factory)
EXTRA_DIST += docs/manufacturing.md
EXTRA_DIST += docs/security.md
EXTRA_DIST += docs/jobs.md
