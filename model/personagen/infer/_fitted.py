"""The fitted model: one immutable object, built once by a fit or read from ``posterior.nc``.

A :class:`FittedModel` holds everything downstream needs (the configuration of
the fitted personas, its static structure, the numeric priors actually fitted,
the posterior draws, the mode, the method and the diagnostics); InferenceData,
memberships, predictive checks, ``assign`` and look-alike sampling all take it
whole, and nothing downstream rebuilds priors from the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import jax.numpy as jnp
import numpy as np
from jax import Array
from jaxtyping import Float

from personagen.config import (
    PersonagenConfig,
    PriorArrays,
    Structure,
    build_prior_arrays,
    build_structure,
)
from personagen.infer._runners import Diagnostics
from personagen.story import Population, as_arrays, mean_population

__all__ = ["MODES", "FittedModel", "Mode", "fit_priors", "fitted_model", "thin_draws"]

Mode = Literal["weights", "profiles", "learn"]
MODES: tuple[Mode, ...] = ("weights", "profiles", "learn")


def fit_priors(config: PersonagenConfig) -> PriorArrays:
    """Return the numeric priors a fit uses: the configuration's, weight prior worth P customers.

    ``weight_concentration`` of the personas file describes how synthetic
    populations vary (Dirichlet(200 w) by default), not knowledge about a real
    customer base; a fit's weight prior is ``Dirichlet(P * w)``, which data dominate.
    """
    priors = build_prior_arrays(config)
    return priors._replace(weight_concentration=np.float32(priors.n_personas))


def thin_draws(draws: Mapping[str, np.ndarray], max_draws: int) -> dict[str, np.ndarray]:
    """Flatten (chains, draws, ...) to (S, ...) and keep at most ``max_draws`` evenly spaced."""
    flat = {k: np.asarray(v).reshape(-1, *np.shape(v)[2:]) for k, v in draws.items()}
    n = next(iter(flat.values())).shape[0]
    step = max(1, -(-n // max_draws))
    return {k: v[::step] for k, v in flat.items()}


@dataclass(frozen=True, eq=False)
class FittedModel:
    """A fitted persona model.

    Attributes
    ----------
    config : PersonagenConfig
        The configuration of the fitted personas (for ``learn``, the template expanded
        to K personas, :func:`~personagen.infer.exchangeable_config`).
    structure : Structure
        Its static structure.
    priors : PriorArrays
        The numeric priors the fit used (:func:`fit_priors`).
    draws : dict of str to ndarray, each shape (chains, draws, ...)
        Posterior draws: ``persona_weights`` (..., P) always; the ``profiles`` and
        ``learn`` modes add ``department_profile`` (..., P, D), ``order_value_loc``,
        ``order_value_sd``, ``purchase_rate_loc``, ``purchase_rate_sd``, ``dropout_loc`` and
        ``customer_concentration`` (..., P). Sites not drawn
        stay at their prior means.
    mode : {"weights", "profiles", "learn"}
        What was fitted.
    method : {"nuts", "svi"}
        How.
    diagnostics : Diagnostics
        NUTS statistics or SVI convergence, and the share of relabelled draws.
    key_data : tuple of int
        The words of the fit's PRNG key (recorded with the outputs).
    """

    config: PersonagenConfig
    structure: Structure
    priors: PriorArrays
    draws: Mapping[str, np.ndarray]
    mode: Mode
    method: Literal["nuts", "svi"]
    diagnostics: Diagnostics
    key_data: tuple[int, ...] = ()

    @property
    def persona_names(self) -> tuple[str, ...]:
        """Names of the fitted personas (the persona axis of every draw)."""
        return self.config.persona_names

    @property
    def weights(self) -> Float[np.ndarray, "chains draws personas"]:
        """Draws of the persona weights, shape (chains, draws, P)."""
        return self.draws["persona_weights"]

    @property
    def weight_prior(self) -> Float[np.ndarray, " personas"]:
        """The Dirichlet concentration of the fitted persona weights, shape (P,)."""
        return np.asarray(self.priors.weight_concentration * self.priors.weights)

    def prior_mean_population(self) -> Population:
        """Return the population at the prior means of the fitted priors."""
        return mean_population(self.priors, self.structure)

    def population_draws(self, max_draws: int) -> Population:
        """Return at most ``max_draws`` evenly spaced posterior draws as one Population.

        Every field has a leading draw axis (S, ...); sites the mode does not fit
        (in ``weights`` mode all but the weights) stay at their prior means.
        """
        return self.population_from_sites(thin_draws(self.draws, max_draws))

    def population_from_sites(self, sites: Mapping[str, Array | np.ndarray]) -> Population:
        """Return a Population with a leading draw axis from site draws of shape (S, ...)."""
        mean = self.prior_mean_population()
        n_draws = np.shape(sites["persona_weights"])[0]

        def site(name: str, value: Array) -> Array:
            if name in sites:
                return jnp.asarray(sites[name], jnp.float32)
            return jnp.broadcast_to(value, (n_draws, *jnp.shape(value)))

        return Population(*(site(name, value) for name, value in mean._asdict().items()))

    def posterior_means(self) -> dict[str, np.ndarray]:
        """Return the posterior mean of every fitted site (weights and profiles renormalised)."""
        means = {name: np.asarray(v).mean(axis=(0, 1)) for name, v in self.draws.items()}
        means["persona_weights"] = means["persona_weights"] / means["persona_weights"].sum()
        if "department_profile" in means:
            profile = means["department_profile"]
            means["department_profile"] = profile / profile.sum(-1, keepdims=True)
        return means

    def mean_population(self) -> Population:
        """Return the population at the posterior means, for look-alike sampling."""
        means = {k: jnp.asarray(v, jnp.float32) for k, v in self.posterior_means().items()}
        return as_arrays(self.prior_mean_population()._replace(**means))


def fitted_model(
    config: PersonagenConfig,
    draws: Mapping[str, np.ndarray],
    *,
    mode: Mode,
    method: Literal["nuts", "svi"],
    diagnostics: Diagnostics,
    key_data: tuple[int, ...] = (),
) -> FittedModel:
    """Build a :class:`FittedModel` of ``config`` (its structure and fitted priors once)."""
    return FittedModel(
        config=config,
        structure=build_structure(config),
        priors=fit_priors(config),
        draws=dict(draws),
        mode=mode,
        method=method,
        diagnostics=diagnostics,
        key_data=tuple(key_data),
    )
