"""The store's calendar as arrays: what the transactions' time and basket draws need.

Built from ``population.timing`` and each persona's ``knobs.timing`` (unset persona
keys take the store's). Plain NumPy: the line items are expanded on the host
(:mod:`personagen.sample._baskets`), and nothing here enters the JAX model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from pydantic import ValidationError

from personagen.config._cross_checks import check_missions, check_timing
from personagen.config._load import PersonagenConfig
from personagen.config._schema import DAY_NAMES, TimingSpec
from personagen.errors import ConfigError, Problem

__all__ = ["TimingArrays", "build_timing", "with_timing"]


@dataclass(frozen=True)
class TimingArrays:
    """Calendar and basket parameters of a configuration (D departments, P personas).

    Attributes
    ----------
    seasonality : ndarray, shape (D, 12)
        Monthly intensity of each department, Jan..Dec, scaled to mean 1.
    day_of_week : ndarray, shape (P, 7)
        Each persona's shares of orders by weekday, Mon..Sun.
    hour_of_day : ndarray, shape (P, 24)
        Each persona's shares of orders by local hour.
    order_mix_sd : ndarray, shape (P,)
        Log-scale sd of an order's department mix around the customer's.
    basket_size_sd : float
        Log-scale sd of an order's size factor (common to its departments).
    line_price_sd : float
        Log-scale sd of a line's unit price around the customer's class average.
    time_zone : str
        IANA name of the local time of the timestamps.
    mission_departments : ndarray of bool, shape (M, D)
        The departments of each shopping mission (M may be 0).
    mission_months : ndarray of bool, shape (M, 12)
        The months (Jan..Dec) each mission happens in.
    mission_focus : ndarray, shape (M,)
        How much more a mission order weighs its departments (and less the others).
    mission_share : ndarray, shape (P, M)
        Each persona's share of its orders, in a mission's months, that are that mission.
    """

    seasonality: np.ndarray
    day_of_week: np.ndarray
    hour_of_day: np.ndarray
    order_mix_sd: np.ndarray
    basket_size_sd: float
    line_price_sd: float
    time_zone: str
    mission_departments: np.ndarray
    mission_months: np.ndarray
    mission_focus: np.ndarray
    mission_share: np.ndarray


def _normalised(rows: np.ndarray) -> np.ndarray:
    return rows / rows.sum(axis=-1, keepdims=True)


def build_timing(config: PersonagenConfig) -> TimingArrays:
    """Return the :class:`TimingArrays` of a validated configuration."""
    store = config.personas.population.timing
    departments = config.hierarchy.departments
    seasonality = np.ones((len(departments), 12))
    for dept, months in store.seasonality.items():
        row = np.asarray(months, np.float64)
        seasonality[departments.index(dept)] = row / row.mean()
    weeks, hours, mix = [], [], []
    for spec in config.personas.personas.values():
        own = spec.knobs.timing
        week = own.day_of_week if own.day_of_week is not None else store.day_of_week
        weeks.append([week[d] for d in DAY_NAMES])
        hours.append(own.hour_of_day if own.hour_of_day is not None else store.hour_of_day)
        mix.append(own.order_mix_sd if own.order_mix_sd is not None else store.order_mix_sd)
    missions = list(store.missions.values())
    mission_departments = np.zeros((len(missions), len(departments)), bool)
    mission_months = np.zeros((len(missions), 12), bool)
    for m, mission in enumerate(missions):
        mission_departments[m, [departments.index(d) for d in mission.departments]] = True
        mission_months[m, [month - 1 for month in mission.months]] = True
    names = list(store.missions)
    mission_share = np.array(
        [
            [spec.knobs.timing.missions.get(name, 0.0) for name in names]
            for spec in config.personas.personas.values()
        ],
        np.float64,
    ).reshape(len(config.personas.personas), len(names))
    return TimingArrays(
        seasonality=seasonality,
        day_of_week=_normalised(np.asarray(weeks, np.float64)),
        hour_of_day=_normalised(np.asarray(hours, np.float64)),
        order_mix_sd=np.asarray(mix, np.float64),
        basket_size_sd=float(store.basket_size_sd),
        line_price_sd=float(store.line_price_sd),
        time_zone=store.time_zone,
        mission_departments=mission_departments,
        mission_months=mission_months,
        mission_focus=np.array([m.focus for m in missions], np.float64),
        mission_share=mission_share,
    )


def with_timing(
    config: PersonagenConfig, timing: TimingSpec, source: str = "<timing>"
) -> PersonagenConfig:
    """Return ``config`` with ``population.timing`` replaced by ``timing``.

    For a calendar estimated from data (:func:`personagen.data.estimate_timing`);
    the personas' own ``knobs.timing`` still take precedence, and the configuration's
    shopping missions are kept (those ``timing`` defines replace theirs by name): an
    estimate does not estimate missions. The new block gets the
    same cross-checks as a personas file (known departments, a known time zone), and
    ``source`` is recorded in ``config.sources`` (role ``timing``), so the run's
    metadata say where the calendar came from; the configuration hash changes.

    Raises
    ------
    ConfigError
        An invalid profile (not summing to 1, 11 months...), a seasonal or mission
        department not in the hierarchy (with a close match), an unknown time zone, a
        persona's unknown mission or mission shares of a month above 1.
    """
    missions = {**config.personas.population.timing.missions, **timing.missions}
    try:  # a spec edited with model_copy skipped its own validation
        timing = TimingSpec.model_validate({**timing.model_dump(), "missions": missions})
    except ValidationError as exc:
        raise ConfigError(
            [Problem(source, ".".join(map(str, e["loc"])), e["msg"]) for e in exc.errors()]
        ) from None
    problems = check_timing(source, timing, config.hierarchy)
    problems += check_missions(source, timing, config.personas.personas)
    if problems:
        raise ConfigError(problems)
    population = config.personas.population.model_copy(update={"timing": timing})
    personas = config.personas.model_copy(update={"population": population})
    return dataclasses.replace(
        config, personas=personas, sources=(*config.sources, ("timing", source))
    )
