"""The notebooks' exercises, Kaggle Learn style: one module per notebook (`nb01` for
`notebooks/01_....ipynb`, ...), each with `NOTEBOOK` (the notebook's file name), its exercises `q1`, `q2`, ...
with their judges, and `EXERCISES` listing them in the notebook's order; beside it a TOML file of their texts
(`nb01.toml`: title, task, hint and solved cell of each). `core` holds what they share."""

from __future__ import annotations

import importlib
import pkgutil
import re

from .core import Exercise


def notebook_exercises() -> dict[str, list[Exercise]]:
    """Every notebook's exercises, by the notebook's file name, from the modules named nbNN here."""
    modules = [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
               if re.fullmatch(r"nb\d\d", info.name)]
    return {module.NOTEBOOK: list(module.EXERCISES) for module in sorted(modules, key=lambda module: module.NOTEBOOK)}
