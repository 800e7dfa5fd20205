"""Alembic's command line for the catalog, configured in code (there is no alembic.ini).

    python -m prospector_common.catalog.migrations history
    python -m prospector_common.catalog.migrations current [-x url=sqlite:///runs/catalog.sqlite]
    python -m prospector_common.catalog.migrations revision --rev-id 0003_short_name -m "what changes"

Services never need this: Catalog.create_all() upgrades at start.
"""

from __future__ import annotations

import sys

from alembic.config import CommandLine

from . import alembic_config


def main(argv: list[str] | None = None) -> None:
    cli = CommandLine(prog="python -m prospector_common.catalog.migrations")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("too few arguments")
    config = alembic_config()
    config.cmd_opts = options
    cli.run_cmd(config, options)


if __name__ == "__main__":
    main(sys.argv[1:])
