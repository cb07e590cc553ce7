"""Placeholders in a runbook's commands (``$NAMESPACE``, ``${POD}``, ``<pod-name>``) filled
from the labels of the alert or check the runbook is walked for. Pure: no IO.

A label value is remote data and the filled command is meant to be pasted into a shell:
a value is used only when it is a plain name (letters, digits, ``._:/@=+-``); any other
value leaves the placeholder as written, marked as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

PLACEHOLDER = re.compile(
    r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|<(?P<angle>[A-Za-z][A-Za-z0-9_.-]*)>"
)
SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:/@=+-]{1,253}$")
ALIASES: dict[str, tuple[str, ...]] = {
    "ns": ("namespace",),
    "namespace": ("namespace", "exported_namespace", "kubernetes_namespace"),
    "pod": ("pod", "pod_name", "exported_pod", "kubernetes_pod_name"),
    "container": ("container", "container_name"),
    "node": ("node", "nodename", "kubernetes_node", "instance"),
    "pvc": ("persistentvolumeclaim", "pvc"),
    "persistentvolumeclaim": ("persistentvolumeclaim", "pvc"),
    "deployment": ("deployment", "deployment_name"),
    "statefulset": ("statefulset",),
    "daemonset": ("daemonset",),
    "service": ("service", "service_name"),
    "job": ("job", "job_name"),
    "instance": ("instance",),
    "host": ("instance", "host", "hostname", "node"),
    "cluster": ("cluster",),
    "database": ("database", "datname", "db"),
}
"""Placeholder word -> the labels that may answer it, first found wins."""
# Shell variables a script sets itself: never taken for a placeholder to fill or flag.
SHELL_OWN = frozenset({"HOME", "PATH", "PWD", "USER", "SHELL", "IFS", "RANDOM", "EDITOR"})


@dataclass(frozen=True, slots=True)
class Piece:
    text: str
    kind: str = ""
    """"" as written, "filled" from a label, "unknown": a placeholder no label answers."""
    name: str = ""
    """The placeholder's word (for "filled" and "unknown")."""


def key(word: str) -> str:
    """``POD_NAME``, ``pod-name``, ``PodName`` -> ``pod_name``."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word)
    return re.sub(r"[^a-z0-9]+", "_", snake.lower()).strip("_")


def lookup(word: str, labels: Mapping[str, str]) -> str | None:
    """The label value that answers ``word``, when there is a safe one."""
    k = re.sub(r"^(my|your|the)_", "", key(word))
    folded = {key(name): value for name, value in labels.items()}
    candidates = [k, *ALIASES.get(k, ()), *ALIASES.get(k.removesuffix("_name"), ())]
    if k.endswith("_name"):
        candidates.append(k.removesuffix("_name"))
    for name in candidates:
        value = folded.get(name)
        if value is not None and SAFE_VALUE.match(value):
            return value
    return None


def pieces(text: str, labels: Mapping[str, str]) -> list[Piece]:
    """``text`` cut into what is written, what a label filled and what is still unknown."""
    out: list[Piece] = []
    at = 0
    assigned = _assigned(text)
    for m in PLACEHOLDER.finditer(text):
        word = m.group("braced") or m.group("bare") or m.group("angle") or ""
        if word in SHELL_OWN or word in assigned:
            continue
        if m.start() > at:
            out.append(Piece(text[at : m.start()]))
        value = lookup(word, labels)
        if value is None:
            out.append(Piece(m.group(0), "unknown", word))
        else:
            out.append(Piece(value, "filled", word))
        at = m.end()
    if at < len(text):
        out.append(Piece(text[at:]))
    return out


def fill(text: str, labels: Mapping[str, str]) -> str:
    """``text`` with every placeholder a label answers filled in."""
    return "".join(p.text for p in pieces(text, labels))


def unknown(text: str, labels: Mapping[str, str]) -> list[str]:
    """The placeholders no label answers, in order, each once."""
    seen: dict[str, None] = {}
    for p in pieces(text, labels):
        if p.kind == "unknown":
            seen.setdefault(p.name, None)
    return list(seen)


def _assigned(text: str) -> set[str]:
    """Variables the block sets itself (``X=...``, ``for X in``, ``read X``, ``export X=``)."""
    found = set(re.findall(r"(?:^|[\s;(])([A-Za-z_][A-Za-z0-9_]*)=", text))
    found |= set(re.findall(r"\bfor\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\b", text))
    found |= set(re.findall(r"\bread\s+(?:-\w+\s+)*([A-Za-z_][A-Za-z0-9_]*)", text))
    return found


_PROMPT = re.compile(r"^\s*[$#>]\s+")


def copyable(text: str) -> str:
    """What to paste from a block: when it shows a prompt (``$ kubectl ...``) followed by
    output, only the commands (prompt removed, continued lines kept); else all of it."""
    lines = text.split("\n")
    if not any(line.lstrip().startswith("$ ") for line in lines):
        return text
    out: list[str] = []
    going = False
    for line in lines:
        if line.lstrip().startswith("$ "):
            out.append(_PROMPT.sub("", line, count=1))
        elif going:
            out.append(line)
        else:
            continue
        going = line.rstrip().endswith("\\")
    return "\n".join(out)


_PROMQL_START = re.compile(
    r"^[A-Za-z_:][A-Za-z0-9_:]*\s*(\(|\{|\[|$|\s*(>|<|==|!=|>=|<=|\+|-|\*|/|and|or|unless|by|without)\b)"
)
_PROMQL_FUNCS = re.compile(
    r"\b(rate|irate|increase|sum|avg|max|min|count|histogram_quantile|topk|bottomk|"
    r"absent|delta|deriv|predict_linear|avg_over_time|max_over_time|quantile_over_time)\s*\("
)


def promql_like(text: str) -> str:
    """The query, when a block in a shell fence is PromQL (``rate(x[30m]) > 10``); "" else.
    Comment lines go; a line that starts like a command (``$ oc ...``, ``kubectl``) says no."""
    lines = [ln for ln in text.split("\n") if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines or len(lines) > 20:
        return ""
    query = "\n".join(lines).strip()
    first = lines[0].strip()
    shellish = re.match(r"^(\$|sudo\b|[a-z][a-z0-9_-]*\s+-{1,2}[a-z])", first) or ";" in query
    if shellish or not _PROMQL_START.match(first):
        return ""
    if "{" in query or "[" in query or _PROMQL_FUNCS.search(query):
        return query
    return ""


_KUBECTL_GET_PODS = re.compile(r"^(kubectl|oc)\b[^|;&`]*\bget\s+(pods?|po)\b[^|;&`]*$")


def kubectl_get_pods(text: str) -> str:
    """The command, when a block is one ``kubectl get pods ...`` (prompt and output left
    out): the kubernetes backend answers that read-only. "" for anything else."""
    lines = [ln.strip() for ln in copyable(text).split("\n") if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("#")]
    if len(lines) == 1 and _KUBECTL_GET_PODS.match(lines[0]) and "$(" not in lines[0]:
        return lines[0]
    return ""
