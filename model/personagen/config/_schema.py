"""Typed, frozen schemas of the YAML configuration files (pydantic v2).

These classes check structure and types: required keys, unknown keys, value
types and ranges of single values. Checks that relate values to each other or
to other files (sums, names that must exist in the hierarchy) live in
:mod:`personagen.config`. YAML keys equal the field names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "Demographics",
    "DroppedOutSpec",
    "HierarchyFile",
    "PersonaKnobs",
    "PersonaSpec",
    "PersonasFile",
    "PopulationSpec",
    "PriceLevels",
    "SegmentSpec",
    "SegmentsFile",
    "SpendingProfile",
    "TimingKnobs",
    "TimingSpec",
]

SizeLabel = Literal["XS", "S", "M", "L", "XL"]
DayName = Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DAY_NAMES: tuple[DayName, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Tolerance of a profile's sum (written with a few decimals in YAML).
PROFILE_SUM_TOLERANCE = 1e-3
SIZE_LABELS: tuple[SizeLabel, ...] = ("XS", "S", "M", "L", "XL")
GENDERS = ("female", "male")


def _default_sizes() -> dict[SizeLabel, float]:
    return {"XS": 0.08, "S": 0.22, "M": 0.34, "L": 0.24, "XL": 0.12}


def _check_age_range(value: tuple[float, float]) -> tuple[float, float]:
    lo, hi = value
    if lo <= 0 or hi <= 0:
        raise ValueError(
            f"expected [lo, hi] with 0 < lo <= hi, got [{lo:g}, {hi:g}] (non-positive)"
        )
    if lo > hi:
        raise ValueError(f"expected [lo, hi] with 0 < lo <= hi, got [{lo:g}, {hi:g}] (lo > hi)")
    return value


def _check_range(value: tuple[float, float]) -> tuple[float, float]:
    # a 90% interval of width zero would be a lognormal or gamma of zero spread (NaN draws)
    lo, hi = value
    if lo <= 0 or hi <= 0:
        raise ValueError(f"expected [lo, hi] with 0 < lo < hi, got [{lo:g}, {hi:g}] (non-positive)")
    if lo >= hi:
        raise ValueError(
            f"expected [lo, hi] with 0 < lo < hi (a 90% interval), got [{lo:g}, {hi:g}]"
        )
    return value


def _check_fraction_range(value: tuple[float, float]) -> tuple[float, float]:
    _check_range(value)
    if value[1] >= 1:
        raise ValueError(f"expected a range inside (0, 1), got [{value[0]:g}, {value[1]:g}]")
    return value


def _gender_mapping(value: object) -> object:
    # ``gender: Female`` (the seed's form) means ``{female: 1.0}``.
    if isinstance(value, str) and value.lower() in GENDERS:
        return {value.lower(): 1.0}
    return value


def _check_profile(value: dict[str, float] | list[float], length: int) -> None:
    values = list(value.values()) if isinstance(value, dict) else list(value)
    if len(values) != length:
        raise ValueError(f"expected {length} shares, got {len(values)}")
    if any(v < 0 for v in values):
        raise ValueError(f"expected shares >= 0, got {min(values):g}")
    total = sum(values)
    if abs(total - 1.0) > PROFILE_SUM_TOLERANCE:
        raise ValueError(f"expected shares summing to 1, got a sum of {total:.4f}")


def _check_week(value: dict[str, float]) -> dict[str, float]:
    missing = [d for d in DAY_NAMES if d not in value]
    if missing:
        raise ValueError(f"expected a share for every day Mon..Sun, missing {', '.join(missing)}")
    _check_profile(value, 7)
    return value


def _check_day(value: list[float]) -> list[float]:
    _check_profile(value, 24)
    return value


def _check_months(value: list[float]) -> list[float]:
    if len(value) != 12:
        raise ValueError(f"expected 12 monthly intensities (Jan..Dec), got {len(value)}")
    if any(v < 0 for v in value):
        raise ValueError(f"expected intensities >= 0, got {min(value):g}")
    if not any(v > 0 for v in value):
        raise ValueError("expected at least one month with a positive intensity, got all 0")
    return value


def _default_week() -> dict[DayName, float]:
    return {
        "Mon": 0.13,
        "Tue": 0.13,
        "Wed": 0.13,
        "Thu": 0.14,
        "Fri": 0.15,
        "Sat": 0.17,
        "Sun": 0.15,
    }


#: Store hours of a high-street and online shop: quiet nights, a lunch peak, an evening peak.
_DEFAULT_HOURS = (
    0.0065, 0.0033, 0.0016, 0.0011, 0.0011, 0.0016, 0.0054, 0.0131,
    0.0261, 0.0392, 0.0522, 0.0609, 0.0696, 0.0674, 0.0620, 0.0598,
    0.0609, 0.0653, 0.0740, 0.0848, 0.0881, 0.0740, 0.0489, 0.0331,
)  # fmt: skip


def _default_hours() -> list[float]:
    return list(_DEFAULT_HOURS)


#: ``[lo, hi]``, read as the central 90% interval of a positive quantity (lo < hi).
Range = Annotated[tuple[float, float], AfterValidator(_check_range)]
#: ``[lo, hi]`` of ages, drawn uniformly (a single age is allowed).
AgeRange = Annotated[tuple[float, float], AfterValidator(_check_age_range)]
#: ``[lo, hi]`` of a rate inside (0, 1), read as a central 90% interval.
FractionRange = Annotated[tuple[float, float], AfterValidator(_check_fraction_range)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
#: Shares of the days of the week, Mon..Sun, summing to 1.
WeekProfile = Annotated[dict[DayName, Share], AfterValidator(_check_week)]
#: Shares of the 24 hours of the day (0 = midnight to 1 am), summing to 1.
DayProfile = Annotated[list[Share], AfterValidator(_check_day)]
#: Twelve monthly intensities, Jan..Dec (relative: only ratios matter).
MonthlyIntensity = Annotated[list[NonNegative], AfterValidator(_check_months)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HierarchyFile(_Frozen):
    """``hierarchy_parsed.yml``: departments mapped to their classes, in order."""

    schema_version: Literal[1] = 1
    departments: dict[str, list[str]]


class Demographics(_Frozen):
    """Who the persona is; drives the fake profile of each customer."""

    age_range: AgeRange
    gender: Annotated[dict[Literal["female", "male"], Share], BeforeValidator(_gender_mapping)]
    has_children: bool
    lifestyle: str


class SpendingProfile(_Frozen):
    """Spending ranges, each read as a central 90% interval."""

    avg_order_value: Range
    frequency_per_month: Range
    typical_segment: str


def _check_distinct(value: list[Any]) -> list[Any]:
    if len(set(value)) != len(value):
        raise ValueError(f"expected each entry once, got {value}")
    return value


def _check_mission_months(value: list[int]) -> list[int]:
    if not value:
        raise ValueError("expected at least one month (1 = January ... 12 = December)")
    return _check_distinct(value)


class MissionSpec(_Frozen):
    """A shopping mission: a trip for a few departments in some months (a school-uniform trip).

    In a mission order the mission's departments weigh ``focus`` times more and the
    others ``focus`` times less than in an ordinary order (docs/transactions.md).
    """

    departments: Annotated[list[str], AfterValidator(_check_distinct)] = Field(min_length=1)
    months: Annotated[
        list[Annotated[int, Field(ge=1, le=12)]], AfterValidator(_check_mission_months)
    ] = Field(default_factory=lambda: list(range(1, 13)))
    focus: Annotated[float, Field(ge=1.0)] = 10.0
    note: str = ""


#: Each mission's share of a persona's orders in the mission's months (the shares of
#: the missions of one month sum to at most 1: a cross-check, it needs the months).
MissionShares = dict[str, Share]


class TimingKnobs(_Frozen):
    """When one persona shops and how its baskets vary; unset keys take the store's.

    ``missions`` gives the share of the persona's orders (in each mission's months) that
    are that mission of ``population.timing.missions``. See ``docs/transactions.md``.
    """

    day_of_week: WeekProfile | None = None
    hour_of_day: DayProfile | None = None
    order_mix_sd: NonNegative | None = None
    missions: MissionShares = Field(default_factory=dict)
    note: str = ""


class PersonaKnobs(_Frozen):
    """Model knobs of one persona; every field has a documented default.

    See ``docs/priors.md`` for what each knob does and why its default.
    """

    customer_concentration: Positive = 50.0
    customer_concentration_sd: NonNegative = 0.0
    preferred_class_share: Share = 0.8
    department_exploration: Share = 0.02
    basket_size: Range = (1.5, 6.0)
    between_customer_value_share: Share = 0.5
    typical_segment_share: Share = 0.6
    dropout_probability: FractionRange = (0.001, 0.03)
    baby_share: Share = 0.2
    adult_sizes: dict[SizeLabel, Share] = Field(default_factory=_default_sizes)
    price_levels: dict[str, Positive] = Field(default_factory=dict)
    timing: TimingKnobs = Field(default_factory=TimingKnobs)
    note: str = ""


class PersonaSpec(_Frozen):
    """One persona as written in ``priors/personas.yml``."""

    weight: Annotated[float, Field(gt=0.0, le=1.0)]
    description: str
    demographics: Demographics
    department_preferences: dict[str, Share]
    class_preferences: dict[str, list[str]] = Field(default_factory=dict)
    spending_profile: SpendingProfile
    knobs: PersonaKnobs = Field(default_factory=PersonaKnobs)
    note: str


class PriceLevels(_Frozen):
    """Typical unit prices (currency units) of departments and classes.

    They decide how a customer's spend splits over what it bought (value follows units
    times price); the customer's total still comes from its order values, so only
    ratios of prices matter. Departments not listed cost ``default``; classes not
    listed cost their department's price. ``concentration`` is how tightly a
    customer's spend shares follow units times prices (docs/model.md).
    """

    default: Positive = 10.0
    departments: dict[str, Positive] = Field(default_factory=dict)
    classes: dict[str, dict[str, Positive]] = Field(default_factory=dict)
    concentration: Positive = 2.0
    note: str = ""


class TimingSpec(_Frozen):
    """The store's calendar: seasonality, week and day profiles, basket and line-price spread.

    Only the transactions use it (``personagen sample --transactions``); the customer
    tables do not depend on it. Timestamps are local store times in ``time_zone``
    (written without an offset). Departments not in ``seasonality`` are flat all year.
    ``order_mix_sd`` is the log-scale sd of an order's department mix around the
    customer's (larger: orders more focused on a few departments), ``basket_size_sd``
    that of an order's size around the customer's typical order (larger: big baskets
    that span many departments next to small ones, a higher lift of department pairs);
    ``line_price_sd`` the log-scale sd of a line's unit price around the customer's
    average for its class. Details in ``docs/transactions.md``.
    """

    time_zone: str = "America/New_York"
    seasonality: dict[str, MonthlyIntensity] = Field(default_factory=dict)
    day_of_week: WeekProfile = Field(default_factory=_default_week)
    hour_of_day: DayProfile = Field(default_factory=_default_hours)
    order_mix_sd: NonNegative = 0.5
    basket_size_sd: NonNegative = 1.5
    line_price_sd: NonNegative = 0.1
    missions: dict[str, MissionSpec] = Field(default_factory=dict)
    note: str = ""


class PopulationSpec(_Frozen):
    """Population-level prior knobs."""

    weight_concentration: Positive = 200.0
    profile_concentration: Positive = 200.0
    location_sd: Positive = 0.1
    exploration_excludes: list[str] = Field(default_factory=list)
    kids_departments: list[str] = Field(default_factory=list)
    adult_apparel_departments: list[str] = Field(default_factory=list)
    prices: PriceLevels = Field(default_factory=PriceLevels)
    timing: TimingSpec = Field(default_factory=TimingSpec)
    note: str = ""


class PersonasFile(_Frozen):
    """``priors/personas.yml``."""

    schema_version: Literal[1]
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    personas: dict[str, PersonaSpec]


class SegmentSpec(_Frozen):
    """One engagement segment of ``priors/segments.yml``: parameters of the purchase process.

    ``lifetime_months`` is the time from the first order to the as-of date (how long
    the customer has been observed), ``frequency_multiplier`` scales the persona's
    purchase rate while the customer is active.
    """

    description: str
    base_share: Share
    lifetime_months: Range
    frequency_multiplier: Range
    return_rate: FractionRange
    note: str


class DroppedOutSpec(_Frozen):
    """The segment label of customers whose purchase process has stopped (they dropped out)."""

    name: str
    description: str
    note: str = ""


class SegmentsFile(_Frozen):
    """``priors/segments.yml`` (schema version 2: recency comes from the purchase process)."""

    schema_version: Literal[2]
    dropped_out: DroppedOutSpec
    segments: dict[str, SegmentSpec]

    @property
    def labels(self) -> tuple[str, ...]:
        """Every ``true_segment`` value: the engagement segments, then the dropped-out label."""
        return (*self.segments, self.dropped_out.name)
