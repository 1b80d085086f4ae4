"""Where a log came from (its ``origin``, from release 0.6.0 on), covered by its signature:

- ``actions``: how the actions were made: ``window`` (played by hand in the trainer),
  ``script`` (a headless ``run`` of a script file), ``recovered`` (rebuilt from the journal of
  an attempt played in the window that did not finish normally);
- ``hints``: whether the trainer's training hints were on (breach and leak messages, the
  needle's angles; false for a script, which sees no hints);
- ``display``: the image settings the trainee saw (``invert``);
- ``simulator_version`` and ``station``: the version and the machine that wrote the log
  (``VSIM_STATION``, else the host name).

A log of an earlier release has no origin; review shows it as ``unknown``.
"""

from __future__ import annotations

import os
import socket

from simulator import __version__
from simulator.inputs import NAME_MAX_CHARS, name_problem

ORIGINS = ("window", "script", "recovered")


def station_name() -> str:
    """The name of this machine as logs record it (``VSIM_STATION`` or the host name), made a
    valid name (printable, at most ``NAME_MAX_CHARS`` characters)."""
    name = os.environ.get("VSIM_STATION") or socket.gethostname() or "unknown"
    name = "".join(ch for ch in name if ch.isprintable())[:NAME_MAX_CHARS].strip()
    return name or "unknown"


def make_origin(actions: str, *, hints: bool, invert: bool = False) -> dict:
    """The ``origin`` of a log whose actions were made by ``actions`` (:data:`ORIGINS`)."""
    if actions not in ORIGINS:
        raise ValueError(f"origin {actions!r}: not one of {', '.join(ORIGINS)}")
    return {
        "actions": actions,
        "hints": bool(hints),
        "display": {"invert": bool(invert)},
        "simulator_version": __version__,
        "station": station_name(),
    }


def origin_problem(origin) -> tuple[str, str] | None:
    """(field, what is wrong) of a log's ``origin``, or None when it is well formed."""
    if not isinstance(origin, dict):
        return "origin", "must be an object {actions, hints, display, simulator_version, station}"
    want = {"actions", "hints", "display", "simulator_version", "station"}
    if set(origin) != want:
        extra, missing = sorted(set(origin) - want), sorted(want - set(origin))
        what = "; ".join(
            part
            for part in (
                f"unknown {', '.join(extra)}" if extra else "",
                f"missing {', '.join(missing)}" if missing else "",
            )
            if part
        )
        return "origin", f"{what} (has exactly actions, hints, display, simulator_version, station)"
    if origin["actions"] not in ORIGINS:
        return (
            "origin.actions",
            f"must be one of {', '.join(ORIGINS)}, got {origin['actions']!r:.40}",
        )
    if not isinstance(origin["hints"], bool):
        return "origin.hints", "must be true or false"
    d = origin["display"]
    if not (isinstance(d, dict) and set(d) == {"invert"} and isinstance(d["invert"], bool)):
        return "origin.display", 'must be {"invert": true or false}'
    version = origin["simulator_version"]
    if not isinstance(version, str) or not 0 < len(version) <= 24:
        return "origin.simulator_version", "must be a version like '0.6.0'"
    why = name_problem(origin["station"])
    if why:
        return "origin.station", why
    return None
