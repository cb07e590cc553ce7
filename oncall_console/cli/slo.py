"""``oncall-console slo import FILE``: Sloth and OpenSLO specs as ``[slis]`` tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from oncall_console.cli.common import EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("slo", help="work with SLO specs of other tools")
    ssub = p.add_subparsers(dest="slo_command", metavar="ACTION", required=True)
    q = ssub.add_parser(
        "import",
        help="read Sloth (prometheus/v1, PrometheusServiceLevel) or OpenSLO (v1, v1alpha)"
        " specs and print [slis] TOML for a prometheus backend",
    )
    q.add_argument("file", metavar="FILE", help="the YAML spec")
    q.add_argument("--backend", default="prom", help="the prometheus backend's name (prom)")
    q.add_argument("-o", "--output", help="write the TOML here (refuses an existing file)")
    q.add_argument(
        "--no-data-unknown",
        action="store_true",
        help="no data for the errors stays unknown (default: read as zero errors)",
    )


def cmd_slo(args: argparse.Namespace) -> int:
    import tomli_w
    from pydantic import ValidationError

    from oncall_console.backends.prometheus.options import PrometheusSliParams
    from oncall_console.backends.prometheus.slo_specs import SpecError, read_specs
    from oncall_console.config import SliConfig

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
        found = read_specs(text, args.backend, no_data_is_zero=not args.no_data_unknown)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}: cannot read: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SpecError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for name, sli in found.slis.items():  # what is written is what the config accepts
        try:
            checked = SliConfig.model_validate(sli)
            PrometheusSliParams.model_validate(checked.model_extra or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            print(
                f"{path}: slis.{name}{'.' + where if where else ''}: {first['msg']}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    out = tomli_w.dumps({"slis": found.slis})
    for note in found.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.output:
        try:
            with open(args.output, "x", encoding="utf-8") as f:
                f.write(out)
        except OSError as exc:
            print(f"{args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"{len(found.slis)} SLI(s) written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(out)
    return EXIT_OK
