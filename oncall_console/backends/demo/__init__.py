"""The ``demo`` backend: an embedded, deterministic simulated platform.

- ``simulation.py``: the script and the platform that plays it (pure, no IO), with
  its state model in ``state.py``;
- ``backend.py``: :class:`DemoBackend`, the plugin that reads the simulation at the
  injected clock's time and lets the remediation actions change it;
- ``config.py``: the configuration of ``oncall-console demo``.
"""

from oncall_console.backends.demo.backend import DemoBackend
from oncall_console.backends.demo.config import demo_config_dict

__all__ = ["DemoBackend", "demo_config_dict"]
