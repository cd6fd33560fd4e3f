"""Every error rectify raises on purpose comes from one root.

    RectifyError                      root; never shown as a traceback
    ├── Refused                       exit 1: a rule or the data says no; nothing changed
    │   ├── NotPermitted              the actor lacks the role for this
    │   ├── InvalidTransition         not allowed from the current state (names the allowed ones)
    │   ├── MissingField              a transition needs a note, plan, evidence, …
    │   ├── SeparationOfDuties        e.g. verifying what you rectified yourself
    │   ├── NotFound                  unknown issue, person, village or group
    │   ├── VersionConflict           --expect-version did not match, or a concurrent writer won
    │   ├── DeadlineRefused           a due date in the past or beyond the stage's limit
    │   ├── ClockRefused              a time a live database does not allow, or one before the
    │   │                             issue's previous event
    │   ├── NotInitialized            the database has no org yet (run `rectify init`)
    │   ├── NotSignedIn               the web workspace: a wrong name or password, a session
    │   │   │                         or API token unknown, ended or revoked (the web's 401)
    │   │   └── LockedOut             an account locked by failed sign-ins, or a client
    │   │                             address throttled; the message says until when
    │   └── StoreUnavailable          the database cannot be reached or refused the statement
    └── Malformed                     exit 2: the input itself is wrong; nothing changed
        ├── BadOption                 an option value that cannot be parsed
        ├── BadFile                   a file that cannot be read or parsed
        ├── DefinitionError           a workflow definition that fails validation (file:line)
        ├── OrgError                  an org file that fails validation (file:line)
        └── BadConfig                 a notification configuration or template that is wrong

The notifications package has its own small root (notifications.errors); the application
tells its configuration errors as BadConfig at the boundary (engine.app.notify).
"""

from __future__ import annotations


class RectifyError(Exception):
    """Root of every deliberate error; `exit_code` tells the CLI what to return."""

    exit_code = 1
    head = ""
    """For an error told on several lines (`told`): its first line; '' for one line."""
    details: tuple[str, ...] = ()
    """For an error told on several lines: a line per problem (the CLI prints them indented
    under the first; the message, str(), holds them all on one line)."""


def told(kind: type[RectifyError], head: str, details: list[str], shown: int = 20
         ) -> RectifyError:
    """An error of `kind` with a first line and a line per problem (every problem of a
    ledger sheet): its message is `head: d1; d2; …` (at most `shown`, then how many more)."""
    more = f"; and {len(details) - shown} more" if len(details) > shown else ""
    error = kind(f"{head}: {'; '.join(details[:shown])}{more}")
    error.head = head
    error.details = tuple(details)
    return error


class Refused(RectifyError):
    exit_code = 1


class NotPermitted(Refused):
    pass


class InvalidTransition(Refused):
    pass


class MissingField(Refused):
    pass


class SeparationOfDuties(Refused):
    pass


class NotFound(Refused):
    pass


class VersionConflict(Refused):
    pass


class DeadlineRefused(Refused):
    pass


class ClockRefused(Refused):
    pass


class NotInitialized(Refused):
    pass


class NotSignedIn(Refused):
    pass


class LockedOut(NotSignedIn):
    pass


class StoreUnavailable(Refused):
    pass


class Malformed(RectifyError):
    exit_code = 2


class BadOption(Malformed):
    pass


class BadFile(Malformed):
    pass


class DefinitionError(Malformed):
    pass


class OrgError(Malformed):
    pass


class BadConfig(Malformed):
    pass
