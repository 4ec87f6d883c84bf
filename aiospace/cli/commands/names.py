"""Names the Hub knows, checked before anything is sent: hardware flavors and storage tiers."""

from __future__ import annotations

import logging
import weakref

from ..._hub.validate import check_flavor, check_tier
from ...client import SpaceClient
from ...errors import HubHTTPError, InvalidArgumentError
from ...models import SpaceHardware, SpaceStorage
from ..util import UsageError, did_you_mean

__all__ = ["hub_flavor", "known_tier"]

log = logging.getLogger("aiospace.cli")

#: The flavors of each client's Hub, asked once per client (one command line = one client).
_CATALOGUES: weakref.WeakKeyDictionary[SpaceClient, frozenset[str]] = weakref.WeakKeyDictionary()


async def hub_flavor(hub: SpaceClient, flavor: str, argument: str = "FLAVOR") -> str:
    """``flavor`` if the Hub's own hardware catalogue lists it; else a usage error saying what was meant.

    Checked before anything is sent or waited for. The catalogue is asked once per run;
    a Hub that answers it with an error leaves the flavor for the call itself to judge.
    (The Python API takes any well-formed name: only the command line checks the catalogue.)
    """
    try:
        name = check_flavor(flavor, argument).value
    except InvalidArgumentError:
        if not isinstance(flavor, str):
            raise
        hint = did_you_mean(flavor, [h.value for h in SpaceHardware])
        raise UsageError(
            f"{argument}: {flavor!r} is not a hardware flavor{hint}; `aiospace hardware-list` lists them"
        ) from None
    known = _CATALOGUES.get(hub)
    if known is None:
        try:
            known = frozenset(info.name.value for info in await hub.list_spaces_hardware())
        except HubHTTPError as error:
            log.debug("no hardware catalogue to check %s against: %s", argument, error)
            known = frozenset()
        _CATALOGUES[hub] = known
    if not known or name in known:
        return name
    raise UsageError(
        f"{argument}: {name!r} is not a hardware flavor of this Hub{did_you_mean(name, sorted(known))}; "
        "`aiospace hardware-list` lists them"
    )


def known_tier(tier: str, argument: str = "TIER") -> str:
    """``tier`` if it is a storage tier (small, medium, large); else a usage error saying what was meant."""
    tiers = [t.value for t in SpaceStorage]
    try:
        name = check_tier(tier, argument).value
    except InvalidArgumentError:
        if not isinstance(tier, str):
            raise
        name = tier
    if name not in tiers:
        raise UsageError(
            f"{argument}: {name!r} is not a storage tier{did_you_mean(name, tiers)}; "
            f"the tiers are {', '.join(tiers[:-1])} and {tiers[-1]}"
        )
    return name
