"""Configuration: YAML files -> validated frozen objects -> the model's structure and priors.

The first stage of the data flow (``docs/architecture.md``). Nothing here imports JAX:
``personagen validate`` and ``personagen hierarchy parse`` run on this package alone.

* :func:`load_config` reads and cross-validates the hierarchy, personas and segments
  files into one :class:`PersonagenConfig` (every problem collected in one
  :class:`~personagen.errors.ConfigError`);
* :func:`build_structure` and :func:`build_prior_arrays` turn it into the static
  :class:`Structure` and the numeric :class:`PriorArrays` the story consumes;
* :mod:`._columns` names the columns of the customer tables, for every reader and writer.
"""

from personagen.config._columns import (
    BASIC_CORE_COLUMNS,
    DAYS_PER_MONTH,
    DEPARTMENT_UNITS_PREFIX,
    DEPARTMENT_VALUE_PREFIX,
    basic_columns,
    department_units_columns,
    department_value_columns,
)
from personagen.config._hierarchy import (
    ProductHierarchy,
    build_hierarchy,
    dump_hierarchy_yaml,
    format_hierarchy_text,
    parse_hierarchy_text,
    slugify,
)
from personagen.config._load import (
    SUM_TOLERANCE,
    PersonagenConfig,
    config_from_dict,
    default_paths,
    load_config,
    load_hierarchy,
    load_personas,
    load_segments,
)
from personagen.config._palette import persona_colours
from personagen.config._priors import (
    GENDER_LABELS,
    SIZE_KIND_ADULT,
    SIZE_KIND_KIDS,
    SIZE_KIND_NONE,
    Z90,
    PriorArrays,
    Structure,
    beta_from_interval,
    build_prior_arrays,
    build_structure,
    interval_to_lognormal,
)
from personagen.config._schema import (
    DAY_NAMES,
    SIZE_LABELS,
    DroppedOutSpec,
    PersonaKnobs,
    PersonasFile,
    PersonaSpec,
    PopulationSpec,
    SegmentsFile,
    SegmentSpec,
    TimingSpec,
)
from personagen.config._timing import TimingArrays, build_timing, with_timing
from personagen.config._yaml import read_text_file, read_yaml_mapping

__all__ = [
    "BASIC_CORE_COLUMNS",
    "DAYS_PER_MONTH",
    "DAY_NAMES",
    "DEPARTMENT_UNITS_PREFIX",
    "DEPARTMENT_VALUE_PREFIX",
    "GENDER_LABELS",
    "SIZE_KIND_ADULT",
    "SIZE_KIND_KIDS",
    "SIZE_KIND_NONE",
    "SIZE_LABELS",
    "SUM_TOLERANCE",
    "Z90",
    "DroppedOutSpec",
    "PersonaKnobs",
    "PersonaSpec",
    "PersonagenConfig",
    "PersonasFile",
    "PopulationSpec",
    "PriorArrays",
    "ProductHierarchy",
    "SegmentSpec",
    "SegmentsFile",
    "Structure",
    "TimingArrays",
    "TimingSpec",
    "basic_columns",
    "beta_from_interval",
    "build_hierarchy",
    "build_prior_arrays",
    "build_structure",
    "build_timing",
    "config_from_dict",
    "default_paths",
    "department_units_columns",
    "department_value_columns",
    "dump_hierarchy_yaml",
    "format_hierarchy_text",
    "interval_to_lognormal",
    "load_config",
    "load_hierarchy",
    "load_personas",
    "load_segments",
    "parse_hierarchy_text",
    "persona_colours",
    "read_text_file",
    "read_yaml_mapping",
    "slugify",
    "with_timing",
]
