"""Commands of ``python -m data`` that need the upper layers: ``plan`` (geo's planning) and
``export`` (viz's GeoPackage).

``data`` is the bottom of the house and may not import ``geo`` or ``viz``. These commands live
here, a layer beside ``ui`` above ``viz``; the command-line entry ``data/__main__.py`` (the
composition root, never imported as a library) adds them to the data tools. That one upward
import is declared in the import-linter contracts in pyproject.toml.
"""

from cli import export, plan

COMMANDS = {"plan": plan.COMMAND, "export": export.COMMAND}
