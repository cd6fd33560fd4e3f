"""Workflow definitions as data: the default `rectification.yaml` (read and checked by
`engine.config.workflow`)."""

from importlib.resources import files
from pathlib import Path


def default_path() -> Path:
    return Path(str(files("workflows").joinpath("rectification.yaml")))


def scoreboard_path() -> Path:
    """The scoreboard's weights (`rectify stats --scoreboard`)."""
    return Path(str(files("workflows").joinpath("scoreboard.yaml")))


def columns_path() -> Path:
    """The alias table of a ledger's columns (`rectify issue import`)."""
    return Path(str(files("workflows").joinpath("columns.yaml")))
