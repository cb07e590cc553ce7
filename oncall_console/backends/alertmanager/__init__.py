"""The ``alertmanager`` backend: alerts, silences and silence actions over the v2 API.

One pooled httpx client per backend. Every label, annotation, comment and author
is remote text: cleaned (keys and values, bounded) before it leaves the package.

- ``options.py``: the server, the severity mapping, the longest silence;
- ``client.py``: the client, the API's requests and answers, the server's health;
- ``feed.py``: the active alerts, read one at a time (``json_array.py``);
- ``matchers.py``: label matchers in Alertmanager's syntax, matched locally;
- ``silences.py``: silences listed, and the ``silence`` / ``expire-silence`` actions;
- ``backend.py``: :class:`AlertmanagerBackend`, made of the feed and the silences.
"""

from oncall_console.backends.alertmanager.backend import AlertmanagerBackend

__all__ = ["AlertmanagerBackend"]
