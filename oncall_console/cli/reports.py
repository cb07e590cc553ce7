"""The commands that read and print: ``status``, ``handoff``, ``audit``, ``incident``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oncall_console.cli.common import (
    EXIT_DEGRADED,
    EXIT_DOWN,
    EXIT_OK,
    EXIT_USAGE,
    demo_config,
    load_config,
)

if TYPE_CHECKING:
    from oncall_console.model import Severity


def status_json(snap: dict[str, Any]) -> str:
    """JSON escapes only C0; every other control, format, line or paragraph separator
    character (DEL, C1 with \\x9b the CSI, bidi controls, U+2028/2029, U+061C, the BOM)
    in remote text would reach the terminal raw, so each is written as a \\u escape
    (still JSON). The same classes as the text cleaner (Cc, Cf, Zl, Zp, Cs)."""
    import unicodedata

    text = json.dumps(snap, indent=2, ensure_ascii=False)
    out = []
    for ch in text:
        if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            code = ord(ch)
            if code > 0xFFFF:  # a surrogate pair, as JSON writes one
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def cmd_status(args: argparse.Namespace) -> int:
    from oncall_console.engine.api import OnCall
    from oncall_console.model import Severity, Status

    fail_on = None
    if args.fail_on is not None:
        try:
            fail_on = Severity.parse(args.fail_on)
        except ValueError:
            print(
                f"oncall-console status: --fail-on: not a severity: {args.fail_on!r}"
                " (use SEV1-SEV4 or P1-P4)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if args.demo:
        import time

        now = time.time()
        start = now - args.at if args.at is not None else None
        loaded = demo_config(args.seed, args.speed, start=start)
    else:
        loaded = load_config(args.config)
    oncall = OnCall.build(loaded)

    async def once() -> dict[str, Any]:
        try:
            await oncall.poll_once()
            return oncall.status()
        finally:
            await oncall.stop()

    snap = asyncio.run(once())
    if args.format == "json":
        print(status_json(snap))
    else:
        print(render_status_table(snap))
    overall = Status(snap["overall"])
    code = EXIT_OK if overall is Status.OK else EXIT_DEGRADED
    code = EXIT_DOWN if overall not in (Status.OK, Status.DEGRADED) else code
    if fail_on is not None and (failing := alerts_failing(snap, fail_on)):
        print(f"fail-on {fail_on.label}: {failing}", file=sys.stderr)
        code = EXIT_DOWN
    return code


def alerts_failing(snap: dict[str, Any], worst: Severity) -> str:
    """Why ``status --fail-on`` fails: firing alerts at ``worst`` or above, or a feed
    that could not be read (it might hide them); "" when neither."""
    from oncall_console.model import Severity
    from oncall_console.text import clean

    firing = [
        a
        for a in snap["alerts"]
        if a["state"] == "active" and Severity.parse(a["severity"]) <= worst
    ]
    if firing:
        names = sorted({clean(a["name"], limit=80) for a in firing})
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        return f"{len(firing)} alert(s) firing at {worst.label} or worse: {shown}"
    if snap.get("errors"):
        return "an alert feed or backend could not be read: " + ", ".join(snap["errors"])
    return ""


def render_status_table(snap: dict[str, Any]) -> str:
    from oncall_console.fmt import latency, number
    from oncall_console.model import Status
    from oncall_console.text import clean

    def st(value: str) -> str:
        s = Status(value)
        return f"{s.glyph} {s.label:<5}"

    out = [f"{snap['environment']}: {st(snap['overall']).rstrip()}", ""]
    width = max((len(c["name"]) for c in snap["checks"]), default=5)
    out.append(f"{'STATUS':<7}  {'CHECK':<{width}}  {'LATENCY':>8}  SUMMARY")
    for c in snap["checks"]:
        lat = latency(c["latency_ms"])
        out.append(
            f"{st(c['status'])}  {clean(c['name']):<{width}}  {lat:>8}  {clean(c['summary'], limit=100)}"
        )
    if snap["slis"]:
        out += ["", f"{'STATUS':<7}  SLI"]
        for s in snap["slis"]:
            for r in s["readings"] or [{"series": "", "value": None}]:
                value = number(r["value"], s["unit"])
                series = f" {{{clean(r['series'])}}}" if r.get("series") else ""
                extra = ""
                if r.get("budget_remaining") is not None:
                    extra += f"  budget {r['budget_remaining'] * 100:.0f}%"
                if r.get("burn_rate") is not None:
                    extra += f"  burn {r['burn_rate']:.1f}x"
                if r.get("note"):
                    extra += f"  ({clean(r['note'])})"
                out.append(f"{st(s['status'])}  {clean(s['title'])}{series}: {value}{extra}")
            if s.get("error"):
                out.append(f"         error: {clean(s['error'])}")
    if snap["incidents"] or snap["alerts"]:
        out += ["", "SEV   ACTIVE"]
        for i in snap["incidents"]:
            out.append(
                f"{i['severity']:<5} {clean(i['id'])} {clean(i['title'], limit=90)} [{i['status']}]"
            )
        for a in snap["alerts"]:
            out.append(
                f"{a['severity']:<5} {clean(a['name'])}: {clean(a['summary'], limit=90)} [{a['state']}]"
            )
    for source, error in snap.get("errors", {}).items():
        out.append(f"error: {clean(source)}: {clean(error)}")
    return "\n".join(out)


def cmd_handoff(args: argparse.Namespace) -> int:
    from oncall_console.durations import parse_duration
    from oncall_console.engine.api import OnCall
    from oncall_console.engine.handoff import HandoffOptions, build_report

    since = parse_duration(args.since)
    loaded = demo_config(args.seed, args.speed) if args.demo else load_config(args.config)
    oncall = OnCall.build(loaded)

    async def go() -> str:
        await oncall.start(poll=False)
        try:
            await oncall.poll_once()
            await oncall.runbooks.ready()
            now = oncall.clock()
            return await build_report(
                oncall, HandoffOptions(since=now - since, now=now, notes=args.note)
            )
        finally:
            await oncall.stop()

    report = asyncio.run(go())
    if args.output:
        Path(args.output).write_text(report, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(report)
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """``audit list`` / ``audit verify``. Both only read: they work on a store that cannot
    be written (a full disk, a read-only file). A store fault is one line naming the store
    and exits 2; for ``verify``, a corrupt store is a broken chain."""
    import time

    from oncall_console.durations import parse_duration
    from oncall_console.engine.api import store_from_config
    from oncall_console.store import StoreCorrupt, StoreError
    from oncall_console.text import clean

    store = store_from_config(load_config(args.config))
    since = time.time() - parse_duration(args.since) if args.since else None

    def fault(exc: StoreError) -> int:
        if args.what == "verify" and isinstance(exc, StoreCorrupt):
            print(f"audit chain BROKEN: the store is corrupt: {clean(str(exc))}", file=sys.stderr)
        else:
            print(f"error: {clean(str(exc))}", file=sys.stderr)
        return EXIT_DOWN

    async def go() -> int:
        try:
            await store.open()
        except StoreError as exc:
            await store.close()
            return fault(exc)
        try:
            if args.what == "verify":
                report = await store.verify_audit()
                if report.ok:
                    head = f" (head {report.head[:16]})" if report.head else ""
                    print(f"audit chain ok: {report.entries} entries{head}")
                    return EXIT_OK
                print(f"audit chain BROKEN: {clean(report.problem)}", file=sys.stderr)
                return EXIT_DOWN
            records = await store.audit(since)
            finished = {r.intent_id: r for r in records if r.kind == "result"}
            for r in records:
                if r.kind != "intent":
                    continue
                done = finished.get(r.id)
                outcome = clean(done.outcome) if done else "outcome unknown"
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
                who = clean(r.operator) + (f"@{clean(r.ssh_client)}" if r.ssh_client else "")
                print(
                    f"#{r.id} {when} {who} {clean(r.backend)}.{clean(r.action)} {clean(r.target)}: {outcome}"
                )
                if done and done.message:
                    print(f"    {clean(done.message, limit=200)}")
            return EXIT_OK
        except StoreError as exc:
            return fault(exc)
        finally:
            await store.close()

    return asyncio.run(go())


def cmd_incident(args: argparse.Namespace) -> int:
    import time

    from oncall_console.durations import parse_duration
    from oncall_console.engine.api import store_from_config
    from oncall_console.incidents import (
        IncidentError,
        Policy,
        export_incident,
        list_incidents,
        show_incident,
    )

    loaded = load_config(args.config)
    store = store_from_config(loaded)

    async def go() -> int:
        await store.open()
        try:
            if args.incident_command == "list":
                since = time.time() - parse_duration(args.since) if args.since else None
                policy = Policy.from_config(loaded.config.incidents)
                print(
                    await list_incidents(store, open_only=args.open, since=since, policy=policy),
                    end="",
                )
            elif args.incident_command == "show":
                print(await show_incident(store, args.id), end="")
            else:
                output = Path(args.output) if args.output else None
                markdown = await export_incident(store, args.id, output)
                if output is None:
                    print(markdown, end="")
                else:
                    print(f"wrote {output}")
            return EXIT_OK
        except IncidentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        finally:
            await store.close()

    return asyncio.run(go())
