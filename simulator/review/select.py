"""Which logs a review counts: one trainee under every spelling of their name, each attempt
once however many copies of its log there are, and the assessor's filters.

- **Names**: a trainee's name is matched ignoring case and runs of spaces ("Ann Lee",
  "ann  lee " and "ANN LEE" are one trainee), shown as its most used spelling.
- **Duplicates**: two files whose logs are the same (the same canonical JSON, signature
  included) are one attempt: the first file (in the order found) counts, the others are
  listed.
- **Filters** (:class:`Filters`): by trainee, scenario, start time and origin, applied after
  the attempts are numbered, so an attempt keeps its number in the trainee's history.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from simulator.errors import UserError
from simulator.records.origin import ORIGINS
from simulator.review.collect import Attempt, name_key

ORIGIN_CHOICES = (*ORIGINS, "unknown")


@dataclass(frozen=True)
class Filters:
    """The attempts an assessor asked for; an empty field lets every attempt through.
    ``since`` / ``until``: aware datetimes, both ends included."""

    trainees: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    described: list[str] = field(default_factory=list, compare=False)

    def keep(self, a: Attempt) -> bool:
        """Whether attempt ``a`` passes every filter."""
        if self.trainees and name_key(a.trainee) not in {name_key(t) for t in self.trainees}:
            return False
        if self.scenarios and a.scenario_id not in self.scenarios:
            return False
        if self.origins and a.origin not in self.origins:
            return False
        if self.since is not None and a.when < self.since:
            return False
        return self.until is None or a.when <= self.until


def make_filters(*, trainees=None, scenarios=None, origins=None, since=None, until=None):
    """:class:`Filters` from command-line values; ``UserError`` naming the option for a bad
    one. A date alone (``2026-12-01``) is that whole day (UTC), a time without a zone UTC."""
    for o in origins or []:
        if o not in ORIGIN_CHOICES:
            raise UserError(f"--origin: {o!r:.40} is not one of {', '.join(ORIGIN_CHOICES)}")
    lo = _when(since, "--since", end=False)
    hi = _when(until, "--until", end=True)
    if lo is not None and hi is not None and hi < lo:
        raise UserError(f"--until: {until} is before --since {since}")
    said = [
        f"{label} {', '.join(v)}"
        for label, v in (("trainee", trainees), ("scenario", scenarios), ("origin", origins))
        if v
    ]
    said += [f"since {since}"] if since else []
    said += [f"until {until}"] if until else []
    return Filters(
        trainees=tuple(trainees or ()),
        scenarios=tuple(scenarios or ()),
        origins=tuple(origins or ()),
        since=lo,
        until=hi,
        described=said,
    )


def _when(text: str | None, option: str, *, end: bool) -> datetime | None:
    if text is None:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day, time.max if end else time.min, tzinfo=UTC)
        t = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option}: {text!r:.40} is not a date (2026-12-01) or time (2026-12-01T09:30)"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
