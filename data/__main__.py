"""``python -m data``: the command line, and its composition root.

The data tools live in data/cli.py; the ``cli`` package above the logic layers adds what needs
them: the commands ``plan`` (geo's planning) and ``export`` (viz's GeoPackage), and geo's
preparer, so that ``demo``, ``prepare`` and store writes build the prepared form of what they
write. This entry module is the only place in ``data`` that imports upward; it is never
imported as a library, and the import-linter contracts ignore exactly this one import
(``data.__main__ -> cli`` in pyproject.toml).
"""

import sys

from cli import CELLS, COMMANDS, PREPARER
from data.cli import EXTRA_COMMANDS, main

EXTRA_COMMANDS.update(COMMANDS)

sys.exit(main(preparer=PREPARER, cells=CELLS))
