"""Edge checks for everything read from outside: files, JSON, numbers, seeds, names.

One place for the rules every reader shares, so that a scenario, a script, a journal, a log,
a key file and the command line refuse bad input the same way:

- :func:`read_capped`: a regular file only (a FIFO, a device or a folder is refused before
  anything is read, and opening a FIFO cannot hang), at most a documented number of bytes per
  kind of file (:data:`CAPS`); reads at most cap + 1 bytes.
- :func:`strict_json`: JSON without duplicate keys at any depth, without ``NaN``/``Infinity``
  and without numbers that overflow a float (``1e400``).
- :func:`is_finite_number`, :func:`in_range`, :func:`show_number`: numbers checked and shown
  without converting them to float first (a 400-digit integer is an ``int``; comparing it with
  a float is exact in Python, converting it raises ``OverflowError``).
- :data:`SEED_MIN`/:data:`SEED_MAX`, :func:`seed_problem`: the one seed rule.
- :data:`NAME_MAX_CHARS`, :func:`name_problem`: the one trainee-name rule;
  :func:`printable`: text made safe for a terminal, a CSV cell or HTML.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from simulator.errors import UserError

CAPS: dict[str, int] = {
    "scenario": 256_000,
    "script": 32 * 2**20,
    "log": 64 * 2**20,
    "journal": 64 * 2**20,
    "key file": 4096,
}
"""The largest file (bytes) each reader accepts; anything larger is refused unread."""

SEED_MIN = 0
SEED_MAX = 2**31 - 1
SEED_RULE = f"a whole number from {SEED_MIN} to {SEED_MAX}"
NAME_MAX_CHARS = 64
NAME_RULE = (
    f"1 to {NAME_MAX_CHARS} printable characters (no control characters such as "
    "line breaks, tabs, escapes or NUL)"
)


class InputFileError(UserError):
    """A file that cannot be read as input: ``str(err)`` is ``PATH: file: message``."""

    def __init__(self, path: str, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{path}: file: {message}")


def read_capped(path: str | Path, *, kind: str) -> bytes:
    """The bytes of a regular file of at most ``CAPS[kind]`` bytes.

    Raises :class:`InputFileError` for a missing file, a folder, a FIFO, a device or socket,
    an unreadable file or one larger than the cap; never blocks on a FIFO (the file is opened
    with ``O_NONBLOCK`` and checked with ``fstat`` before any read).
    """
    cap = CAPS[kind]
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise InputFileError(path, f"is a folder; name a {kind}") from None
        raise InputFileError(path, f"cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise InputFileError(path, f"is a folder; name a {kind}")
        if not stat.S_ISREG(st.st_mode):
            raise InputFileError(path, f"not a regular file (a pipe or device); name a {kind}")
        if st.st_size > cap:
            raise InputFileError(path, f"{st.st_size} bytes; a {kind} is at most {cap} bytes")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, min(cap + 1 - total, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise InputFileError(path, f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if total > cap:  # it grew while being read
        raise InputFileError(path, f"more than {cap} bytes; a {kind} is at most {cap} bytes")
    return b"".join(chunks)


class StrictJSONError(ValueError):
    """Strict JSON refused: ``field`` is the key path (``actions[3].t``) or ``file``."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Dup(dict):
    """A JSON object in which a key appeared twice (the first duplicate is ``dup``)."""

    dup: str = ""


def _constant(name: str):
    raise StrictJSONError("file", f"{name} is not a number JSON allows; write a finite number")


MAX_ABS_NUMBER = 10**15
"""The largest magnitude any number in strict JSON may have (a seed, a time, a count …;
every field has its own, smaller range, checked by its reader)."""


def strict_json(text: str, *, max_abs: float = MAX_ABS_NUMBER) -> Any:
    """Parse JSON text refusing duplicate keys (at any depth), ``NaN``/``Infinity`` and
    numbers larger in magnitude than ``max_abs`` (compared without float conversion); raises
    :class:`StrictJSONError` (field = the key path, e.g. ``actions[3].t``) or the ``ValueError``
    of an invalid document."""
    found: list[_Dup] = []
    huge: list[str] = []

    def pairs(items):
        out = {}
        for k, v in items:
            if k in out and not found:
                dup = _Dup(out)
                dup.dup = k
                found.append(dup)
                return dup
            out[k] = v
        return out

    def number(text: str, kind: type):
        value = kind(text)
        if not (is_finite_number(value) and abs(value) <= max_abs):
            huge.append(text)
            return _Huge(value if kind is int else 0)
        return value

    data = json.loads(
        text,
        object_pairs_hook=pairs,
        parse_constant=_constant,
        parse_float=lambda t: number(t, float),
        parse_int=lambda t: number(t, int),
    )
    if found:
        where = _find(data, "", lambda v: isinstance(v, _Dup))
        raise StrictJSONError(where or found[0].dup, "duplicate key; a key appears once")
    if huge:
        shown = (
            show_number(int(huge[0]))
            if "." not in huge[0] and "e" not in huge[0].lower()
            else huge[0][:20]
        )
        raise StrictJSONError(
            _find(data, "", lambda v: isinstance(v, _Huge)) or "file",
            f"number out of range ({shown}; at most {max_abs:g} in magnitude)",
        )
    return data


class _Huge(int):
    """A number beyond the limit, kept only to find its path."""


def _find(value: Any, path: str, hit) -> str | None:
    """The key path of the first value (depth first) for which ``hit`` is true."""
    if isinstance(value, _Dup) and hit(value):
        return f"{path}.{value.dup}" if path else value.dup
    if hit(value):
        return path
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for k, v in items:
        sub = f"{path}[{k}]" if isinstance(value, list) else (f"{path}.{k}" if path else k)
        if (p := _find(v, sub, hit)) is not None:
            return p
    return None


def is_finite_number(v: Any) -> bool:
    """An int (any size) or a finite float; never a bool; never converts."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and math.isfinite(v))


def in_range(v: Any, lo: float, hi: float) -> bool:
    """A finite number with ``lo ≤ v ≤ hi``, compared exactly (no float conversion)."""
    return is_finite_number(v) and lo <= v <= hi


def show_number(v: Any) -> str:
    """A value for a message: huge integers by their digit count, numbers with ``:g``."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        text = repr(v)
        return text if len(text) <= 60 else text[:57] + "…"
    if isinstance(v, int):
        return f"a {len(str(abs(v)))}-digit integer" if abs(v) >= 10**15 else str(v)
    return f"{v:g}"


def seed_problem(seed: Any) -> str | None:
    """None for a valid seed, else what is wrong, in words (:data:`SEED_RULE`)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not SEED_MIN <= seed <= SEED_MAX:
        return f"must be {SEED_RULE}, got {show_number(seed)}"
    return None


def name_problem(name: Any) -> str | None:
    """None for a valid trainee name (after stripping spaces), else what is wrong."""
    if not isinstance(name, str):
        return f"must be text: {NAME_RULE}"
    name = name.strip()
    if not name:
        return f"is empty; {NAME_RULE}"
    if len(name) > NAME_MAX_CHARS:
        return f"{len(name)} characters; {NAME_RULE}"
    bad = next((c for c in name if not name_char_ok(c)), None)
    if bad is not None:
        return f"contains the character {printable(repr(bad))}; {NAME_RULE}"
    return None


def name_char_ok(c: str) -> bool:
    """Whether one character may be part of a trainee name (printable, no surrogate)."""
    return c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every non-printable character (controls, escapes, NUL, stray
    surrogates) replaced by U+FFFD, so it cannot move a terminal's cursor, end a CSV row or
    break HTML; ``keep_newlines`` keeps ``\\n``."""
    out = []
    for c in text:
        keep = (c == "\n" and keep_newlines) or name_char_ok(c)
        out.append(c if keep else "\ufffd")
    return "".join(out)
