"""The command line: ``python -m app serve | check | predict | init-bundle``."""

from __future__ import annotations

import click

from app.cli.check import check
from app.cli.init_bundle import init_bundle
from app.cli.predict import predict
from app.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Serve, check and try multimodal Keras model bundles."""


for command in (serve, check, predict, init_bundle):
    cli.add_command(command)


def main() -> None:
    """Entry point of ``python -m app``."""
    cli(prog_name="python -m app")
