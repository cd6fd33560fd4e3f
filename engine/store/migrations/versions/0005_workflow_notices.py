"""Workflow bodies say who is told and who may act: `notify` on transitions, `actions`.

Before this revision the engine sent an assignment on `study` and a rejection (and, with a new
assignee, an assignment) on `reject` by the transition's name, and held the roles of the
leaders' commands as literals. Those rules are now data in the workflow body; a body
registered earlier is given exactly the rules the engine applied to it, so that nothing an
open issue would have told goes untold, and its digest is recomputed. Bodies that already
carry the keys are left as they are.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NOTICES: dict[str, list[dict[str, Any]]] = {
    "study": [{"kind": "assignment", "to": ["assignee"]}],
    "reject": [{"kind": "rejection", "to": ["assignee|village_secretary"]},
               {"kind": "assignment", "to": ["assignee"], "if_given": "assignee"}],
}
_ACTIONS = {
    "request_extension": ["assignee|village_secretary"],
    "decide_extension": ["liaison", "party_secretary"],
    "record_interview": ["liaison", "party_secretary"],
    "decide_accountability": ["party_secretary"],
    "list_village": ["party_secretary", "quality_supervision_leader"],
}

_workflows = sa.table("workflows", sa.column("key", sa.String), sa.column("digest", sa.String),
                      sa.column("body", sa.Text))


def _upgraded(body: dict[str, Any]) -> dict[str, Any] | None:
    if "actions" in body or any("notify" in t for t in body.get("transitions", ())):
        return None
    for t in body.get("transitions", ()):
        if t.get("name") in _NOTICES:
            t["notify"] = _NOTICES[t["name"]]
    body["actions"] = _ACTIONS
    return body


def upgrade() -> None:
    conn = op.get_bind()
    for key, text in conn.execute(sa.select(_workflows.c.key, _workflows.c.body)).all():
        body = _upgraded(json.loads(text))
        if body is None:
            continue
        new = json.dumps(body, ensure_ascii=False, sort_keys=True)
        conn.execute(_workflows.update().where(_workflows.c.key == key).values(
            body=new, digest=hashlib.sha256(new.encode()).hexdigest()))


def downgrade() -> None:
    conn = op.get_bind()
    for key, text in conn.execute(sa.select(_workflows.c.key, _workflows.c.body)).all():
        body = json.loads(text)
        body.pop("actions", None)
        for t in body.get("transitions", ()):
            t.pop("notify", None)
        old = json.dumps(body, ensure_ascii=False, sort_keys=True)
        conn.execute(_workflows.update().where(_workflows.c.key == key).values(
            body=old, digest=hashlib.sha256(old.encode()).hexdigest()))
