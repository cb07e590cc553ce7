"""What several backend plugins share; nothing here belongs to one plugin.

- :mod:`~oncall_console.backends.shared.params`: typed parameters declared in config
  (:class:`ParamDecl`) and the ``{param}`` templates that use them;
- :mod:`~oncall_console.backends.shared.declared`: actions declared in config (the
  ``http`` backend's webhooks, the ``shell`` backend's commands) turned into
  ``ActionSpec`` and into the typed values of a request;
- :mod:`~oncall_console.backends.shared.plain`: config values read without pydantic,
  for the first poll's sketches.

Importing this package imports none of its modules.
"""
