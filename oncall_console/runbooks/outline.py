"""What the runbook screen will show, as plain data: ``runbook show`` prints it (text or
JSON) so a team can see how its documents load before an incident. Pure: no IO.

Headings in order, each with its prose (plain text; the emphasised words listed) and
its blocks between the paragraphs, then its steps with their notes and blocks. Commands
keep their placeholders; with labels given they are filled as the screen fills them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oncall_console.runbooks.model import (
    ActionBlock,
    Block,
    Phase,
    PromqlBlock,
    ReferenceBlock,
    Runbook,
    SqlBlock,
    Step,
)
from oncall_console.runbooks.placeholders import fill, unknown
from oncall_console.runbooks.prose import prose


def outline(runbook: Runbook, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    labels = labels or {}
    return {
        "id": runbook.id,
        "title": runbook.title,
        "file": runbook.file,
        "alerts": list(runbook.alerts),
        "tags": list(runbook.tags),
        "weight": runbook.weight,
        "severity": runbook.severity.label if runbook.severity else None,
        "steps": len(runbook.steps),
        "blocks": sum(1 for _ in runbook.blocks()),
        "phases": [_phase(p, runbook, labels) for p in runbook.all_phases()],
        "problems": [str(p) for p in runbook.problems],
    }


def _phase(phase: Phase, runbook: Runbook, labels: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": phase.id,
        "title": phase.title if phase.id != "intro" else runbook.title,
        "level": phase.level,
        "line": phase.line,
        "parent": phase.parent or None,
        "parts": [
            _prose(part) if isinstance(part, str) else _block(part, labels) for part in phase.parts
        ],
        "steps": [_step(s, labels) for s in phase.steps],
    }


def _prose(markdown: str) -> dict[str, Any]:
    spans = prose(markdown)
    return {
        "kind": "prose",
        "text": "".join(s.text for s in spans),
        "emphasis": [{"text": s.text, "style": s.style} for s in spans if s.style],
    }


def _step(step: Step, labels: Mapping[str, str]) -> dict[str, Any]:
    shown = "".join(s.text for s in prose(step.markdown)) if step.markdown else ""
    return {
        "id": step.id,
        "text": step.text,
        "shown": shown or step.text,
        "line": step.line,
        "depth": step.depth,
        "parent": step.parent,
        "checkbox": step.checkbox,
        "checked": step.checked,
        "note": "".join(s.text for s in prose(step.note)) if step.note else "",
        "blocks": [_block(b, labels) for b in step.blocks],
    }


def _block(block: Block, labels: Mapping[str, str]) -> dict[str, Any]:
    if isinstance(block, ActionBlock):
        return {
            "kind": "action",
            "line": block.line,
            "backend": block.backend,
            "action": block.action,
            "params": dict(block.params),
            "ask": list(block.ask),
            "title": block.title,
        }
    if isinstance(block, PromqlBlock | SqlBlock):
        text = block.query if isinstance(block, PromqlBlock) else block.sql
        return {
            "kind": block.kind.value,
            "line": block.line,
            "backend": block.backend or None,
            "text": fill(text, labels),
            "placeholders": unknown(text, labels),
        }
    assert isinstance(block, ReferenceBlock)
    return {
        "kind": "command",
        "line": block.line,
        "language": block.language,
        "text": fill(block.text, labels),
        "placeholders": unknown(block.text, labels),
    }


# --- as text -------------------------------------------------------------------------------------


def as_text(data: dict[str, Any]) -> str:
    """The outline as the screen reads it, one heading after another."""
    out = [f"{data['title']}  ({data['id']}, {data['file']})"]
    facts = [f"{data['steps']} steps", f"{data['blocks']} blocks"]
    if data["alerts"]:
        facts.append("alerts: " + ", ".join(data["alerts"]))
    if data["tags"]:
        facts.append("tags: " + ", ".join(data["tags"]))
    out.append("  " + " · ".join(facts))
    for phase in data["phases"]:
        out.append("")
        out.append("#" * max(1, phase["level"]) + " " + phase["title"])
        for part in phase["parts"]:
            out.extend(_part_lines(part, "  "))
        for step in phase["steps"]:
            mark = "[x]" if step["checked"] else "[ ]"
            indent = "  " * (step["depth"] + 1)
            out.append(f"{indent}{mark} {step['text']}")
            if step["note"]:
                out.extend(indent + "    " + ln for ln in step["note"].split("\n"))
            for block in step["blocks"]:
                out.extend(_part_lines(block, indent + "    "))
    for problem in data["problems"]:
        out.append(f"! {problem}")
    return "\n".join(out)


def _part_lines(part: dict[str, Any], indent: str) -> list[str]:
    kind = part["kind"]
    if kind == "prose":
        return [indent + ln if ln else "" for ln in part["text"].split("\n")]
    if kind == "action":
        params = ", ".join(f"{k}={v}" for k, v in part["params"].items())
        return [f"{indent}▶ action {part['backend']}.{part['action']}({params})"]
    head = {"promql": "? promql", "sql": "? sql"}.get(
        kind, f"$ {part.get('language') or 'command'}"
    )
    lines = [f"{indent}{head} (line {part['line']})"]
    lines += [f"{indent}  {ln}" for ln in part["text"].split("\n")]
    if part.get("placeholders"):
        lines.append(f"{indent}  (to fill: {', '.join(part['placeholders'])})")
    return lines
