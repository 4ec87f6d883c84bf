"""What the Hub says about itself and about you: ``hardware-list``, ``zero-gpu-quota``."""

from __future__ import annotations

import argparse

from ...client import SpaceClient
from ..command import HubCommand
from ..render.answers import print_hardware_list, print_zero_gpu_quota
from ..util import EXIT_OK

__all__ = ["HARDWARE_LIST", "ZERO_GPU_QUOTA"]


async def cmd_hardware_list(args: argparse.Namespace, hub: SpaceClient) -> int:
    """The hardware catalogue, with the price of an hour on each flavor."""
    print_hardware_list(await hub.list_spaces_hardware(), as_json=args.json)
    return EXIT_OK


HARDWARE_LIST = HubCommand(
    name="hardware-list",
    help="the hardware flavors and their price per hour",
    example="aiospace hardware-list --json | jq '.[] | select(.accelerator) | .name'",
    run=cmd_hardware_list,
    json=True,
)


async def cmd_zero_gpu_quota(args: argparse.Namespace, hub: SpaceClient) -> int:
    """Your ZeroGPU quota: GPU-seconds left of the period's base, and when it refills."""
    print_zero_gpu_quota(await hub.get_zero_gpu_quota(), as_json=args.json)
    return EXIT_OK


ZERO_GPU_QUOTA = HubCommand(
    name="zero-gpu-quota",
    help="your ZeroGPU quota: GPU-seconds left and when it refills",
    example="aiospace zero-gpu-quota --json | jq .remaining",
    run=cmd_zero_gpu_quota,
    json=True,
    epilog="Needs a token (exit 4 without one).",
)
