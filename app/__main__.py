"""``python -m app``: the command line (see app/cli/)."""

# Python imported app (and so app/threads.py: the thread pools' sizes) before this module.
from app.cli import main

main()
