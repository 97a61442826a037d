"""Reading YAML files safely, with problems reported as :class:`Problem`.

Files are parsed with :func:`yaml.safe_load`. Before that, the document is
composed (``yaml.compose``, which builds nodes and runs no constructors) to
find duplicate keys, which ``safe_load`` would silently collapse to the last
one: a persona defined twice must be an error, not a quiet overwrite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from personagen.errors import ConfigError, Problem


def _duplicate_keys(
    node: yaml.Node, path: str, file: str, visited: set[int] | None = None
) -> list[Problem]:
    # an alias points at a node already composed: visit each node once (a self-referencing
    # anchor would recurse for ever, a "billion laughs" file for exponential time)
    visited = set() if visited is None else visited
    if id(node) in visited:
        return []
    visited.add(id(node))
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = f"{path}.{key}" if path else key
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        file,
                        child,
                        f"duplicate key (line {line}; first defined on line "
                        f"{seen[key]}); each key may appear once",
                    )
                )
            else:
                seen[key] = line
            problems.extend(_duplicate_keys(value_node, child, file, visited))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            problems.extend(_duplicate_keys(item, f"{path}[{i}]", file, visited))
    return problems


def read_text_file(path: str | Path, what: str) -> str:
    """Return the UTF-8 text of a user-supplied file, or raise a :class:`ConfigError`.

    Parameters
    ----------
    path : str or Path
        The file to read.
    what : str
        What the file should be, for the message (``"a YAML file"``).

    Raises
    ------
    ConfigError
        If the file is missing, a directory, unreadable or not UTF-8 text.
    """
    file = str(path)
    p = Path(path)
    if not p.is_file():
        state = "is a directory" if p.is_dir() else "does not exist"
        raise ConfigError([Problem(file, "", f"file {state}; expected {what}")])
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ConfigError([Problem(file, "", f"cannot read the file ({exc.strerror})")]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [Problem(file, "", f"not UTF-8 text (byte {exc.start}); expected {what}")]
        ) from None


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping.

    Parameters
    ----------
    path : str or Path
        The file to read.

    Returns
    -------
    dict
        The parsed document.

    Raises
    ------
    ConfigError
        If the file is missing, unreadable, not UTF-8, not valid YAML (the message
        gives the line), has duplicate keys, or its top level is not a mapping.
    """
    file = str(path)
    text = read_text_file(path, "a YAML file")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            [Problem(file, "", f"malformed YAML at {where}{exc.problem or exc.context}")]
        ) from None
    except (yaml.YAMLError, RecursionError, ValueError) as exc:
        # ValueError: e.g. a timestamp out of range; RecursionError: absurd nesting
        raise ConfigError([Problem(file, "", f"malformed YAML: {exc}")]) from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ConfigError([Problem(file, "", f"expected a mapping at the top level, got {got}")])
    problems = _duplicate_keys(node, "", file) if node is not None else []
    if problems:
        raise ConfigError(problems)
    return data
