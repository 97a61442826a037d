"""Every reader of a user-supplied file turns every failure into a clear error: no traceback.

Property tests (hypothesis): random bytes, truncations and edits of valid files, and
valid YAML of the wrong shape, given to each reader. A reader may accept its input or
raise ConfigError/DataError (exit 2 at the command line); any other exception fails.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from personagen import ConfigError, DataError
from personagen.cli import main
from personagen.config import load_hierarchy, load_personas, load_segments, read_yaml_mapping
from personagen.data import load_mapping, read_customer_table

from tests.helpers import ROOT

#: Examples per property: each reads one small file; 60 keep the file under 30 s.
EXAMPLES = 60
CLEAR = (ConfigError, DataError)
SHIPPED = {
    "hierarchy": ROOT / "hierarchy_parsed.yml",
    "segments": ROOT / "priors" / "segments.yml",
    "personas": ROOT / "priors" / "personas.yml",
    "mapping": ROOT / "priors" / "examples" / "completejourney" / "mapping.yml",
}
HIERARCHY = load_hierarchy(SHIPPED["hierarchy"])
SEGMENTS = load_segments(SHIPPED["segments"])
CJ_HIERARCHY = load_hierarchy(ROOT / "priors" / "examples" / "completejourney" / "hierarchy.yml")

READERS = {
    "yaml": read_yaml_mapping,
    "hierarchy": load_hierarchy,
    "segments": load_segments,
    "personas": lambda p: load_personas(p, HIERARCHY, SEGMENTS),
    "mapping": lambda p: load_mapping(p, CJ_HIERARCHY),
    "customer table": read_customer_table,
}
PROPERTY = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def read(reader, data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data)
        try:
            reader(path)
        except CLEAR:
            pass


@pytest.mark.parametrize("name", sorted(READERS))
@PROPERTY
@given(data=st.binary(max_size=400))
def test_random_bytes_give_a_clear_error(name, data):
    read(READERS[name], data, ".csv" if name == "customer table" else ".yml")


@pytest.mark.parametrize("name", ["hierarchy", "segments", "personas", "mapping"])
@PROPERTY
@given(cut=st.floats(0.0, 1.0), junk=st.binary(max_size=8))
def test_truncated_and_edited_config_files_give_a_clear_error(name, cut, junk):
    text = SHIPPED[name].read_bytes()
    at = int(cut * len(text))
    read(READERS[name], text[:at] + junk, ".yml")


@pytest.mark.parametrize("name", ["hierarchy", "segments", "personas", "mapping"])
@PROPERTY
@given(value=yaml_values)
def test_valid_yaml_of_the_wrong_shape_gives_a_clear_error(name, value):
    read(READERS[name], yaml.safe_dump(value).encode(), ".yml")


@PROPERTY
@given(cut=st.floats(0.0, 1.0))
def test_truncated_parquet_and_csv_tables_give_a_clear_error(tmp_path_factory, cut):
    table = tmp_path_factory.getbasetemp() / "table"
    if not table.exists():
        assert main(["sample", "--n", "50", "--out", str(table), "--basic-only", "-q"]) == 0
        parquet = table / "customer_sales_data_basic.parquet"
        read_customer_table(parquet).to_csv(table / "customers.csv", index=False)
    for name in ("customer_sales_data_basic.parquet", "customers.csv"):
        data = (table / name).read_bytes()
        read(read_customer_table, data[: int(cut * len(data))], Path(name).suffix)


def test_a_directory_or_unreadable_file_is_a_clear_error(tmp_path, monkeypatch):
    for reader in READERS.values():
        with pytest.raises(CLEAR, match="is a directory"):
            reader(tmp_path)
    locked = tmp_path / "locked.yml"
    shutil.copy(SHIPPED["segments"], locked)

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    # the tests may run as root, who reads a mode-0 file: refuse the read instead
    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError, match=r"locked.yml:\n  cannot read the file \(Permission"):
        load_segments(locked)


@PROPERTY
@given(data=st.binary(max_size=300))
def test_posterior_readers_give_a_clear_error(data):
    from personagen import load_config
    from personagen.infer import read_posterior

    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "posterior.nc"
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + data)  # looks like netCDF4, is not
        with pytest.raises(CLEAR):
            read_posterior(path, config)


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "--priors", "{bad}"],
        ["hierarchy", "parse", "{bad}", "-o", "{out}"],
        ["assign", "{bad}", "--posterior", "{bad}", "--out", "{out}"],
        ["fit", "{bad}", "--out", "{out}"],
        ["sample", "--n", "5", "--out", "{out}", "--posterior", "{bad}"],
    ],
)
def test_the_cli_exits_2_without_a_traceback_on_garbage(tmp_path, capsys, args):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\xff\xfe\x00garbage\x00" * 10)
    argv = [a.format(bad=bad, out=tmp_path / "out") for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err
