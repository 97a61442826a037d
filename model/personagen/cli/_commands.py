"""The subcommands: each parses nothing, delegates to the library and prints the result.

Every command imports only what it uses: ``validate`` and ``hierarchy parse``
import no JAX, ``sample`` imports no ArviZ.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from personagen._io import atomic_path, check_writable, write_text_atomic
from personagen.config import (
    PersonagenConfig,
    build_hierarchy,
    default_paths,
    dump_hierarchy_yaml,
    load_config,
    parse_hierarchy_text,
    read_text_file,
)
from personagen.errors import ConfigError, Problem, bad_argument

__all__ = [
    "REPORT_PREDICTIVE_DRAWS",
    "cmd_assign",
    "cmd_evaluate",
    "cmd_fit",
    "cmd_hierarchy_parse",
    "cmd_report",
    "cmd_sample",
    "cmd_serve",
    "cmd_validate",
    "summarise_config",
]

log = logging.getLogger("personagen")

#: Posterior predictive data sets ``fit --report`` simulates when --predictive is not given.
REPORT_PREDICTIVE_DRAWS = 50


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


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
    seg = config.segments
    lines.append(
        f"{len(seg.segments)} segments: {', '.join(seg.segments)} "
        f"(dropped out: {seg.dropped_out.name})"
    )
    lines.append("sources: " + ", ".join(f"{role}={path}" for role, path in config.sources))
    return "\n".join(lines)


def cmd_validate(args: argparse.Namespace) -> int:
    """``personagen validate``."""
    config = _load(args)
    _out(summarise_config(config))
    _out("configuration OK")
    return 0


def cmd_hierarchy_parse(args: argparse.Namespace) -> int:
    """``personagen hierarchy parse``."""
    src: Path = args.input
    text = read_text_file(src, "a text export with 'Department: Name | Class' lines")
    departments = parse_hierarchy_text(text, source=str(src))
    hierarchy = build_hierarchy(departments, source=str(src))
    check_writable([args.output], overwrite=args.overwrite)
    write_text_atomic(args.output, dump_hierarchy_yaml(departments))
    for dept, classes in zip(hierarchy.departments, hierarchy.classes, strict=True):
        _out(f"  {dept:<28} {len(classes):>3} classes")
    _out(f"{hierarchy.n_departments} departments, {hierarchy.n_classes} classes -> {args.output}")
    return 0


def _command_line(args: argparse.Namespace) -> str:
    return "personagen " + " ".join(sys.argv[1:] if args.argv is None else args.argv)


def cmd_sample(args: argparse.Namespace) -> int:
    """``personagen sample``."""
    from tqdm import tqdm

    from personagen.sample import DEFAULT_AS_OF, SampleRequest, persona_counts, sample_to_files

    if args.report:  # before sampling, not after it
        from personagen.report import REPORT_FILE

        check_writable([args.out / REPORT_FILE], overwrite=args.overwrite)
    config = _load(args)
    population, source = None, ""
    if args.posterior is not None:
        from personagen.infer import read_posterior

        fitted = read_posterior(args.posterior, config)
        config, population = fitted.config, fitted.mean_population()
        source = f"posterior mean of {args.posterior}"
    counts = persona_counts(args.personas, config.persona_names) if args.personas else None
    if counts is None and args.n is None:
        raise bad_argument("n_customers", "give a number of customers or exact persona counts")
    request = SampleRequest(
        out_dir=args.out,
        n_customers=args.n or 0,
        seed=args.seed,
        chunk_size=args.chunk_size,
        file_format=args.format,
        locale=args.locale,
        as_of=args.as_of or DEFAULT_AS_OF,
        basic_only=args.basic_only,
        transactions=args.transactions,
        draw_population=args.draw_population,
        persona_counts=counts,
        overwrite=args.overwrite,
        population=population,
        population_source=source,
        command=_command_line(args),
    )
    total = sum(counts.values()) if counts else args.n
    # the first chunk waits for the sampler's compilation (or its loading from the cache)
    bar = tqdm(total=total, unit="customers", disable=args.quiet, file=sys.stderr, desc="compiling")

    def progress(n: int) -> None:
        if bar.n == 0:
            bar.set_description("sampling")
        bar.update(n)

    with bar:
        summary = sample_to_files(config, request, progress=progress)
    _out(summary.render())
    if args.report:
        _write_report(args.out, overwrite=args.overwrite)
    return 0


def _write_report(directory: Path, *, overwrite: bool, lookalike: Path | None = None) -> None:
    from personagen.report import write_report

    path = write_report(directory, lookalike=lookalike, overwrite=overwrite)
    _out(f"report: {path}")


def cmd_report(args: argparse.Namespace) -> int:
    """``personagen report``."""
    _write_report(args.directory, overwrite=args.overwrite, lookalike=args.lookalike)
    return 0


def _roll_up(args: argparse.Namespace, config: PersonagenConfig, names: Iterable[str]) -> dict:
    """Return the keyword arguments of ``transactions_to_customers`` the flags give."""
    from personagen.data import TransactionColumns, load_mapping

    date = args.date_col or ("timestamp" if "timestamp" in set(names) else "date")
    columns = TransactionColumns(
        customer=args.customer_col,
        order=args.order_col,
        date=date,
        department=args.department_col,
        units=args.units_col,
        value=args.value_col,
        returned_value=args.returned_value_col,
    )
    mapping = load_mapping(args.mapping, config.hierarchy) if args.mapping else None
    return {
        "columns": columns,
        "mapping": mapping,
        "unmapped": args.unmapped,
        "as_of": args.as_of,
        "source": str(args.data),
    }


def _customer_table(args: argparse.Namespace, config: PersonagenConfig):
    """Return the customers of ``fit``: a basic-schema table, or transactions rolled up."""
    from personagen.data import read_customer_table, transactions_to_customers

    table = read_customer_table(args.data)
    if not args.transactions:
        return table
    return transactions_to_customers(
        table, config.hierarchy, **_roll_up(args, config, table.columns)
    )


def _run_options(args: argparse.Namespace) -> dict:
    """Return the ``fit_customers`` keyword arguments that say how it runs (``_add_run_args``)."""
    return {
        "method": args.method,
        "num_warmup": args.num_warmup,
        "num_samples": args.num_samples,
        "num_chains": args.chains,
        "svi_steps": args.svi_steps,
        "progress_bar": not args.quiet,
    }


def _load_fit_config(args: argparse.Namespace) -> PersonagenConfig:
    """Load a fit's configuration; in ``learn`` mode the priors default to the template."""
    if args.mode == "learn" and args.priors is None:
        args.priors = default_paths()["priors"].with_name("learn.yml")
    return _load(args)


def _print_fit(fitted, n_customers: int, paths) -> None:
    import numpy as np

    weights = fitted.weights.reshape(-1, fitted.weights.shape[-1])
    lo, hi = np.quantile(weights, [0.05, 0.95], axis=0)
    _out(
        f"{n_customers:,} customers, mode {fitted.mode}, method {fitted.method}; "
        "persona weights (mean, 90% interval):"
    )
    for name, m, a, b in zip(fitted.persona_names, weights.mean(0), lo, hi, strict=True):
        _out(f"  {name:<24} {m:.3f}  [{a:.3f}, {b:.3f}]")
    if fitted.mode == "learn":
        _out(f"label switching fixed in {fitted.diagnostics.label_switching:.1%} of the draws")
    _out(f"files: {paths.posterior}, {paths.summary}, {paths.memberships}")


def cmd_fit(args: argparse.Namespace) -> int:
    """``personagen fit``."""
    import jax

    from personagen.data import observations_from_table
    from personagen.infer import (
        assign_personas,
        check_diagnostics,
        check_fit_arguments,
        fit_customers,
        to_inference_data,
        write_fit_outputs,
    )

    check_fit_arguments(args.mode, args.n_personas, args.method)
    names = ["posterior.nc", "summary.csv", "memberships.csv"]
    if args.report:
        from personagen.report import REPORT_FILE

        names.append(REPORT_FILE)
        args.predictive = args.predictive or REPORT_PREDICTIVE_DRAWS
    outputs = [args.out / name for name in names]
    check_writable(outputs, overwrite=args.overwrite)  # before the fit, not after it
    config = _load_fit_config(args)
    table = _customer_table(args, config)
    obs = observations_from_table(table, config.hierarchy, source=str(args.data))
    log.info("fitting %s customers (mode %s, method %s)", len(table), args.mode, args.method)
    if not args.quiet:  # the progress bar appears once the sampler is compiled
        sys.stderr.write("compiling the model (compiled code is kept for the next run) ...\n")
    fitted = fit_customers(
        config,
        obs,
        mode=args.mode,
        key=jax.random.key(args.seed),
        n_personas=args.n_personas,
        **_run_options(args),
    )
    idata = to_inference_data(
        fitted, obs, attrs={"seed": args.seed, "command": _command_line(args)}
    )
    if args.predictive:
        from personagen.checks import add_predictive_groups

        add_predictive_groups(idata, fitted, obs, n_draws=args.predictive, seed=args.seed)
    ids = table["customer_id"].astype(str).tolist()
    memberships = assign_personas(fitted, obs, ids)
    paths = write_fit_outputs(args.out, idata, memberships, overwrite=args.overwrite)
    for warning in check_diagnostics(fitted):
        log.warning(warning)
    _print_fit(fitted, len(table), paths)
    if args.report:
        _write_report(args.out, overwrite=args.overwrite)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``personagen evaluate``."""
    import jax

    from personagen.checks import evaluate_heldout
    from personagen.data import read_customer_table
    from personagen.infer import check_fit_arguments

    check_fit_arguments(args.mode, args.n_personas, args.method)
    outputs = [args.out / "heldout_customers.csv", args.out / "heldout_summary.csv"]
    check_writable(outputs, overwrite=args.overwrite)
    config = _load_fit_config(args)
    table = read_customer_table(args.data)
    result = evaluate_heldout(
        config,
        table,
        key=jax.random.key(args.seed),
        mode=args.mode,
        n_personas=args.n_personas,
        roll_up=_roll_up(args, config, table.columns),
        seed=args.seed,
        **_run_options(args),
    )
    with atomic_path(outputs[0]) as tmp:
        result.customers.to_csv(tmp, index=False)
    with atomic_path(outputs[1]) as tmp:
        result.summary.to_csv(tmp)
    n = len(result.customers)
    _out(f"{n:,} customers split in two halves ({result.dropped:,} with one order left out)")
    _out("mean held-out log density per customer (nats; higher is better):")
    for name, row in result.summary.iterrows():
        _out(f"  {name:<16} {row['mean_log_density']:>10.3f}  (se {row['se']:.3f})")
    for name, s in result.stability.items():
        _out(
            f"split-half stability, {name}: {s.same:.1%} the same persona "
            f"(chance {s.chance:.1%}), adjusted Rand {s.ari:.3f}"
        )
    _out(f"files: {outputs[0]}, {outputs[1]}")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    """``personagen assign``."""
    from personagen.data import observations_from_table, read_customer_table
    from personagen.infer import assign_personas, read_posterior

    fitted = read_posterior(args.posterior, _load(args))
    table = read_customer_table(args.data)
    obs = observations_from_table(table, fitted.config.hierarchy, source=str(args.data))
    memberships = assign_personas(fitted, obs, table["customer_id"].astype(str).tolist())
    check_writable([args.out], overwrite=args.overwrite)
    with atomic_path(args.out) as tmp:
        memberships.to_csv(tmp, index=False)
    _out(f"{len(table):,} customers assigned -> {args.out}")
    return 0


def _read_token(path: Path | None) -> str | None:
    if path is None:
        return None
    token = read_text_file(path, "a file holding the bearer token").strip()
    if not token:
        raise ConfigError([Problem(str(path), "", "the token file is empty")])
    return token


def cmd_serve(args: argparse.Namespace) -> int:
    """``personagen serve``."""
    try:
        import uvicorn

        from personagen.serve import create_app, make_service
    except ModuleNotFoundError as exc:
        raise ConfigError(
            [
                Problem(
                    "personagen serve",
                    "",
                    f"needs the optional extra 'serve' ({exc.name} is missing): "
                    "pip install 'personagen[serve]'",
                )
            ]
        ) from None
    from personagen.infer import read_posterior

    token = _read_token(args.token_file)
    fitted = read_posterior(args.posterior, _load(args))
    service = make_service(fitted, source=str(args.posterior), max_batch=args.max_batch)
    app = create_app(service, token=token)
    where = f"http://{args.host}:{args.port}"
    log.warning("serving %s on %s (docs at %s/docs)", args.posterior, where, where)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
