"""`rectify`: the command line. Exit 0 done, 1 refused by a rule or the data, 2 malformed input.

Errors are one line `error: …` on stderr. Commands import what they need when they run, so a
quick `rectify issue show 7` does not pay for the workflow loader or the holiday tables.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from engine.app import issues as issues_module
    from engine.app.session import App, Session
    from engine.domain.escalation import Escalation
    from engine.domain.issue import Issue
    from engine.words import Words

DEFAULT_DB = "sqlite:///rectify.db"


class Id(click.ParamType[int]):
    """A whole number from 1 to `largest`, written in ASCII digits: the id of an issue,
    escalation, extension or outbox message (64-bit columns), or a version (32-bit)."""

    name = "id"

    def __init__(self, largest: int = 2**63 - 1, what: str = "an id") -> None:
        self.largest, self.what = largest, what

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            text = str(value).strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 20):
                shown = text if len(text) <= 40 else text[:40] + "…"
                self.fail(f"{shown!r} is not {self.what} (a whole number)", param, ctx)
            number = int(text)
        if not 1 <= number <= self.largest:
            self.fail(f"{number} is not {self.what} (from 1 to {self.largest})", param, ctx)
        return number


ID = Id()
VERSION = Id(2**31 - 1, "a version")


@dataclass(frozen=True)
class IdList:
    """Issue ids as typed: `7` (a single id) or a list of ids and ranges, `1,4,7-20`."""

    ids: tuple[int, ...]
    single: bool
    """Written as one id (not as a list or range): the single-issue contract applies."""


class Ids(click.ParamType[IdList]):
    """`1,4,7-20`: ids and ranges (both ends included), in the order given, each once; at
    most `most` ids in all."""

    name = "ids"

    def __init__(self, most: int = 10_000) -> None:
        self.most = most

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> IdList:
        if isinstance(value, IdList):
            return value
        text = str(value).strip()
        shown = text if len(text) <= 40 else text[:40] + "…"
        seen: dict[int, None] = {}
        for part in text.split(","):
            ends = [ID.convert(end, param, ctx) for end in part.split("-", 1)]
            first, last = ends[0], ends[-1]
            if last < first:
                self.fail(f"{part.strip()!r} in {shown!r} is a range from high to low", param,
                          ctx)
            if last - first >= self.most or len(seen) + (last - first) >= self.most:
                self.fail(f"{shown!r} names more than {self.most:,} issues", param, ctx)
            seen.update(dict.fromkeys(range(first, last + 1)))
        single = "," not in text and "-" not in text
        return IdList(tuple(seen), single)


IDS = Ids()


class Seconds(click.FloatRange):
    """Seconds within the range, and a number (FloatRange lets nan through)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        seconds = super().convert(value, param, ctx)
        if seconds != seconds:
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


@dataclass
class Settings:
    """The global options; `session()` wires the app (engine.bootstrap) and opens the one
    session of this command."""

    db: str
    actor: str | None
    now: datetime | None
    as_json: bool
    data_dir: Path | None
    config: Path | None = None
    backfill: str | None = None
    evidence_limit: int | None = None
    """MiB (None: the app's default)."""
    lang: str = "zh_CN"
    """The language of human output (--lang / RECTIFY_LANG)."""
    app: App | None = None
    current: Session | None = None

    def session(self) -> Session:
        if self.current is None:
            from engine.bootstrap import build

            self.app = build(self.db, self.config, self.data_dir)
            if self.evidence_limit is not None:
                self.app.evidence_limit = self.evidence_limit << 20
            self.current = self.app.session(actor=self.actor, at=self.now, channel="cli",
                                            backfill=self.backfill)
        return self.current

    def words(self) -> Words:
        """Names and labels for human output, in --lang, with the org's names (ids as they
        are before `init`)."""
        from engine.words import Words

        names = self.current.names() if self.current is not None else None
        return Words(self.lang, names) if names is not None else Words(self.lang)

    def close(self) -> None:
        if self.app is not None:
            self.app.close()
            self.app = self.current = None


STATE_VIEWS = frozenset({("issue", "list"), ("issue", "show"), ("escalation", "list"),
                         ("briefing",), ("demo",), ("stats",), ("spotcheck", "list")})
"""The commands whose human output shows the town's state: a line of the campaign's countdown
(剩余 N 天) goes above it when the org names a campaign (never with --json)."""


def _state_view() -> bool:
    """Whether the running command is one of STATE_VIEWS."""
    ctx = click.get_current_context(silent=True)
    path: list[str] = []
    while ctx is not None and ctx.parent is not None:
        path.insert(0, ctx.command.name or "")
        ctx = ctx.parent
    return tuple(path) in STATE_VIEWS


def _emit(settings: Settings, data: Any, text: Any) -> None:
    """JSON on stdout with --json, else the human form: a string, a rich renderable, or a
    function of the reader's Words making one (called only for human output, so that --json
    reads no names). Above the human form of a state view, the campaign's countdown.

    Warnings (e.g. a year without holiday data) go to stderr, only for a command that worked.
    """
    if callable(text) and not settings.as_json:
        text = text(settings.words())
    if settings.current is not None and not settings.as_json and _state_view():
        counted = settings.current.countdown()
        if counted is not None:
            click.echo(settings.words().countdown(*counted))
    if settings.current is not None:
        if not settings.as_json and settings.current.is_drill():
            click.echo(settings.words()("drill banner"), err=True)
        for w in settings.current.warnings:
            click.echo(f"warning: {w}", err=True)
        settings.current.warnings.clear()
    if settings.as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    elif isinstance(text, str):
        click.echo(text)
    else:
        from rich.console import Console

        Console(width=None if sys.stdout.isatty() else 120).print(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="rectify")
@click.option("--db", default=DEFAULT_DB, envvar="RECTIFY_DB", show_default=True,
              help="Database URL: sqlite:///FILE or postgresql://…  [env RECTIFY_DB]")
@click.option("--as", "actor", envvar="RECTIFY_USER", metavar="PERSON",
              help="Who is acting (a person id of the org).  [env RECTIFY_USER]")
@click.option("--now", "now", envvar="RECTIFY_NOW", metavar="TIME",
              help="The clock, ISO 8601; without offset it is town time.  [env RECTIFY_NOW]")
@click.option("--json", "as_json", is_flag=True, help="Machine output (JSON) on stdout.")
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="RECTIFY_DATA_DIR",
              help="Where evidence files are kept (default: beside the SQLite file).")
@click.option("--config", "config", type=click.Path(path_type=Path), envvar="RECTIFY_CONFIG",
              help="Notification configuration (TOML; default ./rectify.toml if present)."
                   "  [env RECTIFY_CONFIG]")
@click.option("--backfill", "backfill", metavar="REASON",
              help="Why a live database is given a --now in the past (kept in the events).")
@click.option("--evidence-limit", "evidence_limit", type=click.IntRange(1),
              envvar="RECTIFY_EVIDENCE_LIMIT", metavar="MIB",
              help="The largest evidence file taken, in MiB (default 50)."
                   "  [env RECTIFY_EVIDENCE_LIMIT]")
@click.option("--lang", "lang", envvar="RECTIFY_LANG", metavar="LANG",
              help="Language of human output: zh (default) or en; --json is unaffected."
                   "  [env RECTIFY_LANG]")
@click.pass_context
def cli(ctx: click.Context, db: str, actor: str | None, now: str | None, as_json: bool,
        data_dir: Path | None, config: Path | None, backfill: str | None,
        evidence_limit: int | None, lang: str | None) -> None:
    """Track every problem a self-assessment finds until it is rectified and cleared."""
    from engine.app.moments import parse_time

    if backfill is not None:
        from engine.domain.text import check
        from engine.errors import BadOption

        if not backfill.strip():
            raise BadOption("--backfill needs a reason")
        check("--backfill", backfill)
    from engine.words import lang_of

    chosen = lang_of(lang)
    if chosen is None:
        from engine.errors import BadOption

        raise BadOption(f"--lang: unknown language {lang!r} (zh or en)")
    settings = Settings(db=db, actor=actor, now=parse_time(now, "--now") if now else None,
                        as_json=as_json, data_dir=data_dir, config=config, backfill=backfill,
                        evidence_limit=evidence_limit, lang=chosen)
    ctx.obj = settings
    ctx.call_on_close(settings.close)


pass_settings = click.make_pass_decorator(Settings)


# --- init ---------------------------------------------------------------------------------
@cli.command()
@click.option("--org", "org_path", required=True, type=click.Path(path_type=Path),
              help="The org file (YAML).")
@click.option("--workflow", "workflow_path", type=click.Path(path_type=Path),
              help="A workflow definition (default: the packaged rectification workflow).")
@click.option("--holidays", "holidays_path", type=click.Path(path_type=Path),
              help="Local calendar adjustments (YAML: holidays, workdays, years).")
@click.option("--drill", is_flag=True,
              help="A drill database (training, simulation): --now may run anywhere.")
@pass_settings
def init(settings: Settings, org_path: Path, workflow_path: Path | None,
         holidays_path: Path | None, drill: bool) -> None:
    """Create or upgrade the database and load (or update) the org."""
    from engine.app import setup

    done = setup.init(settings.session(), org_path, workflow_path, holidays_path, drill)
    years = done.calendar_years
    text = (
        f"initialised {settings.db}: town {done.town}, {done.units} units,"
        f" {done.people} people, {done.groups} groups; workflow {done.workflow};"
        f" calendar {years[0]}–{years[1]}" if years else "initialised"
    ) + ("; a drill database (演练): times are simulated" if done.mode == "drill"
         else "; a live database: the clock is the real time")
    _emit(settings, done.to_json(), text)


# --- workflow -----------------------------------------------------------------------------
@cli.group()
def workflow() -> None:
    """Check and show workflow definitions."""


@workflow.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@pass_settings
def workflow_validate(settings: Settings, file: Path) -> None:
    """Check a definition whole (exit 0 sound, exit 2 with FILE:LINE: problem)."""
    from engine.config.workflow import load

    wf = load(file)
    _emit(
        settings,
        {"ok": True, "workflow": wf.key, "states": len(wf.states),
         "transitions": len(wf.transitions)},
        f"ok: {wf.key}: {len(wf.states)} states, {len(wf.transitions)} transitions",
    )


@workflow.command("show")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@click.option("--mermaid", is_flag=True, help="A Mermaid state diagram.")
@pass_settings
def workflow_show(settings: Settings, file: Path | None, mermaid: bool) -> None:
    """Show a definition (default: the packaged one)."""
    from engine.config.workflow import load
    from workflows import default_path

    wf = load(file or default_path())
    if mermaid:
        click.echo(wf.mermaid(), nl=False)
        return
    lines = [f"{wf.key}  (initial {wf.initial}; final {', '.join(wf.final)})", "", "states:"]
    for s in wf.states:
        d = s.deadline
        due = ""
        if d and d.working_days:
            due = f"{d.working_days} working days"
        elif d and d.from_field:
            due = f"--{d.from_field}, at most {d.max_working_days} working days"
        lines.append(f"  {s.name:<10} {s.label:<4} {due}")
    lines += ["", "transitions:"]
    for t in wf.transitions:
        needs = f" needs {', '.join(t.requires)}" if t.requires else ""
        lines.append(
            f"  {t.name:<8} {'|'.join(t.sources)} → {t.dest}  by {' | '.join(t.roles)}{needs}"
        )
    _emit(settings, wf.to_dict(), "\n".join(lines))


# --- issues -------------------------------------------------------------------------------
@cli.group()
def issue() -> None:
    """Add, move and look at issues."""


@issue.command("add")
@click.option("--title", required=True)
@click.option("--category", required=True)
@click.option("--village", required=True)
@click.option("--group")
@click.option("--household")
@click.option("--severity", default="medium", show_default=True)
@click.option("--description")
@click.option("--listed", is_flag=True, help="Listed for supervision (挂牌督战).")
@pass_settings
def issue_add(settings: Settings, title: str, category: str, village: str, group: str | None,
              household: str | None, severity: str, description: str | None,
              listed: bool) -> None:
    """Add an issue found in self-assessment (state `found`)."""
    from engine.app import issues
    from engine.domain.issue import NewIssue

    s = settings.session()
    new = issues.add(s, NewIssue(
        title=title, category=category, village=village, group=group, household=household,
        severity=severity, description=description, listed=listed,
    ))
    _emit_issue(settings, new)


def _emit_issue(settings: Settings, issue: Issue) -> None:
    from engine.app import issues
    from engine.present import issue_json, issue_text

    s = settings.session()
    light = issues.lights(s, [issue])[issue.id]
    tz = s.town_tz
    _emit(settings, issue_json(issue, tz, light),
          lambda w: issue_text(issue, tz, w, light, _colour()))


def _colour() -> bool:
    """Whether human text may carry colour: stdout is a terminal and NO_COLOR is not set
    (rich decides so for the tables)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


@issue.command("move")
@click.argument("issue_ids", metavar="IDS", type=IDS)
@click.argument("transition")
@click.option("--note")
@click.option("--plan")
@click.option("--assignee")
@click.option("--due", help="YYYY-MM-DD")
@click.option("--evidence", multiple=True, type=click.Path(path_type=Path))
@click.option("--reason")
@click.option("--expect-version", type=VERSION, help="Only with a single id.")
@pass_settings
def issue_move(settings: Settings, issue_ids: IdList, transition: str, note: str | None,
               plan: str | None, assignee: str | None, due: str | None,
               evidence: Sequence[Path], reason: str | None,
               expect_version: int | None) -> None:
    """Fire TRANSITION on issues (fix, report, study, rectify, verify, reject, clear, reopen).

    IDS is one id or a list of ids and ranges (`1,4,7-20`): each issue moves in its own
    transaction, one refused does not stop the others; exit 1 when any was refused."""
    from engine.app import issues
    from engine.app.moments import parse_day
    from engine.domain.issue import Move
    from engine.errors import BadOption

    if expect_version is not None and not issue_ids.single:
        raise BadOption("--expect-version is only for a move of a single issue")
    command = Move(issue_id=issue_ids.ids[0], transition=transition, note=note, plan=plan,
                   assignee=assignee, due=parse_day(due, "--due") if due else None,
                   reason=reason, expect_version=expect_version)
    if issue_ids.single:
        _emit_issue(settings, issues.move(settings.session(), command, list(evidence)))
        return
    s = settings.session()
    outcomes = issues.move_each(s, issue_ids.ids, command, list(evidence))
    _emit_outcomes(settings, outcomes)
    codes = [o.error.exit_code for o in outcomes if o.error is not None]
    if codes:
        raise click.exceptions.Exit(max(codes))


def _emit_outcomes(settings: Settings, outcomes: Sequence[issues_module.Outcome]) -> None:
    """A bulk move: `[{"id", "ok", "issue" | "error"}]`, or a line per id."""
    from engine.app import issues
    from engine.domain.text import visible
    from engine.present import issue_json

    s = settings.session()
    moved = [o.issue for o in outcomes if o.issue is not None]
    lights = issues.lights(s, moved) if moved else {}
    tz = s.town_tz
    data: list[dict[str, Any]] = []
    lines: list[str] = []
    for o in outcomes:
        if o.issue is not None:
            data.append({"id": o.issue_id, "ok": True,
                         "issue": issue_json(o.issue, tz, lights[o.issue.id])})
            lines.append(f"#{o.issue_id} ok: {o.issue.state}, version {o.issue.version}")
        else:
            message = " ".join(str(o.error).split())
            data.append({"id": o.issue_id, "ok": False, "error": message})
            lines.append(f"#{o.issue_id} refused: {visible(message)}")
    done = len(moved)
    lines.append(f"{done} of {len(outcomes)} moved")
    _emit(settings, data, "\n".join(lines))


@issue.command("reassign")
@click.argument("issue_id", type=ID)
@click.option("--to", "to", required=True, metavar="PERSON", help="The new assignee.")
@click.option("--reason", required=True)
@click.option("--due", help="A new due date for the stage, YYYY-MM-DD (within its cap).")
@pass_settings
def issue_reassign(settings: Settings, issue_id: int, to: str, reason: str,
                   due: str | None) -> None:
    """Give a studied or rectified issue another assignee (the rectification group leader or
    the party secretary); the old and the new assignee are told."""
    from engine.app import corrections
    from engine.app.moments import parse_day

    _emit_issue(settings, corrections.reassign(
        settings.session(), issue_id, to, reason, parse_day(due, "--due") if due else None))


@issue.command("edit")
@click.argument("issue_id", type=ID)
@click.option("--title")
@click.option("--category")
@click.option("--village")
@click.option("--household", help="\"\" clears it.")
@click.option("--severity")
@click.option("--description", help="\"\" clears it.")
@click.option("--group", help="\"\" clears it.")
@click.option("--reason", required=True)
@pass_settings
def issue_edit(settings: Settings, issue_id: int, title: str | None, category: str | None,
               village: str | None, household: str | None, severity: str | None,
               description: str | None, group: str | None, reason: str) -> None:
    """Correct fields of an issue that is not closed (the rectification group leader,
    information verification or the party secretary)."""
    from engine.app import corrections
    from engine.domain.issue import Edit

    _emit_issue(settings, corrections.edit(settings.session(), Edit(
        issue_id=issue_id, reason=reason, title=title, category=category, village=village,
        household=household, severity=severity, description=description, group=group)))


@issue.command("void")
@click.argument("issue_id", type=ID)
@click.option("--reason", required=True)
@click.option("--duplicate-of", "duplicate_of", type=ID, default=None, metavar="N",
              help="The issue this one repeats.")
@click.option("--note")
@pass_settings
def issue_void(settings: Settings, issue_id: int, reason: str, duplicate_of: int | None,
               note: str | None) -> None:
    """Void an issue found in error or twice (作废), from found or reported (information
    verification or the rectification group leader); whoever added it is told."""
    from engine.app import corrections

    _emit_issue(settings, corrections.void(settings.session(), issue_id, reason, duplicate_of,
                                           note))


@issue.command("show")
@click.argument("issue_id", type=ID)
@pass_settings
def issue_show(settings: Settings, issue_id: int) -> None:
    """One issue."""
    from engine.app import issues

    _emit_issue(settings, issues.show(settings.session(), issue_id))


@issue.command("list")
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Repeatable: issues in any of these states.")
@click.option("--village", "villages", multiple=True, metavar="VILLAGE",
              help="Repeatable: issues of any of these villages.")
@click.option("--assignee", "assignees", multiple=True, metavar="PERSON",
              help="Repeatable: issues assigned to any of these people.")
@click.option("--search", metavar="TEXT",
              help="Title, household or description containing TEXT (any case).")
@click.option("--household", metavar="TEXT", help="Household containing TEXT (any case).")
@click.option("--overdue", is_flag=True, help="Only open issues past their due moment.")
@pass_settings
def issue_list(settings: Settings, states: Sequence[str], villages: Sequence[str],
               assignees: Sequence[str], search: str | None, household: str | None,
               overdue: bool) -> None:
    """The ledger (台账), filtered: repeated options of one kind match any of their values,
    options of different kinds must all hold."""
    from engine.app import issues
    from engine.present import issue_json, issues_table

    s = settings.session()
    found = issues.listing(s, states=states, villages=villages, assignees=assignees,
                           overdue=overdue, search=search, household=household)
    tz = s.town_tz
    lights = issues.lights(s, found)
    _emit(settings, [issue_json(i, tz, lights[i.id]) for i in found],
          lambda w: issues_table(found, tz, w, w("issues", n=len(found)), lights))


@issue.command("history")
@click.argument("issue_id", type=ID)
@pass_settings
def issue_history(settings: Settings, issue_id: int) -> None:
    """Every event of an issue, oldest first."""
    from engine.app import issues
    from engine.present import event_json, history_table

    s = settings.session()
    events = issues.history(s, issue_id)
    tz = s.town_tz
    _emit(settings, [event_json(e, tz) for e in events],
          lambda w: history_table(events, tz, w, s.is_drill()))


@issue.command("evidence")
@click.argument("issue_id", type=ID)
@click.option("--save", "save_dir", type=click.Path(path_type=Path), metavar="DIR",
              help="Copy the files into DIR under their original names (made safe), each"
                   " checked against its SHA-256; all or none, nothing overwritten.")
@pass_settings
def issue_evidence(settings: Settings, issue_id: int, save_dir: Path | None) -> None:
    """The issue's evidence: every file its events attached, with size, SHA-256, the event
    that attached it and when."""
    from engine.app import evidence_files
    from engine.present import evidence_json, evidence_text

    s = settings.session()
    if save_dir is None:
        items = evidence_files.attached(s, issue_id)
        tz = s.town_tz
        _emit(settings, [evidence_json(a, tz) for a in items],
              lambda w: evidence_text(issue_id, items, tz, w))
        return
    saved = evidence_files.save(s, issue_id, save_dir)
    tz = s.town_tz
    _emit(settings, [{**evidence_json(x.attached, tz), "saved_as": str(x.path)} for x in saved],
          lambda w: evidence_text(issue_id, [x.attached for x in saved], tz, w,
                                  [x.path for x in saved]))


@issue.command("allowed")
@click.argument("issue_id", type=ID)
@pass_settings
def issue_allowed(settings: Settings, issue_id: int) -> None:
    """What PERSON (--as) may do on the issue now: its transitions and actions."""
    from engine.app import issues

    s = settings.session()
    allowed = issues.permitted(s, issue_id)
    _emit(settings, {"issue": issue_id, "person": s.actor, "allowed": allowed},
          lambda w: w("list sep").join(w.transition(a) for a in allowed) if allowed
          else w("nothing allowed"))


@issue.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--sheet", metavar="NAME", help="The workbook's sheet (default: its first).")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@pass_settings
def issue_import(settings: Settings, file: Path, sheet: str | None, dry_run: bool) -> None:
    """Import a ledger (.xlsx, or CSV in UTF-8 or GBK; Chinese or English headers): all rows
    or none, every problem told at once."""
    from engine.app import importing

    done = importing.import_ledger(settings.session(), file, sheet, dry_run)
    if dry_run:
        _emit_dry_import(settings, done)
        return
    ids = done.ids
    first, last = (ids[0], ids[-1]) if ids else (None, None)
    _emit(settings, {"imported": len(ids), "first_id": first, "last_id": last},
          f"imported {len(ids)} issue(s), #{first}–#{last}")


def _emit_dry_import(settings: Settings, done: Any) -> None:
    """`issue import --dry-run`: a row per issue that would be imported (--json: a list)."""
    from engine.present import dry_import_json, dry_import_table

    tz = settings.session().town_tz
    where = done.file if done.sheet == done.file else f"{done.file} · {done.sheet}"
    _emit(settings, dry_import_json(done.rows, done.issues, tz),
          lambda w: dry_import_table(done.rows, done.issues, w, where))


@issue.command("extend")
@click.argument("issue_id", type=ID)
@click.option("--to", "to", required=True, help="The new due date, YYYY-MM-DD.")
@click.option("--reason", required=True)
@pass_settings
def issue_extend(settings: Settings, issue_id: int, to: str, reason: str) -> None:
    """Ask for more time (延期申请), before the due moment; a leader decides."""
    from engine.app import extensions
    from engine.app.moments import parse_day
    from engine.present import extension_json, extension_text

    s = settings.session()
    made = extensions.request(s, issue_id, parse_day(to, "--to"), reason)
    _emit(settings, extension_json(made, s.town_tz), lambda w: extension_text(made, s.town_tz, w))


# --- extensions ---------------------------------------------------------------------------
@cli.group()
def extension() -> None:
    """Decide extension requests (the village's liaison leader or the party secretary)."""


def _decide(settings: Settings, extension_id: int, approve: bool, note: str | None) -> None:
    from engine.app import extensions
    from engine.present import extension_json, extension_text

    s = settings.session()
    decided = extensions.decide(s, extension_id, approve, note)
    _emit(settings, extension_json(decided, s.town_tz),
          lambda w: extension_text(decided, s.town_tz, w))


@extension.command("approve")
@click.argument("extension_id", type=ID)
@click.option("--note")
@pass_settings
def extension_approve(settings: Settings, extension_id: int, note: str | None) -> None:
    """Approve: the issue's due moment moves and its ladder is computed again."""
    _decide(settings, extension_id, True, note)


@extension.command("deny")
@click.argument("extension_id", type=ID)
@click.option("--note")
@pass_settings
def extension_deny(settings: Settings, extension_id: int, note: str | None) -> None:
    """Deny: the due moment stays."""
    _decide(settings, extension_id, False, note)


@extension.command("list")
@click.option("--issue", "issue_id", type=ID)
@click.option("--pending", is_flag=True)
@pass_settings
def extension_list(settings: Settings, issue_id: int | None, pending: bool) -> None:
    """Extension requests."""
    from engine.app import extensions
    from engine.present import extension_json, extension_text

    s = settings.session()
    items = extensions.listing(s, issue_id, pending)
    tz = s.town_tz
    _emit(settings, [extension_json(x, tz) for x in items],
          lambda w: "\n\n".join(extension_text(x, tz, w) for x in items) or w("no extensions"))


# --- escalations --------------------------------------------------------------------------
SWEEP_ROWS = 50
"""Rows of a sweep's table in human output (`escalate --all`: every one)."""
_SWEEP_KEYS = ("id", "issue", "level", "stage", "recipients", "subjects", "due_at",
               "raised_at", "moment", "status")


@cli.command()
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000),
              help="Issues per transaction.")
@click.option("--all", "show_all", is_flag=True,
              help=f"List every escalation raised (else the counts and the first {SWEEP_ROWS}).")
@pass_settings
def escalate(settings: Settings, batch: int, show_all: bool) -> None:
    """One sweep at the clock's time: raise every escalation that has come due, once.

    Raised batch by batch (a transaction each): --json writes each batch's escalations as
    it commits; the human output counts them by village and level and lists the first
    rows."""
    from engine.app.sweep import Tally, sweep
    from engine.present import sweep_summary

    s = settings.session()
    if settings.as_json:
        _stream_sweep(settings, sweep(s, batch))
        return
    tally = Tally(limit=None if show_all else SWEEP_ROWS)
    for done in sweep(s, batch):
        tally.add(done)
    tz = s.town_tz
    _emit(settings, None, lambda w: sweep_summary(
        tally.total, tally.levels(), tally.by_village, tally.shown, tally.more, tz, w))


def _stream_sweep(settings: Settings, batches: Iterator[Any]) -> None:
    """`{"raised": [...]}` as --json writes it (indent 2), each batch's objects written and
    flushed as the batch commits, so that nothing is kept; the document is closed also when
    the sweep stops on an error (the batches written were committed), then the error is
    told."""
    from engine.present import escalation_json, indented, remembered_when

    out = sys.stdout
    out.write('{\n  "raised": [')
    first = True
    try:
        for done in batches:
            tz = settings.session().town_tz
            at = remembered_when(tz)
            parts = []
            for e in done.raised:
                shown = escalation_json(e, tz, at)
                text = indented({k: v for k, v in shown.items() if k in _SWEEP_KEYS}, "    ")
                parts.append(("\n    " if first else ",\n    ") + text)
                first = False
            out.write("".join(parts))
            out.flush()
    finally:
        out.write("]\n}\n" if first else "\n  ]\n}\n")
        out.flush()
    _emit_warnings(settings)


def _emit_warnings(settings: Settings) -> None:
    """The warnings of a command that wrote its output itself (as `_emit` tells them)."""
    if settings.current is not None:
        for w in settings.current.warnings:
            click.echo(f"warning: {w}", err=True)
        settings.current.warnings.clear()


@cli.group()
def escalation() -> None:
    """Escalations: list, show, record an interview, decide accountability."""


@escalation.command("list")
@click.option("--open", "open_only", is_flag=True, help="Only those still open.")
@click.option("--level", type=click.Choice(["reminder", "interview", "accountability"]))
@click.option("--to", "to", metavar="PERSON", help="Only those addressed to PERSON.")
@click.option("--issue", "issue_id", type=ID)
@pass_settings
def escalation_list(settings: Settings, open_only: bool, level: str | None, to: str | None,
                    issue_id: int | None) -> None:
    """The escalations board."""
    from engine.app import supervision
    from engine.present import escalation_json, escalations_table
    from engine.store.escalations import EscalationFilter

    s = settings.session()
    items = supervision.escalations(s, EscalationFilter(open_only=open_only, level=level,
                                                        to=to, issue_id=issue_id))
    tz = s.town_tz
    _emit(settings, [escalation_json(e, tz) for e in items],
          lambda w: escalations_table(items, tz, w, w("escalations", n=len(items))))


@escalation.command("show")
@click.argument("escalation_id", type=ID)
@pass_settings
def escalation_show(settings: Settings, escalation_id: int) -> None:
    """One escalation."""
    from engine.app import supervision

    _emit_escalation(settings, supervision.escalation(settings.session(), escalation_id))


def _emit_escalation(settings: Settings, e: Escalation) -> None:
    from engine.present import escalation_json, escalation_text

    tz = settings.session().town_tz
    _emit(settings, escalation_json(e, tz), lambda w: escalation_text(e, tz, w))


@escalation.command("record")
@click.argument("escalation_id", type=ID)
@click.option("--note", required=True)
@click.option("--with", "attendees", multiple=True, metavar="PERSON",
              help="Who took part (repeatable).")
@pass_settings
def escalation_record(settings: Settings, escalation_id: int, note: str,
                      attendees: Sequence[str]) -> None:
    """Record the interview (约谈): the liaison leader or the party secretary."""
    from engine.app import supervision

    _emit_escalation(settings, supervision.record_interview(
        settings.session(), escalation_id, note, list(attendees)))


@escalation.command("decide")
@click.argument("escalation_id", type=ID)
@click.option("--note", required=True)
@click.option("--outcome", required=True,
              type=click.Choice(["no_action", "talk", "admonish", "criticize", "refer"]),
              help="不予问责 / 提醒谈话 / 诫勉谈话 / 通报批评 / 移交纪委.")
@click.option("--subject", "subjects", multiple=True, metavar="PERSON",
              help="Who answers for it (repeatable; default: the case's subjects).")
@pass_settings
def escalation_decide(settings: Settings, escalation_id: int, note: str, outcome: str,
                      subjects: Sequence[str]) -> None:
    """Record the accountability decision (问责): the party secretary."""
    from engine.app import supervision

    _emit_escalation(settings, supervision.decide_accountability(
        settings.session(), escalation_id, note, outcome, list(subjects) or None))


# --- the org's history ---------------------------------------------------------------------
@cli.group()
def org() -> None:
    """The town's organisation as the chain recorded it."""


@org.command("history")
@pass_settings
def org_history(settings: Settings) -> None:
    """Every org installed, oldest first: who, when, through which door, what changed."""
    from engine.app.configuration import org_history as read
    from engine.present import door, shown, town_time

    s = settings.session()
    changes = read(s)
    tz = s.town_tz

    def text(w: Words) -> str:
        lines = []
        for c in changes:
            lines.append(f"{town_time(c.at, tz)}  event {c.seq}  by"
                         f" {shown(w.person(c.actor))} via {door(c.via, w)}"
                         f"  sha256 {c.sha256[:12]}…")
            lines += [f"    {shown(line)}" for line in c.changes]
        return "\n".join(lines) if lines else "no org recorded in the history yet (run init)"

    _emit(settings, [c.to_json() for c in changes], text)


# --- accounts of the web workspace ---------------------------------------------------------
@cli.group()
def user() -> None:
    """Accounts of the web workspace: passwords and API tokens (the operator's tools: no
    --as; --now does not apply, their times are the real time)."""


@user.command("passwd")
@click.argument("person")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password as one line from stdin instead of asking.")
@pass_settings
def user_passwd(settings: Settings, person: str, from_stdin: bool) -> None:
    """Set PERSON's password for the web workspace (asked twice, not shown). Their lock and
    their web sessions end."""
    from engine.app import accounts

    password = _read_password() if from_stdin else click.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    accounts.set_password(settings.session(), person, password)
    _emit(settings, {"person": person, "password_set": True},
          f"password set for {person} (their web sessions, if any, have ended)")


def _read_password() -> str:
    from engine.errors import BadOption

    buffer = getattr(sys.stdin, "buffer", None)  # the bytes, so that non-UTF-8 is told
    line: bytes = buffer.readline(1 << 16) if buffer is not None else \
        sys.stdin.readline(1 << 16).encode("utf-8", "surrogateescape")
    if not line:
        raise BadOption("--stdin: no password on stdin")
    try:
        return line.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise BadOption("--stdin: the password is not UTF-8 text") from None


@user.command("token")
@click.argument("person")
@click.option("--name", help="What the token is for (default token-N).")
@pass_settings
def user_token(settings: Settings, person: str, name: str | None) -> None:
    """Make an API token for PERSON (a bearer token): printed this once, stored only hashed."""
    from engine.app import accounts
    from engine.present import when

    s = settings.session()
    made = accounts.create_token(s, person, name)
    tz = s.zone()
    _emit(settings, {"id": made.id, "name": made.name, "person": made.person,
                     "token": made.token, "created_at": when(made.created_at, tz)},
          f"{made.token}\ntoken {made.id} ({made.name}) for {made.person}: shown only this"
          f" once, it is not stored; `rectify user revoke-token {made.id}` ends it")


@user.command("revoke-token")
@click.argument("token", metavar="ID|NAME")
@click.option("--person", metavar="PERSON", help="Whose token NAME is (needed with a name).")
@pass_settings
def user_revoke_token(settings: Settings, token: str, person: str | None) -> None:
    """Revoke an API token, by its id or by its name and --person."""
    from engine.app import accounts
    from engine.present import token_json

    key: int | str = ID.convert(token, None, None) if token.isascii() and token.isdigit() \
        else token
    s = settings.session()
    done = accounts.revoke_token(s, key, person)
    tz = s.zone()
    _emit(settings, token_json(done, tz),
          f"revoked token {done.id} ({done.name}) of {done.person}")


@user.command("tokens")
@click.argument("person")
@pass_settings
def user_tokens(settings: Settings, person: str) -> None:
    """PERSON's API tokens, revoked ones too (never the tokens themselves)."""
    from engine.app import accounts
    from engine.present import token_json, token_text

    s = settings.session()
    found = accounts.list_tokens(s, person)
    tz = s.zone()
    _emit(settings, [token_json(k, tz) for k in found],
          "\n".join(token_text(k, tz) for k in found) or f"{person} has no API tokens")


# --- villages -----------------------------------------------------------------------------
@cli.group()
def village() -> None:
    """List a village for supervision (挂牌督战), or unlist it."""


@village.command("list")
@click.argument("village_id")
@pass_settings
def village_list(settings: Settings, village_id: str) -> None:
    """List VILLAGE: its open issues follow the listed ladder from now on."""
    from engine.app import supervision

    changed = supervision.list_village(settings.session(), village_id, True)
    _emit(settings, {"village": village_id, "listed": True, "issues": changed},
          lambda w: w("village listed", village=w.village(village_id), n=len(changed)))


@village.command("unlist")
@click.argument("village_id")
@pass_settings
def village_unlist(settings: Settings, village_id: str) -> None:
    """Unlist VILLAGE."""
    from engine.app import supervision

    changed = supervision.list_village(settings.session(), village_id, False)
    _emit(settings, {"village": village_id, "listed": False, "issues": changed},
          lambda w: w("village unlisted", village=w.village(village_id), n=len(changed)))


# --- notifications ------------------------------------------------------------------------
CONSOLE_HELP = ("With no configuration: print every message on stdout (without it, no"
                " configuration is refused).")


@cli.command()
@click.option("--console", is_flag=True, help=CONSOLE_HELP)
@pass_settings
def dispatch(settings: Settings, console: bool) -> None:
    """One pass of the dispatcher: send what the outbox holds, retry what failed."""
    from engine.app import dispatch as handlers

    passed = handlers.dispatch(settings.session(), console=console)
    result = passed.to_dict()
    waiting = (f"; {len(passed.waiting)} waiting (outbox list says why)" if passed.waiting
               else "")
    _emit(settings, result,
          f"sent {len(result['sent'])}, retrying {len(result['retrying'])},"
          f" dead {len(result['dead'])}, recovered {len(result['recovered'])}{waiting}")


@cli.group()
def outbox() -> None:
    """The messages waiting, sent and failed."""


@outbox.command("list")
@click.option("--failed", is_flag=True, help="Only dead and unknown messages.")
@click.option("--status", multiple=True, type=click.Choice(
    ["pending", "claimed", "sending", "sent", "dead", "unknown"]))
@click.option("--issue", "issue_id", type=ID)
@pass_settings
def outbox_list(settings: Settings, failed: bool, status: Sequence[str],
                issue_id: int | None) -> None:
    """Outbox messages (one per recipient and channel)."""
    from engine.app import dispatch as handlers
    from engine.present import when

    s = settings.session()
    statuses = list(status) + (["dead", "unknown"] if failed else [])
    items = handlers.messages(s, statuses, issue_id)
    tz = s.town_tz
    data = [{"id": e.id, "key": e.key, "kind": e.kind, "channel": e.channel,
             "person": e.person, "issue": e.issue_id, "escalation": e.escalation_id,
             "status": e.status, "attempts": e.attempts,
             "next_attempt_at": when(e.next_attempt_at, tz), "sent_at": when(e.sent_at, tz),
             "last_error": e.last_error, "waiting": e.waiting} for e in items]
    lines = [f"{e.id:>5} {e.status:<8} {e.kind:<18} {e.channel or '—':<10} {e.person:<12}"
             f" tries {e.attempts}  "
             + (f"waiting: {e.waiting}" if e.waiting else e.last_error or "") for e in items]
    _emit(settings, data, "\n".join(lines) or "the outbox is empty")


@outbox.command("retry")
@click.argument("row_id", type=ID, required=False)
@click.option("--all", "every", is_flag=True,
              help="Every unknown message and every pending one that failed (waiting to be"
                   " tried again).")
@click.option("--dead", is_flag=True, help="With --all: the dead messages too.")
@pass_settings
def outbox_retry(settings: Settings, row_id: int | None, every: bool, dead: bool) -> None:
    """Put a dead or unknown message (ID), or many (--all [--dead]), back in the queue."""
    from engine.app import dispatch as handlers
    from engine.errors import BadOption

    if row_id is not None and every:
        raise BadOption("outbox retry takes an ID or --all, not both")
    if dead and not every:
        raise BadOption("--dead goes with --all (outbox retry --all --dead)")
    if row_id is not None:
        e = handlers.retry(settings.session(), row_id)
        _emit(settings, {"id": e.id, "status": e.status},
              f"message {e.id} is {e.status} again")
        return
    if not every:
        raise BadOption("outbox retry needs an ID, or --all [--dead]")
    found = handlers.retry_all(settings.session(), dead)
    data = [{"id": e.id, "key": e.key, "kind": e.kind, "channel": e.channel,
             "person": e.person, "issue": e.issue_id, "was": e.status, "status": "pending"}
            for e in found]
    lines = [f"{e.id:>5} {e.status:<8} -> pending  {e.kind:<18} {e.channel or '—':<10}"
             f" {e.person}" for e in found]
    lines.append(f"{len(found)} message(s) back in the queue" if found
                 else "nothing to put back in the queue")
    _emit(settings, data, "\n".join(lines))


@cli.group()
def template() -> None:
    """Message templates."""


@template.command("check")
@pass_settings
def template_check(settings: Settings) -> None:
    """Render every template against a sample; exit 2 on any error."""
    from engine.app import briefing as handlers

    locale = handlers.check_templates(settings.session())
    _emit(settings, {"ok": True, "locale": locale}, f"ok: every template renders ({locale})")


@cli.command()
@click.option("--since", help="From this time (default: the last briefing, else a week ago).")
@click.option("--send", is_flag=True,
              help="Queue it for its recipients ([briefing] to) instead of printing it.")
@pass_settings
def briefing(settings: Settings, since: str | None, send: bool) -> None:
    """The meeting briefing (定期例会): where things stand, what changed, what is open."""
    from engine.app import briefing as handlers
    from engine.app.moments import parse_time

    s = settings.session()
    start = parse_time(since, "--since") if since else None
    if send:
        people = handlers.send(s, start)
        _emit(settings, {"queued": len(people), "to": people},
              lambda w: w("briefing queued", n=len(people),
                          names=w.people(people) or w("nobody")))
        return
    message = handlers.briefing(s, start)
    _emit(settings, message.briefing.to_dict(), handlers.printed(s, message))


# --- spot checks (调研督查) -------------------------------------------------------------------
@cli.group()
def spotcheck() -> None:
    """Spot checks (调研督查): the quality-supervision group draws a random sample of cleared
    issues, re-checks them and records each result; a failed check reopens the issue
    (回头看)."""


@spotcheck.command("draw")
@click.option("--village", "villages", multiple=True, metavar="VILLAGE",
              help="Repeatable: draw from these villages' cleared issues (default: the town).")
@click.option("--percent", required=True, metavar="P",
              help="The share drawn, 0 < P <= 100 (rounded up, at least one issue).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), metavar="S",
              help="The random seed (default: chosen now and printed); the same seed over"
                   " the same cleared issues draws the same sample.")
@pass_settings
def spotcheck_draw(settings: Settings, villages: Sequence[str], percent: str,
                   seed: int | None) -> None:
    """Draw P% of the cleared issues, ids ascending, with random.Random(S).sample (the draw
    is recorded in the history: seed, percent, villages, population and sample)."""
    from engine.app import spotcheck as handlers
    from engine.domain.spotcheck import percent_of

    share = percent_of(percent)
    made = handlers.draw(settings.session(), villages, share, seed)

    def text(w: Words) -> str:
        d = made.draw
        where = w("list sep").join(w.village(v) for v in d.villages) or w("whole town")
        head = w("spotcheck drawn", draw=d.draw, seed=d.seed, percent=d.percent, where=where,
                 population=d.population, n=len(d.sample))
        return "\n".join([head, *(f"  #{i.id} {w.village(i.village)} {i.title}"
                                   for i in made.issues)])

    _emit(settings, {"draw": made.draw.draw, "seed": made.draw.seed,
                     "sample": list(made.draw.sample), "percent": str(made.draw.percent),
                     "villages": list(made.draw.villages),
                     "population": made.draw.population}, text)


@spotcheck.command("record")
@click.argument("issue_id", type=ID)
@click.option("--pass", "passed", is_flag=True, help="The issue holds up: cleared stays.")
@click.option("--fail", "failed", is_flag=True,
              help="It does not: the issue is reopened (回头看), the note its reason.")
@click.option("--note", required=True, help="What the re-check found.")
@click.option("--evidence", multiple=True, type=click.Path(path_type=Path))
@pass_settings
def spotcheck_record(settings: Settings, issue_id: int, passed: bool, failed: bool, note: str,
                     evidence: Sequence[Path]) -> None:
    """Record the spot check of a drawn issue: exactly one of --pass and --fail."""
    from engine.app import spotcheck as handlers
    from engine.errors import BadOption

    if passed == failed:
        raise BadOption("say exactly one of --pass and --fail")
    _emit_issue(settings, handlers.record_result(settings.session(), issue_id, passed, note,
                                                 evidence))


@spotcheck.command("list")
@pass_settings
def spotcheck_list(settings: Settings) -> None:
    """Every draw with each drawn issue's result: pending, pass or fail."""
    from engine.app import spotcheck as handlers
    from engine.present import town_time

    s = settings.session()
    draws = handlers.listing(s)
    tz = s.town_tz

    def text(w: Words) -> str:
        lines: list[str] = []
        for x in draws:
            d = x.draw
            results = [x.results.get(i, "pending") for i in d.sample]
            lines.append(w("spotcheck row", draw=d.draw, at=town_time(x.at, tz),
                           who=w.person(x.actor), seed=d.seed, percent=d.percent,
                           where=w("list sep").join(w.village(v) for v in d.villages)
                           or w("whole town"), n=len(d.sample),
                           pending=results.count("pending"), passed=results.count("pass"),
                           failed=results.count("fail")))
            for i in x.issues:
                lines.append(f"  #{i.id} {w.village(i.village)} {i.title}:"
                             f" {w('spotcheck ' + x.results.get(i.id, 'pending'))}")
        return "\n".join(lines) or w("no spotchecks")

    _emit(settings, [x.to_json() for x in draws], text)


# --- audit --------------------------------------------------------------------------------
@cli.group()
def audit() -> None:
    """Check the history is untouched, replay the ledger at any moment, take it away."""


def _auditor(settings: Settings) -> Session:
    """The session, with the town's time zone read (every time shown is in it)."""
    s = settings.session()
    s.zone()
    return s


def _period(s: Session, start: str | None, end: str | None
            ) -> tuple[datetime | None, datetime | None]:
    from engine.app.moments import period

    return period(start, end, s.town_tz)


@audit.command("verify")
@click.option("--anchor", metavar="SEQ:HASH",
              help="A head kept earlier (`rectify audit anchor`): catches a cut-off history.")
@click.option("--evidence", is_flag=True,
              help="Also rehash every evidence file the history names (missing or altered:"
                   " not sound).")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Processes folding the history side by side (default: one per 100,000"
                   " events, up to the CPUs available).")
@pass_settings
def audit_verify(settings: Settings, anchor: str | None, evidence: bool, jobs: int | None
                 ) -> None:
    """Recompute the chain and replay every issue against its rows (exit 0 sound, 1 not)."""
    from engine.domain.chain import parse_anchor
    from engine.errors import BadOption

    given = None
    if anchor is not None:
        try:
            given = parse_anchor(anchor)
        except ValueError as e:
            raise BadOption(str(e)) from None
        if given[0] > ID.largest:
            raise BadOption(f"anchor {anchor[:30]!r}…: SEQ is larger than any event's"
                            f" ({ID.largest})")
    from engine.app import audit as handlers

    verdict = handlers.verify(_auditor(settings), given, jobs)
    data, files = verdict.to_json(), ""
    if evidence:
        from engine.app import evidence_audit

        verdict, data, report = evidence_audit.verify(settings.session(), verdict)
        files = f"; {report.summary()}"
    if verdict.ok:
        text = (f"ok: {verdict.events} events chained and replayed, {verdict.issues} issues"
                f" agree with their history, {verdict.rules_checked} events kept the rules in"
                f" force; head {verdict.head}")
        if verdict.backdated:
            text += f"; {verdict.backdated} back-dated event(s)"
        _emit(settings, data, text + files)
        return
    _emit(settings, data,
          f"NOT SOUND: first bad event {verdict.first_bad}: {verdict.reason}{files}")
    raise click.exceptions.Exit(1)


@audit.command("anchor")
@pass_settings
def audit_anchor(settings: Settings) -> None:
    """Print the chain's head SEQ:HASH, to keep outside the database."""
    from engine.app import audit as handlers

    seq, digest = handlers.anchor(_auditor(settings))
    head = f"{seq}:{digest}"
    _emit(settings, {"anchor": head, "seq": seq, "hash": digest}, head)


@audit.command("replay")
@click.option("--as-of", "as_of", required=True, metavar="TIME",
              help="The moment (ISO 8601, town time without an offset).")
@click.option("--issue", "issue_id", type=ID)
@click.option("--village")
@pass_settings
def audit_replay(settings: Settings, as_of: str, issue_id: int | None,
                 village: str | None) -> None:
    """The ledger as it stood at a moment, rebuilt from the history alone."""
    from engine.app import audit as handlers
    from engine.app.moments import moment_option
    from engine.present import issues_table, replayed_json, town_time

    s = _auditor(settings)
    moment = moment_option(as_of, "--as-of", s.town_tz)
    found = handlers.replay(s, moment, issue_id, village)
    tz = s.town_tz
    data = [replayed_json(r, tz) for r in found]
    lights = {r.issue.id: r.light for r in found}
    backdated = sum(r.backdated for r in found)

    def table(w: Words) -> Any:
        title = w("as of", n=len(found), at=town_time(moment, tz))
        if backdated:
            title += w("backdated included", n=backdated)
        return issues_table([r.issue for r in found], tz, w, title, lights)

    _emit(settings, data, table)


@audit.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["jsonl", "csv", "html"]))
@click.option("--from", "start", metavar="TIME", help="Events at or after (town time).")
@click.option("--to", "end", metavar="TIME", help="Events at or before (a date: its end).")
@click.option("--village")
@click.option("--out", type=click.Path(path_type=Path), help="Write here (default stdout).")
@pass_settings
def audit_export(settings: Settings, fmt: str, start: str | None, end: str | None,
                 village: str | None, out: Path | None) -> None:
    """The history to take away: JSON lines, CSV, or one self-contained HTML file."""
    from engine import reports
    from engine.app import audit as handlers

    s = _auditor(settings)
    t0, t1 = _period(s, start, end)
    tz = s.town_tz
    chunks: Any
    if fmt == "html":
        timelines, total, verdict, town = handlers.timelines(s, t0, t1, village)
        chunks = [reports.html(timelines, total, verdict, tz, town, s.app.clock.now(), t0, t1,
                               village, settings.words())]
    else:
        events = handlers.events(s, t0, t1, village)
        chunks = reports.jsonl(events, tz) if fmt == "jsonl" else reports.csv_lines(events, tz)
    _write_out(chunks, out)


def _write_out(chunks: Any, out: Path | None) -> None:
    """To stdout, or to a file that appears whole or not at all."""
    from engine.errors import BadFile

    try:
        if out is None:
            for chunk in chunks:
                click.echo(chunk, nl=False)
            return
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as f:
                for chunk in chunks:
                    f.write(chunk)
            tmp.replace(out)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise BadFile(f"cannot write {out}: {e.strerror}") from None
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:  # a generator: end its read transaction now
            close()


# --- the ledger to take away ----------------------------------------------------------------
@cli.group()
def ledger() -> None:
    """The ledger (台账) as a township office keeps it."""


@ledger.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["xlsx", "csv"]))
@click.option("--as-of", "as_of", metavar="TIME",
              help="The ledger as it stood then, replayed from the history (town time).")
@click.option("--village", "villages", multiple=True, metavar="VILLAGE",
              help="Only this village (id or name); repeatable.")
@click.option("--state", "states", multiple=True, metavar="STAGE",
              help="Only this stage (id or label, e.g. 整改); repeatable. The voided are left"
                   " out unless named.")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The file to write (whole or not at all).")
@pass_settings
def ledger_export(settings: Settings, fmt: str, as_of: str | None, villages: Sequence[str],
                  states: Sequence[str], out: Path) -> None:
    """Every issue as a row in the office's words; XLSX adds the summary (汇总) and its chart."""
    from engine import ledger_sheet
    from engine.app import ledger as handlers
    from engine.app.moments import moment_option

    s = _auditor(settings)
    moment = None if as_of is None else moment_option(as_of, "--as-of", s.town_tz)
    found = handlers.open_ledger(s, moment, villages, states)
    n = ledger_sheet.write(found, settings.words(), fmt, out)
    rates = found.summary()[-1]
    rate = "" if rates.rate is None else f", clearance rate {rates.rate:.1%}"
    _emit(settings, {"file": str(out), "format": fmt, "issues": n,
                     "cleared": rates.cleared, "not_voided": rates.total,
                     "clearance_rate": rates.rate},
          f"{out}: {n} issue(s){rate}")


# --- reports ------------------------------------------------------------------------------
@cli.group()
def report() -> None:
    """Reports on people and their work."""


@report.command("person")
@click.argument("person")
@click.option("--from", "start", metavar="TIME")
@click.option("--to", "end", metavar="TIME", help="A date means to its end.")
@pass_settings
def report_person(settings: Settings, person: str, start: str | None, end: str | None) -> None:
    """专项述职: what PERSON reported, studied, rectified, verified and cleared, how much on
    time, the escalations they received and the interviews they recorded."""
    from engine import reports
    from engine.app import audit as handlers

    s = _auditor(settings)
    t0, t1 = _period(s, start, end)
    found = handlers.person(s, person, t0, t1)
    tz = s.town_tz
    _emit(settings, reports.person_json(found, tz),
          lambda w: reports.person_text(found, tz, w, s.is_drill()).rstrip())


# --- the scheduler ------------------------------------------------------------------------
@cli.command()
@click.option("--interval", default=60.0, show_default=True, type=Seconds(0.1, 86_400),
              help="Seconds between sweeps.")
@click.option("--console", is_flag=True, help=CONSOLE_HELP)
@pass_settings
def serve(settings: Settings, interval: float, console: bool) -> None:
    """Run the scheduler: a sweep every --interval seconds until SIGINT/SIGTERM."""
    from engine.scheduler import serve as run

    run(settings.session(), interval, echo=None if settings.as_json else click.echo,
        emit_json=(lambda d: click.echo(json.dumps(d, ensure_ascii=False)))
        if settings.as_json else None, console=console)


# --- the web workspace --------------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-scheduler", is_flag=True,
              help="Serve pages only (extra web processes): no sweep, dispatch or briefing.")
@click.option("--interval", default=60.0, show_default=True, type=Seconds(0.1, 86_400),
              help="Seconds between sweeps (with the scheduler).")
@click.option("--console", is_flag=True, help=CONSOLE_HELP)
@click.option("--secure-cookies", is_flag=True,
              help="Send the session cookie only over HTTPS (behind a TLS proxy).")
@pass_settings
def web(settings: Settings, host: str, port: int, no_scheduler: bool, interval: float,
        console: bool, secure_cookies: bool) -> None:
    """Serve the web workspace (sign-in, my queue, ledger, issues, board, audit; JSON API at
    /api) until Ctrl-C; with the scheduler running inside it as in `serve`."""
    import threading

    import uvicorn

    from engine.scheduler import on_its_clock, scheduled
    from engine.web.app import create_app

    s = settings.session()
    s.zone()  # refuses an uninitialised database before serving anything
    scheduler = None
    if no_scheduler:
        app = on_its_clock(s)
    else:
        scheduler, app = scheduled(s, interval, echo=click.echo, console=console)
        threading.Thread(target=scheduler.start, name="rectify-scheduler", daemon=True).start()
    click.echo(f"rectify web: http://{host}:{port}/  (Ctrl-C stops)")
    try:
        uvicorn.run(create_app(app, secure=secure_cookies), host=host, port=port,
                    log_level="warning")
    finally:
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=True)


# --- demo ---------------------------------------------------------------------------------
@cli.command()
@click.option("--issues", "count", default=300, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=2020, show_default=True, type=int)
@click.option("--write-org", type=click.Path(path_type=Path),
              help="Also write the demo org file here.")
@click.option("--passwords", metavar="PW",
              help="Give every demo person this password (to sign in to `rectify web`).")
@pass_settings
def demo(settings: Settings, count: int, seed: int, write_org: Path | None,
         passwords: str | None) -> None:
    """Build the Huangjia demo (org and a seeded campaign) and show where it stands."""
    from engine.demo import run_demo, set_passwords

    result = run_demo(settings.session(), count=count, seed=seed, write_org=write_org,
                      echo=None if settings.as_json else click.echo)
    if passwords is not None:
        result["sign_ins"] = [{"role": role, "id": pid, "name": name} for role, pid, name
                              in set_passwords(settings.session(), passwords)]
    if settings.as_json:
        _emit(settings, result, "")
    else:
        from engine.present import summary_table

        # the summary stands at the drill's last moment: so does the campaign's countdown
        settings.current = settings.session().next(
            settings.actor, datetime.fromisoformat(result["town_time"]))

        _emit(settings, result,
              lambda w: summary_table(result["by_village_state"], result["states"], w))
    if passwords is not None and not settings.as_json:
        click.echo(f"demo sign-ins (every demo person has the password {passwords}):")
        for one in result["sign_ins"]:
            click.echo(f"  {one['role']:<28} {one['name']} ({one['id']})")


# --- stats (the numbers by village, category, group or person; the scoreboard) -----------
@cli.command()
@click.option("--by", "by", type=click.Choice(["village", "category", "group", "person"]),
              default="village", show_default=True, help="One row per what.")
@click.option("--from", "start", metavar="TIME",
              help="The window's start (town time; a date: its start).")
@click.option("--to", "end", metavar="TIME", help="The window's end (a date: its end).")
@click.option("--as-of", "as_of", metavar="TIME",
              help="The numbers as they stood then: later events do not count.")
@click.option("--scoreboard", is_flag=True,
              help="The assessment scoreboard (考核): villages or people ranked by"
                   " workflows/scoreboard.yaml's formula.")
@pass_settings
def stats(settings: Settings, by: str, start: str | None, end: str | None,
          as_of: str | None, scoreboard: bool) -> None:
    """The numbers (found, fixed on the spot, rectified, cleared, open, overdue, clearance
    rate, working days to clear, reminders, interviews, accountability, extensions, reopened)
    by village, category, group or person, with the town's total last (JSON: key "*")."""
    from engine.app import stats as handlers
    from engine.app.moments import moment_option, period
    from engine.present_stats import (
        scoreboard_json,
        scoreboard_table,
        stats_json,
        stats_table,
    )

    s = settings.session()
    tz = s.zone()
    t0, t1 = period(start, end, tz)
    cut = None if as_of is None else moment_option(as_of, "--as-of", tz)
    words = settings.words()
    if scoreboard:
        got, scores = handlers.scoreboard(s, by, t0, t1, cut)
        _emit(settings, scoreboard_json(got, scores, words),
              lambda w: scoreboard_table(got, scores, tz, w))
        return
    numbers = handlers.numbers(s, by, t0, t1, cut)
    _emit(settings, stats_json(numbers, words), lambda w: stats_table(numbers, tz, w))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit code (never a traceback)."""
    from engine.errors import RectifyError

    args = list(argv) if argv is not None else sys.argv[1:]
    for n, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            click.echo(f"error: argument {n} is not UTF-8 text", err=True)
            return 2
    for name, value in os.environ.items():
        if name.startswith("RECTIFY_"):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                click.echo(f"error: {name} is not UTF-8 text", err=True)
                return 2
    try:
        code = cli.main(args=args, prog_name="rectify",
                        standalone_mode=False)
        if isinstance(code, int):  # a command that ended with click's Exit (e.g. verify)
            return code
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.ClickException as e:
        message = " ".join(e.format_message().split())
        click.echo(f"error: {message}", err=True)
        return 2 if isinstance(e, click.UsageError | click.BadParameter) else e.exit_code or 1
    except RectifyError as e:
        from engine.domain.text import visible  # a value quoted in the message may hold ESC

        if e.details:  # told on several lines: a first line, then a line per problem
            click.echo(f"error: {visible(' '.join(e.head.split()))}", err=True)
            for line in e.details:
                click.echo(f"  {visible(' '.join(line.split()))}", err=True)
            return e.exit_code
        click.echo(f"error: {visible(' '.join(str(e).split()))}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        return 130
    except Exception as e:  # a bug: one line, the traceback only on request
        if os.environ.get("RECTIFY_DEBUG"):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        click.echo(
            f"error: unexpected {type(e).__name__}: {first} (RECTIFY_DEBUG=1 shows more)",
            err=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
