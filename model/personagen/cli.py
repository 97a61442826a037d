"""Command-line interface: argument parsing only, delegating to the library.

``personagen validate``, ``personagen sample``, ``personagen hierarchy parse``. Bad input
(:class:`~personagen.errors.ConfigError`, :class:`~personagen.errors.DataError`)
prints the problems on stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from personagen import __version__
from personagen._io import atomic_path, check_writable, write_text_atomic
from personagen.config import PersonagenConfig, default_paths, load_config
from personagen.errors import ConfigError, DataError, Problem
from personagen.hierarchy import build_hierarchy, dump_hierarchy_yaml, parse_hierarchy_text

__all__ = ["main"]

log = logging.getLogger("personagen")


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--priors", type=Path, help="personas YAML (default: priors/personas.yml)")
    parser.add_argument(
        "--hierarchy", type=Path, help="hierarchy YAML (default: hierarchy_parsed.yml)"
    )
    parser.add_argument(
        "--segments", type=Path, help="segments YAML (default: priors/segments.yml)"
    )


def _load(args: argparse.Namespace) -> PersonagenConfig:
    return load_config(priors=args.priors, hierarchy=args.hierarchy, segments=args.segments)


def summarise_config(config: PersonagenConfig) -> str:
    """Return a human-readable summary of a validated configuration."""
    h = config.hierarchy
    lines = [f"{len(config.persona_names)} personas:"]
    for name, spec in config.personas.personas.items():
        top = sorted(spec.department_preferences.items(), key=lambda kv: -kv[1])[:3]
        tops = ", ".join(f"{d} {s:.2f}" for d, s in top)
        lines.append(f"  {name:<22} weight {spec.weight:.2f}  {tops}")
    lines.append(f"{h.n_departments} departments, {h.n_classes} classes:")
    for dept, classes in zip(h.departments, h.classes, strict=True):
        lines.append(f"  {dept:<28} {len(classes):>3} classes")
    lines.append(f"{len(config.segments.segments)} segments: {', '.join(config.segments.segments)}")
    lines.append("sources: " + ", ".join(f"{role}={path}" for role, path in config.sources))
    return "\n".join(lines)


def _cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args)
    _out(summarise_config(config))
    _out("configuration OK")
    return 0


def _cmd_hierarchy_parse(args: argparse.Namespace) -> int:
    src: Path = args.input
    if not src.is_file():
        raise ConfigError([Problem(str(src), "", "file does not exist; expected a text export")])
    departments = parse_hierarchy_text(src.read_text(encoding="utf-8"), source=str(src))
    hierarchy = build_hierarchy(departments, source=str(src))
    check_writable([args.output], overwrite=args.overwrite)
    write_text_atomic(args.output, dump_hierarchy_yaml(departments))
    for dept, classes in zip(hierarchy.departments, hierarchy.classes, strict=True):
        _out(f"  {dept:<28} {len(classes):>3} classes")
    _out(f"{hierarchy.n_departments} departments, {hierarchy.n_classes} classes -> {args.output}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _cmd_sample(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from personagen.export import SampleRequest, persona_counts, sample_to_files

    config = _load(args)
    population = None
    if args.posterior is not None:
        from personagen.posterior import posterior_config, posterior_means, read_posterior

        idata = read_posterior(args.posterior, config)
        config = posterior_config(idata, config)
        population = posterior_means(idata)
    counts = persona_counts(args.personas, config.persona_names) if args.personas else None
    if counts is None and args.n is None:
        raise ConfigError([Problem("--n", "", "give --n N or --personas name=COUNT,...")])
    request = SampleRequest(
        out_dir=args.out,
        n_customers=args.n or 0,
        seed=args.seed,
        chunk_size=args.chunk_size,
        file_format=args.format,
        locale=args.locale,
        as_of=args.as_of,
        basic_only=args.basic_only,
        draw_population=args.draw_population,
        persona_counts=counts,
        overwrite=args.overwrite,
        population=population,
        population_source=f"posterior mean of {args.posterior}" if population else "",
        command="personagen " + " ".join(sys.argv[1:] if args.argv is None else args.argv),
    )
    total = sum(counts.values()) if counts else args.n
    with tqdm(total=total, unit="customers", disable=args.quiet, file=sys.stderr) as bar:
        summary = sample_to_files(config, request, progress=bar.update)
    _out(summary.render())
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    import jax

    from personagen.fitting import (
        add_predictive_groups,
        fit_customers,
        fit_inference_data,
        fit_memberships,
    )
    from personagen.ingest import observations_from_table, read_customer_table
    from personagen.posterior import check_diagnostics, write_fit_outputs

    if args.mode == "learn" and args.priors is None:
        args.priors = default_paths()["priors"].with_name("learn.yml")
    config = _load(args)
    table = read_customer_table(args.data)
    if args.transactions:
        from personagen.transactions import (
            TransactionColumns,
            load_mapping,
            transactions_to_customers,
        )

        columns = TransactionColumns(
            customer=args.customer_col,
            order=args.order_col,
            date=args.date_col,
            department=args.department_col,
            units=args.units_col,
            value=args.value_col,
        )
        mapping = load_mapping(args.mapping, config.hierarchy) if args.mapping else None
        table = transactions_to_customers(
            table,
            config.hierarchy,
            columns=columns,
            mapping=mapping,
            unmapped=args.unmapped,
            source=str(args.data),
        )
    obs = observations_from_table(table, config.hierarchy, source=str(args.data))
    log.info("fitting %s customers (mode %s, method %s)", len(table), args.mode, args.method)
    fit = fit_customers(
        config,
        obs,
        mode=args.mode,
        key=jax.random.key(args.seed),
        seed=args.seed,
        n_personas=args.personas,
        method=args.method,
        num_warmup=args.num_warmup,
        num_samples=args.num_samples,
        num_chains=args.chains,
        progress_bar=not args.quiet,
    )
    idata = fit_inference_data(fit, obs)
    if args.predictive:
        add_predictive_groups(
            idata, fit, n_draws=args.predictive, n_customers=len(table), seed=args.seed
        )
    ids = table["customer_id"].astype(str).tolist()
    paths = write_fit_outputs(
        args.out, idata, fit_memberships(fit, obs, ids), overwrite=args.overwrite
    )
    for warning in check_diagnostics(idata):
        log.warning(warning)
    weights = fit.result.weights.reshape(-1, fit.result.weights.shape[-1])
    lo, hi = np.quantile(weights, [0.05, 0.95], axis=0)
    _out(
        f"{len(table):,} customers, mode {fit.mode}, method {fit.result.method}; "
        "persona weights (mean, 90% interval):"
    )
    for name, m, a, b in zip(fit.config.persona_names, weights.mean(0), lo, hi, strict=True):
        _out(f"  {name:<24} {m:.3f}  [{a:.3f}, {b:.3f}]")
    if fit.mode == "learn":
        _out(f"label switching fixed in {fit.label_switching:.1%} of the draws")
    _out(f"files: {paths.posterior}, {paths.summary}, {paths.memberships}")
    return 0


def _cmd_assign(args: argparse.Namespace) -> int:
    from personagen.infer import membership_probabilities
    from personagen.ingest import observations_from_table, read_customer_table
    from personagen.posterior import (
        memberships_table,
        posterior_config,
        posterior_draws,
        read_posterior,
    )
    from personagen.priors import build_prior_arrays

    loaded = _load(args)
    idata = read_posterior(args.posterior, loaded)
    config = posterior_config(idata, loaded)
    table = read_customer_table(args.data)
    obs = observations_from_table(table, config.hierarchy, source=str(args.data))
    probs = membership_probabilities(build_prior_arrays(config), obs, posterior_draws(idata))
    check_writable([args.out], overwrite=args.overwrite)
    with atomic_path(args.out) as tmp:
        memberships_table(
            table["customer_id"].astype(str).tolist(), np.asarray(probs), config.persona_names
        ).to_csv(tmp, index=False)
    _out(f"{len(table):,} customers assigned -> {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``personagen`` command."""
    parser = argparse.ArgumentParser(
        prog="personagen", description="Bayesian generative model of retail shoppers."
    )
    parser.add_argument("--version", action="version", version=f"personagen {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check the configuration files and summarise them")
    _add_config_args(p)
    p.set_defaults(func=_cmd_validate)

    s = sub.add_parser("sample", help="sample synthetic customers to files")
    s.add_argument("--n", type=_positive_int, help="number of customers")
    s.add_argument("--out", type=Path, required=True, help="output directory")
    s.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    s.add_argument("--seed", type=int, default=0, help="run seed (default 0); recorded in metadata")
    s.add_argument(
        "--chunk-size",
        type=_positive_int,
        default=None,
        help="customers per batch (default 100,000 basic-only, 10,000 with the enriched "
        "table); does not change the data",
    )
    _add_config_args(s)
    s.add_argument("--locale", default="en_US", choices=("en_US", "en_GB", "en_IE"))
    s.add_argument(
        "--as-of",
        type=_date,
        default=dt.date(2026, 1, 1),
        help="date the data describes (YYYY-MM-DD, default 2026-01-01)",
    )
    s.add_argument("--basic-only", action="store_true", help="write only the basic table")
    s.add_argument(
        "--draw-population",
        action="store_true",
        help="draw persona weights and profiles from their priors instead of their means",
    )
    s.add_argument(
        "--personas", help="exact persona counts, e.g. teenage_girl=5000,budget_shopper=2000"
    )
    s.add_argument(
        "--posterior",
        type=Path,
        help="posterior.nc from personagen fit: sample look-alike customers with its posterior "
        "mean persona weights",
    )
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=_cmd_sample)

    f = sub.add_parser("fit", help="fit persona weights to a customer table")
    f.add_argument("data", type=Path, help="customer table in the basic schema (CSV or Parquet)")
    f.add_argument("--out", type=Path, required=True, help="output directory")
    f.add_argument(
        "--transactions",
        action="store_true",
        help="DATA is a transactions table (one row per line item), not a customer table",
    )
    for role, default in (
        ("customer", "customer_id"),
        ("order", "order_id"),
        ("date", "date"),
        ("department", "department"),
        ("units", "units"),
        ("value", "value"),
    ):
        f.add_argument(f"--{role}-col", default=default, help=f"{role} column of the transactions")
    f.add_argument(
        "--mapping", type=Path, help="YAML mapping your department names to the hierarchy's"
    )
    f.add_argument(
        "--unmapped",
        choices=("error", "other"),
        default="error",
        help="unmapped department names: error (default) or the mapping's 'other'",
    )
    f.add_argument(
        "--mode",
        choices=("weights", "profiles", "learn"),
        default="weights",
        help="weights: persona weights, profiles fixed at the YAML; profiles: weights and "
        "profiles with the YAML as priors; learn: K personas from a one-persona template "
        "(default priors/learn.yml)",
    )
    f.add_argument(
        "--personas", type=_positive_int, help="K, the number of personas to learn (learn mode)"
    )
    f.add_argument("--method", choices=("auto", "nuts", "svi"), default="auto")
    f.add_argument(
        "--predictive",
        type=_positive_int,
        metavar="DRAWS",
        help="add prior and posterior predictive groups (DRAWS simulated data sets each, "
        "as many customers as the data) to posterior.nc",
    )
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--num-warmup", type=_positive_int, default=500)
    f.add_argument("--num-samples", type=_positive_int, default=500)
    f.add_argument("--chains", type=_positive_int, default=2)
    _add_config_args(f)
    f.add_argument("--overwrite", action="store_true")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_cmd_fit)

    a = sub.add_parser("assign", help="persona probabilities of customers under a fitted posterior")
    a.add_argument("data", type=Path, help="customer table in the basic schema")
    a.add_argument("--posterior", type=Path, required=True, help="posterior.nc from personagen fit")
    a.add_argument("--out", type=Path, required=True, help="memberships CSV to write")
    _add_config_args(a)
    a.add_argument("--overwrite", action="store_true")
    a.set_defaults(func=_cmd_assign)

    h = sub.add_parser("hierarchy", help="product hierarchy tools")
    hsub = h.add_subparsers(dest="hierarchy_command", required=True, metavar="ACTION")
    hp = hsub.add_parser("parse", help="pipe-delimited text export -> hierarchy YAML")
    hp.add_argument("input", type=Path, help="text file with 'Department: Name | Class' lines")
    hp.add_argument("-o", "--output", type=Path, required=True, help="YAML file to write")
    hp.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    hp.set_defaults(func=_cmd_hierarchy_parse)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``personagen`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on bad input (problems printed on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if "jax" not in sys.modules:  # one XLA CPU device per core, for parallel NUTS chains
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_force_host_platform_device_count" not in flags:
            count = max(1, min(os.cpu_count() or 1, 8))
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_force_host_platform_device_count={count}".strip()
            )
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (ConfigError, DataError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
