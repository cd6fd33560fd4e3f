"""The scoreboard's weights (workflows/scoreboard.yaml), checked whole: every problem named
at its line (exit 2)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from engine.config.source import read_text, validated
from engine.domain.stats import OUTCOMES, Weights
from engine.errors import DefinitionError


class _Accountability(BaseModel):
    model_config = ConfigDict(extra="forbid")
    no_action: float = Field(ge=0)
    talk: float = Field(ge=0)
    admonish: float = Field(ge=0)
    criticize: float = Field(ge=0)
    refer: float = Field(ge=0)


class WeightsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_time: float = Field(ge=0)
    overdue_day: float = Field(ge=0)
    interview: float = Field(ge=0)
    accountability: _Accountability
    reopened: float = Field(ge=0)


def parse(text: str, source: str = "<scoreboard>") -> Weights:
    m, problems = validated(text, source, WeightsModel, DefinitionError,
                            "the scoreboard's weights must be a mapping")
    problems.raise_if_any(DefinitionError)
    return Weights(on_time=m.on_time, overdue_day=m.overdue_day, interview=m.interview,
                   accountability={o: getattr(m.accountability, o) for o in OUTCOMES},
                   reopened=m.reopened)


def load(path: str | Path) -> Weights:
    return parse(read_text(path, DefinitionError), str(path))
