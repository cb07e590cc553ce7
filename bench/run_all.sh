#!/usr/bin/env bash
# Run every benchmark of issue #6 with its defaults, then assemble BENCHMARKS.md.
# Needs what ./scripts/test installs (the venv, tmux, the stack's Debian packages),
# plus curl, htop and btop for the peers (installed here when root and missing).
# Takes ~20-30 minutes on 2 cores. Run it on a quiet machine: ratios are taken in the
# same run, but medians still move with load.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in curl htop btop tmux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

"$PY" bench/first_frame.py --stream # 1. first frame: demo and 200 checks vs a bare Textual app
"$PY" bench/poll_cycle.py           # 2. 100 / 1,000 / 10,000 http checks vs a curl loop
"$PY" bench/keypress_load.py        # 3. key -> frame under 1,000 checks and a hung backend
"$PY" bench/terminal_bytes.py       # 4. bytes/s to the terminal vs htop and btop
"$PY" bench/shift_memory.py         # 5. RSS over 12 simulated hours of 1,000 checks
"$PY" bench/many_alerts.py          # 6. 10,000 alerts: fetch, filter key -> frame
"$PY" bench/action_overhead.py      # 7. confirm -> durable audit result, SQLite and PostgreSQL
"$PY" bench/shared_probes.py        # 8. 1 / 5 / 10 consoles on one bus: requests at the server, hand-over
"$PY" bench/report.py
