"""Load a workflow definition from YAML and check it whole.

Every problem is reported as `FILE:LINE: what is wrong`: unknown states or roles, unreachable
states, dead ends, bad deadlines, a malformed ladder, notices of unknown kinds or to unknown
roles, actions the engine does not know.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.config.source import Problems, Where, read_text, validated
from engine.domain.ladder import LEVELS, Ladder, Rung
from engine.domain.workflow import (
    ACTIONS,
    FIELDS,
    LADDER_ROLES,
    NOTICE_KINDS,
    OWNER_ROLES,
    ROLES,
    Deadline,
    Notice,
    StateDef,
    TransitionDef,
    Workflow,
)
from engine.errors import DefinitionError

MAX_VERSION = 2**31 - 1
"""The largest version number the database keeps (a 32-bit column)."""
MAX_DAYS = 250
"""The most working days a deadline gives, or a ladder's rung is from the due moment (a
year's working days: enough for any rule, and the calendar counts them a day at a time)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineModel(_Strict):
    working_days: int | None = None
    from_field: str | None = None
    max_working_days: int | None = None
    default_working_days: int | None = None


class StateModel(_Strict):
    name: str
    label: str = ""
    deadline: DeadlineModel | None = None
    owners: list[str] = []


class NoticeModel(_Strict):
    kind: str
    to: list[str]
    if_given: str | None = None


class TransitionModel(_Strict):
    name: str
    label: str = ""
    source: str | list[str] = Field(alias="from")
    dest: str = Field(alias="to")

    @property
    def sources(self) -> list[str]:
        return [self.source] if isinstance(self.source, str) else list(self.source)
    roles: list[str]
    requires: list[str] = []
    optional: list[str] = []
    forbid_actors_of: list[str] = []
    notify: list[NoticeModel] = []


class RungModel(_Strict):
    level: Literal["reminder", "interview", "accountability"]
    offset: int
    recipients: list[str] = []
    subjects: list[str] = []


class LadderModel(_Strict):
    default: list[RungModel]
    listed: list[RungModel]


class WorkflowModel(_Strict):
    name: str
    version: int = Field(ge=1, le=MAX_VERSION)
    initial: str
    final: list[str]
    states: list[StateModel]
    transitions: list[TransitionModel]
    escalation: LadderModel
    actions: dict[str, list[str]] = {}


def parse(text: str, source: str = "<workflow>") -> Workflow:
    """The workflow written in `text`; `source` names the file in messages."""
    model, problems = validated(text, source, WorkflowModel, DefinitionError,
                                "a workflow definition must be a mapping")
    _check(model, problems)
    problems.raise_if_any(DefinitionError)
    return _to_domain(model)


def load(path: str | Path) -> Workflow:
    """The workflow in the file at `path`; DefinitionError (exit 2) naming every problem."""
    return parse(read_text(path, DefinitionError), str(path))


def _check(m: WorkflowModel, problems: Problems) -> None:
    names = [s.name for s in m.states]
    known = set(names)
    for i, s in enumerate(m.states):
        if names.index(s.name) != i:
            problems.add(("states", i, "name"), f"state {s.name!r} is defined twice")
    if m.initial not in known:
        problems.add(("initial",), f"unknown initial state {m.initial!r}")
    for i, f in enumerate(m.final):
        if f not in known:
            problems.add(("final", i), f"unknown final state {f!r}")
    if not m.final:
        problems.add(("final",), "a workflow needs at least one final state")
    tnames = [t.name for t in m.transitions]
    for i, t in enumerate(m.transitions):
        where: Where = ("transitions", i)
        if tnames.index(t.name) != i:
            problems.add((*where, "name"), f"transition {t.name!r} is defined twice")
        for key, ref in [*(("from", x) for x in t.sources), ("to", t.dest)]:
            if ref not in known:
                problems.add((*where, key), f"transition {t.name!r}: unknown state {ref!r}")
        if not t.sources or len(set(t.sources)) != len(t.sources):
            problems.add((*where, "from"),
                         f"transition {t.name!r}: `from` names each state once, at least one")
        for j, r in enumerate(t.roles):
            if r not in ROLES:
                problems.add((*where, "roles", j), f"transition {t.name!r}: unknown role {r!r}")
        if not t.roles:
            problems.add((*where, "roles"), f"transition {t.name!r}: no role may fire it")
        for key, items in (("requires", t.requires), ("optional", t.optional)):
            for j, f in enumerate(items):
                if f not in FIELDS:
                    problems.add(
                        (*where, key, j),
                        f"transition {t.name!r}: unknown field {f!r} (one of {', '.join(FIELDS)})",
                    )
        for j, other in enumerate(t.forbid_actors_of):
            if other.removeprefix("assignee@") not in tnames:  # assignee@T: T's assignee
                problems.add(
                    (*where, "forbid_actors_of", j),
                    f"transition {t.name!r}: unknown transition {other!r}",
                )
        for j, n in enumerate(t.notify):
            at: Where = (*where, "notify", j)
            if n.kind not in NOTICE_KINDS:
                problems.add((*at, "kind"), f"transition {t.name!r}: unknown notice kind"
                             f" {n.kind!r} (one of {', '.join(NOTICE_KINDS)})")
            _check_specs(n.to, (*at, "to"), f"transition {t.name!r}: notice", problems,
                         OWNER_ROLES)
            if n.if_given is not None and n.if_given not in FIELDS:
                problems.add((*at, "if_given"), f"transition {t.name!r}: unknown field"
                             f" {n.if_given!r} (one of {', '.join(FIELDS)})")
    for action, specs in m.actions.items():
        if action not in ACTIONS:
            problems.add(("actions", action),
                         f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        _check_specs(specs, ("actions", action), f"action {action!r}", problems)
    for i, s in enumerate(m.states):
        _check_deadline(s, i, s.name in m.final, problems)
    _check_graph(m, problems)
    for which in ("default", "listed"):
        rungs: list[RungModel] = getattr(m.escalation, which)
        levels = [r.level for r in rungs]
        if levels != list(LEVELS):
            problems.add(
                ("escalation", which),
                f"ladder {which!r} must have the levels {', '.join(LEVELS)} in that order",
            )
        offsets = [r.offset for r in rungs]
        if offsets != sorted(offsets):
            problems.add(("escalation", which), f"ladder {which!r}: offsets must not decrease")
        for i, rung in enumerate(rungs):
            if not -MAX_DAYS <= rung.offset <= MAX_DAYS:
                problems.add(("escalation", which, i, "offset"),
                             f"ladder {which!r}: offset must be between {-MAX_DAYS} and"
                             f" {MAX_DAYS} working days, not {rung.offset}")
            for key in ("recipients", "subjects"):
                for j, spec in enumerate(getattr(rung, key)):
                    for role in spec.split("|"):
                        if role not in (*ROLES, *OWNER_ROLES, *LADDER_ROLES):
                            problems.add(
                                ("escalation", which, i, key, j),
                                f"ladder {which!r}: unknown recipient role {role!r}",
                            )
            if not rung.recipients and not rung.subjects:
                problems.add(("escalation", which, i),
                             f"ladder {which!r}: {rung.level} names nobody (recipients or"
                             " subjects)")
    for i, s in enumerate(m.states):
        _check_specs(s.owners, ("states", i, "owners"), f"state {s.name!r}: owners", problems,
                     OWNER_ROLES)


def _check_specs(specs: list[str], where: Where, what: str, problems: Problems,
                 also: tuple[str, ...] = ()) -> None:
    """Role specs (`a|b`: the holders of a if any, else of b) name known roles."""
    for j, spec in enumerate(specs):
        for role in spec.split("|"):
            if role not in ROLES and role not in also:
                problems.add((*where, j), f"{what}: unknown role {role!r}")


def _check_deadline(s: StateModel, i: int, final: bool, problems: Problems) -> None:
    where: Where = ("states", i, "deadline")
    d = s.deadline
    if d is None:
        if not final:
            problems.add(("states", i), f"state {s.name!r} has no deadline")
        return
    if (d.working_days is None) == (d.from_field is None):
        problems.add(where, f"state {s.name!r}: give working_days or from_field, not both")
    if d.from_field is not None and d.from_field != "due":
        problems.add((*where, "from_field"), f"state {s.name!r}: from_field must be 'due'")
    for key in ("working_days", "max_working_days", "default_working_days"):
        value = getattr(d, key)
        if value is not None and not 1 <= value <= MAX_DAYS:
            problems.add(
                (*where, key),
                f"state {s.name!r}: {key} must be between 1 and {MAX_DAYS}, not {value}",
            )


def _check_graph(m: WorkflowModel, problems: Problems) -> None:
    names = {s.name for s in m.states}
    out: dict[str, set[str]] = {n: set() for n in names}
    back: dict[str, set[str]] = {n: set() for n in names}
    for t in m.transitions:
        for source in t.sources:
            if source in names and t.dest in names:
                out[source].add(t.dest)
                back[t.dest].add(source)

    def reach(starts: set[str], edges: dict[str, set[str]]) -> set[str]:
        seen, todo = set(starts), deque(starts)
        while todo:
            for nxt in edges[todo.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    if m.initial in names:
        reachable = reach({m.initial}, out)
        for i, s in enumerate(m.states):
            if s.name not in reachable:
                problems.add(("states", i, "name"), f"state {s.name!r} is unreachable")
    finals = {f for f in m.final if f in names}
    leads_to_final = reach(finals, back)
    for i, s in enumerate(m.states):
        if s.name not in leads_to_final:
            problems.add(
                ("states", i, "name"),
                f"state {s.name!r} is a dead end: no final state can be reached from it",
            )


def _to_domain(m: WorkflowModel) -> Workflow:
    def rungs(items: list[RungModel]) -> tuple[Rung, ...]:
        return tuple(Rung(r.level, r.offset, tuple(r.recipients), tuple(r.subjects))
                     for r in items)

    return Workflow(
        name=m.name,
        version=m.version,
        initial=m.initial,
        final=tuple(m.final),
        states=tuple(
            StateDef(s.name, s.label,
                     Deadline(**s.deadline.model_dump()) if s.deadline else None,
                     tuple(s.owners))
            for s in m.states
        ),
        transitions=tuple(
            TransitionDef(
                name=t.name,
                source=t.sources[0],
                also_from=tuple(t.sources[1:]),
                dest=t.dest,
                roles=tuple(t.roles),
                requires=tuple(t.requires),
                optional=tuple(t.optional),
                forbid_actors_of=tuple(t.forbid_actors_of),
                label=t.label,
                notify=tuple(Notice(n.kind, tuple(n.to), n.if_given) for n in t.notify),
            )
            for t in m.transitions
        ),
        ladder=Ladder(default=rungs(m.escalation.default), listed=rungs(m.escalation.listed)),
        actions={a: tuple(specs) for a, specs in m.actions.items()},
    )


