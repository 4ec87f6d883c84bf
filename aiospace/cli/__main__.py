"""``python -m aiospace.cli``: the ``aiospace`` command."""

import sys

from .app import main

sys.exit(main())
