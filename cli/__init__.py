"""What ``python -m data`` needs from the upper layers: the commands ``plan`` (geo's
planning) and ``export`` (viz's GeoPackage), and geo's preparer of data folders.

``data`` is the bottom of the house and may not import ``geo`` or ``viz``. These live here, a
layer beside ``ui`` above ``viz``; the command-line entry ``data/__main__.py`` (the composition
root, never imported as a library) hands them to the data tools. That one upward import is
declared in the import-linter contracts in pyproject.toml.
"""

from cli import export, plan
from geo.h3cells import point_cells
from geo.prepared import prepare_folder

COMMANDS = {"plan": plan.COMMAND, "export": export.COMMAND}
PREPARER = prepare_folder
CELLS = point_cells  # the H3 cells of whole chunks of points (``python -m data db load``)
