# agent/: the daemon (onboard-agent) and the operator CLI (agentctl).
