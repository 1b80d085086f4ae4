"""The one family of user-facing errors.

Every error a user can cause (a bad scenario, script, log or command line) is a
:class:`UserError`. The command line prints its message on one line and exits with code 2;
nothing else is printed, no traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by user input; ``str(err)`` is the full one-line message."""

    exit_code = 2


class ScenarioError(UserError):
    """One or more problems in a scenario file.

    ``problems`` holds ``(field, message)`` pairs; ``path`` names the file. ``str(err)`` is one
    line per problem in the form ``PATH: field: message``.
    """

    def __init__(self, path: str, problems: list[tuple[str, str]]):
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(f"{path}: {field}: {msg}" for field, msg in self.problems))
