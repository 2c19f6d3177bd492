"""Command-line tools that need the upper layers (viz): ``python -m data export`` lives here.

``data`` is the bottom of the house and may not import ``viz``; ``data.cli`` therefore names
these commands by module (:data:`data.cli.PLUGIN_COMMANDS`) and loads them when the command
line is built. ``python -m cli export ...`` runs the same command directly.
"""
