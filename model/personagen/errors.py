"""Errors raised on bad user input.

Every validation step collects *all* problems it finds and raises one error
that lists them, so a user fixes a file in one round instead of one problem
per run.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DataError",
    "ParameterError",
    "Problem",
    "bad_argument",
    "close_match_hint",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input.

    Parameters
    ----------
    file : str
        The file the problem is in (as the user named it), or ``""`` for a
        problem with an argument of a function (:class:`ParameterError`).
    path : str
        Dotted key path inside the file (``personas.teenage_girl.weight``), or
        ``""`` for the file as a whole, or a column name for tables; for an
        argument, the parameter's name (``mode``, ``n_personas``).
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

    def _format(self, names: Mapping[str, str] | None = None) -> str:
        by_file: dict[str, list[Problem]] = {}
        for problem in self.problems:
            by_file.setdefault(problem.file, []).append(problem)
        blocks = []
        for file, problems in by_file.items():
            n = len(problems)
            if file:
                head = f"{n} {self.kind}{'s' if n != 1 else ''} in {file}:"
                lines = [f"  {p}" for p in problems]
            else:  # arguments: the parameter's name, or what the caller calls it
                head = f"{n} invalid argument{'s' if n != 1 else ''}:"
                lines = [f"  {(names or {}).get(p.path, p.path)}: {p.message}" for p in problems]
            blocks.append("\n".join([head, *lines]))
        return "\n".join(blocks)

    def render(self, names: Mapping[str, str]) -> str:
        """Return the message with argument names replaced, e.g. by command-line flags.

        Parameters
        ----------
        names : mapping of str to str
            Parameter name -> what the caller calls it (``{"n_personas": "--n-personas"}``).
        """
        return self._format(names)


class ConfigError(_ProblemsError):
    """A configuration file (YAML priors, hierarchy, segments, mapping) is invalid."""


class DataError(_ProblemsError):
    """Input data (sales transactions, a customer table) is invalid."""


class ParameterError(_ProblemsError):
    """An argument of a library function is invalid; each problem names its parameter.

    Its problems have ``file == ""`` and ``path`` set to the parameter's name; the
    command line prints them with its flags instead (:meth:`render`).
    """


def bad_argument(parameter: str, message: str) -> ParameterError:
    """Return a :class:`ParameterError` of one problem with ``parameter``."""
    return ParameterError([Problem("", parameter, message)])
