"""The package tree: imports run one way, and light commands stay light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "model" / "personagen"
#: What each subpackage may import from personagen (besides itself and the shared leaves
#: ``errors``, ``_io``, ``_compilation_cache`` and ``_malloc``): the data flow of
#: docs/architecture.md.
#: Nothing imports upward.
ALLOWED = {
    "config": set(),
    "story": {"config"},
    "sample": {"config", "story"},
    "data": {"config"},
    "infer": {"config", "story", "data"},
    "checks": {"config", "story", "sample", "data", "infer"},
    "serve": {"config", "story", "sample", "data", "infer"},
    "report": {"config", "sample", "infer", "checks"},
    "cli": {"config", "story", "sample", "data", "infer", "checks", "serve", "report"},
}
LEAVES = {"errors", "_io", "_compilation_cache", "_malloc"}


def personagen_imports(path: Path) -> set[str]:
    """The first-level personagen modules a file imports (at any depth of the code)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "personagen":
                found.add(parts[1] if len(parts) > 1 else "")
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_run_one_way(package):
    for path in (PACKAGE / package).glob("*.py"):
        used = personagen_imports(path) - {package} - LEAVES
        if package == "cli":
            used -= {""}  # the CLI reads personagen.__version__
        assert used <= ALLOWED[package], f"{path.name} imports {sorted(used - ALLOWED[package])}"


def test_the_shared_leaves_import_no_subpackage():
    for leaf in LEAVES:
        assert personagen_imports(PACKAGE / f"{leaf}.py") <= LEAVES - {leaf} | {"errors"}


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    ("statement", "forbidden"),
    [
        ("import personagen", {"jax", "numpyro", "arviz", "pandas"}),
        ("import personagen.config", {"jax", "numpyro", "arviz", "pandas"}),
        ("import personagen.data", {"jax", "numpyro", "arviz"}),
        ("import personagen.story", {"pandas", "arviz", "personagen.sample"}),
        (
            "import personagen.sample",
            {"arviz", "personagen.infer", "personagen.data", "matplotlib"},
        ),
        ("import personagen.report", {"arviz", "personagen.infer"}),
        ("import personagen.infer", {"personagen.sample", "personagen.checks"}),
        ("from personagen.cli import main", {"jax", "numpyro", "arviz", "pandas"}),
    ],
)
def test_each_subpackage_imports_alone_and_only_what_it_needs(statement, forbidden):
    loaded = loaded_after(statement)
    assert not (loaded & forbidden), sorted(loaded & forbidden)


def test_top_level_names_resolve_lazily():
    loaded = loaded_after("from personagen import load_config, sample_to_files")
    assert "personagen.sample" in loaded and "personagen.infer" not in loaded
