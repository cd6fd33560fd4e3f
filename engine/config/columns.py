"""The alias table of a ledger's columns (workflows/columns.yaml): which header names which
field of an imported issue. Read once per process."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from engine.config.source import parse_yaml, read_text
from engine.domain.sheet_columns import Aliases
from engine.errors import DefinitionError


def _strings(value: Any, where: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise DefinitionError(f"{source}: {where} must be a list of headers")
    return [str(v) for v in value]


def load(path: Path) -> Aliases:
    """The table in `path`; DefinitionError (exit 2) naming what is wrong."""
    source = str(path)
    data, _ = parse_yaml(read_text(path, DefinitionError), source, DefinitionError)
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise DefinitionError(f"{source}: a mapping with `columns:` (field: [headers]) expected")
    columns = {str(k): _strings(v, f"columns.{k}", source) for k, v in data["columns"].items()}
    fallbacks_given = data.get("if_missing") or {}
    if not isinstance(fallbacks_given, dict):
        raise DefinitionError(f"{source}: if_missing must map a field to headers")
    fallbacks = {str(k): _strings(v, f"if_missing.{k}", source)
                 for k, v in fallbacks_given.items()}
    ignored = _strings(data.get("ignored") or [], "ignored", source)
    try:
        return Aliases.of(columns, fallbacks, ignored)
    except ValueError as e:
        raise DefinitionError(f"{source}: {e}") from None


@cache
def default() -> Aliases:
    """The table shipped beside the workflow."""
    from workflows import columns_path

    return load(columns_path())
