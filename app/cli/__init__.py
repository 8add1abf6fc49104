"""bldst: the buildstate command-line client (entry point `app.cli.main:main`)."""

from __future__ import annotations


def version() -> str:
    from importlib import metadata

    try:
        return metadata.version("buildstate")
    except metadata.PackageNotFoundError:
        return "0.0.0"
