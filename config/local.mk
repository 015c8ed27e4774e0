# config/: example configuration, systemd unit, sysusers.d and tmpfiles.d snippets.

# ---- config helper: the commented example configuration, installed as an example, never as
# the live configuration: an unconfigured box must not dial the example's endpoint. The unit
# starts only once $(sysconfdir)/onboard-agent/config.json exists (docs/packaging.md).
obexampledir = $(datadir)/onboard-agent
obexample_DATA = config/config.json.example
config/config.json.example: $(top_srcdir)/config/config.json
	$(AM_V_GEN)$(MKDIR_P) config && cp $(top_srcdir)/config/config.json $@
CLEANFILES += config/config.json.example
EXTRA_DIST += config/config.json

# ---- system helper: the systemd unit (from a template: paths substituted at build time, so a
# `make prefix=...` override is honoured), the sysusers.d and tmpfiles.d snippets
# (docs/operations.md "The systemd unit"). configure: --with-systemdsystemunitdir=DIR|no,
# --with-sysusersdir=DIR, --with-tmpfilesdir=DIR.
EXTRA_DIST += config/onboard-agent.service.in config/onboard-agent.sysusers \
	config/onboard-agent.tmpfiles
CLEANFILES += config/onboard-agent.service

# Lines ending in @TPM@ (the tss group, /dev/tpmrm0) are kept only in builds with the TPM.
if HAVE_TPM
ob_unit_tpm = -e 's|@TPM[@]$$||'
else
ob_unit_tpm = -e '/@TPM[@]$$/d'
endif
config/onboard-agent.service: $(top_srcdir)/config/onboard-agent.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) config && \
	$(SED) -e 's|@sbindir[@]|$(sbindir)|g' -e 's|@sysconfdir[@]|$(sysconfdir)|g' $(ob_unit_tpm) \
		$(top_srcdir)/config/onboard-agent.service.in >$@.tmp && mv $@.tmp $@

# sysusers.d and tmpfiles.d want NAME.conf: build-tree copies under that name, installed with
# plain DATA primaries (no install hooks).
CLEANFILES += config/sysusers.d/onboard-agent.conf config/tmpfiles.d/onboard-agent.conf
config/sysusers.d/onboard-agent.conf: $(top_srcdir)/config/onboard-agent.sysusers Makefile
	$(AM_V_GEN)$(MKDIR_P) config/sysusers.d && \
	$(SED) $(ob_unit_tpm) $(top_srcdir)/config/onboard-agent.sysusers >$@.tmp && mv $@.tmp $@
config/tmpfiles.d/onboard-agent.conf: $(top_srcdir)/config/onboard-agent.tmpfiles
	$(AM_V_GEN)$(MKDIR_P) config/tmpfiles.d && cp $(top_srcdir)/config/onboard-agent.tmpfiles $@

if INSTALL_SYSTEMD_UNIT
systemdsystemunit_DATA = config/onboard-agent.service
sysusers_DATA = config/sysusers.d/onboard-agent.conf
tmpfiles_DATA = config/tmpfiles.d/onboard-agent.conf
endif

# ---- check helper: bash completion for agentctl (commands, options, check ids), installed
# under the name bash-completion looks up: completions/agentctl
bashcompletiondir = $(datadir)/bash-completion/completions
bashcompletion_DATA = config/bash-completion/agentctl
config/bash-completion/agentctl: config/agentctl.bash-completion
	$(AM_V_GEN)$(MKDIR_P) config/bash-completion && cp $(srcdir)/config/agentctl.bash-completion $@
CLEANFILES += config/bash-completion/agentctl
EXTRA_DIST += config/agentctl.bash-completion
