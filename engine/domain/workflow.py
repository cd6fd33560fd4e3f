"""A workflow definition, as plain data (loaded and checked by `workflows.definition`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.domain.ladder import Ladder, Rung

FIELDS = ("note", "plan", "assignee", "due", "evidence", "reason")
"""What a transition may require."""

GROUP_KINDS = (
    "self_assessment",
    "rectification",
    "information_verification",
    "roving_guidance",
    "quality_supervision",
)
CONTEXT_ROLES = ("assignee", "liaison", "village_secretary")
"""Roles that hold relative to one issue (its assignee, its village's leaders)."""
ROLES = (
    *GROUP_KINDS,
    *(f"{k}_leader" for k in GROUP_KINDS),
    "party_secretary",
    *CONTEXT_ROLES,
)


@dataclass(frozen=True)
class Deadline:
    working_days: int | None = None
    """A fixed number of working days from entering the stage."""
    from_field: str | None = None
    """Or a date given with the transition (e.g. the plan's `due`)."""
    max_working_days: int | None = None
    """The latest such a date may be, in working days from today."""
    default_working_days: int | None = None
    """When the date is optional and not given (e.g. after a reject)."""


@dataclass(frozen=True)
class StateDef:
    name: str
    label: str = ""
    deadline: Deadline | None = None


@dataclass(frozen=True)
class TransitionDef:
    name: str
    source: str
    dest: str
    roles: tuple[str, ...]
    requires: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    forbid_actors_of: tuple[str, ...] = ()
    """Separation of duties: whoever ever fired one of these on the issue may not fire this."""
    label: str = ""


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    initial: str
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...]
    ladder: Ladder
    final: tuple[str, ...] = ()
    _states: dict[str, StateDef] = field(init=False, repr=False, compare=False)
    _transitions: dict[str, TransitionDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_states", {s.name: s for s in self.states})
        object.__setattr__(self, "_transitions", {t.name: t for t in self.transitions})

    @property
    def key(self) -> str:
        """The name under which this version is recorded on events: `name@version`."""
        return f"{self.name}@{self.version}"

    def state(self, name: str) -> StateDef:
        return self._states[name]

    def has_state(self, name: str) -> bool:
        return name in self._states

    def transition(self, name: str) -> TransitionDef | None:
        return self._transitions.get(name)

    def transitions_from(self, state: str) -> list[str]:
        return [t.name for t in self.transitions if t.source == state]

    def final_states(self) -> list[str]:
        return list(self.final)

    def is_final(self, state: str) -> bool:
        return state in self.final

    # --- serialisation (the database keeps each registered version as JSON) --------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "initial": self.initial,
            "states": [asdict(s) for s in self.states],
            "transitions": [asdict(t) for t in self.transitions],
            "ladder": asdict(self.ladder),
            "final": list(self.final),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Workflow:
        def rungs(items: list[dict[str, Any]]) -> tuple[Rung, ...]:
            return tuple(
                Rung(r["level"], int(r["offset"]), tuple(r["recipients"])) for r in items
            )

        return cls(
            name=d["name"],
            version=int(d["version"]),
            initial=d["initial"],
            states=tuple(
                StateDef(
                    s["name"],
                    s.get("label", ""),
                    Deadline(**s["deadline"]) if s.get("deadline") else None,
                )
                for s in d["states"]
            ),
            transitions=tuple(
                TransitionDef(
                    name=t["name"],
                    source=t["source"],
                    dest=t["dest"],
                    roles=tuple(t["roles"]),
                    requires=tuple(t.get("requires", ())),
                    optional=tuple(t.get("optional", ())),
                    forbid_actors_of=tuple(t.get("forbid_actors_of", ())),
                    label=t.get("label", ""),
                )
                for t in d["transitions"]
            ),
            ladder=Ladder(
                default=rungs(d["ladder"]["default"]), listed=rungs(d["ladder"]["listed"])
            ),
            final=tuple(d.get("final", ())),
        )

    def mermaid(self) -> str:
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            lines.append(f"    {t.source} --> {t.dest}: {t.name}")
        for s in self.final_states():
            lines.append(f"    {s} --> [*]")
        return "\n".join(lines) + "\n"
