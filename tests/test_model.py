"""The NumPyro model: site shapes and prior means."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from numpyro import handlers

from personagen import load_config
from personagen.model import CORE_SITES, DETAIL_SITES, persona_model, population_means
from personagen.priors import build_prior_arrays, interval_to_lognormal
from personagen.simulate import mean_population


@pytest.fixture(scope="module")
def priors():
    return build_prior_arrays(load_config())


def test_every_site_has_its_documented_shape(priors):
    n = 7
    trace = handlers.trace(handlers.seed(persona_model, jax.random.key(0))).get_trace(
        priors, n_customers=n
    )
    P, D, C = 10, 21, 394
    expected = {
        "persona_weights": (P,),
        "department_profile": (P, D),
        "class_profile_raw": (P, C),
        "class_profile": (P, C),
        "order_value_loc": (P,),
        "purchase_rate_loc": (P,),
        "persona": (n,),
        "segment": (n,),
        "lifetime_months": (n,),
        "purchase_rate": (n,),
        "extra_orders": (n,),
        "extra_units_rate": (n,),
        "extra_units": (n,),
        "order_value_customer": (n,),
        "total_revenue": (n,),
        "department_units": (n, D),
        "recency_days": (n,),
        "return_rate": (n,),
        "class_units": (n, C),
        "baby_units": (n,),
        "adult_size_units": (n, 5),
        "gender": (n,),
        "age": (n,),
        "profile_draws": (n, 8),
    }
    sites = {k: v for k, v in trace.items() if v["type"] in ("sample", "deterministic")}
    assert set(sites) == set(expected)
    assert set(CORE_SITES) | set(DETAIL_SITES) <= set(sites)
    for name, shape in expected.items():
        value = np.asarray(sites[name]["value"])
        assert value.shape == shape, name
        assert np.all(np.isfinite(value)), name


def test_mean_population_uses_yaml_values(priors):
    pop = mean_population(priors)
    means = population_means(priors)
    assert np.allclose(pop.persona_weights, priors.weights)
    assert np.allclose(pop.department_profile, means["department_profile"])
    assert np.allclose(pop.class_profile, priors.class_probs, atol=1e-6)


def test_interval_to_lognormal_central_90():
    mu, sigma = interval_to_lognormal(30, 60)
    import scipy.stats as ss

    dist = ss.lognorm(s=sigma, scale=np.exp(mu))
    assert dist.ppf(0.05) == pytest.approx(30)
    assert dist.ppf(0.95) == pytest.approx(60)


def test_class_preferences_carry_their_share(priors):
    config = load_config()
    h = config.hierarchy
    girl = config.persona_names.index("teenage_girl")
    preferred = config.personas.personas["teenage_girl"].class_preferences["Ladies Clothing"]
    idx = [h.flat_index("Ladies Clothing", c) for c in preferred]
    share = 0.8 + 0.2 * len(idx) / len(h.classes_of("Ladies Clothing"))
    assert priors.class_probs[girl, idx].sum() == pytest.approx(share, abs=1e-5)
