"""`audit verify`: the chain recomputed, the configuration re-derived from it, every issue's
events checked against the rules in force and folded against its rows. One read snapshot,
streaming: memory holds one issue at a time.

A long history is cut into spans of issues folded side by side, one helper process per
span beyond the first (`jobs`), all reading the same snapshot: on PostgreSQL the helpers
import the verifying transaction's exported snapshot; on SQLite a helper checks that the
chain's head is the one the verifier read, and a span whose helper saw another (something
was written meanwhile) or failed is folded again in the verifier's own transaction.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import tzinfo
from itertools import pairwise
from typing import Any

from engine.app.session import Session
from engine.app.verify_fold import ISSUE_ID, UNREADABLE, Part, fold_span
from engine.domain import audit as a
from engine.domain.chain import GENESIS
from engine.domain.clock_rules import DRILL
from engine.domain.configuration import Stored
from engine.domain.org import Org
from engine.errors import NotInitialized
from engine.store.audit_reads import Reads, Span
from engine.store.db import make_engine
from engine.store.unit_of_work import Store, Tx

EVENTS_PER_JOB = 100_000
"""A history is cut into spans of at least this many events (fewer: one process)."""
MAX_JOBS = 8
__all__ = ["ISSUE_ID", "UNREADABLE", "Verdict", "jobs_for", "stored_copies", "verify",
           "verify_reads"]


@dataclass
class Verdict:
    ok: bool
    events: int
    first_bad: int | None
    reason: str | None
    kind: str | None = None
    head: str | None = None
    issues: int = 0
    backdated: int = 0
    issue: int | None = None
    drill: bool = False
    """The database is a drill: its times are simulated."""
    rules_checked: int = 0
    """Events checked against the rules in force (those after the chain recorded an org)."""
    jobs: int = 1
    """Processes that folded the history side by side (the verifier and its helpers)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def verify(s: Session, anchor: tuple[int, str] | None = None, jobs: int | None = None
           ) -> Verdict:
    """Recompute the chain and replay every issue against its rows. `jobs`: processes
    folding side by side (None: one per EVENTS_PER_JOB events, up to the CPUs available)."""
    url = s.store.engine.url
    shared = url.database not in (None, "", ":memory:") or url.get_backend_name() != "sqlite"
    with s.transaction(write=False) as tx:
        r = Reads(tx)  # first: on PostgreSQL it sets the snapshot
        tz = s.timezone(tx)
        helpers = None
        if shared and jobs != 1:
            helpers = _Helpers(url.render_as_string(hide_password=False), tz, jobs)
        verdict = verify_reads(r, anchor, tz, lambda: stored_copies(tx), helpers)
        verdict.drill = s.mode(tx) == DRILL
        return verdict


def stored_copies(tx: Tx) -> Stored:
    """The configuration's copies the commands read."""
    d = tx.definitions
    try:
        org: Org | None = tx.org.load()
    except NotInitialized:
        org = None
    versions = d.calendar_versions()
    return Stored(org=org, workflows=d.workflow_rows(),
                  calendar=versions[-1][1] if versions else None,
                  days=frozenset((day.isoformat(), kind) for day, kind in d.calendar_days()),
                  mode=d.get_meta("mode"))


def verify_reads(r: Reads, anchor: tuple[int, str] | None, tz: tzinfo,
                 stored: Callable[[], Stored], helpers: _Helpers | None = None) -> Verdict:
    total, last, link_break, anchored = _links(r, anchor)
    if helpers is None:
        parts, jobs = [fold_span(r, tz, stored)], 1
    else:
        parts, jobs = helpers.fold(r, stored, total, last)
    content_bad = min((p.content_bad for p in parts if p.content_bad is not None),
                      default=None)
    fold = next((p.finding for p in parts if p.finding is not None), None)
    if fold is None:
        orphan = next((p.orphan for p in parts if p.orphan is not None), None)
        if orphan is not None:
            fold = (orphan, a.Finding(None, "disagrees",
                                      f"issue {orphan} has rows but no history"))
    issues = sum(p.issues for p in parts)
    backdated = sum(p.backdated for p in parts)
    checked = sum(p.checked for p in parts)
    chain = None
    if link_break is not None:
        before, bad, after = link_break
        chain = a.diagnose(before, bad, after, r.content_ok, r.seq_of_hash, r.renumbered_by)
    found = a.chain_finding(chain, content_bad)
    if found is None and anchor is not None:
        found = a.anchor_finding(anchor[0], anchor[1], anchored, last[0])
    issue_id = None
    if found is None and fold is not None:
        issue_id, found = fold
    head = f"{last[0]}:{last[1]}" if last[0] else None
    if found is None:
        return Verdict(True, total, None, None, head=head, issues=issues,
                       backdated=backdated, rules_checked=checked, jobs=jobs)
    return Verdict(False, total, found.first_bad, f"{found.kind}: {found.reason}",
                   kind=found.kind, head=head, issues=issues, backdated=backdated,
                   issue=issue_id, rules_checked=checked, jobs=jobs)


def _links(r: Reads, anchor: tuple[int, str] | None) -> tuple[
        int, tuple[int, str], tuple[list[a.Link], a.Link, a.Link | None] | None,
        dict[int, str]]:
    """Pass 1, in the database: each event follows the one before (a join on seq - 1)."""
    total = r.count_events()
    head = r.head() or (0, GENESIS)
    anchored: dict[int, str] = {}
    if anchor is not None:
        found = r.hash_at(anchor[0])
        if found is not None:
            anchored[anchor[0]] = found
    broken = r.first_broken_link()
    if broken is None:
        return total, head, None, anchored
    before, bad, after = r.links_around(broken)
    return total, head, ([a.Link(*x) for x in before], a.Link(*bad),
                         a.Link(*after) if after else None), anchored




def jobs_for(events: int, asked: int | None = None) -> int:
    """How many processes fold a history of `events`: `asked`, or one per EVENTS_PER_JOB
    events up to the CPUs this process may use (and MAX_JOBS)."""
    if asked is not None:
        return max(1, asked)
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS, events // EVENTS_PER_JOB))


class _Helpers:
    """Helper processes that fold spans of the history beside the verifier: each a new
    interpreter (`python -c`) given its task on stdin and answering on stdout, pickled."""

    def __init__(self, url: str, tz: tzinfo, jobs: int | None) -> None:
        self.url = url
        self.tz = tz
        self.asked = jobs

    def fold(self, r: Reads, stored: Callable[[], Stored], total: int,
             head: tuple[int, str]) -> tuple[list[Part], int]:
        """Every span's Part, in issue order (the first span, which holds the town's
        events, folded here), and how many processes took part."""
        jobs = jobs_for(total, self.asked)
        points = r.split_points(jobs, total) if jobs > 1 and sys.executable else []
        if not points:
            return [fold_span(r, self.tz, stored)], 1
        bounds: list[int | None] = [None, *points, None]
        spans: list[Span] = list(pairwise(bounds))
        snapshot = r.export_snapshot()
        helpers = [self._start((self.url, self.tz, span, head, snapshot))
                   for span in spans[1:]]
        processes = 1
        try:
            parts = [fold_span(r, self.tz, stored, spans[0])]
            for helper, span in zip(helpers, spans[1:], strict=True):
                got = _answer(helper)
                if got is None:
                    got = fold_span(r, self.tz, None, span)
                else:
                    processes += 1
                parts.append(got)
        finally:
            for helper in helpers:
                if helper is not None and helper.poll() is None:
                    helper.kill()
                    helper.wait()
        return parts, processes

    @staticmethod
    def _start(task: tuple[Any, ...]) -> subprocess.Popen[bytes] | None:
        try:
            helper = subprocess.Popen([sys.executable, "-c", _HELPER], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            return None
        assert helper.stdin is not None
        try:
            helper.stdin.write(pickle.dumps((sys.path, *task)))
            helper.stdin.close()
        except OSError:
            helper.kill()
            helper.wait()
            return None
        return helper


_HELPER = ("import pickle, sys; task = pickle.load(sys.stdin.buffer); sys.path[:0] = task[0];"
           " from engine.app.verify import helper_main; helper_main(task[1:])")
"""A helper's program: the verifier's import path, then `helper_main` on the task."""


def _answer(helper: subprocess.Popen[bytes] | None) -> Part | None:
    """A helper's Part (None: it did not start, failed, or saw another head)."""
    if helper is None or helper.stdout is None:
        return None
    out = helper.stdout.read()
    if helper.wait() != 0:
        return None
    try:
        got = pickle.loads(out)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None
    return got if isinstance(got, Part) else None


def helper_main(task: tuple[Any, ...]) -> None:
    """A helper process's work: fold the span it was given, print its Part pickled."""
    url, tz, span, head, snapshot = task
    part = fold_in_helper(url, tz, span, head, snapshot)
    sys.stdout.buffer.write(pickle.dumps(part))
    sys.stdout.flush()


def fold_in_helper(url: str, tz: tzinfo, span: Span, head: tuple[int, str],
                   snapshot: str | None) -> Part | None:
    """Fold `span` in a read transaction of its own, on the verifier's snapshot
    (PostgreSQL) or, on SQLite, only if the chain's head is still `head` (None: something
    was written since; the verifier folds the span itself)."""
    store = Store(make_engine(url))
    try:
        with store.transaction(write=False) as tx:
            r = Reads(tx, snapshot)
            if snapshot is None and (r.head() or (0, GENESIS)) != head:
                return None
            return fold_span(r, tz, None, span)
    finally:
        store.close()
