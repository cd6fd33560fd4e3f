"""Workflow definitions as data: the default `rectification.yaml` (read and checked by
`engine.config.workflow`)."""

from importlib.resources import files
from pathlib import Path


def default_path() -> Path:
    return Path(str(files("workflows").joinpath("rectification.yaml")))
