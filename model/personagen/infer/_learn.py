"""The ``learn`` mode: K exchangeable personas and the fix for label switching.

A personas file for ``learn`` holds one *template* persona: weak priors
(department preferences spread over every department, wide ``[lo, hi]``
ranges, a small ``profile_concentration`` and a large ``location_sd`` in its
``population`` block). :func:`exchangeable_config` makes K identical copies,
``persona_1`` ... ``persona_K``, with equal weights. The posterior of such a
model is invariant under permuting the personas, so the labels of the draws
are arbitrary and may switch between chains (or, rarely, within one).
:func:`relabel_draws` fixes them after sampling:

1. every draw's personas are matched to a reference by the Hungarian algorithm
   on a distance between persona parameters (Hellinger distance of the
   department profiles plus the squared differences of the log order value and
   purchase rate locations);
2. the reference starts as the first draw and becomes the mean of the relabelled
   draws; step 1 is repeated until no permutation changes (at most ``MAX_PASSES``);
3. the personas are finally numbered by decreasing posterior mean weight, so
   ``persona_1`` is the largest.

This is the "pivotal reordering" family of relabelling algorithms (Stephens
2000; Marin, Mengersen and Robert 2005), in its simplest distance form; an
ordering constraint (e.g. increasing order values) would be simpler but breaks
when two personas differ only in their department mix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.optimize import linear_sum_assignment

from personagen.config import PersonagenConfig
from personagen.errors import ConfigError, Problem, bad_argument
from personagen.story import STORE_SITES

__all__ = ["MAX_PASSES", "exchangeable_config", "learned_names", "relabel_draws"]

#: Relabelling stops after this many passes even if permutations still change.
MAX_PASSES = 10


def learned_names(k: int) -> tuple[str, ...]:
    """Return the persona names of a ``learn`` fit with ``k`` personas."""
    return tuple(f"persona_{i + 1}" for i in range(k))


def exchangeable_config(template: PersonagenConfig, k: int) -> PersonagenConfig:
    """Return ``template`` with its single persona replaced by ``k`` identical copies.

    Raises
    ------
    ParameterError
        About ``n_personas``, if ``k < 2``.
    ConfigError
        If the personas file does not hold exactly one persona.
    """
    source = dict(template.sources).get("priors", "personas file")
    if k < 2:
        raise bad_argument("n_personas", f"learn mode needs at least 2 personas, got {k}")
    personas = template.personas.personas
    if len(personas) != 1:
        raise ConfigError(
            [
                Problem(
                    source,
                    "personas",
                    f"learn mode needs a template file with exactly one persona, got "
                    f"{len(personas)} ({', '.join(personas)}); use priors/learn.yml or "
                    "priors/examples/completejourney/personas.yml as a model",
                )
            ]
        )
    (spec,) = personas.values()
    copy = spec.model_copy(update={"weight": 1.0 / k})
    expanded = template.personas.model_copy(
        update={"personas": {name: copy for name in learned_names(k)}}
    )
    return PersonagenConfig(
        hierarchy=template.hierarchy,
        personas=expanded,
        segments=template.segments,
        sources=template.sources,
    )


def _features(draws: Mapping[str, np.ndarray]) -> np.ndarray:
    """Per draw and persona, a vector whose squared distances define the matching cost."""
    parts = [np.sqrt(np.clip(draws["department_profile"], 0.0, None))]
    for site in ("order_value_loc", "purchase_rate_loc"):
        if site in draws:
            parts.append(draws[site][..., None])
    return np.concatenate(parts, axis=-1)


def _permutations(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per draw, the permutation ``perm`` minimising ``sum_k |f[perm[k]] - ref[k]|^2``."""
    out = np.empty(features.shape[:2], dtype=np.int64)
    for s, f in enumerate(features):
        cost = ((reference[:, None, :] - f[None, :, :]) ** 2).sum(-1)
        _, cols = linear_sum_assignment(cost)
        out[s] = cols
    return out


def relabel_draws(
    draws: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], float]:
    """Relabel the personas of posterior draws consistently (see the module docstring).

    Parameters
    ----------
    draws : dict of ndarray, each shape (chains, draws, P, ...)
        Must contain ``persona_weights`` and ``department_profile``.

    Returns
    -------
    relabelled : dict of ndarray
        Same shapes, personas permuted per draw and ordered by decreasing mean weight.
    switched : float
        Fraction of draws whose labels were permuted relative to the final order
        before ordering by weight (0 when no label switching occurred).
    """
    shape = np.shape(draws["persona_weights"])
    chains, n_draws, k = shape
    flat = {
        name: np.asarray(v).reshape(chains * n_draws, *np.shape(v)[2:]) for name, v in draws.items()
    }
    features = _features(flat)
    perms = np.tile(np.arange(k), (chains * n_draws, 1))
    reference = features[0]
    for _ in range(MAX_PASSES):
        new = _permutations(features, reference)
        aligned = np.take_along_axis(features, new[..., None], axis=1)
        reference = aligned.mean(0)
        if np.array_equal(new, perms):
            break
        perms = new
    switched = float(np.mean((perms != perms[0]).any(1)))
    weights = np.take_along_axis(flat["persona_weights"], perms, axis=1)
    order = np.argsort(-weights.mean(0), kind="stable")
    final = perms[:, order]
    out = {}
    for name, value in flat.items():
        if name in STORE_SITES:  # no persona axis
            out[name] = np.asarray(draws[name])
            continue
        index = final.reshape(final.shape + (1,) * (value.ndim - 2))
        out[name] = np.take_along_axis(value, index, axis=1).reshape(np.shape(draws[name]))
    return out, switched
