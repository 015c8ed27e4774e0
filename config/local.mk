# config/: example configuration, systemd unit, sysusers.d and tmpfiles.d snippets.

# ---- config helper: the commented example configuration, installed as the default config.
# (Not overwriting an operator's edited file on upgrade is the package manager's job.)
obconfdir = $(sysconfdir)/onboard-agent
dist_obconf_DATA = config/config.json
