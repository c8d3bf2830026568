"""``python -m app``: the command line (see app/cli/)."""

from app.cli import main

main()
