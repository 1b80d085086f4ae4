"""The metric table ``assets/metrics.toml``: every metric of an attempt, its unit, kind and
source, declared once.

The procedure checks its metrics against it (:func:`check_metrics`), the log checker reads the
kinds and the required names, and the CSV export makes its columns in its order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from simulator.assets import load_table

SOURCE = "assets/metrics.toml"
KINDS = ("number", "text", "bool", "point", "leaks", "endplates", "breaches", "sites", "needles")
"""Value kinds; a kind may be followed by ``" or null"``."""
SOURCES = ("procedure", "cement")


@dataclass(frozen=True, kw_only=True)
class Metric:
    """One declared metric."""

    name: str
    unit: str
    """Unit of the value, ``""`` when it has none."""
    kind: str
    source: str
    required: bool
    meaning: str
    since: tuple[int, int, int] = (0, 1, 0)
    """The first release whose attempts have it (a log of an older one has not)."""


def _metric(i: int, row: dict) -> Metric:
    where = f"{SOURCE}: metrics[{i}]"
    fields = [f for f in Metric.__dataclass_fields__ if f != "since"]
    try:
        m = Metric(**{f: row[f] for f in fields})
    except KeyError as e:
        raise ValueError(f"{where}.{e.args[0]}: missing") from None
    if "since" in row:
        try:
            since = tuple(int(p) for p in str(row["since"]).split("."))
        except ValueError:
            since = ()
        if len(since) != 3:
            raise ValueError(f"{where}.since: a release like '0.3.0', got {row['since']!r}")
        m = Metric(**{f: getattr(m, f) for f in fields}, since=since)
    if m.kind.removesuffix(" or null") not in KINDS:
        raise ValueError(f"{where}.kind: must be one of {KINDS} (or '… or null'), got {m.kind!r}")
    if m.source not in SOURCES:
        raise ValueError(f"{where}.source: must be one of {SOURCES}, got {m.source!r}")
    return m


@functools.cache
def metric_table() -> tuple[Metric, ...]:
    """Every declared metric, in the table's order (cached)."""
    rows = load_table("metrics").get("metrics")
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{SOURCE}: metrics: must be a non-empty [[metrics]] list")
    out = tuple(_metric(i, row) for i, row in enumerate(rows))
    names = [m.name for m in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{SOURCE}: metrics.name: declared twice: {', '.join(dup)}")
    return out


def metric_names(source: str | None = None, *, release: str | None = None) -> tuple[str, ...]:
    """Declared metric names (of one ``source``, or all; of the attempts of ``release``, or
    of every release), in table order."""
    upto = None if release is None else tuple(int(p) for p in release.split("."))
    return tuple(
        m.name
        for m in metric_table()
        if source in (None, m.source) and (upto is None or m.since <= upto)
    )


def check_metrics(metrics: dict, source: str | None = None, *, release: str | None = None) -> None:
    """Raise ``ValueError`` unless ``metrics`` has exactly the declared names (of ``source``,
    or all; of ``release``'s attempts, or every release's): an undeclared metric or a declared
    one not produced is a programming error."""
    declared = set(metric_names(source, release=release))
    extra = sorted(set(metrics) - declared)
    missing = sorted(declared - set(metrics))
    if extra or missing:
        raise ValueError(
            f"{SOURCE}: metrics of {source or 'the attempt'} differ from the table: "
            f"undeclared {extra}, not produced {missing}"
        )
