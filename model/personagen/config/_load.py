"""Load and validate personagen's YAML configuration.

``load_config`` reads the three files (hierarchy, personas, segments), checks
each one's structure with the pydantic schemas of :mod:`personagen.config._schema`,
then checks what relates values to each other and to the other files. Every
problem found is collected and raised as one :class:`~personagen.errors.ConfigError`.
Nothing is repaired silently: shares must sum to 1 within ``SUM_TOLERANCE``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from personagen.config._cross_checks import (
    SUM_TOLERANCE,
    check_missions,
    check_persona,
    check_prices,
    check_sum,
    check_timing,
)
from personagen.config._hierarchy import ProductHierarchy, build_hierarchy
from personagen.config._schema import HierarchyFile, PersonasFile, SegmentsFile
from personagen.config._yaml import read_yaml_mapping
from personagen.errors import ConfigError, Problem, close_match_hint

__all__ = [
    "SUM_TOLERANCE",
    "PersonagenConfig",
    "config_from_dict",
    "default_paths",
    "load_config",
    "load_hierarchy",
    "load_personas",
    "load_segments",
]

M = TypeVar("M", bound=BaseModel)


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def default_paths() -> dict[str, Path]:
    """Return the shipped configuration files: the current directory's, else the checkout's.

    Returns
    -------
    dict
        ``{"priors": ..., "hierarchy": ..., "segments": ...}``.
    """
    names = {
        "priors": Path("priors/personas.yml"),
        "hierarchy": Path("hierarchy_parsed.yml"),
        "segments": Path("priors/segments.yml"),
    }
    here = Path.cwd()
    base = here if (here / names["hierarchy"]).is_file() else _repo_root()
    return {key: base / rel for key, rel in names.items()}


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the model reached by following ``loc`` from ``model``."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
        while getattr(current, "__metadata__", None) is not None:  # Annotated[...]
            current = current.__origin__
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _pydantic_problems(file: str, model: type[BaseModel], exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(model, loc[:-1]) or []
            message = f"unknown key {key!r} (allowed: {', '.join(allowed)})"
            message += close_match_hint(key, allowed)
            problems.append(Problem(file, _dotted(loc[:-1]), message))
        elif kind == "missing":
            problems.append(Problem(file, _dotted(loc), "missing required key"))
        elif kind == "literal_error" and loc and loc[-1] == "[key]":
            problems.append(Problem(file, _dotted(loc[:-1]), err["msg"]))
        else:
            msg = err["msg"].removeprefix("Value error, ")
            bad = err.get("input")
            shown = "" if kind == "value_error" else f", got {bad!r}"
            problems.append(Problem(file, _dotted(loc), f"{msg}{shown}"))
    return problems


def _validate(data: Any, model: type[M], file: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(file, model, exc)) from None


def _parse(path: str | Path, model: type[M]) -> M:
    return _validate(read_yaml_mapping(path), model, str(path))


def load_hierarchy(path: str | Path) -> ProductHierarchy:
    """Load and validate a product hierarchy file.

    Parameters
    ----------
    path : str or Path
        A YAML file with ``departments: {Department: [Class, ...]}``.

    Returns
    -------
    ProductHierarchy

    Raises
    ------
    ConfigError
        Listing every problem: missing file, malformed YAML, unknown keys,
        empty departments, duplicate classes, colliding column slugs.
    """
    parsed = _parse(path, HierarchyFile)
    return build_hierarchy(parsed.departments, source=str(path))


def load_segments(path: str | Path) -> SegmentsFile:
    """Load and validate ``segments.yml``.

    Parameters
    ----------
    path : str or Path
        The segments file.

    Returns
    -------
    SegmentsFile

    Raises
    ------
    ConfigError
        Listing every problem, including base shares that do not sum to 1.
    """
    return _checked_segments(_validate_segments(read_yaml_mapping(path), str(path)), str(path))


#: What a segments file of schema version 1 must change (its segments drew recency
#: on their own; since version 2 it comes from the purchase process).
SEGMENTS_V1_HINT = (
    "schema_version 1 segments files are no longer read: recency now comes from the "
    "purchase process. Set schema_version: 2, delete every recency_days key, and move the "
    "churned segment out of segments into dropped_out: {name, description} "
    "(docs/priors.md, 'Segments and the purchase process')"
)


def _validate_segments(data: Any, file: str) -> SegmentsFile:
    if isinstance(data, Mapping) and data.get("schema_version") == 1:
        raise ConfigError([Problem(file, "schema_version", SEGMENTS_V1_HINT)])
    return _validate(data, SegmentsFile, file)


def _checked_segments(parsed: SegmentsFile, file: str) -> SegmentsFile:
    problems = []
    if not parsed.segments:
        problems.append(Problem(file, "segments", "expected at least one segment"))
    else:
        shares = {name: s.base_share for name, s in parsed.segments.items()}
        problems += check_sum(file, "segments", shares, "segment base_share values")
    if parsed.dropped_out.name in parsed.segments:
        problems.append(
            Problem(
                file,
                "dropped_out.name",
                f"{parsed.dropped_out.name!r} is also an engagement segment: the dropped-out "
                "label must differ from every name under segments",
            )
        )
    if problems:
        raise ConfigError(problems)
    return parsed


def load_personas(
    path: str | Path, hierarchy: ProductHierarchy, segments: SegmentsFile
) -> PersonasFile:
    """Load ``personas.yml`` and check it against a hierarchy and segments.

    Parameters
    ----------
    path : str or Path
        The personas file.
    hierarchy : ProductHierarchy
        Every department and class named must exist here.
    segments : SegmentsFile
        Every ``typical_segment`` must be defined here.

    Returns
    -------
    PersonasFile

    Raises
    ------
    ConfigError
        Listing every problem found.
    """
    return _checked_personas(_parse(path, PersonasFile), str(path), hierarchy, segments)


def _checked_personas(
    parsed: PersonasFile, file: str, hierarchy: ProductHierarchy, segments: SegmentsFile
) -> PersonasFile:
    problems: list[Problem] = []
    if not parsed.personas:
        problems.append(Problem(file, "personas", "expected at least one persona"))
    else:
        weights = {name: p.weight for name, p in parsed.personas.items()}
        problems += check_sum(file, "personas", weights, "persona weights")
    population = parsed.population
    for key, names in (
        ("exploration_excludes", population.exploration_excludes),
        ("kids_departments", population.kids_departments),
        ("adult_apparel_departments", population.adult_apparel_departments),
    ):
        for i, dept in enumerate(names):
            if dept not in hierarchy.department_index:
                hint = close_match_hint(dept, hierarchy.departments)
                problems.append(
                    Problem(file, f"population.{key}[{i}]", f"unknown department {dept!r}{hint}")
                )
    problems += check_prices(file, population.prices, hierarchy)
    problems += check_timing(file, population.timing, hierarchy)
    problems += check_missions(file, population.timing, parsed.personas)
    for name, spec in parsed.personas.items():
        problems += check_persona(file, name, spec, hierarchy, segments)
    if problems:
        raise ConfigError(problems)
    return parsed


@dataclass(frozen=True)
class PersonagenConfig:
    """The validated configuration: hierarchy, personas and segments.

    Attributes
    ----------
    hierarchy : ProductHierarchy
    personas : PersonasFile
    segments : SegmentsFile
    sources : tuple of (str, str)
        ``(role, path)`` for each file read.
    """

    hierarchy: ProductHierarchy
    personas: PersonasFile
    segments: SegmentsFile
    sources: tuple[tuple[str, str], ...]

    @property
    def persona_names(self) -> tuple[str, ...]:
        """Persona names in file order (the persona axis of every array)."""
        return tuple(self.personas.personas)

    def to_dict(self) -> dict[str, Any]:
        """Return the resolved configuration (defaults filled in) as plain data."""
        return {
            "hierarchy": {
                "departments": {
                    d: list(self.hierarchy.classes_of(d)) for d in self.hierarchy.departments
                }
            },
            "personas": self.personas.model_dump(mode="json"),
            "segments": self.segments.model_dump(mode="json"),
        }

    def config_hash(self) -> str:
        """Return a SHA-256 of the resolved configuration (independent of file layout)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()


def load_config(
    priors: str | Path | None = None,
    hierarchy: str | Path | None = None,
    segments: str | Path | None = None,
) -> PersonagenConfig:
    """Load and cross-validate the three configuration files.

    Parameters
    ----------
    priors, hierarchy, segments : str or Path, optional
        The personas, hierarchy and segments files; each defaults to the
        shipped one (see :func:`default_paths`).

    Returns
    -------
    PersonagenConfig

    Raises
    ------
    ConfigError
        Listing every problem in every file (hierarchy and segments problems
        are reported together; personas are checked once both are valid).
    """
    defaults = default_paths()
    paths = {
        "priors": Path(priors) if priors is not None else defaults["priors"],
        "hierarchy": Path(hierarchy) if hierarchy is not None else defaults["hierarchy"],
        "segments": Path(segments) if segments is not None else defaults["segments"],
    }
    problems: list[Problem] = []
    loaded: dict[str, Any] = {}
    for role, loader in (("hierarchy", load_hierarchy), ("segments", load_segments)):
        try:
            loaded[role] = loader(paths[role])
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    personas = load_personas(paths["priors"], loaded["hierarchy"], loaded["segments"])
    return PersonagenConfig(
        hierarchy=loaded["hierarchy"],
        personas=personas,
        segments=loaded["segments"],
        sources=tuple((role, str(p)) for role, p in paths.items()),
    )


def config_from_dict(data: Any, *, source: str) -> PersonagenConfig:
    """Rebuild a configuration from :meth:`PersonagenConfig.to_dict` output.

    Every output of personagen records its resolved configuration this way
    (``metadata.json``, the attributes of ``posterior.nc``); this validates it
    exactly as :func:`load_config` validates the YAML files, so
    ``config_from_dict(c.to_dict(), source=...).config_hash() == c.config_hash()``.

    Raises
    ------
    ConfigError
        Naming ``source`` and the bad key, as for a YAML file.
    """
    if not isinstance(data, Mapping) or not {"hierarchy", "personas", "segments"} <= set(data):
        raise ConfigError(
            [Problem(source, "config", "expected a mapping with hierarchy, personas, segments")]
        )
    parsed = _validate(data["hierarchy"], HierarchyFile, f"{source}: config.hierarchy")
    hierarchy = build_hierarchy(parsed.departments, source=f"{source}: config.hierarchy")
    file = f"{source}: config.segments"
    segments = _checked_segments(_validate_segments(data["segments"], file), file)
    file = f"{source}: config.personas"
    personas = _checked_personas(
        _validate(data["personas"], PersonasFile, file), file, hierarchy, segments
    )
    return PersonagenConfig(
        hierarchy=hierarchy, personas=personas, segments=segments, sources=(("recorded", source),)
    )
