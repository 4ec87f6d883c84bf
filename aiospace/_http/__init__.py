"""The HTTP layer: the token and endpoint, one aiohttp transport (hops, bounded reads, retries,
paging, log streams) and the rate budget. Built on :mod:`aiospace._hub`, below the client."""
