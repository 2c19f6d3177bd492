"""``python -m data``: the command line: the data tools (data/cli.py) plus the commands that
need the upper layers (the ``cli`` package: ``plan``, ``export``).

This entry module is the composition root and the only place in ``data`` that imports upward;
it is never imported as a library, and the import-linter contracts ignore exactly this one
import (``data.__main__ -> cli`` in pyproject.toml).
"""

import sys

from cli import COMMANDS
from data.cli import EXTRA_COMMANDS, main

EXTRA_COMMANDS.update(COMMANDS)

sys.exit(main())
