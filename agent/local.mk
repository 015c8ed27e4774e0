# agent/: the daemon (onboard-agent) and the operator CLI (agentctl).

# ---- config helper: the daemon's main and the operator CLI
# The daemon needs sd-event (libsystemd); a --without-systemd build has no daemon yet.
if HAVE_SYSTEMD
sbin_PROGRAMS += onboard-agent
onboard_agent_SOURCES = agent/onboard-agent.c agent/daemon.c agent/daemon.h \
	agent/daemon-private.h agent/daemon-watch.c agent/daemon-control.c agent/daemon-events.c \
	agent/journal.c agent/journal.h agent/journal-fields.c agent/journal-fields.h
onboard_agent_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) $(SYSTEMD_CFLAGS)
onboard_agent_LDADD = agent/libobagent.la tpm/libobtpm.la lib/libob.la $(JSONC_LIBS) \
	$(CRYPTO_LIBS) $(SYSTEMD_LIBS) $(TSS2_LIBS)
# MQTT TLS with a key at a persistent TPM handle: the daemon defines SSL_CTX_use_PrivateKey_file
# and must export it so Paho's call binds to it (docs/tpm.md, "TLS with a persistent key").
# It also defines and exports EVP_DigestSignInit_ex: TLS 1.2 with a TPM key (docs/tpm.md).
onboard_agent_SOURCES += agent/tls-handle-key.c agent/tls-handle-key.h
onboard_agent_LDFLAGS = $(AM_LDFLAGS) $(OB_EXPORT_TLS_LDFLAGS)
onboard_agent_LDADD += $(DL_LIBS)
endif

# agentctl is one program with the daemon (agent/agentctl.h): its code is linked into
# onboard-agent, which runs it when started as "agentctl", and agentctl is installed as a
# symbolic link to onboard-agent, so lib/ is installed once (docs/performance.md, P4). A
# --without-systemd build has no daemon: there agentctl is a program of its own.
agentctl_sources = agent/agentctl.c agent/agentctl.h agent/cli.c agent/cli.h
# the commands that talk to the daemon (status, rotate, retry, reprovision, decommission, provision)
agentctl_sources += agent/agentctl-daemon.c agent/agentctl-daemon.h
if HAVE_SYSTEMD
onboard_agent_SOURCES += $(agentctl_sources)
onboard_agent_CFLAGS += $(TSS2_CFLAGS)
# the build tree's agentctl (tests run $(top_builddir)/agentctl)
agentctl$(EXEEXT): onboard-agent$(EXEEXT)
	$(AM_V_GEN)rm -f $@ && $(LN_S) onboard-agent$(EXEEXT) $@
all-local: agentctl$(EXEEXT)
CLEANFILES += agentctl$(EXEEXT)
# relative when bindir and sbindir are siblings (/usr/bin, /usr/sbin), else absolute
install-exec-hook:
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	@if test "$$(dirname '$(bindir)')" = "$$(dirname '$(sbindir)')"; then \
		t="../$$(basename '$(sbindir)')/onboard-agent$(EXEEXT)"; \
	else t='$(sbindir)/onboard-agent$(EXEEXT)'; fi; \
	echo " rm -f '$(DESTDIR)$(bindir)/agentctl$(EXEEXT)' && $(LN_S) $$t"; \
	rm -f '$(DESTDIR)$(bindir)/agentctl$(EXEEXT)' && \
	$(LN_S) "$$t" '$(DESTDIR)$(bindir)/agentctl$(EXEEXT)'
uninstall-hook:
	rm -f '$(DESTDIR)$(bindir)/agentctl$(EXEEXT)'
else
bin_PROGRAMS += agentctl
agentctl_SOURCES = agent/agentctl-main.c $(agentctl_sources)
agentctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS) $(TSS2_CFLAGS)
agentctl_LDADD = agent/libobagent.la lib/libob.la tpm/libobtpm.la $(JSONC_LIBS) $(CRYPTO_LIBS) \
	$(TSS2_LIBS)
endif
EXTRA_DIST += agent/agentctl-main.c

# The MQTT transport (Paho MQTTAsync): the only code that includes Paho.
noinst_LTLIBRARIES += agent/libobagent.la
agent_libobagent_la_SOURCES = agent/transport-paho.c agent/transport-paho.h \
	agent/transport-paho-private.h
# why a connection failed where Paho reports causes alike; the probe (OpenSSL alone, no Paho)
agent_libobagent_la_SOURCES += agent/transport-diagnosis.c agent/transport-probe.c
# TLS with a key at a persistent TPM handle: the loader the seam (tls-handle-key.c, the daemon)
# and agentctl check share; it knows nothing of the seam
agent_libobagent_la_SOURCES += agent/handle-key.c agent/handle-key.h
# OpenSSL providers and property queries for TLS (asks the seam's header, weak references)
agent_libobagent_la_SOURCES += agent/tls-provider.c agent/tls-provider.h
# what a provider says of itself (version), known unusable providers (lib/provider-compat)
agent_libobagent_la_SOURCES += agent/provider-info.c agent/provider-info.h
agent_libobagent_la_CFLAGS = $(AM_CFLAGS) $(PAHO_CFLAGS) $(CRYPTO_CFLAGS) -pthread
agent_libobagent_la_LIBADD = lib/libob.la $(PAHO_LIBS) $(CRYPTO_LIBS) -lpthread

# ---- ctl helper: the control socket. The server runs on sd-event (libsystemd); the client is
# plain sockets + poll, for agentctl.
agent_libobagent_la_SOURCES += agent/control-client.c agent/control-client.h
# who gets a connection (per-uid shares, root's reserve): pure, unit-tested
agent_libobagent_la_SOURCES += agent/control-limits.c agent/control-limits.h
if HAVE_SYSTEMD
agent_libobagent_la_SOURCES += agent/control.c agent/control.h
endif
agent_libobagent_la_CFLAGS += $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
agent_libobagent_la_LIBADD += $(JSONC_LIBS) $(SYSTEMD_LIBS)

# ---- check helper: `agentctl check` runs its checks itself (TPM, sockets, TLS), not via the daemon
agentctl_sources += agent/check.c agent/check.h agent/check-private.h agent/check-common.c \
	agent/check-cloud.c agent/check-cloud.h agent/check-daemon.c agent/check-daemon.h \
	agent/check-clock.c agent/check-clock.h agent/check-tpm.c agent/check-tpm.h \
	agent/check-identity.c agent/check-identity.h agent/check-network.c agent/check-network.h

# ---- factory helper: `agentctl factory` (manufacturing line; docs/manufacturing.md)
agentctl_sources += agent/factory.c agent/factory.h agent/factory-private.h agent/factory-csr.c \
	agent/factory-cert.c agent/factory-status.c
