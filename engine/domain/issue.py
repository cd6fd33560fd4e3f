"""An issue and the commands about it; `evolve` folds its events into its state.

Pure. `engine.domain.decide` turns a command into an event; a handler appends it and writes
the row that `evolve` gives, in one transaction. Replaying the history with `evolve` yields
the stored row: the history is the truth, the row a cache of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from operator import attrgetter
from typing import Any

from engine.domain import text
from engine.domain.events import FIRST, Event, EventType, Evidence
from engine.domain.records import slotted
from engine.errors import BadOption, MissingField

CATEGORIES = (
    "food",
    "clothing",
    "compulsory_education",
    "basic_medical",
    "housing_safety",
    "drinking_water",
    "industry",
    "employment",
    "data_quality",
    "other",
)
SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    title: str
    category: str
    village: str
    state: str
    version: int
    created_at: datetime
    created_by: str
    stage_entered_at: datetime
    description: str | None = None
    group: str | None = None
    household: str | None = None
    severity: str = "medium"
    listed: bool = False
    assignee: str | None = None
    plan: str | None = None
    due_at: datetime | None = None
    workflow: str = ""
    stage_version: int = 1
    """The version of the event that entered the current stage: names this stage visit."""
    next_escalation_at: datetime | None = None
    """When the sweep next has something to raise for this issue (None: nothing)."""
    listed_by_village: bool = False
    """Its village is listed (挂牌督战): the listed ladder applies even if the issue is not."""

    @property
    def supervised(self) -> bool:
        """Whether the stricter ladder applies: the issue or its village is listed."""
        return self.listed or self.listed_by_village


@dataclass(frozen=True, slots=True)
class NewIssue:
    title: str
    category: str
    village: str
    description: str | None = None
    group: str | None = None
    household: str | None = None
    severity: str = "medium"
    listed: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    issue_id: int
    transition: str
    note: str | None = None
    plan: str | None = None
    assignee: str | None = None
    due: date | None = None
    evidence: tuple[Evidence, ...] = ()
    reason: str | None = None
    expect_version: int | None = None
    duplicate_of: int | None = None
    """A void's: the issue this one repeats."""

    def given(self, name: str) -> bool:
        """Whether a field was given: text made only of spaces is not a note."""
        value = getattr(self, name)
        if name == "evidence":
            return bool(value)
        if isinstance(value, str):
            return given_text(value) is not None
        return value is not None


def given_text(text: str | None) -> str | None:
    """A text field of a command as recorded: None unless given (text made only of spaces
    is not given: `Move.given`)."""
    if text is None or text.strip() == "":
        return None
    return text


@dataclass(frozen=True, slots=True)
class Edit:
    """A correction of fields typed wrong: None leaves a field as it is; "" clears an optional
    one (description, group, household)."""

    issue_id: int
    reason: str
    title: str | None = None
    category: str | None = None
    village: str | None = None
    household: str | None = None
    severity: str | None = None
    description: str | None = None
    group: str | None = None

    def given(self) -> dict[str, str | None]:
        """The fields given, each with its new value ("" of an optional field: None)."""
        out: dict[str, str | None] = {}
        for name in EDITABLE:
            value = getattr(self, name)
            if value is not None:
                out[name] = None if value == "" and name in OPTIONAL else value
        return out


EDITABLE = ("title", "category", "village", "household", "severity", "description", "group")
"""The fields `issue edit` corrects, in the order the history lists them."""
OPTIONAL = frozenset({"household", "description", "group"})


def check_edit(edit: Edit) -> dict[str, str | None]:
    """The fields an edit gives, each keeping the rule of a new issue's field (exit 1), with a
    reason (not blank); BadOption when it gives none."""
    given = edit.given()
    if not given:
        raise BadOption(f"issue edit needs a field to change (one of"
                        f" {', '.join('--' + n for n in EDITABLE)})")
    for name, value in given.items():
        text.check(f"--{name}", value, text.kind_of(name))
    text.check("--reason", edit.reason, text.TEXT)
    if not edit.reason.strip():
        raise MissingField("issue edit needs --reason")
    for name in ("title", "category", "village", "severity"):
        if name in given and not (given[name] or "").strip():
            raise BadOption(f"--{name} must not be empty")
    category, severity = given.get("category"), given.get("severity")
    if category is not None and category not in CATEGORIES:
        raise BadOption(f"unknown category {category!r} (one of {', '.join(CATEGORIES)})")
    if severity is not None and severity not in SEVERITIES:
        raise BadOption(f"unknown severity {severity!r} (one of {', '.join(SEVERITIES)})")
    return given


# --- creating ------------------------------------------------------------------------------
def check_text(name: str, value: str | None, kind: text.Kind | None = None) -> None:
    """The text rule (engine.domain.text): refused (exit 1) naming the field, for a control
    character, a bidirectional control or a value too long; the kind by the field's name
    unless given (`--note` is free text, `--assignee` one short line)."""
    text.check(name, value, kind)


def check_new_issue(new: NewIssue) -> None:
    for name in ("title", "village", "category", "description", "group", "household",
                 "severity"):
        text.check(name, getattr(new, name))
    check_choices(new)


def check_choices(new: NewIssue) -> None:
    """What a new issue needs beyond the text rule: a title, a known category and severity
    (a ledger's import keeps the text rule once per cell, then asks only this)."""
    if not new.title.strip():
        raise BadOption("title must not be empty")
    if new.category not in CATEGORIES:
        raise BadOption(f"unknown category {new.category!r} (one of {', '.join(CATEGORIES)})")
    if new.severity not in SEVERITIES:
        raise BadOption(f"unknown severity {new.severity!r} (one of {', '.join(SEVERITIES)})")


# --- folding -------------------------------------------------------------------------------
def payload_moment(value: Any) -> datetime | None:
    """A moment as payloads carry it (ISO 8601 with offset), or None."""
    return datetime.fromisoformat(value) if value else None


ISSUE_FIELDS = tuple(f.name for f in fields(Issue))
"""An issue's fields in the dataclass's order (what `issue_of_values` takes)."""
_ISSUE_VALUES = attrgetter(*ISSUE_FIELDS)
_AT = {name: k for k, name in enumerate(ISSUE_FIELDS)}
issue_of_values = slotted(Issue)
"""`Issue(*values)`, made slot by slot (engine.domain.records): a move, the store's mapper and
the audit's fold each make one per issue."""


def replace(issue: Issue, **changes: Any) -> Issue:
    """dataclasses.replace for an Issue (hot path: a move makes one), made slot by slot."""
    values = list(_ISSUE_VALUES(issue))
    for name, value in changes.items():
        k = _AT.get(name)
        if k is None:
            raise TypeError(f"Issue has no field {name!r}")
        values[k] = value
    return issue_of_values(values)


def evolve(issue: Issue | None, event: Event) -> Issue:
    """The issue after `event`."""
    if event.type in _FIRST:
        return Issue(**created_fields(event.issue_id, event.version, event.actor, event.at,
                                      event.payload, event.workflow, event.to_state))
    if issue is None:
        raise ValueError(f"event {event.type} before the issue was created")
    if event.type == _TRANSITION:  # a move's: its fields put in place, without a dict
        values = list(_ISSUE_VALUES(issue))
        moved_into(values, event.version, event.at, event.payload, event.workflow,
                   event.to_state)
        return issue_of_values(values)
    return replace(issue, **changes(event.type, event.version, event.at, event.payload,
                                    event.workflow, event.to_state))


def created_fields(issue_id: int, version: int, actor: str, at: datetime,
                   p: Mapping[str, Any], workflow: str, to_state: str | None
                   ) -> dict[str, Any]:
    """Every field of an issue from its first event (created or imported)."""
    return {
        "id": issue_id,
        "title": p["title"],
        "category": p["category"],
        "village": p["village"],
        "description": p.get("description"),
        "group": p.get("group"),
        "household": p.get("household"),
        "severity": p.get("severity") or "medium",
        "listed": bool(p.get("listed")),
        "state": to_state or "",
        "version": version,
        "created_at": at,
        "created_by": actor,
        "stage_entered_at": payload_moment(p.get("entered_at")) or at,
        "assignee": p.get("assignee"),
        "plan": p.get("plan"),
        "due_at": payload_moment(p.get("due_at")),
        "workflow": workflow,
        "stage_version": version,
        "next_escalation_at": payload_moment(p.get("next_escalation_at")),
        "listed_by_village": bool(p.get("listed_by_village")),
    }


def changes(kind: str, version: int, at: datetime, p: Mapping[str, Any], workflow: str,
            to_state: str | None) -> dict[str, Any]:
    """The fields a later event sets: the one rule that `evolve` and the audit's replay share
    (a field the payload leaves out keeps its value)."""
    if kind == _TRANSITION:
        out: dict[str, Any] = {}
        transition_into(out, version, at, p, workflow, to_state)
        return out
    if kind in _POINTER_ONLY:
        return {"version": version,
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    if kind == _APPROVED:
        return {"version": version, "due_at": payload_moment(p.get("due_at")),
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    if kind == _REASSIGNED:
        return {"version": version, "assignee": p.get("to"),
                "due_at": payload_moment(p.get("due_at")),
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    if kind == _EDITED:
        out = {"version": version, "listed_by_village": bool(p.get("listed_by_village")),
               "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
        for name, change in (p.get("changes") or {}).items():
            if name in EDITABLE:
                out[name] = change.get("new")
        return out
    if kind in _LISTING:
        return {"version": version, "listed_by_village": kind == _LISTED,
                "next_escalation_at": payload_moment(p.get("next_escalation_at"))}
    return {"version": version}


def transition_into(f: dict[str, Any], version: int, at: datetime, p: Mapping[str, Any],
                    workflow: str, to_state: str | None) -> None:
    """What a transition changes, written into `f` (the fields of an issue, or the changes'
    own dict): `changes` of a transition, without a new dict (the audit's hot loop)."""
    f["version"] = f["stage_version"] = version
    f["stage_entered_at"] = at
    due, later = p.get("due_at"), p.get("next_escalation_at")
    f["due_at"] = _fromiso(due) if due else None
    f["workflow"] = workflow
    f["next_escalation_at"] = _fromiso(later) if later else None
    if to_state:
        f["state"] = to_state
    if "assignee" in p:
        f["assignee"] = p["assignee"]
    if "plan" in p:
        f["plan"] = p["plan"]
    if "listed_by_village" in p:
        f["listed_by_village"] = bool(p["listed_by_village"])


_VERSION, _STAGE_VERSION, _ENTERED, _DUE, _WORKFLOW, _NEXT, _STATE, _ASSIGNEE, _PLAN, \
    _BY_VILLAGE = (ISSUE_FIELDS.index(name) for name in (
        "version", "stage_version", "stage_entered_at", "due_at", "workflow",
        "next_escalation_at", "state", "assignee", "plan", "listed_by_village"))


def moved_into(v: list[Any], version: int, at: datetime, p: Mapping[str, Any],
               workflow: str, to_state: str | None) -> None:
    """`transition_into` on an issue's values (in the order of ISSUE_FIELDS) rather than
    its fields by name: what `evolve` does with a move."""
    v[_VERSION] = v[_STAGE_VERSION] = version
    v[_ENTERED] = at
    due, later = p.get("due_at"), p.get("next_escalation_at")
    v[_DUE] = _fromiso(due) if due else None
    v[_WORKFLOW] = workflow
    v[_NEXT] = _fromiso(later) if later else None
    if to_state:
        v[_STATE] = to_state
    if "assignee" in p:
        v[_ASSIGNEE] = p["assignee"]
    if "plan" in p:
        v[_PLAN] = p["plan"]
    if "listed_by_village" in p:
        v[_BY_VILLAGE] = bool(p["listed_by_village"])


KEPT_UNLESS_GIVEN = ("assignee", "plan", "listed_by_village")
"""The fields a transition writes only when its payload names them (`transition_into`); every
other field it writes it always writes, and `state` whenever it names the state entered. So a
transition followed by another that names its state changes nothing the later one leaves,
except these fields when the later one does not name them (what a replay may skip)."""


_fromiso = datetime.fromisoformat
# plain strings: the audit folds a million events through `changes`, and comparing a str with
# a str is several times faster than with an enum member
_TRANSITION = EventType.TRANSITION.value
_APPROVED = EventType.EXTENSION_APPROVED.value
_LISTED = EventType.VILLAGE_LISTED.value
_REASSIGNED = EventType.REASSIGNED.value
_EDITED = EventType.EDITED.value
_POINTER_ONLY = frozenset({EventType.ESCALATED.value, EventType.RESCHEDULED.value})
_LISTING = frozenset({EventType.VILLAGE_LISTED.value, EventType.VILLAGE_UNLISTED.value})
_FIRST = frozenset(t.value for t in FIRST)


def fold(events: Iterable[Event]) -> Issue | None:
    issue: Issue | None = None
    for e in events:
        issue = evolve(issue, e)
    return issue
