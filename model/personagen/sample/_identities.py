"""Fake customer profiles drawn vectorised from Faker's locale word lists.

Faker is used as a data source only: its per-locale name, street, county and
state lists are read once, and every profile field is an index into them taken
from the customer's own uniform draws (``profile_draws`` of the model), so a
profile is as reproducible and chunk-invariant as the rest of the customer.
Calling Faker once per customer would run at a few thousand rows a second.

Consistency rules
-----------------
* first name drawn from the list for the customer's gender;
* email ``first.last.<customer_id>@example.<com|org|net>``: unique by the id,
  on reserved example domains so no real address is ever produced;
* ``en_US``: the zip code lies inside the state's real ZIP range (Faker's
  ``states_postcode``) and the city is a function of the zip code, so
  zip -> state and zip -> city always agree;
* ``en_GB``/``en_IE``: the postcode (outward code) or Eircode routing key
  determines the county and the city, so the same code always gives the same
  county and city. These places are fictional combinations of real words.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from personagen.errors import bad_argument, close_match_hint

__all__ = ["PROFILE_COLUMNS", "SUPPORTED_LOCALES", "check_locale", "draw_profiles"]

PROFILE_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "state",
    "zip_code",
    "country",
)
SUPPORTED_LOCALES = ("en_US", "en_GB", "en_IE")
_COUNTRY = {"en_US": "United States", "en_GB": "United Kingdom", "en_IE": "Ireland"}
_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class _LocaleData:
    first_female: pa.Array
    first_male: pa.Array
    last: pa.Array
    street_suffixes: pa.Array
    city_prefixes: pa.Array
    city_suffixes: pa.Array
    regions: pa.Array
    zip_lo: np.ndarray  # en_US: per state
    zip_hi: np.ndarray


def _names(values) -> pa.Array:
    return pa.array([str(v) for v in dict.fromkeys(values)], type=pa.string())


@cache
def _locale_data(locale: str) -> _LocaleData:
    person = importlib.import_module(f"faker.providers.person.{locale}").Provider
    address = importlib.import_module(f"faker.providers.address.{locale}").Provider
    en_gb = importlib.import_module("faker.providers.address.en_GB").Provider
    if locale == "en_US":
        states = [s for s in address.states_abbr if s in address.states_postcode]
        regions = states
        zip_lo = np.array([address.states_postcode[s][0] for s in states], dtype=np.int64)
        zip_hi = np.array([address.states_postcode[s][1] for s in states], dtype=np.int64)
    else:
        regions = list(address.counties)
        zip_lo = zip_hi = np.zeros(0, dtype=np.int64)
    return _LocaleData(
        first_female=_names(person.first_names_female),
        first_male=_names(person.first_names_male),
        last=_names(person.last_names),
        street_suffixes=_names(getattr(address, "street_suffixes", None) or en_gb.street_suffixes),
        city_prefixes=_names(getattr(address, "city_prefixes", None) or en_gb.city_prefixes),
        city_suffixes=_names(en_gb.city_suffixes),
        regions=_names(regions),
        zip_lo=zip_lo,
        zip_hi=zip_hi,
    )


def _pick(values: pa.Array, u: np.ndarray) -> pa.Array:
    idx = np.minimum((u * len(values)).astype(np.int64), len(values) - 1)
    return values.take(pa.array(idx))


def _digits(x: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(x), pa.string()), width=width, padding="0")


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _mix(code: np.ndarray, salt: int) -> np.ndarray:
    """Hash postal codes to [0, 1) with a fixed splitmix-style mix, for consistent places."""
    x = (code.astype(np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    x ^= x >> np.uint64(31)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _phones(locale: str, u: np.ndarray) -> pa.Array:
    """Phone numbers in the locale's format, from uniform draws 3 and 4."""
    a = (u[:, 3] * 1e7).astype(np.int64)
    b = (u[:, 4] * 1e7).astype(np.int64)
    if locale == "en_US":
        return _join(
            "(",
            _digits(200 + a % 800, 3),
            ") ",
            _digits(200 + b % 800, 3),
            "-",
            _digits((a // 800) % 10000, 4),
        )
    if locale == "en_GB":
        return _join("+44 7", _digits(a % 1000, 3), " ", _digits(b % 1000000, 6))
    return _join(
        "+353 8",
        _digits(a % 7 + 3, 1),
        " ",
        _digits(b % 1000, 3),
        " ",
        _digits((a // 7) % 10000, 4),
    )


def _places(locale: str, data: _LocaleData, u: np.ndarray) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Return the postal code as a number, the region and the postal code (draws 4-7).

    The region (and, in :func:`draw_profiles`, the city) is a function of the code.
    """
    loc = u[:, 7]
    if locale == "en_US":
        s_idx = np.minimum((loc * len(data.regions)).astype(np.int64), len(data.regions) - 1)
        frac = loc * len(data.regions) - s_idx
        lo, hi = data.zip_lo[s_idx], data.zip_hi[s_idx]
        code = lo + np.minimum((frac * (hi - lo + 1)).astype(np.int64), hi - lo)
        state = data.regions.take(pa.array(s_idx))
        return code, state, _digits(code, 5)
    if locale == "en_GB":
        code = (loc * 26 * 26 * 99).astype(np.int64)
        letters = np.array(list("ABCDEFGHJKLMNOPRSTUWYZ"))
        area = [letters[i % 22] + letters[(i // 22) % 22] for i in code // 99]
        outward = _join(pa.array(area), _digits(code % 99 + 1, 1))
        inward = _join(
            _digits((u[:, 6] * 1e6).astype(np.int64) % 9 + 1, 1),
            pa.array(letters[(u[:, 5] * 1e6).astype(np.int64) % 22]),
            pa.array(letters[(u[:, 4] * 1e6).astype(np.int64) % 22]),
        )
        zip_code = pc.binary_join_element_wise(outward, inward, " ")
        return code, _pick(data.regions, _mix(code, 1)), zip_code
    code = (loc * 23 * 99).astype(np.int64)
    letters = np.array(list("ACDEFHKNPRTVWXY"))
    routing = _join(pa.array(letters[code // 99 % 15]), _digits(code % 99 + 1, 2))
    unique = pa.array(
        [
            "".join(letters[(int(x) >> (4 * k)) % 15] for k in range(4))
            for x in (u[:, 6] * 2**24).astype(np.int64)
        ]
    )
    zip_code = pc.binary_join_element_wise(routing, unique, " ")
    return code, _pick(data.regions, _mix(code, 1)), zip_code


def check_locale(locale: str) -> None:
    """Raise a :class:`~personagen.errors.ParameterError` unless ``locale`` is supported."""
    if locale not in SUPPORTED_LOCALES:
        hint = close_match_hint(locale, SUPPORTED_LOCALES)
        raise bad_argument(
            "locale",
            f"unsupported locale {locale!r} (supported: {', '.join(SUPPORTED_LOCALES)}){hint}",
        )


def draw_profiles(
    draws: np.ndarray, gender: np.ndarray, customer_id: np.ndarray, locale: str
) -> dict[str, pa.Array]:
    """Build fake profiles from per-customer uniform draws.

    Parameters
    ----------
    draws : ndarray, shape (n, 8)
        Uniform draws in [0, 1) (the model's ``profile_draws``).
    gender : ndarray of int, shape (n,)
        0 female, 1 male.
    customer_id : ndarray of str or int, shape (n,)
        Used to make emails unique.
    locale : str
        One of ``SUPPORTED_LOCALES``.

    Returns
    -------
    dict of str to pyarrow.Array
        One string array per name in ``PROFILE_COLUMNS``.

    Raises
    ------
    ParameterError
        About ``locale``, if it is not supported.
    """
    check_locale(locale)
    data = _locale_data(locale)
    u = np.asarray(draws, dtype=np.float64)
    n = u.shape[0]
    female = _pick(data.first_female, u[:, 0])
    male = _pick(data.first_male, u[:, 0])
    first = pc.if_else(pa.array(np.asarray(gender) == 0), female, male)
    last = _pick(data.last, u[:, 1])

    def handle(a: pa.Array) -> pa.Array:
        return pc.replace_substring_regex(pc.utf8_lower(a), pattern="[^a-z0-9]", replacement="")

    domain = _pick(pa.array(_DOMAINS), u[:, 2])
    ids = pc.cast(pa.array(np.asarray(customer_id)), pa.string())
    email = _join(handle(first), ".", handle(last), ".", ids, "@", domain)
    phone = _phones(locale, u)
    building = _digits(1 + (u[:, 2] * 3 * 997).astype(np.int64) % 997, 1)
    street = _join(
        building, " ", _pick(data.last, u[:, 5]), " ", _pick(data.street_suffixes, u[:, 6])
    )
    code, state, zip_code = _places(locale, data, u)
    city = _join(
        _pick(data.city_prefixes, _mix(code, 2)),
        " ",
        _pick(data.last, _mix(code, 3)),
        _pick(data.city_suffixes, _mix(code, 4)),
    )
    country = pa.array(np.full(n, _COUNTRY[locale], dtype=object), type=pa.string())
    return {
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "address": street,
        "city": city,
        "state": state,
        "zip_code": zip_code,
        "country": country,
    }
