"""The argument parser of the ``personagen`` command (flags in kebab-case)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from personagen import __version__
from personagen.cli._commands import (
    REPORT_PREDICTIVE_DRAWS,
    cmd_assign,
    cmd_evaluate,
    cmd_fit,
    cmd_hierarchy_parse,
    cmd_report,
    cmd_sample,
    cmd_serve,
    cmd_validate,
)

__all__ = ["FLAGS", "build_parser"]

#: Library parameter -> the flag that sets it, for printing a ParameterError.
FLAGS = {
    "mode": "--mode",
    "method": "--method",
    "n_personas": "--n-personas",
    "n_customers": "--n",
    "chunk_size": "--chunk-size",
    "persona_counts": "--personas",
    "locale": "--locale",
    "file_format": "--format",
    "overwrite": "--overwrite",
    "population": "--posterior",
    "out": "--out",
    "lookalike": "--lookalike",
}


class _Deprecated(argparse.Action):
    """An old spelling of a flag: stores the value and says which flag replaces it."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        sys.stderr.write(
            f"warning: {option_string} K is deprecated in 'personagen fit' and will be "
            "removed in the next release; use --n-personas K (-k K)\n"
        )
        setattr(namespace, self.dest, values)


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--priors", type=Path, help="personas YAML (default: priors/personas.yml)")
    parser.add_argument(
        "--hierarchy", type=Path, help="hierarchy YAML (default: hierarchy_parsed.yml)"
    )
    parser.add_argument(
        "--segments", type=Path, help="segments YAML (default: priors/segments.yml)"
    )


def _add_cache_args(parser: argparse.ArgumentParser) -> None:
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache-dir",
        type=Path,
        help="where compiled code is kept between runs (default: $PERSONAGEN_CACHE_DIR, "
        "else the user cache directory, e.g. ~/.cache/personagen/jax)",
    )
    cache.add_argument(
        "--no-cache", action="store_true", help="do not keep compiled code between runs"
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected a seed in 0 .. 2**32 - 1, got {text}")
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check the configuration files and summarise them")
    _add_config_args(p)
    p.set_defaults(func=cmd_validate)


def _add_sample(sub: Any) -> None:
    s = sub.add_parser("sample", help="sample synthetic customers to files")
    s.add_argument("--n", type=_positive_int, help="number of customers")
    s.add_argument("--out", type=Path, required=True, help="output directory")
    s.add_argument("--format", choices=("csv", "parquet"), default="parquet")
    s.add_argument(
        "--seed", type=_seed, default=0, help="run seed (default 0); recorded in metadata"
    )
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
        default=None,
        help="date the data describes (YYYY-MM-DD, default 2026-01-01)",
    )
    s.add_argument("--basic-only", action="store_true", help="write only the basic table")
    s.add_argument(
        "--transactions",
        action="store_true",
        help="also write the line items (transactions.parquet/.csv), timestamped; the "
        "customer tables are their exact roll-up and do not change",
    )
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
    s.add_argument(
        "--report", action="store_true", help="also write OUT/report.html (personagen report)"
    )
    s.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_cache_args(s)
    s.set_defaults(func=cmd_sample)


def _add_transaction_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--transactions",
        action="store_true",
        help="DATA is a transactions table (one row per line item), not a customer table",
    )
    for role, default in (
        ("customer", "customer_id"),
        ("order", "order_id"),
        ("department", "department"),
        ("units", "units"),
        ("value", "value"),
        ("returned-value", "returned_value"),
    ):
        parser.add_argument(
            f"--{role}-col", default=default, help=f"{role} column of the transactions"
        )
    parser.add_argument(
        "--date-col",
        default=None,
        help="date or timestamp column of the transactions (default: timestamp if the "
        "table has one, else date)",
    )
    parser.add_argument(
        "--as-of",
        type=_date,
        default=None,
        help="date the transactions describe (YYYY-MM-DD; default: the day after the last "
        "line; a synthetic run's is in its metadata.json)",
    )
    parser.add_argument(
        "--mapping", type=Path, help="YAML mapping your department names to the hierarchy's"
    )
    parser.add_argument(
        "--unmapped",
        choices=("error", "other"),
        default="error",
        help="unmapped department names: error (default) or the mapping's 'other'",
    )


def _add_run_args(parser: argparse.ArgumentParser, *, seed_help: str) -> None:
    """How a fit runs: method, seed, warm-up, draws and chains (fit and evaluate)."""
    parser.add_argument("--method", choices=("auto", "nuts", "svi"), default="auto")
    parser.add_argument("--seed", type=_seed, default=0, help=seed_help)
    parser.add_argument("--num-warmup", type=_positive_int, default=500)
    parser.add_argument("--num-samples", type=_positive_int, default=500)
    parser.add_argument("--chains", type=_positive_int, default=2)
    parser.add_argument(
        "--svi-steps", type=_positive_int, default=3000, help="optimisation steps of an SVI fit"
    )


def _add_fit(sub: Any) -> None:
    f = sub.add_parser("fit", help="fit persona weights (and profiles) to customer data")
    f.add_argument("data", type=Path, help="customer table in the basic schema (CSV or Parquet)")
    f.add_argument("--out", type=Path, required=True, help="output directory")
    _add_transaction_args(f)
    f.add_argument(
        "--mode",
        choices=("weights", "profiles", "learn"),
        default="weights",
        help="weights: persona weights, profiles fixed at the YAML; profiles: weights and "
        "profiles with the YAML as priors; learn: K personas from a one-persona template "
        "(default priors/learn.yml)",
    )
    f.add_argument(
        "-k",
        "--n-personas",
        type=_positive_int,
        dest="n_personas",
        metavar="K",
        help="the number of personas to learn (learn mode)",
    )
    f.add_argument(
        "--personas",
        type=_positive_int,
        dest="n_personas",
        action=_Deprecated,
        metavar="K",
        help=argparse.SUPPRESS,  # the 0.1 spelling of --n-personas, kept for one release
    )
    f.add_argument(
        "--predictive",
        type=_positive_int,
        metavar="DRAWS",
        help="add prior and posterior predictive groups (DRAWS simulated data sets each, "
        "as many customers as the data) to posterior.nc",
    )
    f.add_argument(
        "--report",
        action="store_true",
        help="also write OUT/report.html (personagen report); its predictive checks use "
        f"--predictive DRAWS, {REPORT_PREDICTIVE_DRAWS} if not given",
    )
    _add_run_args(f, seed_help="seed of the fit (default 0)")
    _add_config_args(f)
    f.add_argument("--overwrite", action="store_true")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_cache_args(f)
    f.set_defaults(func=cmd_fit)


def _add_evaluate(sub: Any) -> None:
    e = sub.add_parser(
        "evaluate", help="held-out check: fit on half of each customer's orders, score the rest"
    )
    e.add_argument("data", type=Path, help="transactions table (CSV or Parquet), one row per line")
    e.add_argument("--out", type=Path, required=True, help="output directory")
    _add_transaction_args(e)
    e.add_argument("--mode", choices=("weights", "profiles", "learn"), default="learn")
    e.add_argument(
        "-k", "--n-personas", type=_positive_int, dest="n_personas", metavar="K",
        help="the number of personas to learn (learn mode)",
    )  # fmt: skip
    _add_run_args(e, seed_help="seed of the fits and the EM mixture (default 0)")
    _add_config_args(e)
    e.add_argument("--overwrite", action="store_true")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_cache_args(e)
    e.set_defaults(func=cmd_evaluate, transactions=True)


def _add_assign(sub: Any) -> None:
    a = sub.add_parser("assign", help="persona probabilities of customers under a fitted posterior")
    a.add_argument("data", type=Path, help="customer table in the basic schema")
    a.add_argument("--posterior", type=Path, required=True, help="posterior.nc from personagen fit")
    a.add_argument("--out", type=Path, required=True, help="memberships CSV to write")
    _add_config_args(a)
    a.add_argument("--overwrite", action="store_true")
    _add_cache_args(a)
    a.set_defaults(func=cmd_assign)


def _add_serve(sub: Any) -> None:
    v = sub.add_parser("serve", help="serve memberships and look-alike samples over HTTP")
    v.add_argument("--posterior", type=Path, required=True, help="posterior.nc from personagen fit")
    v.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    v.add_argument("--port", type=_positive_int, default=8000, help="port (default 8000)")
    v.add_argument(
        "--token-file", type=Path, help="file holding a bearer token every request must send"
    )
    v.add_argument(
        "--max-batch",
        type=_positive_int,
        default=10_000,
        help="most customers one request may assign or sample (default 10,000)",
    )
    _add_config_args(v)
    _add_cache_args(v)
    v.set_defaults(func=cmd_serve)


def _add_report(sub: Any) -> None:
    r = sub.add_parser("report", help="write DIR/report.html for a sample or fit output")
    r.add_argument("directory", type=Path, metavar="DIR", help="output of personagen sample or fit")
    r.add_argument(
        "--lookalike",
        type=Path,
        metavar="SAMPLE_DIR",
        help="for a fit: a look-alike sample (sample --posterior) to score against the real data",
    )
    r.add_argument("--overwrite", action="store_true", help="replace DIR/report.html")
    r.set_defaults(func=cmd_report)


def _add_hierarchy(sub: Any) -> None:
    h = sub.add_parser("hierarchy", help="product hierarchy tools")
    hsub = h.add_subparsers(dest="hierarchy_command", required=True, metavar="ACTION")
    hp = hsub.add_parser("parse", help="pipe-delimited text export -> hierarchy YAML")
    hp.add_argument("input", type=Path, help="text file with 'Department: Name | Class' lines")
    hp.add_argument("-o", "--output", type=Path, required=True, help="YAML file to write")
    hp.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    hp.set_defaults(func=cmd_hierarchy_parse)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``personagen`` command."""
    parser = argparse.ArgumentParser(
        prog="personagen", description="Bayesian generative model of retail shoppers."
    )
    parser.add_argument("--version", action="version", version=f"personagen {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands = [_add_validate, _add_sample, _add_fit, _add_evaluate, _add_assign, _add_serve]
    for add in (*commands, _add_report, _add_hierarchy):
        add(sub)
    return parser
