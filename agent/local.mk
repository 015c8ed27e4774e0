# agent/: the daemon (onboard-agent) and the operator CLI (agentctl).

# ---- config helper: the daemon's main and the operator CLI
# The daemon needs sd-event (libsystemd); a --without-systemd build has no daemon yet.
if HAVE_SYSTEMD
sbin_PROGRAMS += onboard-agent
onboard_agent_SOURCES = agent/onboard-agent.c agent/daemon.c agent/daemon.h \
	agent/journal.c agent/journal.h
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

bin_PROGRAMS += agentctl
agentctl_SOURCES = agent/agentctl.c
agentctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(CRYPTO_CFLAGS)
agentctl_LDADD = agent/libobagent.la lib/libob.la $(JSONC_LIBS) $(CRYPTO_LIBS)

# The MQTT transport (Paho MQTTAsync): the only code that includes Paho.
noinst_LTLIBRARIES += agent/libobagent.la
agent_libobagent_la_SOURCES = agent/transport-paho.c agent/transport-paho.h
agent_libobagent_la_CFLAGS = $(AM_CFLAGS) $(PAHO_CFLAGS) $(CRYPTO_CFLAGS) -pthread
agent_libobagent_la_LIBADD = lib/libob.la $(PAHO_LIBS) $(CRYPTO_LIBS) -lpthread

# ---- ctl helper: the control socket. The server runs on sd-event (libsystemd); the client is
# plain sockets + poll, for agentctl.
agent_libobagent_la_SOURCES += agent/control-client.c agent/control-client.h
if HAVE_SYSTEMD
agent_libobagent_la_SOURCES += agent/control.c agent/control.h
endif
agent_libobagent_la_CFLAGS += $(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
agent_libobagent_la_LIBADD += $(JSONC_LIBS) $(SYSTEMD_LIBS)

# ---- check helper: `agentctl check` runs its checks itself (TPM, sockets, TLS), not via the daemon
agentctl_SOURCES += agent/check.c agent/check.h
agentctl_LDADD += tpm/libobtpm.la $(TSS2_LIBS)
agentctl_CFLAGS += $(TSS2_CFLAGS)

# ---- factory helper: `agentctl factory` (manufacturing line; docs/manufacturing.md)
agentctl_SOURCES += agent/factory.c agent/factory.h
