"""How the commands end on a failure: one clear line on stderr and a distinct exit status."""

from __future__ import annotations

import click

# 0: done; 1: bad input (predict prints the contract's error JSON); 2: usage (click's own);
# 3: the bundle or the models folder cannot be used.
EXIT_BAD_INPUT = 1
EXIT_BAD_BUNDLE = 3


def fail(message: str, status: int) -> None:
    """Print ``error: message`` on stderr and exit with ``status`` (no traceback)."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(status)
