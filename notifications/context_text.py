"""Contexts as the JSON text a queue stores, made for many recipients at once.

`ContextText.text(context, name)` is exactly `json.dumps(context.to_dict(name),
ensure_ascii=False)`, made from parts encoded once and kept for the object's life (one
transaction's messages): the recipient's name goes last in every context, so the text before
it is made once per message; a message about an issue starts with the town and the issue,
made once per IssueContext (a sweep tells of three levels of an issue with one); and an
escalation's message is the same for every escalation alike but for the escalation's number,
so its text is made once per such escalation and the number put in (a sweep raises thousands
alike).
"""

from __future__ import annotations

import json
from typing import Any

from notifications.contexts import (
    EscalationMessage,
    IssueContext,
    IssueMessage,
    Message,
    TownContext,
)

_JSON = json.JSONEncoder(ensure_ascii=False)
"""As json.dumps(…, ensure_ascii=False) writes a context."""
_MARK = -1
"""An escalation number no escalation has: where the number goes in a text made once."""
_AT_MARK = f'"id": {_MARK}'
"""The mark as it stands in the text (a string's quotes are escaped, so only the key can)."""


class ContextText:
    """Makes contexts' texts; keeps what they share (see the module)."""

    def __init__(self) -> None:
        self._issues: dict[int, tuple[IssueContext, TownContext, str]] = {}
        self._alike: dict[tuple[Any, ...], tuple[str, str] | None] = {}
        self._names: dict[str, str] = {}

    def head(self, context: Message) -> str:
        """The context's text up to where its recipient's name goes; "" when its dict does
        not end with the recipient (then `text` makes each whole)."""
        if not isinstance(context, IssueMessage):
            whole = context.to_dict()
            if not whole or "recipient" in whole:
                return ""
            return f"{_JSON.encode(whole)[:-1]}, \"recipient\": "
        return f"{self.issue_part(context.town, context.issue)}{self._rest(context)}," \
               ' "recipient": '

    def issue_part(self, town: TownContext, issue: IssueContext) -> str:
        """The text every message about the issue starts with: its town and the issue, up to
        the next key (made once per IssueContext and town)."""
        done = self._issues.get(id(issue))
        if done is None or done[0] is not issue or done[1] is not town:
            start = _JSON.encode({"town": town.to_dict(), "issue": issue.to_dict()})
            done = self._issues[id(issue)] = (issue, town, f"{start[:-1]}, ")
        return done[2]

    def escalation_tail(self, context: EscalationMessage, name: str) -> tuple[str, str] | None:
        """The text for the recipient `name` after `issue_part`, split where the
        escalation's number goes: `issue_part + before + str(n) + after` is the text of the
        same message about escalation n. None when the text cannot be split so."""
        rest = self._split_rest(context)
        if rest is None:
            return None
        return rest[0], f"{rest[1]}, \"recipient\": {self._name_end(name)}"

    def text(self, head: str, context: Message, name: str) -> str:
        """The whole text for one recipient, from the context's `head`."""
        if not head:
            return _JSON.encode(context.to_dict(name))
        return f"{head}{self._name_end(name)}"

    def _name_end(self, name: str) -> str:
        """The recipient's part, with the context's closing brace."""
        end = self._names.get(name)
        if end is None:
            end = self._names[name] = f"{_JSON.encode({'name': name})}}}"
        return end

    def _rest(self, context: IssueMessage) -> str:
        """The keys after the town and the issue, as text without its braces."""
        if not isinstance(context, EscalationMessage):
            return _JSON.encode({"next_step": context.next_step, **context.details()})[1:-1]
        found = self._split_rest(context)
        if found is None:  # not as expected: no sharing
            return _JSON.encode({"next_step": context.next_step, **context.details()})[1:-1]
        return f"{found[0]}{context.escalation.id}{found[1]}"

    def _split_rest(self, context: EscalationMessage) -> tuple[str, str] | None:
        """An escalation message's keys after the town and the issue, split where the
        escalation's number goes (the same for escalations alike but for it); None when the
        text does not split as expected."""
        key = (context.next_step, context.role, context.escalation.alike())
        found = self._alike.get(key)
        if found is None and key not in self._alike:
            rest = {"next_step": context.next_step, **context.details()}
            rest["escalation"]["id"] = _MARK  # a dict of its own: the id keeps its place
            before, mark, after = _JSON.encode(rest)[1:-1].partition(_AT_MARK)
            found = self._alike[key] = (f'{before}"id": ', after) if mark else None
        return found
