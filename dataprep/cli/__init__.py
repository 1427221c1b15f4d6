"""The ``dataprep`` command line."""

from dataprep.cli.main import main

__all__ = ["main"]
