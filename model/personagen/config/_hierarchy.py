"""The product hierarchy: departments, their classes, and the flat class index.

The model works on one flat vector of classes (394 for the shipped hierarchy)
with a class-to-department index, rather than a padded department x class
array: joint class probability = department share x class share within the
department, and department totals are segment sums over classes.

Column slugs
------------
Output columns name departments and classes by a slug: lower-case, ``&``
becomes ``and``, every run of other non-alphanumeric characters becomes one
``_``, leading and trailing ``_`` are dropped. ``Health & Beauty`` ->
``health_and_beauty``; ``T-Shirts`` -> ``t_shirts``. Class columns join the
department and class slugs with a double underscore:
``class_total_value_ladies_clothing__t_shirts``. A hierarchy whose slugs
collide is rejected, so column names are always unique.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import yaml

from personagen.errors import ConfigError, Problem

__all__ = [
    "ProductHierarchy",
    "build_hierarchy",
    "dump_hierarchy_yaml",
    "format_hierarchy_text",
    "parse_hierarchy_text",
    "slugify",
]

_HEADER = (
    "# Product hierarchy: department -> classes "
    "({n_departments} departments, {n_classes} classes).\n"
    "# Regenerate from a pipe-delimited export with `personagen hierarchy parse`.\n"
)


def slugify(name: str) -> str:
    """Return the column slug of a department or class name (see module docstring)."""
    text = name.replace("&", " and ").lower()
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


@dataclass(frozen=True, eq=False)
class ProductHierarchy:
    """Departments and classes with the flat class index the model uses.

    Attributes
    ----------
    departments : tuple of str
        Department names in file order.
    classes : tuple of tuple of str
        Class names of each department, in file order.
    class_department : ndarray of int32, shape (n_classes,)
        Department index of each flat class.
    department_offsets : ndarray of int32, shape (n_departments + 1,)
        Flat classes of department ``d`` are ``offsets[d]:offsets[d + 1]``.
    department_slugs : tuple of str
    class_slugs : tuple of str
        ``<department slug>__<class slug>`` for each flat class.
    source : str
        Where the hierarchy was read from.
    """

    departments: tuple[str, ...]
    classes: tuple[tuple[str, ...], ...]
    class_department: np.ndarray
    department_offsets: np.ndarray
    department_slugs: tuple[str, ...]
    class_slugs: tuple[str, ...]
    source: str = ""
    department_index: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_departments(self) -> int:
        """Number of departments."""
        return len(self.departments)

    @property
    def n_classes(self) -> int:
        """Number of classes over all departments."""
        return int(self.department_offsets[-1])

    def classes_of(self, department: str) -> tuple[str, ...]:
        """Return the classes of one department, in order."""
        return self.classes[self.department_index[department]]

    def flat_index(self, department: str, class_name: str) -> int:
        """Return the flat class index of ``class_name`` in ``department``."""
        d = self.department_index[department]
        return int(self.department_offsets[d]) + self.classes[d].index(class_name)

    def as_mapping(self) -> dict[str, list[str]]:
        """Return ``{department: [class, ...]}`` as plain data."""
        return {d: list(c) for d, c in zip(self.departments, self.classes, strict=True)}


def _class_problems(classes: Sequence[str], where: str, source: str) -> list[Problem]:
    """Duplicate, blank and slug-colliding class names of one department."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    class_slugs: dict[str, str] = {}
    for i, cls in enumerate(classes):
        cslug = slugify(cls)
        if cls in seen:
            problems.append(
                Problem(
                    source,
                    f"{where}[{i}]",
                    f"duplicate class {cls!r} (first at "
                    f"[{seen[cls]}]); class names must be unique within a department",
                )
            )
            continue
        seen[cls] = i
        if not cslug:
            problems.append(Problem(source, f"{where}[{i}]", "class name has no letters or digits"))
        elif cslug in class_slugs:
            problems.append(
                Problem(
                    source,
                    f"{where}[{i}]",
                    f"column slug {cslug!r} of {cls!r} collides "
                    f"with class {class_slugs[cslug]!r}; rename one of them",
                )
            )
        else:
            class_slugs[cslug] = cls
    return problems


def build_hierarchy(
    departments: Mapping[str, Sequence[str]], *, source: str = "<hierarchy>"
) -> ProductHierarchy:
    """Validate a department -> classes mapping and index it.

    Parameters
    ----------
    departments : mapping of str to sequence of str
        Departments in order, each with its classes in order.
    source : str
        File name used in error messages.

    Returns
    -------
    ProductHierarchy

    Raises
    ------
    ConfigError
        Listing every empty department, duplicate class, blank name and
        colliding slug.
    """
    problems: list[Problem] = []
    if not departments:
        problems.append(Problem(source, "departments", "expected at least one department"))
    dept_slugs: dict[str, str] = {}
    for dept, classes in departments.items():
        where = f"departments.{dept}"
        slug = slugify(dept)
        if not slug:
            problems.append(Problem(source, where, "department name has no letters or digits"))
        elif slug in dept_slugs:
            problems.append(
                Problem(
                    source,
                    where,
                    f"column slug {slug!r} collides with department "
                    f"{dept_slugs[slug]!r}; rename one of them",
                )
            )
        else:
            dept_slugs[slug] = dept
        if not classes:
            problems.append(Problem(source, where, "empty department; expected at least one class"))
        problems += _class_problems(classes, where, source)
    if problems:
        raise ConfigError(problems)
    names = tuple(departments)
    classes_t = tuple(tuple(departments[d]) for d in names)
    sizes = np.array([len(c) for c in classes_t], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    class_department = np.repeat(np.arange(len(names), dtype=np.int32), sizes)
    offsets.flags.writeable = False
    class_department.flags.writeable = False
    return ProductHierarchy(
        departments=names,
        classes=classes_t,
        class_department=class_department,
        department_offsets=offsets,
        department_slugs=tuple(slugify(d) for d in names),
        class_slugs=tuple(
            f"{slugify(d)}__{slugify(c)}"
            for d, cs in zip(names, classes_t, strict=True)
            for c in cs
        ),
        source=source,
        department_index=MappingProxyType({d: i for i, d in enumerate(names)}),
    )


_PREFIX = re.compile(r"^\s*department\s*:\s*", re.IGNORECASE)


def parse_hierarchy_text(text: str, *, source: str = "<text>") -> dict[str, list[str]]:
    """Parse pipe-delimited hierarchy text into ``{department: [class, ...]}``.

    Each non-blank line not starting with ``#`` reads ``Department: Name | Class``
    (the ``Department:`` prefix is optional). Whitespace around names is
    stripped, exact duplicate lines are dropped, first-seen order is kept.

    Parameters
    ----------
    text : str
        The export.
    source : str
        File name used in error messages.

    Returns
    -------
    dict of str to list of str

    Raises
    ------
    ConfigError
        Listing every malformed line with its line number.
    """
    result: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    problems: list[Problem] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("|")
        if len(parts) != 2:
            problems.append(
                Problem(
                    source,
                    f"line {number}",
                    f"expected 'Department | Class' with one '|', got {line.strip()!r}",
                )
            )
            continue
        dept = _PREFIX.sub("", parts[0]).strip()
        cls = parts[1].strip()
        if not dept or not cls:
            problems.append(
                Problem(
                    source, f"line {number}", f"empty department or class name in {line.strip()!r}"
                )
            )
            continue
        if (dept, cls) in seen:
            continue
        seen.add((dept, cls))
        result.setdefault(dept, []).append(cls)
    if problems:
        raise ConfigError(problems)
    return result


def format_hierarchy_text(hierarchy: ProductHierarchy) -> str:
    """Return the hierarchy as pipe-delimited text (the inverse of :func:`parse_hierarchy_text`)."""
    lines = [
        f"Department: {d} | {c}"
        for d, classes in zip(hierarchy.departments, hierarchy.classes, strict=True)
        for c in classes
    ]
    return "\n".join(lines) + "\n"


def dump_hierarchy_yaml(departments: Mapping[str, Sequence[str]]) -> str:
    """Return the text of a ``hierarchy_parsed.yml`` for a department -> classes mapping."""
    n_classes = sum(len(c) for c in departments.values())
    header = _HEADER.format(n_departments=len(departments), n_classes=n_classes)
    body = yaml.safe_dump(
        {"schema_version": 1, "departments": {d: list(c) for d, c in departments.items()}},
        sort_keys=False,
        allow_unicode=True,
        width=1000,
    )
    return header + body
