"""A workflow definition, as plain data (loaded and checked by `engine.config.workflow`).

Besides its states, transitions and ladder, a definition says who is told when a transition is
fired (`TransitionDef.notify`) and who may take the actions that record facts about an issue
without moving it (`Workflow.actions`: asking for and deciding extensions, recording an
interview, deciding accountability, listing a village). Roles are written as in the ladder:
`a|b` means the holders of a if there are any, else those of b.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.domain.ladder import Ladder, Rung

FIELDS = ("note", "plan", "assignee", "due", "evidence", "reason", "duplicate_of")
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
OWNER_ROLES = ("finders", "added_by")
"""Roles that only name people to tell or to answer (a state's owners, a notice, a rung):
the members of the issue's group, whoever added the issue."""
LADDER_ROLES = ("owners", "owners_secretary", "interviewed")
"""What a rung may also name (see `Rung.subjects`)."""
ROLES = (
    *GROUP_KINDS,
    *(f"{k}_leader" for k in GROUP_KINDS),
    "party_secretary",
    *CONTEXT_ROLES,
)
NOTICE_KINDS = ("assignment", "rejection", "voided")
"""The messages a transition may send (escalations and decisions send their own)."""
ACTIONS = (
    "request_extension",
    "decide_extension",
    "record_interview",
    "decide_accountability",
    "list_village",
    "reassign",
    "edit",
)
"""What a person may do besides firing a transition, each allowed to the roles the workflow
names."""

CORRECTIONS = ("reassign", "edit")
"""The corrections of an issue (`issue reassign`, `issue edit`): actions too."""
DEFAULT_ACTIONS: Mapping[str, tuple[str, ...]] = {
    "reassign": ("rectification_leader", "party_secretary"),
    "edit": ("rectification_leader", "information_verification", "party_secretary"),
}
"""Who may take an action that a workflow's body does not name: the corrections came after
the registered versions (whose bodies never change), so for them the rule is held here; a
town's own version may name them in `actions`."""


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
    owners: tuple[str, ...] = ()
    """Who answers for the stage (role specs): who must act now."""


@dataclass(frozen=True)
class Notice:
    """A message a transition sends: its kind, to whom (role specs), and, when `if_given`
    names a field, only when the mover gave that field."""

    kind: str
    to: tuple[str, ...]
    if_given: str | None = None


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
    notify: tuple[Notice, ...] = ()
    also_from: tuple[str, ...] = ()
    """Further states it may be fired from (`from: [a, b]` in the file): `source` is the
    first."""

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source, *self.also_from)


@dataclass(frozen=True)
class Workflow:
    name: str
    version: int
    initial: str
    states: tuple[StateDef, ...]
    transitions: tuple[TransitionDef, ...]
    ladder: Ladder
    final: tuple[str, ...] = ()
    actions: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """action -> the role specs that may take it (see ACTIONS)."""
    _states: dict[str, StateDef] = field(init=False, repr=False, compare=False)
    _transitions: dict[str, TransitionDef] = field(init=False, repr=False, compare=False)
    _key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_states", {s.name: s for s in self.states})
        object.__setattr__(self, "_transitions", {t.name: t for t in self.transitions})
        object.__setattr__(self, "_key", f"{self.name}@{self.version}")

    @property
    def key(self) -> str:
        """The name under which this version is recorded on events: `name@version`."""
        return self._key

    def state(self, name: str) -> StateDef:
        return self._states[name]

    def has_state(self, name: str) -> bool:
        return name in self._states

    def transition(self, name: str) -> TransitionDef | None:
        return self._transitions.get(name)

    def transitions_from(self, state: str) -> list[str]:
        return [t.name for t in self.transitions if state in t.sources]

    def is_final(self, state: str) -> bool:
        return state in self.final

    # --- serialisation (the database keeps each registered version as JSON) --------------
    def action_roles(self, action: str) -> tuple[str, ...]:
        """The role specs allowed to take `action` (none: nobody may)."""
        found = self.actions.get(action)
        return tuple(DEFAULT_ACTIONS.get(action, ()) if found is None else found)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "initial": self.initial,
            "states": [_without_empty(asdict(s), "owners") for s in self.states],
            "transitions": [_transition_dict(t) for t in self.transitions],
            "ladder": {which: [_without_empty(asdict(r), "subjects") for r in rungs]
                       for which, rungs in (("default", self.ladder.default),
                                            ("listed", self.ladder.listed))},
            "final": list(self.final),
        }
        if self.actions:
            out["actions"] = {k: list(v) for k, v in self.actions.items()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Workflow:
        def rungs(items: list[dict[str, Any]]) -> tuple[Rung, ...]:
            return tuple(
                Rung(r["level"], int(r["offset"]), tuple(r["recipients"]),
                     tuple(r.get("subjects", ()))) for r in items
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
                    tuple(s.get("owners", ())),
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
                    notify=tuple(Notice(n["kind"], tuple(n["to"]), n.get("if_given"))
                                 for n in t.get("notify", ())),
                    also_from=tuple(t.get("also_from", ())),
                )
                for t in d["transitions"]
            ),
            ladder=Ladder(
                default=rungs(d["ladder"]["default"]), listed=rungs(d["ladder"]["listed"])
            ),
            final=tuple(d.get("final", ())),
            actions={k: tuple(v) for k, v in (d.get("actions") or {}).items()},
        )

    def mermaid(self) -> str:
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            lines += [f"    {source} --> {t.dest}: {t.name}" for source in t.sources]
        for s in self.final:
            lines.append(f"    {s} --> [*]")
        return "\n".join(lines) + "\n"


def _without_empty(d: dict[str, Any], key: str) -> dict[str, Any]:
    """A stored form without `key` when it is empty: a definition registered before the key
    existed keeps its body (and digest)."""
    if not d.get(key):
        d.pop(key, None)
    return d


def _transition_dict(t: TransitionDef) -> dict[str, Any]:
    """A transition's stored form; `notify` only when it has notices, so that a definition
    without any keeps the body (and digest) it was registered with."""
    out = _without_empty(asdict(t), "also_from")
    if not t.notify:
        del out["notify"]
    else:
        out["notify"] = [{k: v for k, v in asdict(n).items() if v is not None}
                         for n in t.notify]
    return out
