"""``kubectl get pods`` written in a runbook, answered read-only by this backend.

No kubectl runs and nothing reaches a shell: the line is split like a shell would
(``shlex``), only ``kubectl|oc get pods [NAME] [-n NS | -A] [-l SELECTOR] [-o wide]`` is
understood, and the answer is the same pods table a deployment check shows, listed
with this backend's own credentials from the namespaces it is configured for.
Anything else is refused with one line saying what is answered.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from oncall_console.backends.kubernetes import selectors
from oncall_console.backends.kubernetes.health import KubernetesHealth
from oncall_console.model import DetailTable
from oncall_console.text import clean

ANSWERED = "only 'kubectl get pods [NAME] [-n NAMESPACE | -A] [-l SELECTOR]' is answered here"
_RESOURCES = ("pods", "pod", "po")
_IGNORED = ("-o", "--output")  # the answer is our table, whatever the format asked
_FLAGS = ("--no-headers", "--show-labels")


class KubectlRefused(ValueError):
    """Why a kubectl line is not answered (one line)."""


@dataclass(frozen=True, slots=True)
class PodQuery:
    namespace: str | None = None
    name: str | None = None
    selector: str = ""
    all_namespaces: bool = False


def parse_get_pods(text: str) -> PodQuery:
    """The pods a ``kubectl get pods`` line asks for. Raises :class:`KubectlRefused`."""
    lines = [ln for ln in text.strip().split("\n") if ln.strip()]
    if len(lines) != 1:
        raise KubectlRefused(f"one command at a time; {ANSWERED}")
    try:
        words = shlex.split(lines[0].strip().removeprefix("$ "))
    except ValueError as exc:
        raise KubectlRefused(f"cannot read the line: {exc}") from None
    if not words or words[0] not in ("kubectl", "oc"):
        raise KubectlRefused(ANSWERED)
    namespace: str | None = None
    selector = ""
    everywhere = False
    positional: list[str] = []
    rest = words[1:]
    while rest:
        word = rest.pop(0)
        option, eq, value = word.partition("=")
        if option in ("-n", "--namespace", "-l", "--selector", *_IGNORED) and not eq:
            if not rest:
                raise KubectlRefused(f"{option} needs a value")
            value = rest.pop(0)
        if option in ("-n", "--namespace"):
            namespace = value
        elif option in ("-l", "--selector"):
            selector = value
        elif option in _IGNORED:
            continue
        elif word in ("-A", "--all-namespaces"):
            everywhere = True
        elif word in _FLAGS:
            continue
        elif word.startswith("-"):
            raise KubectlRefused(f"option {clean(word, limit=40)!r} is not understood; {ANSWERED}")
        elif any(c in word for c in "|;&$`<>(){}"):
            raise KubectlRefused(
                f"{clean(word, limit=40)!r}: no pipes or substitutions; {ANSWERED}"
            )
        else:
            positional.append(word)
    if positional[:1] != ["get"] or len(positional) < 2:
        raise KubectlRefused(ANSWERED)
    resource, _, inline_name = positional[1].partition("/")
    names = [inline_name] if inline_name else positional[2:]
    if resource not in _RESOURCES or len(names) > 1:
        raise KubectlRefused(ANSWERED)
    return PodQuery(namespace, names[0] if names else None, selector, everywhere)


class KubernetesDiagnose(KubernetesHealth):
    """``diagnose("kubectl", line)``: the pods a runbook's ``kubectl get pods`` asks for."""

    async def diagnose(self, language: str, text: str) -> DetailTable:
        if language != "kubectl":
            return await super().diagnose(language, text)
        query = parse_get_pods(text)
        allowed = list(self.options.namespaces)
        namespaces = allowed if query.all_namespaces else [self._ns(query.namespace)]
        for ns in namespaces:
            if ns not in allowed:
                raise KubectlRefused(
                    f"namespace {clean(ns, limit=63)!r} is not one this backend reads "
                    f"({', '.join(allowed)})"
                )
        wanted = selectors.parse_selector(query.selector)  # its error names the position
        timeout = self.options.timeout
        pods = [p for ns in namespaces for p in await self._list_pods(ns, timeout)]
        mine = [
            p
            for p in pods
            if wanted.matches(selectors.labels_of(p))
            and (query.name is None or (p.get("metadata") or {}).get("name") == query.name)
        ]
        return self._pods_table(self._views(mine, self.context.clock()))
