"""What an auditor checks and rebuilds from the history alone. Pure: no I/O, no clock.

- `Replay` folds one issue's events into the issue, its escalations and its extension
  requests, exactly as the live commands wrote them (the history is the truth).
- `differences` names what a stored row has that its history does not say.
- `diagnose` names the first break in the chain and what it looks like (edited, missing,
  inserted, reordered), from the rows around it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from engine.domain.chain import GENESIS
from engine.domain.clock_rules import BACKDATED_SECONDS
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import Event, EventType
from engine.domain.issue import (
    ISSUE_FIELDS,
    Issue,
    changes,
    created_fields,
    issue_of_values,
    payload_moment,
    transition_into,
)
from engine.domain.ladder import initial_status

# the fold compares each event's type: plain strings compare faster than enum members
_FIRST = frozenset({EventType.CREATED.value, EventType.IMPORTED.value})
_TRANSITION = EventType.TRANSITION.value
_ESCALATED = EventType.ESCALATED.value
_RECORDED = EventType.INTERVIEW_RECORDED.value
_CLOSING = frozenset({_RECORDED, EventType.ACCOUNTABILITY_DECIDED.value})
_REQUESTED = EventType.EXTENSION_REQUESTED.value
_APPROVED = EventType.EXTENSION_APPROVED.value
_DECIDING = frozenset({_APPROVED, EventType.EXTENSION_DENIED.value})
SUPERSEDING = _SUPERSEDED_ESCALATIONS = "superseded_escalations"
SUPERSEDING_EXTENSIONS = _SUPERSEDED_EXTENSIONS = "superseded_extensions"
"""The keys of a transition's payload that close what it supersedes (`Replay.supersede`)."""
TRANSITION = _TRANSITION
"""The kind of event that `transition_into` folds (what a store's fold may write itself)."""
ESCALATED = _ESCALATED
"""The kind of event whose escalation a store's fold may book unmade (`Raised`)."""

"""An event whose clock time and write time differ by more than this is back-dated."""


def backdated(at: datetime, recorded_at: datetime | None) -> bool:
    return recorded_at is not None and abs((recorded_at - at).total_seconds()) > BACKDATED_SECONDS


Raised = tuple[str, Mapping[str, Any], int, int, datetime | None, Any, Callable[[Any], Any],
               dict[str, Any] | None]
"""An escalation the history raised, kept as its escalated event said it until someone needs
it (a store's fold books it so; most are superseded or done, and a replay shows only the
open): (level, payload, issue id, the stage version and the stage's due moment it was raised
under (the payload's own `due_at` comes first), the event's stored time and what decodes it,
what closed it since (`Replay._close`'s fields) or None). A plain tuple: a fold books one per
escalated event."""


@dataclass
class Replay:
    """One issue rebuilt event by event (its fields kept in a dict; the Issue built on demand,
    so that a long history costs one dict update per event; the escalations made when read)."""

    fields: dict[str, Any] = field(default_factory=dict)
    raised: dict[int, Escalation | Raised] = field(default_factory=dict)
    """Each escalation raised, by id in the order raised: made, or as its event said it
    (`Raised`)."""
    extensions: dict[int, Extension] = field(default_factory=dict)
    events: int = 0
    backdated: int = 0
    last_seq: int | None = None
    _issue: Issue | None = None

    @property
    def issue(self) -> Issue | None:
        if self._issue is None and self.fields:
            self._issue = issue_of(self.fields)
        return self._issue

    @property
    def escalations(self) -> dict[int, Escalation]:
        """Every escalation the history raised, by id in the order raised (`make_all`)."""
        self.make_all()
        return cast("dict[int, Escalation]", self.raised)

    def make_all(self) -> None:
        """Make every escalation not made yet: an escalated event too damaged to make one
        raises here what reading it raises (KeyError, ValueError, TypeError)."""
        raised = self.raised
        for eid, x in raised.items():
            if type(x) is tuple:
                raised[eid] = _escalation(eid, x)

    def apply(self, e: Event) -> None:
        self.apply_row(e.seq, e.issue_id, e.version, e.type, e.actor, e.at,
                       backdated(e.at, e.recorded_at), e.payload, e.workflow, e.to_state)

    def apply_row(self, seq: int | None, issue_id: int, version: int, kind: str, actor: str,
                  at: datetime, late: bool, p: Mapping[str, Any], workflow: str,
                  to_state: str | None) -> None:
        """Fold one event (the fields of a history row, `at` aware, the payload parsed;
        `late`: whether it is back-dated)."""
        f = self.fields
        self.events += 1
        self.last_seq = seq
        if late:
            self.backdated += 1
        self._issue = None
        if kind in _FIRST:
            self.fields = created_fields(issue_id, version, actor, at, p, workflow, to_state)
            return
        if not f:
            raise ValueError(f"event {kind} before the issue was created")
        if kind == _TRANSITION:
            transition_into(f, version, at, p, workflow, to_state)
            if _SUPERSEDED_ESCALATIONS in p or _SUPERSEDED_EXTENSIONS in p:
                self.supersede(seq, actor, at, p)
            return
        if kind == _ESCALATED:
            eid = int(p["escalation"])
            self.raised[eid] = _escalation(eid, (
                str(p["level"]), p, issue_id, f["stage_version"], f["due_at"], at, _same, None))
        elif kind in _CLOSING:
            status = "recorded" if kind == _RECORDED else "decided"
            named = p.get("subjects")
            self._close(int(p["escalation"]), status, seq, actor, at, p.get("note"),
                        p.get("with") or (), p.get("outcome"),
                        None if named is None else tuple(named))
        elif kind == _REQUESTED:
            xid = int(p["extension"])
            if f["due_at"] is None:
                raise ValueError(f"event {seq} asks to extend a stage without a deadline")
            self.extensions[xid] = Extension(
                id=xid, issue_id=issue_id, stage=f["state"], stage_version=f["stage_version"],
                requested_by=actor, requested_at=at, old_due_at=f["due_at"],
                to_date=str(p["to"]), reason=str(p["reason"]), status="pending")
        elif kind in _DECIDING:
            status = "approved" if kind == _APPROVED else "denied"
            self._decide(int(p["extension"]), status, seq, actor, at, p.get("note"))
        f.update(changes(kind, version, at, p, workflow, to_state))

    def supersede(self, seq: int | None, actor: str, at: datetime, p: Mapping[str, Any]
                  ) -> None:
        """Close what a transition's payload says it superseded."""
        for x in p.get(_SUPERSEDED_ESCALATIONS) or ():
            self._close(int(x), "superseded", seq, actor, at, None, ())
        for x in p.get(_SUPERSEDED_EXTENSIONS) or ():
            self._decide(int(x), "superseded", seq, actor, at, None)

    def counted(self, events: int, last_seq: int | None, backdated: int) -> None:
        """Book `events` folded outside `apply_row` (the fold of a store's rows, which
        writes a transition's fields with `transition_into` itself)."""
        if events:
            self.events += events
            self.last_seq = last_seq
            self.backdated += backdated
            self._issue = None

    def _close(self, eid: int, status: str, seq: int | None, actor: str, at: datetime,
               note: str | None, attendees: Iterable[str], outcome: str | None = None,
               subjects: tuple[str, ...] | None = None) -> None:
        x = self.raised.get(eid)
        if x is None:
            raise ValueError(f"event {seq} closes escalation {eid}, which was never raised")
        closing = {"status": status, "closed_at": at, "closed_by": actor, "note": note,
                   "attendees": tuple(attendees), "outcome": outcome}
        if subjects is not None:
            closing["subjects"] = subjects
        if type(x) is tuple and x[7] is None:  # still unmade: made when read
            self.raised[eid] = (*x[:7], closing)
        else:
            made = _escalation(eid, x) if type(x) is tuple else x
            self.raised[eid] = _replace(made, **closing)

    def _decide(self, xid: int, status: str, seq: int | None, actor: str, at: datetime,
                note: str | None) -> None:
        x = self.extensions.get(xid)
        if x is None:
            raise ValueError(f"event {seq} decides extension {xid}, which was never asked")
        self.extensions[xid] = _replace(x, status=status, decided_at=at, decided_by=actor,
                                        note=note)

    def open_escalations(self) -> list[Escalation]:
        """The escalations still open, in the order raised (made now: only these are; a
        reminder is done when raised)."""
        out: list[Escalation] = []
        raised = self.raised
        for eid, x in raised.items():
            if type(x) is tuple:
                if x[7] is not None or initial_status(x[0]) != "open":
                    continue  # closed, or done when raised
                x = raised[eid] = _escalation(eid, x)
            if x.status == "open":  # type: ignore[union-attr]
                out.append(x)  # type: ignore[arg-type]
        return out


def _escalation(eid: int, x: Raised) -> Escalation:
    """The escalation an escalated event raised, from what the fold kept of it."""
    level, p, issue_id, stage_version, due_at, raised_at, decode, closing = x
    values = {
        **_ESCALATION_DEFAULTS, "id": eid, "issue_id": issue_id, "stage": str(p["stage"]),
        "stage_version": stage_version, "level": level,
        "due_at": payload_moment(p.get("due_at")) or due_at,
        "moment": datetime.fromisoformat(p["moment"]), "raised_at": decode(raised_at),
        "recipients": tuple(p.get("recipients") or ()), "status": initial_status(level),
        "subjects": tuple(p.get("subjects") or ())}
    if closing is not None:
        values.update(closing)
    return _made(Escalation, values)  # type: ignore[no-any-return]


def _same(value: Any) -> Any:
    """A moment already decoded (the raised_at of an escalation `apply_row` makes)."""
    return value


def _made(cls: type[Any], values: dict[str, Any]) -> Any:
    """An instance of one of these frozen dataclasses (they have a __dict__) from every one
    of its fields, without the per-field `object.__setattr__` of its __init__: the fold
    makes one per escalation raised and closed."""
    obj = _new(cls)
    obj.__dict__.update(values)
    return obj


def _replace(obj: Any, **changes: Any) -> Any:
    """dataclasses.replace for these plain dataclasses, without its per-field checks."""
    new = _new(type(obj))
    values = new.__dict__
    values.update(obj.__dict__)
    values.update(changes)
    return new


_new = object.__new__


def issue_of(values: Mapping[str, Any]) -> Issue:
    """Issue(**values), the same issue, made slot by slot (`issue_of_values`): the audit
    makes one per issue. Anything but exactly the issue's fields goes through `__init__`."""
    if len(values) != len(ISSUE_FIELDS):
        return Issue(**values)
    try:
        ordered = [values[name] for name in ISSUE_FIELDS]
    except KeyError:
        return Issue(**values)
    return issue_of_values(ordered)


_ESCALATION_DEFAULTS = {f.name: f.default for f in fields(Escalation) if f.default is not MISSING}
_ESCALATION_DEFAULTS.update({f.name: f.default_factory() for f in fields(Escalation)
                             if f.default_factory is not MISSING})


def differences(stored: Any, replayed: Any) -> list[str]:
    """The fields (of two dataclass instances of one type) that differ, as `name: a ≠ b`."""
    if stored == replayed:
        return []
    out = []
    for f in fields(stored):
        a, b = getattr(stored, f.name), getattr(replayed, f.name)
        if a != b:
            out.append(f"{f.name} is {a!r} in the table, {b!r} by the history")
    return out


# --- the chain -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """What the chain check keeps of an event: its place and its two hashes."""

    seq: int
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Finding:
    first_bad: int | None
    kind: str
    """edited | missing | inserted | reordered | rewritten | cut | disagrees"""
    reason: str


def diagnose(
    before: Sequence[Link],
    bad: Link,
    after: Link | None,
    content_ok: Callable[[int], bool],
    seq_of_hash: Callable[[str], int | None],
    renumbered_by: Callable[[int], int | None],
) -> Finding:
    """The first break in the chain, at `bad` (the first event whose seq or prev_hash does not
    follow the event `before[-1]`), told as what most likely happened.

    `content_ok(seq)`: whether that event still matches its own hash; `seq_of_hash(h)`: which
    event has hash h; `renumbered_by(seq)`: the shift k such that the event at seq matches its
    hash as if it were at seq + k (events after a deleted one renumbered to close the gap).
    """
    p = before[-1] if before else None
    p_seq = p.seq if p else 0
    if bad.seq > p_seq + 1:
        gone = (f"event {p_seq + 1}" if bad.seq == p_seq + 2
                else f"events {p_seq + 1}–{bad.seq - 1}")
        return Finding(p_seq + 1, "missing", f"{gone} not in the history: deleted")
    found = 0 if bad.prev_hash == GENESIS else seq_of_hash(bad.prev_hash)
    if found is not None and found > bad.seq:
        return Finding(bad.seq, "reordered",
                       f"event {bad.seq} was chained after event {found}: events were"
                       " swapped or moved")
    if not content_ok(bad.seq):
        k = renumbered_by(bad.seq)
        if k:
            return Finding(bad.seq, "missing",
                           f"event {bad.seq} was stored as event {bad.seq + k}: {k} event(s)"
                           " before it deleted and the rest renumbered")
    p_hash = p.hash if p else ""
    if after is not None and p is not None and after.prev_hash == p_hash:
        return Finding(bad.seq, "inserted",
                       f"event {bad.seq} is not part of the chain: event {after.seq} follows"
                       f" event {p_seq} directly")
    if after is not None and after.prev_hash != bad.hash and content_ok(bad.seq):
        return Finding(bad.seq, "edited",
                       f"event {bad.seq} is not chained to event {p_seq} and event {after.seq}"
                       f" is not chained to it: its links were changed and its hash recomputed")
    if found is not None and found < p_seq:
        first = found + 1
        span = f"event {first}" if first == p_seq else f"events {first}–{p_seq}"
        return Finding(first, "inserted",
                       f"{span} not part of the chain: event {bad.seq} follows event {found}")
    if not content_ok(bad.seq):
        return Finding(bad.seq, "inserted",
                       f"event {bad.seq} matches neither its hash nor the chain before it:"
                       " forged or inserted")
    if p is not None:
        return Finding(p_seq, "edited",
                       f"event {p_seq} is not the event that event {bad.seq} was chained to:"
                       " changed and its hash recomputed")
    return Finding(bad.seq, "edited", f"event {bad.seq} does not start the chain")


def chain_finding(
    link_break: Finding | None, first_content_bad: int | None
) -> Finding | None:
    """The earliest of a break in the links and an event that does not match its hash."""
    edited = None if first_content_bad is None else Finding(
        first_content_bad, "edited",
        f"event {first_content_bad} does not match its hash: its fields were changed")
    if link_break is None:
        return edited
    if edited is None or (link_break.first_bad or 0) <= (edited.first_bad or 0):
        return link_break
    return edited


def anchor_finding(anchor_seq: int, anchor_hash: str, found: Mapping[int, str],
                   last_seq: int) -> Finding | None:
    """Compare the chain with an anchor (SEQ:HASH) kept outside the database."""
    if anchor_seq > last_seq:
        return Finding(last_seq + 1, "cut",
                       f"the history ends at event {last_seq}, before the anchored event"
                       f" {anchor_seq}: events were cut off")
    got = found.get(anchor_seq)
    if got != anchor_hash:
        return Finding(anchor_seq, "rewritten",
                       f"event {anchor_seq} has hash {(got or '')[:16]}…, the anchor says"
                       f" {anchor_hash[:16]}…: the history up to it was rewritten")
    return None
