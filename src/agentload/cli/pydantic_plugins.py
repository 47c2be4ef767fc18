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

import os
import sys
import types

SWITCH = "PYDANTIC_DISABLE_PLUGINS"
_NONE_AT_ALL = ("__all__", "1", "true")  # the values for which pydantic loads no plugin
_LOADER = "pydantic.plugin._loader"


def skip_plugin_discovery() -> None:
    """Disable pydantic plugins unless the user chose otherwise; then skip the lookup."""
    if os.environ.setdefault(SWITCH, "__all__") not in _NONE_AT_ALL or _LOADER in sys.modules:
        return
    loader = types.ModuleType(_LOADER, "agentload: pydantic plugins are disabled")
    loader.__dict__["get_plugins"] = _no_plugins
    sys.modules[_LOADER] = loader


def _no_plugins(*_args: object, **_kwargs: object) -> tuple[()]:
    return ()  # what pydantic's own get_plugins returns when the switch says "__all__"
