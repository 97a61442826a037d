"""The NumPyro model: site shapes and prior means."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from numpyro import handlers

from personagen import load_config
from personagen.config import (
    beta_from_interval,
    build_prior_arrays,
    build_structure,
    interval_to_lognormal,
)
from personagen.story import CORE_SITES, DETAIL_SITES, mean_population, persona_model


@pytest.fixture(scope="module")
def priors():
    return build_prior_arrays(load_config())


@pytest.fixture(scope="module")
def structure():
    return build_structure(load_config())


def test_every_site_has_its_documented_shape(priors, structure):
    n = 7

    @jax.jit
    def site_values(key, priors):
        # jitted: traced eagerly, every small operation of the model compiles on its own
        trace = handlers.trace(handlers.seed(persona_model, key)).get_trace(
            structure, priors, n_customers=n
        )
        return {k: v["value"] for k, v in trace.items() if v["type"] in ("sample", "deterministic")}

    sites = site_values(jax.random.key(0), priors)
    P, D, C = 10, 21, 394
    expected = {
        "persona_weights": (P,),
        "department_profile": (P, D),
        "class_profile_raw": (P, C),
        "class_profile": (P, C),
        "order_value_loc": (P,),
        "order_value_sd": (P,),
        "purchase_rate_loc": (P,),
        "purchase_rate_sd": (P,),
        "dropout_loc": (P,),
        "customer_concentration": (P,),
        "concentration_spread_raw": (P,),
        "concentration_spread": (P,),
        "department_price_offset": (D,),
        "department_log_price": (D,),
        "price_concentration": (),
        "persona": (n,),
        "segment": (n,),
        "lifetime_months": (n,),
        "purchase_rate": (n,),
        "dropout_probability": (n,),
        "orders_before_dropout": (n,),
        "arrivals": (n,),
        "last_order_share": (n,),
        "extra_units_rate": (n,),
        "extra_units": (n,),
        "order_value_customer": (n,),
        "total_revenue": (n,),
        "department_units": (n, D),
        "department_spend_shares": (n, D),
        "return_rate": (n,),
        "class_units": (n, C),
        "class_spend_shares": (n, C),
        "baby_units": (n,),
        "adult_size_units": (n, 5),
        "gender": (n,),
        "age": (n,),
        "profile_draws": (n, 8),
    }
    assert set(sites) == set(expected)
    assert set(CORE_SITES) | set(DETAIL_SITES) <= set(sites)
    for name, shape in expected.items():
        value = np.asarray(sites[name])
        assert value.shape == shape, name
        assert np.all(np.isfinite(value)), name


def test_mean_population_uses_yaml_values(priors, structure):
    pop = mean_population(priors, structure)
    # the YAML values, read back independently of population_means
    assert np.array_equal(pop.persona_weights, priors.weights)
    assert np.array_equal(pop.department_profile, priors.department_probs)
    assert np.array_equal(pop.order_value_loc, priors.log_order_value_loc)
    # class profiles are re-normalised within departments: float32 rounding only
    assert np.allclose(pop.class_profile, priors.class_probs, atol=1e-6)
    within = np.stack(
        [np.bincount(structure.class_index, weights=row) for row in pop.class_profile]
    )
    assert np.allclose(within, 1.0, atol=1e-5)


def test_structure_is_hashable_and_separate_from_the_numbers(priors, structure):
    import jax.numpy as jnp

    assert hash(structure) == hash(build_structure(load_config()))
    assert structure.n_classes == 394 and structure.n_departments == 21
    # the priors are a pure pytree of arrays: every leaf converts to a JAX array
    leaves = jax.tree.leaves(jax.tree.map(jnp.asarray, priors))
    assert len(leaves) == len(priors) and all(isinstance(x, jax.Array) for x in leaves)


def test_dropout_beta_has_the_logit_normal_moments():
    """The dropout beta matches the mean and variance of the logit-normal of its range."""
    import scipy.stats as ss

    lo, hi = 0.01, 0.3
    logit_mean, kappa = beta_from_interval(lo, hi)
    mean = 1 / (1 + np.exp(-logit_mean))
    beta = ss.beta(mean * kappa, (1 - mean) * kappa)
    mu = (np.log(lo / (1 - lo)) + np.log(hi / (1 - hi))) / 2
    sigma = (np.log(hi / (1 - hi)) - np.log(lo / (1 - lo))) / (2 * 1.6448536269514722)
    import scipy.integrate as si

    def moment(k):
        def f(z):
            return (1 / (1 + np.exp(-(mu + sigma * z)))) ** k * ss.norm.pdf(z)

        return si.quad(f, -12, 12, epsabs=1e-13)[0]

    mean_ln, second = moment(1), moment(2)
    # quadrature against 64-node Gauss-Hermite: both near float64 precision
    assert beta.mean() == pytest.approx(mean_ln, rel=1e-8)
    assert beta.var() == pytest.approx(second - mean_ln**2, rel=1e-6)


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
