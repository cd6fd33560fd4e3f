"""Refusals as a cadre reads them on a page: the rules' messages (engine.domain, in English,
the CLI's `error: …` contract) told in the reader's words, people and stages by name.

A message matched by none of the shapes below is shown as it is. Pure: the patterns and the
reader's Words.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from engine.words import Words

Say = Callable[[Words, "re.Match[str]"], str]


def _fields(w: Words, text: str) -> str:
    return w("list sep").join(w(f.strip().removeprefix("--")) for f in text.split(","))


SHAPES: list[tuple[re.Pattern[str], Say]] = [
    (re.compile(r"^(\S+) may not (\w+) issue (\d+): needs one of the roles (.+)$"),
     lambda w, m: w("refused role", who=w.person(m[1]), act=w.transition(m[2]), id=m[3])),
    (re.compile(r"^(\S+) may not (\w+) issue (\d+): they were its assignee when (\w+) was"
                r" fired$"),
     lambda w, m: w("refused sod assignee", who=w.person(m[1]), act=w.transition(m[2]),
                    id=m[3], other=w.transition(m[4]))),
    (re.compile(r"^(\S+) may not (\w+) issue (\d+): they fired (\w+) on it$"),
     lambda w, m: w("refused sod", who=w.person(m[1]), act=w.transition(m[2]), id=m[3],
                    other=w.transition(m[4]))),
    (re.compile(r"^(\S+) may not ([\w ]+): (.+) may$"),
     lambda w, m: w("refused action", who=w.person(m[1]),
                    act=w.transition(m[2].replace(" ", "_")))),
    (re.compile(r"^cannot (\w+) an issue in state '(\w+)'; allowed: (.+)$"),
     lambda w, m: w("refused state", act=w.transition(m[1]), stage=w.stage(m[2]))),
    (re.compile(r"^(\w+) needs (--\w+(?:, --\w+)*)$"),
     lambda w, m: w("refused missing", act=w.transition(m[1]), fields=_fields(w, m[2]))),
    (re.compile(r"^issue [\w ]+? needs (--\w+)$"),
     lambda w, m: w("refused missing field", fields=_fields(w, m[1]))),
    (re.compile(r"^issue (\d+) was changed by someone else; try again$"),
     lambda w, m: w("refused version", id=m[1])),
    (re.compile(r"^issue (\d+) is at version (\d+), not (\d+)$"),
     lambda w, m: w("refused version", id=m[1])),
    (re.compile(r"^due date (\S+) is in the past \(today is (\S+)\)$"),
     lambda w, m: w("refused past", due=m[1], today=m[2])),
    (re.compile(r"^due date (\S+) is not a working day \(the working day before it is"
                r" (\S+)\)$"),
     lambda w, m: w("refused holiday", due=m[1], before=m[2])),
    (re.compile(r"^due date (\S+) is more than (\d+) working days out \(latest (\S+)\)$"),
     lambda w, m: w("refused cap", due=m[1], days=m[2], latest=m[3])),
    (re.compile(r"^issue (\d+): the time (.+) is before the issue's previous event \((.+)\)$"),
     lambda w, m: w("refused time", id=m[1], at=m[2], previous=m[3])),
    (re.compile(r"^the form's CSRF token is missing or wrong"),
     lambda w, m: w("refused csrf")),
    (re.compile(r"^wrong name or password$"), lambda w, m: w("refused sign in")),
    (re.compile(r"^(due date|the new due date) (\S+) is after the end of the campaign (.+)"
                r" \((\S+)\)$"),
     lambda w, m: w("refused campaign", what=w(m[1]), due=m[2], name=m[3], end=m[4])),
    (re.compile(r"^(\S+) may not (draw spot checks|record spot checks): needs the role"
                r" quality_supervision$"),
     lambda w, m: w("refused spotcheck role", who=w.person(m[1]), act=w(m[2]))),
    (re.compile(r"^issue (\d+) was not drawn in any spot check$"),
     lambda w, m: w("refused not drawn", id=m[1])),
    (re.compile(r"^issue (\d+)'s spot check of draw (\d+) is already recorded$"),
     lambda w, m: w("refused spotcheck done", id=m[1], draw=m[2])),
    (re.compile(r"^issue (\d+) is \w+, not cleared: only a cleared issue is spot-checked$"),
     lambda w, m: w("refused not cleared", id=m[1])),
    (re.compile(r"^no issue (\d+)$"),
     lambda w, m: w("refused no issue", id=m[1])),
]


def refusal(w: Words, message: str) -> str:
    """`message` (a RectifyError's text) in the reader's words; as it is when English is
    asked for or no shape matches."""
    if not w.zh:
        return message
    for pattern, say in SHAPES:
        m = pattern.match(message)
        if m:
            return say(w, m)
    return message
