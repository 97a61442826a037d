"""Errors raised on bad user input.

Every validation step collects *all* problems it finds and raises one error
that lists them, so a user fixes a file in one round instead of one problem
per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["ConfigError", "DataError", "Problem", "close_match_hint"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input.

    Parameters
    ----------
    file : str
        The file the problem is in (as the user named it).
    path : str
        Dotted key path inside the file (``personas.teenage_girl.weight``), or
        ``""`` for the file as a whole, or a column name for tables.
    message : str
        What is wrong: the bad value and what was expected.
    """

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def close_match_hint(name: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    pool = list(choices)
    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
        match = [lowered[m] for m in match]
    return f"; did you mean {match[0]!r}?" if match else ""


class _ProblemsError(ValueError):
    """Base for errors that carry a list of problems."""

    kind = "problem"

    def __init__(self, problems: Sequence[Problem]):
        if not problems:
            raise ValueError("an error needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self._format())

    def _format(self) -> str:
        by_file: dict[str, list[Problem]] = {}
        for problem in self.problems:
            by_file.setdefault(problem.file, []).append(problem)
        blocks = []
        for file, problems in by_file.items():
            n = len(problems)
            head = f"{n} {self.kind}{'s' if n != 1 else ''} in {file}:"
            blocks.append("\n".join([head, *(f"  {p}" for p in problems)]))
        return "\n".join(blocks)


class ConfigError(_ProblemsError):
    """A configuration file (YAML priors, hierarchy, segments, mapping) is invalid."""


class DataError(_ProblemsError):
    """Input data (sales transactions, a customer table) is invalid."""
