"""Persona YAML -> the numeric prior arrays the model reads.

Reading ranges
--------------
Every ``[lo, hi]`` in the YAML is the central 90% interval of a quantity.
For a positive quantity that fixes a lognormal: ``mu = (log lo + log hi) / 2``,
``sigma = (log hi - log lo) / (2 * 1.6449)``. Where the model needs a gamma
(purchase rate, extra units per order: gamma keeps the Poisson counts'
marginal a negative binomial, which inference needs), the gamma has the
lognormal's mean and variance. Return rates use a logit-normal fitted the same
way on the logit scale; the per-order dropout probability is a beta (its
marginal keeps the purchase process's likelihood closed-form) with the mean and
variance of that logit-normal.

Structure and numbers
---------------------
What fixes shapes and index arithmetic (the class -> department index, which
departments carry sizes, the counts) is a hashable :class:`Structure`: a static
argument of every compiled function and the key of its cache. Everything
numeric is a :class:`PriorArrays`, a pure pytree of arrays whose values are
traced arguments, so priors that differ only in value share one compilation.
Both are built once from a validated configuration; nothing here imports JAX.

Axis names: ``personas`` (P), ``segments`` (S), ``departments`` (D),
``classes`` (C, the flat class index of :class:`~personagen.config.ProductHierarchy`),
``sizes`` (5: XS, S, M, L, XL), ``genders`` (2: female, male).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from personagen.config._hierarchy import ProductHierarchy
from personagen.config._load import PersonagenConfig
from personagen.config._schema import SIZE_LABELS, PersonaSpec

__all__ = [
    "GENDER_LABELS",
    "SIZE_KIND_ADULT",
    "SIZE_KIND_KIDS",
    "SIZE_KIND_NONE",
    "Z90",
    "PriorArrays",
    "PriorLeaf",
    "Structure",
    "beta_from_interval",
    "build_prior_arrays",
    "build_structure",
    "interval_to_lognormal",
]

#: Standard normal quantile of 0.95: a central 90% interval spans +-Z90 sigma.
Z90 = 1.6448536269514722
GENDER_LABELS = ("female", "male")
SIZE_KIND_NONE, SIZE_KIND_KIDS, SIZE_KIND_ADULT = 0, 1, 2


def interval_to_lognormal(lo: float, hi: float) -> tuple[float, float]:
    """Return ``(mu, sigma)`` of the lognormal whose central 90% interval is ``[lo, hi]``."""
    mu = 0.5 * (math.log(lo) + math.log(hi))
    sigma = (math.log(hi) - math.log(lo)) / (2 * Z90)
    return mu, sigma


#: Gauss-Hermite nodes used for the logit-normal moments of :func:`beta_from_interval`.
_HERMITE_NODES = 64


def beta_from_interval(lo: float, hi: float) -> tuple[float, float]:
    """Return ``(logit mean, a + b)`` of the beta with the moments of a logit-normal.

    The logit-normal is the one whose central 90% interval is ``[lo, hi]``; its mean
    and variance are computed by Gauss-Hermite quadrature, and the beta with the same
    two moments is returned as the logit of its mean and its concentration ``a + b``.
    """
    mu = 0.5 * (_logit(lo) + _logit(hi))
    sigma = (_logit(hi) - _logit(lo)) / (2 * Z90)
    nodes, weights = np.polynomial.hermite_e.hermegauss(_HERMITE_NODES)
    weights = weights / weights.sum()
    p = 1.0 / (1.0 + np.exp(-(mu + sigma * nodes)))
    mean = float(weights @ p)
    var = float(weights @ p**2) - mean**2
    return _logit(mean), mean * (1 - mean) / var - 1.0


@dataclass(frozen=True)
class Structure:
    """The static shape of the model: hashable, a jit static argument and a cache key.

    Attributes
    ----------
    class_department : tuple of int, length C
        Department index of each flat class (sorted: classes are grouped by department).
    department_size_kind : tuple of int, length D
        ``SIZE_KIND_NONE`` (0), ``SIZE_KIND_KIDS`` (1, baby and child sizes) or
        ``SIZE_KIND_ADULT`` (2, XS-XL) per department.
    n_personas : int
        P, the persona axis of every persona-level prior.
    n_segments : int
        S, the engagement segments (the segment axis of every segment-level prior);
        ``true_segment`` has one more label, the dropped-out one.
    """

    class_department: tuple[int, ...]
    department_size_kind: tuple[int, ...]
    n_personas: int
    n_segments: int

    @property
    def n_classes(self) -> int:
        """C, the number of flat classes."""
        return len(self.class_department)

    @property
    def n_departments(self) -> int:
        """D, the number of departments."""
        return len(self.department_size_kind)

    @property
    def class_index(self) -> np.ndarray:
        """``class_department`` as a read-only int32 array (concrete under jit)."""
        out = np.asarray(self.class_department, dtype=np.int32)
        out.flags.writeable = False
        return out

    @property
    def size_kind(self) -> np.ndarray:
        """``department_size_kind`` as a read-only int32 array."""
        out = np.asarray(self.department_size_kind, dtype=np.int32)
        out.flags.writeable = False
        return out


def build_structure(config: PersonagenConfig) -> Structure:
    """Return the static structure of a validated configuration.

    Parameters
    ----------
    config : PersonagenConfig
        Validated configuration.

    Returns
    -------
    Structure
    """
    h = config.hierarchy
    size_kind = [SIZE_KIND_NONE] * h.n_departments
    for dept in config.personas.population.kids_departments:
        size_kind[h.department_index[dept]] = SIZE_KIND_KIDS
    for dept in config.personas.population.adult_apparel_departments:
        size_kind[h.department_index[dept]] = SIZE_KIND_ADULT
    return Structure(
        class_department=tuple(int(d) for d in h.class_department),
        department_size_kind=tuple(size_kind),
        n_personas=len(config.personas.personas),
        n_segments=len(config.segments.segments),
    )


def _share(shares: Mapping[Any, float], name: str) -> float:
    """Return ``shares[name]``, 0 where the YAML leaves it out."""
    return float(shares.get(name, 0.0))


def _logit(x: float) -> float:
    return math.log(x / (1 - x))


#: A leaf of :class:`PriorArrays`: a NumPy array as built here, a JAX array (or a
#: tracer) once moved to the device or traced; both behave as arrays everywhere.
PriorLeaf = Any


class PriorArrays(NamedTuple):
    """Numeric priors, one array per quantity (float32 unless stated).

    Persona level: ``weights`` (P,), ``weight_concentration`` (), ``department_probs``
    (P, D), ``class_probs`` (P, C) (sum to 1 within each department),
    ``profile_concentration`` (), ``location_sd`` (), ``customer_concentration`` (P,),
    ``concentration_spread`` (P,) (log-scale sd of a customer's concentration around it),
    ``log_order_value_loc`` (P,), ``log_order_value_sd_customer`` (P,),
    ``log_order_value_sd_order`` (P,), ``log_rate_loc`` (P,), ``log_rate_sd`` (P,),
    ``log_extra_units_loc`` (P,), ``log_extra_units_sd`` (P,), ``logit_dropout_loc`` (P,)
    and ``dropout_concentration`` (P,) (the per-order dropout probability is
    ``Beta(m kappa, (1 - m) kappa)`` with ``m = sigmoid(logit_dropout_loc)``),
    ``segment_probs`` (P, S), ``baby_share`` (P,), ``adult_size_probs`` (P, 5),
    ``gender_probs`` (P, 2), ``age_range`` (P, 2) int32.
    Segment level (engagement segments): ``log_lifetime_loc``/``_sd`` (S,),
    ``log_multiplier_loc``/``_sd`` (S,), ``logit_return_loc``/``_sd`` (S,).
    Prices: ``department_log_price`` (D,) (log of the typical unit price),
    ``persona_log_price`` (P, D) (log of each persona's multiplier, 0 where the YAML
    gives none), ``class_log_price`` (C,) (log of a class's price over its
    department's) and ``price_concentration`` ().

    The hierarchy's indices are not here: they are :class:`Structure`.
    """

    weights: PriorLeaf
    weight_concentration: PriorLeaf
    department_probs: PriorLeaf
    class_probs: PriorLeaf
    profile_concentration: PriorLeaf
    location_sd: PriorLeaf
    customer_concentration: PriorLeaf
    concentration_spread: PriorLeaf
    log_order_value_loc: PriorLeaf
    log_order_value_sd_customer: PriorLeaf
    log_order_value_sd_order: PriorLeaf
    log_rate_loc: PriorLeaf
    log_rate_sd: PriorLeaf
    log_extra_units_loc: PriorLeaf
    log_extra_units_sd: PriorLeaf
    logit_dropout_loc: PriorLeaf
    dropout_concentration: PriorLeaf
    segment_probs: PriorLeaf
    baby_share: PriorLeaf
    adult_size_probs: PriorLeaf
    gender_probs: PriorLeaf
    age_range: PriorLeaf
    log_lifetime_loc: PriorLeaf
    log_lifetime_sd: PriorLeaf
    log_multiplier_loc: PriorLeaf
    log_multiplier_sd: PriorLeaf
    logit_return_loc: PriorLeaf
    logit_return_sd: PriorLeaf
    department_log_price: PriorLeaf
    persona_log_price: PriorLeaf
    class_log_price: PriorLeaf
    price_concentration: PriorLeaf

    @property
    def n_personas(self) -> int:
        """Number of personas."""
        return int(self.weights.shape[0])


def _department_probs(spec: PersonaSpec, config: PersonagenConfig) -> np.ndarray:
    h = config.hierarchy
    prefs = np.zeros(h.n_departments)
    for dept, share in spec.department_preferences.items():
        prefs[h.department_index[dept]] = share
    excluded = {h.department_index[d] for d in config.personas.population.exploration_excludes}
    explore = np.array([prefs[d] == 0 and d not in excluded for d in range(h.n_departments)])
    eps = spec.knobs.department_exploration
    if not explore.any() or eps == 0:
        return prefs
    return (1 - eps) * prefs + eps * explore / explore.sum()


def _class_probs(spec: PersonaSpec, config: PersonagenConfig) -> np.ndarray:
    h = config.hierarchy
    probs = np.zeros(h.n_classes)
    share = spec.knobs.preferred_class_share
    for d, dept in enumerate(h.departments):
        lo, hi = int(h.department_offsets[d]), int(h.department_offsets[d + 1])
        within = np.full(hi - lo, 1.0 / (hi - lo))
        preferred = spec.class_preferences.get(dept, [])
        if preferred:
            mask = np.zeros(hi - lo)
            for cls in preferred:
                mask[h.classes[d].index(cls)] = 1.0
            within = share * mask / mask.sum() + (1 - share) * within
        probs[lo:hi] = within
    return probs


def _segment_probs(spec: PersonaSpec, config: PersonagenConfig) -> np.ndarray:
    names = list(config.segments.segments)
    base = np.array([s.base_share for s in config.segments.segments.values()])
    typical = names.index(spec.spending_profile.typical_segment)
    others = base.copy()
    others[typical] = 0.0
    share = spec.knobs.typical_segment_share
    probs = others / others.sum() * (1 - share) if others.sum() > 0 else np.zeros_like(base)
    probs[typical] = share if others.sum() > 0 else 1.0
    return probs


#: Smallest prior probability of a department or class: Dirichlet parameters must
#: be positive, so an excluded department keeps a negligible mass (1e-6).
PROB_FLOOR = 1e-6


def _floor(probs: np.ndarray, hierarchy: ProductHierarchy | None) -> np.ndarray:
    """Floor probabilities at PROB_FLOOR and renormalise (within departments for classes)."""
    probs = np.maximum(probs, PROB_FLOOR)
    if hierarchy is None:
        probs = probs / probs.sum(axis=-1, keepdims=True)
    else:
        totals = np.stack([np.bincount(hierarchy.class_department, weights=row) for row in probs])
        probs = probs / totals[:, hierarchy.class_department]
    return probs.astype(np.float32)


def _segment_arrays(config: PersonagenConfig) -> dict[str, np.ndarray]:
    """Return the segment-level fields of :class:`PriorArrays` (each shape (S,))."""
    segments = list(config.segments.segments.values())
    f32 = np.float32
    out = {}
    for name, ranges in (
        ("lifetime", [s.lifetime_months for s in segments]),
        ("multiplier", [s.frequency_multiplier for s in segments]),
    ):
        loc_sd = np.array([interval_to_lognormal(*r) for r in ranges])
        out[f"log_{name}_loc"] = loc_sd[:, 0].astype(f32)
        out[f"log_{name}_sd"] = loc_sd[:, 1].astype(f32)
    logit = np.array([(_logit(s.return_rate[0]), _logit(s.return_rate[1])) for s in segments])
    out["logit_return_loc"] = (0.5 * (logit[:, 0] + logit[:, 1])).astype(f32)
    out["logit_return_sd"] = ((logit[:, 1] - logit[:, 0]) / (2 * Z90)).astype(f32)
    return out


def _spending_arrays(personas: list[PersonaSpec]) -> dict[str, np.ndarray]:
    """Return the order value, rate and basket fields of :class:`PriorArrays` (each (P,))."""
    f32 = np.float32
    aov = np.array([interval_to_lognormal(*p.spending_profile.avg_order_value) for p in personas])
    share_c = np.array([p.knobs.between_customer_value_share for p in personas], dtype=f32)
    rate = np.array(
        [interval_to_lognormal(*p.spending_profile.frequency_per_month) for p in personas]
    )
    extra = np.array(
        [
            interval_to_lognormal(
                max(p.knobs.basket_size[0] - 1, 0.05), max(p.knobs.basket_size[1] - 1, 0.1)
            )
            for p in personas
        ]
    )
    dropout = np.array([beta_from_interval(*p.knobs.dropout_probability) for p in personas])
    return {
        "log_order_value_loc": aov[:, 0].astype(f32),
        "log_order_value_sd_customer": (aov[:, 1] * np.sqrt(share_c)).astype(f32),
        "log_order_value_sd_order": (aov[:, 1] * np.sqrt(1 - share_c)).astype(f32),
        "log_rate_loc": rate[:, 0].astype(f32),
        "log_rate_sd": rate[:, 1].astype(f32),
        "log_extra_units_loc": extra[:, 0].astype(f32),
        "log_extra_units_sd": extra[:, 1].astype(f32),
        "logit_dropout_loc": dropout[:, 0].astype(f32),
        "dropout_concentration": dropout[:, 1].astype(f32),
    }


def _price_arrays(config: PersonagenConfig) -> dict[str, np.ndarray]:
    """Return the price fields of :class:`PriorArrays` (logs of the YAML's prices)."""
    h = config.hierarchy
    prices = config.personas.population.prices
    dept = np.array([prices.departments.get(d, prices.default) for d in h.departments])
    within = np.zeros(h.n_classes)
    for dept_name, classes in prices.classes.items():
        d = h.department_index[dept_name]
        for cls, price in classes.items():
            within[int(h.department_offsets[d]) + h.classes[d].index(cls)] = np.log(price / dept[d])
    persona = np.array(
        [
            [np.log(p.knobs.price_levels.get(d, 1.0)) for d in h.departments]
            for p in config.personas.personas.values()
        ]
    )
    return {
        "department_log_price": np.log(dept).astype(np.float32),
        "persona_log_price": persona.astype(np.float32),
        "class_log_price": within.astype(np.float32),
        "price_concentration": np.asarray(prices.concentration, dtype=np.float32),
    }


def build_prior_arrays(config: PersonagenConfig) -> PriorArrays:
    """Turn a validated configuration into the model's numeric priors.

    Parameters
    ----------
    config : PersonagenConfig
        Validated configuration.

    Returns
    -------
    PriorArrays
        See the class docstring for every array's shape and meaning.
    """
    personas = list(config.personas.personas.values())
    h = config.hierarchy
    f32 = np.float32

    def per_persona(fn: Callable[[PersonaSpec], float]) -> np.ndarray:
        return np.array([fn(p) for p in personas], dtype=f32)

    population = config.personas.population
    return PriorArrays(
        weights=per_persona(lambda p: p.weight),
        weight_concentration=np.asarray(population.weight_concentration, dtype=f32),
        department_probs=_floor(np.stack([_department_probs(p, config) for p in personas]), None),
        class_probs=_floor(np.stack([_class_probs(p, config) for p in personas]), h),
        profile_concentration=np.asarray(population.profile_concentration, dtype=f32),
        location_sd=np.asarray(population.location_sd, dtype=f32),
        customer_concentration=per_persona(lambda p: p.knobs.customer_concentration),
        concentration_spread=per_persona(lambda p: p.knobs.customer_concentration_sd),
        segment_probs=np.stack([_segment_probs(p, config) for p in personas]).astype(f32),
        baby_share=per_persona(lambda p: p.knobs.baby_share),
        adult_size_probs=np.array(
            [[_share(p.knobs.adult_sizes, s) for s in SIZE_LABELS] for p in personas],
            dtype=f32,
        ),
        gender_probs=np.array(
            [[_share(p.demographics.gender, g) for g in GENDER_LABELS] for p in personas],
            dtype=f32,
        ),
        age_range=np.array([p.demographics.age_range for p in personas], dtype=np.int32),
        **_spending_arrays(personas),
        **_segment_arrays(config),
        **_price_arrays(config),
    )
