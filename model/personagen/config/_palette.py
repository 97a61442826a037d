"""One colour per persona, shared by the notebooks, the checks and the reports."""

from __future__ import annotations

from personagen.config._load import PersonagenConfig

__all__ = ["persona_colours"]


def persona_colours(config: PersonagenConfig) -> dict[str, str]:
    """One fixed colour per persona (matplotlib's tab10 in file order), for every plot."""
    palette = [
        "#1f77b4",
        "#ff7f0e",
        "#2ca02c",
        "#d62728",
        "#9467bd",
        "#8c564b",
        "#e377c2",
        "#7f7f7f",
        "#bcbd22",
        "#17becf",
    ]
    return {name: palette[i % len(palette)] for i, name in enumerate(config.persona_names)}
