"""``python -m data``: the composition root of the data command line.

It is the one place of the data package that reaches a layer above: it hands
geo.prepared's preparer to the CLI, so that ``demo``, ``prepare`` and store writes build the
prepared form of what they write (import-linter: the one ignored import of the layers).
"""

import sys

from data.cli import main
from geo.prepared import prepare_folder

sys.exit(main(preparer=prepare_folder))
