"""The ``agentload`` command runs without pydantic plugins, and without looking for them.

pydantic looks for plugins (entry points of the ``pydantic`` group) the first time it builds
a validator, which typer does for the command's options; its loader imports
``importlib.metadata`` (with ``email``, ``zipfile`` and ``csv``) and reads the metadata of
every installed package: 1.1 MB that a load generator then holds for its whole run
(docs/footprint.md). agentload's scenario and option models have no use for third-party
validation plugins, so the command turns them off with pydantic's own switch,
``PYDANTIC_DISABLE_PLUGINS=__all__``, and, as no plugin can load then, stands in for the
loader. A user who sets the variable to anything else (plugin names to skip, or an empty
value for all of them) gets pydantic's loader as usual. Only the command does this: a
program that imports agentload as a library keeps its own plugins.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from collections.abc import Callable
from importlib.machinery import ModuleSpec

SWITCH = "PYDANTIC_DISABLE_PLUGINS"
_NONE_AT_ALL = ("__all__", "1", "true")  # the values for which pydantic loads no plugin
_LOADER = "pydantic.plugin._loader"


def skip_plugin_discovery() -> None:
    """Disable pydantic plugins unless the user chose otherwise; then skip the lookup."""
    if os.environ.setdefault(SWITCH, "__all__") not in _NONE_AT_ALL or _LOADER in sys.modules:
        return
    spec = importlib.util.find_spec(_LOADER)  # imports pydantic.plugin, not the loader
    if spec is None:  # a pydantic without this module: nothing to stand in for
        return
    # The stand-in answers get_plugins; any other name (a pydantic that imports more from
    # its loader) comes from the real module, executed then.
    stand_in = types.ModuleType(_LOADER, "agentload: pydantic plugins are disabled")
    stand_in.__spec__ = spec
    stand_in.__dict__["get_plugins"] = _no_plugins
    stand_in.__dict__["__getattr__"] = _from_real_loader(spec)
    sys.modules[_LOADER] = stand_in
    setattr(sys.modules[_LOADER.rpartition(".")[0]], "_loader", stand_in)  # noqa: B010


def _no_plugins(*_args: object, **_kwargs: object) -> tuple[()]:
    return ()  # what pydantic's own get_plugins returns when the switch says "__all__"


def _from_real_loader(spec: ModuleSpec) -> Callable[[str], object]:
    real: list[types.ModuleType] = []

    def attribute(name: str) -> object:
        if name.startswith("__"):  # the import system probing (__path__, ...): not a name
            raise AttributeError(name)
        if not real:
            module = importlib.util.module_from_spec(spec)
            assert spec.loader is not None
            spec.loader.exec_module(module)
            real.append(module)
        return getattr(real[0], name)

    return attribute
