"""The watch engine, on the client's public surface: transitions and the tracker, watches and the
watcher, waits, leases and notifications."""
