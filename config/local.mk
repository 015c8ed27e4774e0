# config/: example configuration, systemd unit, sysusers.d and tmpfiles.d snippets.
