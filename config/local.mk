# config/: example configuration, systemd unit, sysusers.d and tmpfiles.d snippets.

# ---- config helper: the commented example configuration, installed as the default config.
# (Not overwriting an operator's edited file on upgrade is the package manager's job.)
obconfdir = $(sysconfdir)/onboard-agent
dist_obconf_DATA = config/config.json

# ---- check helper: bash completion for agentctl (commands, options, check ids), installed
# under the name bash-completion looks up: completions/agentctl
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = config/bash-completion/agentctl
config/bash-completion/agentctl: config/agentctl.bash-completion
	$(AM_V_GEN)$(MKDIR_P) config/bash-completion && cp $(srcdir)/config/agentctl.bash-completion $@
CLEANFILES += config/bash-completion/agentctl
EXTRA_DIST += config/agentctl.bash-completion
