"""Every ``aiospace`` subcommand: one module per command or group, each declaring its commands
(name, help, arguments, what they run: :class:`~aiospace.cli.command.Command`) next to
their run functions.

:data:`COMMANDS` lists them in the order ``aiospace --help`` shows them;
:mod:`aiospace.cli.app` builds the parser from it.
"""

from __future__ import annotations

from ..command import Command
from .demo import DEMO
from .emulator import EMULATOR
from .info import HARDWARE_LIST, ZERO_GPU_QUOTA
from .lease import LEASE
from .logs import LOGS
from .runtime import DEV_MODE, HARDWARE, PAUSE, RESTART, RUNTIME, SLEEP_TIME, STORAGE
from .settings import SECRETS, VARIABLES
from .spaces import CREATE, DELETE, DUPLICATE, VOLUMES
from .wait import WAIT
from .watch import WATCH

__all__ = ["COMMANDS", "command_named"]

#: Every subcommand, in the order of ``aiospace --help``.
COMMANDS: tuple[Command, ...] = (
    DEMO,
    WAIT,
    WATCH,
    LEASE,
    RUNTIME,
    PAUSE,
    RESTART,
    HARDWARE,
    SLEEP_TIME,
    DEV_MODE,
    SECRETS,
    VARIABLES,
    STORAGE,
    DUPLICATE,
    CREATE,
    DELETE,
    VOLUMES,
    ZERO_GPU_QUOTA,
    HARDWARE_LIST,
    LOGS,
    EMULATOR,
)

_BY_NAME = {command.name: command for command in COMMANDS}


def command_named(name: str) -> Command | None:
    """The subcommand called ``name`` on the command line, or None."""
    return _BY_NAME.get(name)
