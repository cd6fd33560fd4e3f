"""My queue (我的待办) reads by SQL only the issues tied to the person or in a stage a
town-wide role of theirs owns, then tells the owners exactly: for every person of the demo's
org (101 cadres, every role) it lists exactly the open issues whose stage they own, as a
brute-force reading of every open issue says."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from datetime import datetime

import pytest

import cli
from engine.app import workspace
from engine.bootstrap import build
from engine.domain.owners import stage_owners
from engine.store.issues import IssueFilter


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("queue")
    url = f"sqlite:///{folder / 'demo.db'}"
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli.main(["--db", url, "--data-dir", str(folder / "data"), "--json", "demo",
                         "--issues", "80"]) == 0
    yield url


def test_every_persons_queue_is_exactly_the_stages_they_own(demo: str) -> None:
    app = build(demo)
    at = datetime(2020, 10, 30, 18, 0)
    s = app.session("wang", at)
    with s.transaction(write=False) as tx:
        org = s.org(tx)
        final = s.current_workflow(tx).final
        every = tx.issues.matching(IssueFilter(states=tuple(
            st.name for st in s.current_workflow(tx).states if st.name not in final)))
        owners = {i.id: stage_owners(org, s.workflow(tx, i.workflow), i) for i in every}
    assert len(every) > 20
    seen = 0
    for person in org.people:
        q = workspace.my_queue(app.session(person, at))
        expected = {i for i, who in owners.items() if person in who}
        assert {i.id for i in q.issues} == expected, person
        seen += len(expected)
    assert seen >= len(every)  # every open issue is someone's
    app.close()
