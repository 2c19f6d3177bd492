"""``python -m data``: the data command line (data/cli.py) plus ``plan``.

``plan`` needs cells and hot spots from ``geo`` (a layer above ``data``). This entry module
is the only place in ``data`` that imports upward: it registers geo.plan_cli's subcommand
before dispatching, and the import-linter contract ignores exactly this one import
(``data.__main__ -> geo.plan_cli`` in pyproject.toml). No other module of ``data`` can
reach ``geo``, so the layers stay intact for everything that is imported as a library.
"""

import sys

from data.cli import EXTRA_COMMANDS, main
from geo.plan_cli import configure_plan, run_plan

EXTRA_COMMANDS["plan"] = (configure_plan, run_plan)

sys.exit(main())
