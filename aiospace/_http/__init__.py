"""The HTTP layer, built on :mod:`aiospace._hub` and below the client: ``endpoint`` (where and as
whom: URL, token, redactor), ``transport`` (one aiohttp session: headers, hops, bounded reads,
retries, listeners, the rate budget), ``budget``, ``pages`` (listings), ``repos`` (create,
duplicate, delete) and ``logs`` (log streams)."""
