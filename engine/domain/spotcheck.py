"""Spot checks (调研督查): the quality-supervision group re-checks a random sample of cleared
issues. Pure: the drawing itself (`random`) and the choice of a seed when none is given
(`secrets`) are engine.app.spotcheck's.

The draw, so that anyone can draw it again from what the history keeps:

    population = the ids of the issues in state `cleared` (of the villages named, or of the
                 whole town), in ascending order
    k          = ceil(len(population) × percent / 100), computed exactly on the percent as
                 written (a decimal); at least 1 when the population is not empty
    sample     = sorted(random.Random(seed).sample(population, k))

with Python's `random.Random` (the Mersenne Twister seeded with the integer `seed`). The
history keeps the draw as a town event (issue 0) `spotcheck_drawn` with `draw` (its number,
1, 2, …), `seed`, `percent`, `villages` (sorted; empty for the whole town), `population` (its
size) and `sample`. Each result is an event of the issue, `spotcheck_recorded` with `draw`,
`result` (pass | fail), `note` and `evidence`; a failed check is followed in the same
transaction by the workflow's `reopen` transition (回头看), its reason the note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from engine.domain.org import Org
from engine.errors import BadOption, NotPermitted, Refused

ROLE = "quality_supervision"
"""Who draws and records spot checks: the members of a quality-supervision group."""
CLEARED = "cleared"
"""The state a spot check samples and a failed check reopens from."""
REOPEN = "reopen"
"""The workflow's transition a failed check fires (cleared → reported)."""
RESULTS = ("pass", "fail")
SEED_LIMIT = 2**63
"""A seed is a whole number from 0 to 2^63 − 1."""


def percent_of(text: str | float) -> Decimal:
    """A percent as typed: a number with 0 < P ≤ 100 (BadOption, exit 2, otherwise)."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise BadOption(f"--percent {text!r} is not a number") from None
    if not value.is_finite() or not 0 < value <= 100:
        raise BadOption(f"--percent {text} is out of range (more than 0, at most 100)")
    return value


def sample_size(population: int, percent: Decimal) -> int:
    """ceil(population × percent / 100), at least 1 when there is anyone to draw."""
    if population <= 0:
        return 0
    exact = Fraction(percent) * population / 100
    return max(1, -(-exact.numerator // exact.denominator))


def check_role(org: Org, actor: str, act: str) -> None:
    if ROLE not in org.roles_of(actor):
        raise NotPermitted(f"{actor} may not {act}: needs the role {ROLE}")


@dataclass(frozen=True)
class Draw:
    """A draw as the history keeps it."""

    draw: int
    seed: int
    percent: Decimal
    villages: tuple[str, ...]
    population: int
    sample: tuple[int, ...]

    def to_payload(self) -> dict[str, Any]:
        return {"draw": self.draw, "seed": self.seed, "percent": str(self.percent),
                "villages": list(self.villages), "population": self.population,
                "sample": list(self.sample)}

    @staticmethod
    def from_payload(p: Mapping[str, Any]) -> Draw:
        return Draw(int(p["draw"]), int(p["seed"]), Decimal(str(p["percent"])),
                    tuple(str(v) for v in p.get("villages") or ()), int(p["population"]),
                    tuple(int(x) for x in p["sample"]))

    def problem(self, number: int) -> str | None:
        """What is wrong with a draw stored as the `number`th (None: it is sound)."""
        if self.draw != number:
            return f"spot-check draw {self.draw} is the draw numbered {number}"
        if not (0 <= self.seed < SEED_LIMIT and 0 < self.percent <= 100):
            return f"spot-check draw {self.draw} has a seed or percent out of range"
        if list(self.sample) != sorted(set(self.sample)):
            return f"spot-check draw {self.draw}'s sample is not ascending ids, each once"
        if len(self.sample) != sample_size(self.population, self.percent):
            return (f"spot-check draw {self.draw} holds {len(self.sample)} issue(s), not"
                    f" {self.percent}% of {self.population}")
        return None


def check_record(issue_id: int, state: str, draws: Iterable[Draw], recorded: Iterable[int]
                 ) -> Draw:
    """The draw a result of the issue answers: the first draw whose sample holds it and has no
    result for it yet. Refused (exit 1, saying why) when no draw holds it, when every draw
    that does has its result, or when the issue is not cleared."""
    holding = [d for d in draws if issue_id in d.sample]
    if not holding:
        raise Refused(f"issue {issue_id} was not drawn in any spot check")
    done = set(recorded)
    pending = [d for d in holding if d.draw not in done]
    if not pending:
        raise Refused(f"issue {issue_id}'s spot check of draw {holding[-1].draw} is already"
                      " recorded")
    if state != CLEARED:
        raise Refused(f"issue {issue_id} is {state}, not {CLEARED}: only a cleared issue is"
                      " spot-checked")
    return pending[0]
