"""The Hub's wire without I/O: routes, argument checks, request builders, answer decoders,
headers, server-sent events and redaction. The emulator may import ``routes`` and ``validate`` only."""
