"""The one rule for a scenario id, used by the scenario loader, the catalog, the journal and
the log reader: 1 to 64 characters, lower-case letters, digits, ``_`` and ``-``, starting with
a letter or a digit (``first_case_l1``, ``my-case``). The id is also the file's stem."""

from __future__ import annotations

import re

ID_MAX_CHARS = 64
ID_RE = re.compile(rf"^[a-z0-9][a-z0-9_-]{{0,{ID_MAX_CHARS - 1}}}$")
ID_RULE = (
    f"1 to {ID_MAX_CHARS} lower-case letters, digits, '_' and '-', starting with a letter or digit"
)
"""The rule in words, for messages and the documentation."""


def is_scenario_id(value: object) -> bool:
    """True when ``value`` is a text that follows the scenario id rule."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None
