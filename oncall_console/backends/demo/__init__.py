"""The ``demo`` backend: an embedded, deterministic simulated platform.

- ``simulation.py``: the script and the platform that plays it (pure, no IO), with
  its state model in ``state.py``;
- ``backend.py``: :class:`DemoBackend`, the plugin that reads the simulation at the
  injected clock's time and lets the remediation actions change it;
- ``sketch.py``: the first poll's reading of a demo config, without the plugin's models;
- ``config.py``: the configuration of ``oncall-console demo``.

Both names are imported on first use: the first poll (``sketch.py``) and the demo's
config need neither pydantic nor the plugin class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oncall_console.backends.demo.backend import DemoBackend
    from oncall_console.backends.demo.config import demo_config_dict

__all__ = ["DemoBackend", "demo_config_dict"]


def __getattr__(name: str) -> Any:
    if name == "DemoBackend":
        from oncall_console.backends.demo.backend import DemoBackend

        return DemoBackend
    if name == "demo_config_dict":
        from oncall_console.backends.demo.config import demo_config_dict

        return demo_config_dict
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
