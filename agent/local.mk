# agent/: the daemon (onboard-agent) and the operator CLI (agentctl).

# ---- config helper: the daemon's main and the operator CLI
sbin_PROGRAMS += onboard-agent
onboard_agent_SOURCES = agent/onboard-agent.c
onboard_agent_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
onboard_agent_LDADD = lib/libob.la $(JSONC_LIBS)

bin_PROGRAMS += agentctl
agentctl_SOURCES = agent/agentctl.c
agentctl_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
agentctl_LDADD = lib/libob.la $(JSONC_LIBS)

# The MQTT transport (Paho MQTTAsync): the only code that includes Paho.
noinst_LTLIBRARIES += agent/libobagent.la
agent_libobagent_la_SOURCES = agent/transport-paho.c agent/transport-paho.h lib/transport.h
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
