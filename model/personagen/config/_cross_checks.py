"""Checks that relate a personas file's values to each other and to the hierarchy.

Structure and single values are the pydantic schemas' (:mod:`._schema`); these checks
return :class:`~personagen.errors.Problem` lists that :mod:`._load` collects into one
:class:`~personagen.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from personagen.config._hierarchy import ProductHierarchy
from personagen.config._schema import SegmentsFile
from personagen.errors import Problem, close_match_hint

__all__ = [
    "SUM_TOLERANCE",
    "check_missions",
    "check_persona",
    "check_prices",
    "check_sum",
    "check_timing",
    "unknown_department",
]

#: Shares that must sum to one may be off by at most this much.
SUM_TOLERANCE = 1e-6


def unknown_department(
    file: str, path: str, dept: str, hierarchy: ProductHierarchy
) -> list[Problem]:
    """One problem (with a close match) if ``dept`` is not in the hierarchy, else none."""
    if dept in hierarchy.department_index:
        return []
    hint = close_match_hint(dept, list(hierarchy.departments))
    return [Problem(file, path, f"unknown department{hint}")]


def _unknown_classes(
    file: str, path: str, dept: str, keyed: Any, hierarchy: ProductHierarchy, suffix: str
) -> list[Problem]:
    """Problems for an unknown department, else for each unknown class of ``(key, class)``."""
    if dept not in hierarchy.department_index:
        return unknown_department(file, path, dept, hierarchy)
    known = hierarchy.classes_of(dept)
    return [
        Problem(
            file,
            path + suffix.format(key),
            f"unknown class {cls!r} in {dept!r}{close_match_hint(cls, known)}",
        )
        for key, cls in keyed
        if cls not in known
    ]


def check_sum(file: str, path: str, shares: Mapping[str, float], what: str) -> list[Problem]:
    total = sum(shares.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        return [
            Problem(file, path, f"{what} must sum to 1 (within {SUM_TOLERANCE:g}), got {total:.6g}")
        ]
    return []


def check_persona(
    file: str, name: str, spec: Any, hierarchy: ProductHierarchy, segments: SegmentsFile
) -> list[Problem]:
    where = f"personas.{name}"
    problems = check_sum(
        file, f"{where}.department_preferences", spec.department_preferences, "department shares"
    )
    for dept in spec.department_preferences:
        path = f"{where}.department_preferences.{dept}"
        problems += unknown_department(file, path, dept, hierarchy)
    for dept, classes in spec.class_preferences.items():
        path = f"{where}.class_preferences.{dept}"
        problems += _unknown_classes(file, path, dept, enumerate(classes), hierarchy, "[{}]")
    for dept in spec.knobs.price_levels:
        path = f"{where}.knobs.price_levels.{dept}"
        problems += unknown_department(file, path, dept, hierarchy)
    problems += check_sum(
        file, f"{where}.demographics.gender", spec.demographics.gender, "gender shares"
    )
    problems += check_sum(file, f"{where}.knobs.adult_sizes", spec.knobs.adult_sizes, "size shares")
    seg = spec.spending_profile.typical_segment
    if seg == segments.dropped_out.name:
        problems.append(
            Problem(
                file,
                f"{where}.spending_profile.typical_segment",
                f"{seg!r} is the dropped-out label, not an engagement segment (a customer "
                "drops out through the purchase process); expected one of "
                f"{', '.join(segments.segments)}",
            )
        )
    elif seg not in segments.segments:
        allowed = list(segments.segments)
        hint = close_match_hint(seg, allowed)
        problems.append(
            Problem(
                file,
                f"{where}.spending_profile.typical_segment",
                f"unknown segment {seg!r} (defined in segments file: {', '.join(allowed)}){hint}",
            )
        )
    return problems


def check_prices(file: str, prices: Any, hierarchy: ProductHierarchy) -> list[Problem]:
    """Every department and class of ``population.prices`` must exist in the hierarchy."""
    problems = []
    for dept in prices.departments:
        path = f"population.prices.departments.{dept}"
        problems += unknown_department(file, path, dept, hierarchy)
    for dept, classes in prices.classes.items():
        path = f"population.prices.classes.{dept}"
        keyed = ((cls, cls) for cls in classes)
        problems += _unknown_classes(file, path, dept, keyed, hierarchy, ".{}")
    return problems


def check_missions(file: str, timing: Any, personas: Mapping[str, Any]) -> list[Problem]:
    """Check each persona's ``knobs.timing.missions``.

    Every name must be a mission of ``population.timing``, and the shares of the
    missions of any one month must sum to at most 1.
    """
    problems = []
    known = list(timing.missions)
    for name, spec in personas.items():
        shares = spec.knobs.timing.missions
        for month in range(1, 13):
            active = {
                m: v for m, v in shares.items() if m in known and month in timing.missions[m].months
            }
            if sum(active.values()) > 1.0 + SUM_TOLERANCE:
                listed = ", ".join(f"{m} {v:g}" for m, v in active.items())
                problems.append(
                    Problem(
                        file,
                        f"personas.{name}.knobs.timing.missions",
                        f"shares of the missions of month {month} sum to "
                        f"{sum(active.values()):.4g} ({listed}); expected at most 1",
                    )
                )
                break
        for mission in shares:
            if mission not in timing.missions:
                hint = close_match_hint(mission, known) or (
                    f"; known missions: {', '.join(known)}" if known else "; none is defined"
                )
                problems.append(
                    Problem(
                        file,
                        f"personas.{name}.knobs.timing.missions.{mission}",
                        f"unknown mission{hint} (define it under population.timing.missions)",
                    )
                )
    return problems


def check_timing(file: str, timing: Any, hierarchy: ProductHierarchy) -> list[Problem]:
    """``population.timing``: known departments, a known time zone."""
    import zoneinfo

    problems = []
    for dept in timing.seasonality:
        path = f"population.timing.seasonality.{dept}"
        problems += unknown_department(file, path, dept, hierarchy)
    for name, mission in timing.missions.items():
        for i, dept in enumerate(mission.departments):
            path = f"population.timing.missions.{name}.departments[{i}]"
            problems += unknown_department(file, path, dept, hierarchy)
    try:
        zoneinfo.ZoneInfo(timing.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(
            Problem(
                file,
                "population.timing.time_zone",
                f"unknown time zone {timing.time_zone!r}: expected an IANA name such as "
                "'America/New_York' or 'Europe/London'",
            )
        )
    return problems
