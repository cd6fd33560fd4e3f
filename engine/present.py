"""How issues and events look: JSON objects (the contract) and tables for people.

The JSON shapes carry every text exactly as stored. Everything written for people (the
`*_text` forms, the tables, an event's details) shows text through `shown`: a control
character, a bidirectional control or a line separator that old rows may hold (stored before
engine.domain.text refused them) is written as a visible escape (`\\x1b`, `\\r`, `\\u202e`),
never sent to the terminal; free text (description, plan, note, reason) keeps its lines, each
continuation indented under the first, and tables show no rich markup from the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.domain.accounts import ApiToken
from engine.domain.audit import backdated
from engine.domain.escalation import Escalation, Extension
from engine.domain.events import FIRST, Event, EventType
from engine.domain.issue import EDITABLE, Issue
from engine.domain.text import visible
from engine.words import Words

if TYPE_CHECKING:
    from engine.app.audit import Replayed
    from engine.app.evidence_files import Attached


def shown(value: object, multiline: bool = False, indent: int = 0) -> str:
    """Text as a person reads it on a terminal or in a plain-text report: what the text rule
    refuses written as an escape (engine.domain.text.visible); with `multiline`, the lines kept
    and each after the first indented by `indent` spaces. None is the empty string."""
    if value is None:
        return ""
    out = visible(str(value), multiline)
    if multiline and indent and "\n" in out:
        out = out.replace("\n", "\n" + " " * indent)
    return out


def _cell(value: object, multiline: bool = False) -> str:
    """A table cell: shown, tabs as spaces, and markup-looking brackets escaped for rich."""
    from rich.markup import escape

    return escape(shown(value, multiline).expandtabs(4))


_FREE = frozenset({"note", "reason", "plan", "description"})
"""The rows of the `*_text` forms that hold free text (their lines kept)."""


def display_width(text: str) -> int:
    """Columns a text takes on a terminal: wide (CJK) characters count two."""
    from unicodedata import east_asian_width

    return sum(2 if east_asian_width(c) in "WF" else 1 for c in text)


def _rows(rows: Sequence[tuple[str, Any]], w: Words, free: frozenset[str],
          made: frozenset[str] = frozenset()) -> str:
    """`key: value` lines, each key in the reader's words and right-aligned to the widest;
    the keys in `free` are free text, those in `made` the program's own (shown as they are: a
    light's colour)."""
    kept = [(k, w(k), v) for k, v in rows if v not in (None, "")]
    width = max((display_width(label) for _, label, _ in kept), default=0)
    colon = w("colon")
    indent = width + display_width(colon)
    return "\n".join(
        f"{' ' * (width - display_width(label))}{label}{colon}"
        f"{v if k in made else shown(v, k in free, indent)}"
        for k, label, v in kept)


_COLOURS = {"red": "\x1b[31m", "yellow": "\x1b[33m", "green": "\x1b[32m"}
"""ANSI colours of the lights, for text printed to a terminal."""


def light_text(light: str | None, w: Words, colour: bool = False) -> str:
    """A light as a word (`红`, `red`), so that it survives a pipe; in its colour when
    `colour` (stdout is a terminal); the empty string for none (a closed issue)."""
    if light is None:
        return ""
    word = shown(w.light(light))
    return f"{_COLOURS[light]}{word}\x1b[0m" if colour and light in _COLOURS else word


def light_cell(light: str | None, w: Words) -> str:
    """A light as a table cell: the word, coloured by rich when the console is a terminal."""
    if light is None:
        return ""
    word = _cell(w.light(light))
    return f"[{light}]{word}[/]" if light in _COLOURS else word


def when(value: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 with offset, in town time; None stays None."""
    return None if value is None else value.astimezone(tz).isoformat()


def issue_json(i: Issue, tz: tzinfo, light: str | None = None) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "state": i.state,
        "version": i.version,
        "village": i.village,
        "category": i.category,
        "assignee": i.assignee,
        "listed": i.listed,
        "due_at": when(i.due_at, tz),
        "group": i.group,
        "household": i.household,
        "severity": i.severity,
        "description": i.description,
        "plan": i.plan,
        "stage_entered_at": when(i.stage_entered_at, tz),
        "created_at": when(i.created_at, tz),
        "created_by": i.created_by,
        "workflow": i.workflow,
        "light": light,
        "next_escalation_at": when(i.next_escalation_at, tz),
        "listed_by_village": i.listed_by_village,
        "stage_version": i.stage_version,
    }


_SCALAR = json.JSONEncoder(ensure_ascii=False).encode
"""A scalar as json.dumps writes it (the C encoder: no indent)."""
_SCALARS = (str, int, float, bool, type(None))


def indented(obj: Mapping[str, Any], pad: str = "") -> str:
    """`json.dumps(obj, ensure_ascii=False, indent=2)` with `pad` after each line break, for
    an object whose values are scalars or lists of scalars (anything else is given to
    json.dumps): the same text without the pure-Python encoder that `indent` falls back to
    (`escalate --json` writes 300,000 of them at a deadline)."""
    lines = []
    for key, value in obj.items():
        text = _flat_value(value, pad) if isinstance(key, str) else None
        if text is None:  # not flat: as json.dumps writes it
            return json.dumps(obj, ensure_ascii=False, indent=2).replace("\n", f"\n{pad}")
        lines.append(f"{pad}  {_SCALAR(key)}: {text}")
    if not lines:
        return "{}"
    return "{\n" + ",\n".join(lines) + f"\n{pad}}}"


def _flat_value(value: Any, pad: str) -> str | None:
    """A value of `indented`'s object as text; None when it is not a scalar or a list of
    scalars."""
    if isinstance(value, _SCALARS):
        return _SCALAR(value)
    if isinstance(value, list) and all(isinstance(x, _SCALARS) for x in value):
        if not value:
            return "[]"
        inner = f",\n{pad}    ".join(_SCALAR(x) for x in value)
        return f"[\n{pad}    {inner}\n{pad}  ]"
    return None


def remembered_when(tz: tzinfo) -> Callable[[datetime | None], str | None]:
    """`when(·, tz)` remembering the moments it wrote (a sweep's escalations share their
    raised, due and rung moments: `escalate --json` writes hundreds of thousands)."""
    return lru_cache(maxsize=4096)(partial(when, tz=tz))


def escalation_json(e: Escalation, tz: tzinfo,
                    at: Callable[[datetime | None], str | None] | None = None
                    ) -> dict[str, Any]:
    """An escalation as --json gives it; `at` writes its moments (`when` in `tz` unless
    given, e.g. remembered_when)."""
    if at is None:
        at = partial(when, tz=tz)
    return {
        "id": e.id,
        "issue": e.issue_id,
        "level": e.level,
        "stage": e.stage,
        "recipients": list(e.recipients),
        "due_at": at(e.due_at),
        "raised_at": at(e.raised_at),
        "moment": at(e.moment),
        "status": e.status,
        "stage_version": e.stage_version,
        "closed_at": at(e.closed_at),
        "closed_by": e.closed_by,
        "note": e.note,
        "with": list(e.attendees),
        "subjects": list(e.subjects),
        "outcome": e.outcome,
    }


def replayed_json(r: Replayed, tz: tzinfo) -> dict[str, Any]:
    """An issue as `audit replay --json` gives it: issue_json at that moment, with the
    escalations open then and how many of its events are back-dated."""
    item = issue_json(r.issue, tz, r.light)
    item["open_escalations"] = [escalation_json(x, tz) for x in r.open_escalations]
    item["backdated_events"] = r.backdated
    return item


def extension_json(x: Extension, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": x.id,
        "issue": x.issue_id,
        "stage": x.stage,
        "requested_by": x.requested_by,
        "requested_at": when(x.requested_at, tz),
        "old_due_at": when(x.old_due_at, tz),
        "to": x.to_date,
        "reason": x.reason,
        "status": x.status,
        "decided_by": x.decided_by,
        "decided_at": when(x.decided_at, tz),
        "note": x.note,
    }


def token_json(k: ApiToken, tz: tzinfo) -> dict[str, Any]:
    """An API token as `user tokens --json` gives it (never the token itself)."""
    return {"id": k.id, "name": k.name, "person": k.person,
            "created_at": when(k.created_at, tz), "last_used_at": when(k.last_used_at, tz),
            "revoked_at": when(k.revoked_at, tz)}


def token_text(k: ApiToken, tz: tzinfo) -> str:
    used = town_time(k.last_used_at, tz) or "never"
    ended = f", revoked {town_time(k.revoked_at, tz)}" if k.revoked_at else ""
    return (f"{k.id:>5}  {shown(k.name)}  created {town_time(k.created_at, tz)},"
            f" last used {used}{ended}")


def escalations_table(items: Sequence[Escalation], tz: tzinfo, w: Words,
                      title: str = "") -> Any:
    from rich.table import Table

    table = Table(title=title or None)
    for name in ("id", "issue", "level", "stage", "due", "raised", "to", "status"):
        table.add_column(w(name), overflow="fold")
    for e in items:
        table.add_row(str(e.id), f"#{e.issue_id}", _cell(w.level(e.level)),
                      _cell(w.stage(e.stage)), town_time(e.due_at, tz, due=True),
                      town_time(e.raised_at, tz), _cell(w.people(e.recipients)),
                      _cell(w.status(e.status)))
    return table


def escalation_text(e: Escalation, tz: tzinfo, w: Words) -> str:
    rows: list[tuple[str, Any]] = [
        ("escalation", w("esc on", id=e.id, level=w.level(e.level), issue=e.issue_id)),
        ("stage", w("stage due", stage=w.stage(e.stage), due=town_time(e.due_at, tz, due=True))),
        ("raised", town_time(e.raised_at, tz)),
        ("to", w.people(e.recipients)),
        ("answerable", w.people(e.subjects) or None),
        ("status", w.status(e.status)),
        ("closed", w("at by", at=town_time(e.closed_at, tz), who=w.person(e.closed_by))
         if e.closed_at else None),
        ("with", w.people(e.attendees) or None),
        ("outcome", w.outcome(e.outcome) or None),
        ("note", e.note),
    ]
    return _rows(rows, w, _FREE)


def extension_text(x: Extension, tz: tzinfo, w: Words) -> str:
    rows: list[tuple[str, Any]] = [
        ("extension", w("ext on", id=x.id, issue=x.issue_id, stage=w.stage(x.stage))),
        ("asked", w("at by", at=town_time(x.requested_at, tz), who=w.person(x.requested_by))),
        ("due", w("due moved", old=town_time(x.old_due_at, tz, due=True), new=x.to_date)),
        ("reason", x.reason),
        ("status", w.status(x.status)),
        ("decided", w("at by", at=town_time(x.decided_at, tz), who=w.person(x.decided_by))
         if x.decided_at else None),
        ("note", x.note),
    ]
    return _rows(rows, w, _FREE)


def event_json(e: Event, tz: tzinfo) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "issue_id": e.issue_id,
        "version": e.version,
        "type": e.type,
        "transition": e.transition,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "actor": e.actor,
        "at": when(e.at, tz),
        "recorded_at": when(e.recorded_at, tz),
        "payload": dict(e.payload),
        "workflow": e.workflow,
        "backdated": is_backdated(e),
        "channel": (e.payload.get("via") or {}).get("channel"),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def is_backdated(e: Event) -> bool:
    """Its clock time differs from when it was written by more than a minute."""
    return backdated(e.at, e.recorded_at)


def town_time(value: datetime | None, tz: tzinfo, due: bool = False) -> str:
    """A moment as people read it: to the minute, in town time, `2020-10-12 08:30` (the one
    form of every time in human output). A `due` moment at midnight is the end of the day
    before: due 2020-10-13 00:00 reads `2020-10-12 24:00`, "due on the 12th" as a cadre means
    it. None is the empty string."""
    if value is None:
        return ""
    local = value.astimezone(tz)
    if due and (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0):
        return f"{local.date() - timedelta(days=1):%Y-%m-%d} 24:00"
    return f"{local:%Y-%m-%d %H:%M}"


def issue_text(i: Issue, tz: tzinfo, w: Words, light: str | None = None,
               colour: bool = False) -> str:
    """`issue show`: a line per field, in the reader's words; the light as a word, coloured
    when `colour`."""
    rows: list[tuple[str, Any]] = [
        ("issue", f"#{i.id} {i.title}"),
        ("state", w("state version", stage=w.stage(i.state), n=i.version)),
        ("village", w.village(i.village)),
        ("category", w.category(i.category)),
        ("severity", w.severity(i.severity)),
        ("listed", w("yes") if i.listed else w("by its village") if i.listed_by_village
         else w("no")),
        ("light", light_text(light, w, colour)),
        ("group", w.group(i.group)),
        ("household", i.household),
        ("assignee", w.person(i.assignee)),
        ("plan", i.plan),
        ("due", town_time(i.due_at, tz, due=True)),
        ("next escalation", town_time(i.next_escalation_at, tz)),
        ("in stage since", town_time(i.stage_entered_at, tz)),
        ("found", w("at by", at=town_time(i.created_at, tz), who=w.person(i.created_by))),
        ("description", i.description),
    ]
    return _rows(rows, w, _FREE, frozenset({"light"}))


def issues_table(issues: Sequence[Issue], tz: tzinfo, w: Words, title: str = "",
                 lights: dict[int, str | None] | None = None) -> Any:
    from rich.table import Table

    table = Table(title=title or None, show_lines=False)
    for name in ("id", "light", "state", "village", "category", "assignee", "due", "title"):
        table.add_column(w(name), overflow="fold")
    for i in issues:
        flag = " ★" if i.supervised else ""
        table.add_row(
            str(i.id), light_cell((lights or {}).get(i.id), w), _cell(w.stage(i.state)),
            _cell(w.village(i.village)), _cell(w.category(i.category)),
            _cell(w.person(i.assignee)), town_time(i.due_at, tz, due=True),
            _cell(i.title) + flag,
        )
    return table


def history_table(events: Iterable[Event], tz: tzinfo, w: Words, drill: bool = False) -> Any:
    """`issue history`: an event per row. In a drill every time is simulated, so no event is
    marked back-dated (the drill banner says it once)."""
    from rich.table import Table

    table = Table()
    for name in ("v", "at", "actor", "via", "what", "details"):
        table.add_column(w(name), overflow="fold")
    for e in events:
        details = [_cell(d, multiline=True) for d in event_details(e, w)]
        if not drill and is_backdated(e):
            details.append(f"[bold]{w('back-dated')}[/]{w('colon')}"
                           f"{w('written', at=town_time(e.recorded_at, tz))}")
        backfill = (e.payload.get("via") or {}).get("backfill")
        if backfill:
            details.append(_cell(f"{w('back-fill')}{w('colon')}{shown(str(backfill), True)}",
                                 multiline=True))
        table.add_row(str(e.version), town_time(e.at, tz), _cell(w.person(e.actor)),
                      _cell(event_via(e, w)), _cell(event_what(e, w)), "\n".join(details))
    return table


def event_via(e: Event, w: Words) -> str:
    """The door an event came through: `cli (root)`, `scheduler`, `web`; `-` for events
    written before doors were recorded."""
    return door(e.payload.get("via") or {}, w)


def door(via: Mapping[str, Any], w: Words) -> str:
    """A payload's `via` in a few words (shown): the channel, with the user for the CLI."""
    channel = str(via.get("channel") or "-")
    user = via.get("user")
    label = w.channel(channel)
    return shown(w("door user", channel=label, user=user) if user and channel == "cli"
                 else label)


def event_what(e: Event, w: Words) -> str:
    """An event in a few words: `study: reported → studied` / `研究：上报 → 研究`,
    `escalated: interview` (shown)."""
    c = w("colon")
    if e.type == EventType.TRANSITION:
        return shown(f"{w.transition(e.transition)}{c}{w.stage(e.from_state)} → "
                     f"{w.stage(e.to_state)}")
    if e.type in FIRST:
        return shown(f"{w.event(e.type)}{c}{w.stage(e.to_state)}")
    if e.type == EventType.ESCALATED:
        return shown(f"{w.event(e.type)}{c}{w.level(str(e.payload.get('level') or ''))}")
    if e.type == EventType.REASSIGNED:
        return shown(f"{w.event(e.type)}{c}{w.person(e.payload.get('from')) or '—'} → "
                     f"{w.person(e.payload.get('to'))}")
    if e.type == EventType.EDITED:
        return shown(f"{w.event(e.type)}{c}"
                     f"{w('list sep').join(w(n) for n in _edited(e.payload))}")
    return shown(w.event(e.type))


def _edited(p: Any) -> list[str]:
    """The fields an `edited` payload changed, in the order of issue.EDITABLE (the stored
    payload's keys are sorted), any others after them."""
    names = [str(n) for n in (p.get("changes") or {})]
    return sorted(names, key=lambda n: (EDITABLE.index(n) if n in EDITABLE else len(EDITABLE), n))


def event_details(e: Event, w: Words) -> list[str]:
    """What a reader needs of the payload: notes, plan, assignee, reason, evidence; shown (the
    free text with its lines, the rest on one line each), people by their names."""
    details = []
    p = e.payload
    c = w("colon")
    # a reassignment's from and to are its headline (event_what); an extension's `to` is the
    # new due date it asks for
    keys = ("note", "plan", "assignee", "reason", "due") + (
        () if e.type == EventType.REASSIGNED else ("from", "to"))
    for key in keys:
        if p.get(key):
            value = w.person(str(p[key])) if key == "assignee" else p[key]
            label = w("new due") if key == "to" else w(key)
            details.append(f"{label}{c}{shown(value, key in _FREE)}")
    if p.get("duplicate_of"):
        details.append(f"{w('duplicate_of')}{c}#{shown(p['duplicate_of'])}")
    if p.get("with"):
        details.append(f"{w('with')}{c}{shown(w.people(map(str, p['with'])))}")
    if e.type == EventType.ESCALATED and p.get("recipients"):
        details.append(f"{w('to')}{c}{shown(w.people(map(str, p['recipients'])))}")
    if p.get("subjects"):
        details.append(f"{w('answerable')}{c}{shown(w.people(map(str, p['subjects'])))}")
    if p.get("outcome"):
        details.append(f"{w('outcome')}{c}{shown(w.outcome(str(p['outcome'])))}")
    if e.type == EventType.SPOTCHECK_RECORDED:  # a spot check: its draw and result
        said = w("spotcheck result", result=w("spotcheck " + str(p.get("result"))),
                 draw=p.get("draw"))
        details.append(f"{w('outcome')}{c}{shown(said)}")
    for ev in p.get("evidence") or []:
        details.append(f"{w('evidence')}{c}{shown(ev['name'])} sha256:{shown(ev['sha256'])}")
    if e.type == EventType.EDITED:
        for name in _edited(p):
            change = p["changes"][name] or {}
            details.append(f"{shown(w(name))}{c}{shown(w.field_value(name, change.get('old')))}"
                           f" → {shown(w.field_value(name, change.get('new')))}")
    return details


def summary_table(counts: Iterable[tuple[str, str, int]], states: Sequence[str],
                  w: Words) -> Any:
    from rich.table import Table

    by_village: dict[str, dict[str, int]] = {}
    for village, state, n in counts:
        by_village.setdefault(village, {})[state] = n
    table = Table(title=w("summary"))
    table.add_column(w("village"))
    for s in states:
        table.add_column(_cell(w.stage(s)), justify="right")
    table.add_column(w("total"), justify="right")
    totals = dict.fromkeys(states, 0)
    for village in sorted(by_village):
        row = by_village[village]
        for s in states:
            totals[s] += row.get(s, 0)
        table.add_row(_cell(w.village(village)), *(str(row.get(s, 0)) for s in states),
                      str(sum(row.values())))
    table.add_row(w("all"), *(str(totals[s]) for s in states), str(sum(totals.values())))
    return table


def size_text(size: int) -> str:
    """A size in bytes as people read it: `412 B`, `1.2 KiB`, `3.4 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def evidence_json(a: Attached, tz: tzinfo) -> dict[str, Any]:
    return {"name": a.name, "sha256": a.sha256, "size": a.size, "event": a.event,
            "transition": a.transition, "at": when(a.at, tz)}


def evidence_text(issue_id: int, items: Sequence[Attached], tz: tzinfo, w: Words,
                  saved: Sequence[Path] | None = None) -> str:
    """`issue evidence`: each file with its size, the event that attached it and when, and its
    SHA-256 on a line of its own (and where it was saved, with `saved`)."""
    if not items:
        return w("no evidence", id=issue_id)
    lines = [w("evidence n", id=issue_id, n=len(items))]
    for n, a in enumerate(items):
        what = (f"{w.transition(a.transition)} → {w.stage(a.stage)}" if a.transition
                and not w.zh else w.transition(a.transition) or w.stage(a.stage) or "—")
        lines.append(f"  {shown(a.name)}  {size_text(a.size)}"
                     f"  {w('event what', n=a.event, what=shown(what))}"
                     f"  {town_time(a.at, tz)}")
        lines.append(f"      sha256 {shown(a.sha256)}")
        if saved is not None:
            lines.append(f"      {w('saved as')} {shown(saved[n])}")
    if saved is not None:
        lines.append(w("saved n", n=len(set(saved))))
    return "\n".join(lines)


# --- issue import --dry-run ------------------------------------------------------------------
def dry_import_json(rows: Sequence[int], issues: Sequence[Issue], tz: tzinfo
                    ) -> list[dict[str, Any]]:
    """What an import would bring in: each row of the sheet with the issue it would be (ids
    of villages, people and labels; no issue id, none is given out by a dry run)."""
    out = []
    for row, i in zip(rows, issues, strict=True):
        shape = issue_json(i, tz)
        del shape["id"], shape["version"]
        out.append({"row": row, **shape})
    return out


def dry_import_table(rows: Sequence[int], issues: Sequence[Issue], w: Words, title: str) -> Any:
    """`issue import --dry-run`: row, title, village, category, state and assignee by name."""
    from rich.table import Table

    table = Table(title=f"{title} · {w('would import', n=len(issues))}", show_lines=False)
    for name in ("sheet row", "title", "village", "category", "state", "assignee"):
        table.add_column(w(name), overflow="fold")
    for row, i in zip(rows, issues, strict=True):
        table.add_row(str(row), _cell(i.title), _cell(w.village(i.village)),
                      _cell(w.category(i.category)), _cell(w.stage(i.state)),
                      _cell(w.person(i.assignee)))
    return table


# --- a sweep's summary (escalate) -----------------------------------------------------------
def sweep_summary(total: int, levels: Sequence[str],
                  by_village: Mapping[str, Mapping[str, int]], shown: Sequence[Escalation],
                  more: int, tz: tzinfo, w: Words) -> Any:
    """What a sweep raised: the counts by village and level (villages by name, a town row
    when there are several), the escalations kept to show, and how many more there were."""
    from rich.console import Group
    from rich.table import Table

    parts: list[Any] = []
    if total:
        counts = Table(title=w("raised n", n=total))
        counts.add_column(w("village"), overflow="fold")
        for level in levels:
            counts.add_column(_cell(w.level(level)), justify="right")
        counts.add_column(w("total"), justify="right")
        rows = sorted(by_village.items(), key=lambda kv: (w.village(kv[0]), kv[0]))
        if len(rows) > 1:
            rows.append(("", {lv: sum(v.get(lv, 0) for _, v in rows) for lv in levels}))
        for village, n in rows:
            counts.add_row(_cell(w.village(village)) if village else w("all"),
                           *(f"{n.get(lv, 0):,}" for lv in levels), f"{sum(n.values()):,}")
        parts.append(counts)
    parts.append(escalations_table(shown, tz, w, "" if total else w("raised n", n=0)))
    if more:
        parts.append(w("sweep more", n=f"{more:,}"))
    return Group(*parts)
