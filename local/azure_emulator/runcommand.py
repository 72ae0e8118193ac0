"""Answers to `kubectl` commands sent through AKS run command, from the cluster's object model (k8s_objects).

`kubectl get TYPE[,TYPE...] [NAME...] [-A | -n NS] [-l k=v,...] [-o json|name|wide] [--no-headers]` answers as
kubectl does: a `kind: List` for several objects in JSON, the object itself for one named object, tables
otherwise, `No resources found ...` for nothing, and kubectl's error texts with exit code 1 (unknown resource
type, not found, unknown flag or command). Pods are not modelled, and only `get` is: anything else says so.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from datetime import datetime

from local.azure_emulator import kubectl_render as render
from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.k8s_objects import CLUSTER_SCOPED, KubeObject, resource_name
from local.azure_emulator.world import ClusterSignals

# kubectl's resource names and short names -> Kind (a subset of `kubectl api-resources`).
TYPES = {
    **dict.fromkeys(("deployments", "deployment", "deploy", "deployments.apps", "deployment.apps"), "Deployment"),
    **dict.fromkeys(("statefulsets", "statefulset", "sts", "statefulsets.apps", "statefulset.apps"), "StatefulSet"),
    **dict.fromkeys(("daemonsets", "daemonset", "ds", "daemonsets.apps", "daemonset.apps"), "DaemonSet"),
    **dict.fromkeys(("services", "service", "svc"), "Service"),
    **dict.fromkeys(("namespaces", "namespace", "ns"), "Namespace"),
    **dict.fromkeys(("nodes", "node", "no"), "Node"),
    **dict.fromkeys(("configmaps", "configmap", "cm"), "ConfigMap"),
    **dict.fromkeys(("secrets", "secret"), "Secret"),
    **dict.fromkeys(("ingresses", "ingress", "ing"), "Ingress"),
    **dict.fromkeys(("serviceaccounts", "serviceaccount", "sa"), "ServiceAccount"),
    **dict.fromkeys(("persistentvolumeclaims", "persistentvolumeclaim", "pvc"), "PersistentVolumeClaim"),
    **dict.fromkeys(("jobs", "job"), "Job"),
    **dict.fromkeys(("cronjobs", "cronjob", "cj"), "CronJob"),
    **dict.fromkeys(("horizontalpodautoscalers", "horizontalpodautoscaler", "hpa"), "HorizontalPodAutoscaler"),
    **dict.fromkeys(("gitrepositories", "gitrepository"), "GitRepository"),
    **dict.fromkeys(("kustomizations", "kustomization", "ks"), "Kustomization"),
}
NOT_MODELLED = frozenset({"pods", "pod", "po", "replicasets", "replicaset", "rs", "events", "ev", "endpoints", "ep"})
# `kubectl get all` (pods and replicasets left out: not modelled).
ALL = ("Service", "DaemonSet", "Deployment", "StatefulSet")
KUBECTL_VERBS = frozenset(
    {
        *("apply", "create", "delete", "describe", "edit", "exec", "logs", "patch", "replace", "rollout", "scale"),
        *("set", "label", "annotate", "top", "port-forward", "cp", "auth", "config", "version", "wait", "diff"),
        *("events", "api-resources", "cluster-info", "drain", "cordon", "uncordon", "taint"),
    }
)
_VALUE_FLAGS = {
    "-n": "namespace",
    "--namespace": "namespace",
    "-o": "output",
    "--output": "output",
    "-l": "selector",
    "--selector": "selector",
}


@dataclass
class GetArgs:
    types: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # TYPE/NAME arguments
    namespace: str = "default"
    all_namespaces: bool = False
    output: str = ""
    selector: dict[str, str] = field(default_factory=dict)
    headers: bool = True


class KubectlError(Exception):
    pass


def run(cluster: Cluster, signals: ClusterSignals, command: str, now: datetime) -> tuple[int, str]:
    """(exitCode, logs) for `command`, like the command pod would print them."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return 1, f"error: cannot parse command: {exc}\n"
    if not words or words[0] != "kubectl":
        return 1, f'error: unknown command "{command}" (this emulated cluster answers `kubectl get ...`)\n'
    verb = words[1] if len(words) > 1 else ""
    if verb != "get":
        if verb in KUBECTL_VERBS:
            return 1, f"error: the emulated cluster answers `kubectl get` only, not `kubectl {verb}`\n"
        return 1, f'error: unknown command "{verb}" for "kubectl"\nRun \'kubectl --help\' for usage.\n'
    try:
        args = _parse(words[2:])
        return _get(cluster, signals, args, now)
    except KubectlError as exc:
        return 1, f"{exc}\n"


def _parse(words: list[str]) -> GetArgs:
    args, positional = GetArgs(), []
    values: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        if word in ("-A", "--all-namespaces"):
            args.all_namespaces = True
        elif word == "--no-headers":
            args.headers = False
        elif word in _VALUE_FLAGS:
            if index + 1 >= len(words):
                raise KubectlError(f"error: flag needs an argument: {word!r} in {word}")
            values[_VALUE_FLAGS[word]] = words[index + 1]
            index += 1
        elif word.startswith("--") and "=" in word and word.split("=", 1)[0] in _VALUE_FLAGS:
            flag, value = word.split("=", 1)
            values[_VALUE_FLAGS[flag]] = value
        elif len(word) > 2 and word[:2] in ("-n", "-o", "-l") and word[1] != "-":
            values[_VALUE_FLAGS[word[:2]]] = word[2:].lstrip("=")
        elif word.startswith("--"):
            raise KubectlError(f"error: unknown flag: {word.split('=', 1)[0]}\nSee 'kubectl get --help' for usage.")
        elif word.startswith("-"):
            raise KubectlError(
                f"error: unknown shorthand flag: '{word[1:2]}' in {word}\nSee 'kubectl get --help' for usage."
            )
        else:
            positional.append(word)
        index += 1
    if not positional:
        raise KubectlError(
            'You must specify the type of resource to get. Use "kubectl api-resources" for a complete list of '
            "supported resources.\n\nerror: Required resource not specified."
        )
    if "/" in positional[0]:
        for item in positional:  # kubectl get deploy/frontend svc/web
            kind, _, name = item.partition("/")
            args.pairs.append((kind, name))
    else:
        args.types, args.names = positional[0].split(","), positional[1:]
    args.namespace = values.get("namespace", args.namespace)
    args.output = values.get("output", "")
    if args.output not in ("", "json", "wide", "name"):
        raise KubectlError(f"error: the emulated cluster prints -o json, name or wide, not -o {args.output}")
    for term in filter(None, values.get("selector", "").split(",")):
        key, _, value = term.partition("=")
        args.selector[key] = value.lstrip("=")
    return args


def _resolve(cluster: Cluster, name: str) -> list[str]:
    lowered = name.lower()
    if lowered == "all":
        return list(ALL)
    if lowered in TYPES:
        return [TYPES[lowered]]
    if lowered in NOT_MODELLED:
        raise KubectlError(f'error: the emulated cluster does not model "{name}" (pods are not modelled)')
    for obj in cluster.kube.items.values():  # any other kind the cluster holds, by kind, plural or resource name
        kind = obj.kind.lower()
        if lowered in (kind, kind + "s", kind + "es", resource_name(obj.manifest), resource_name(obj.manifest) + "s"):
            return [obj.kind]
    raise KubectlError(f'error: the server doesn\'t have a resource type "{name}"')


def _matches(obj: KubeObject, args: GetArgs) -> bool:
    if obj.kind not in CLUSTER_SCOPED and not args.all_namespaces and obj.namespace != args.namespace:
        return False
    return all(obj.labels.get(k) == v for k, v in args.selector.items())


def _get(cluster: Cluster, signals: ClusterSignals, args: GetArgs, now: datetime) -> tuple[int, str]:
    wanted: list[tuple[str, str | None]] = []  # (kind, name or None for all of that kind)
    if args.pairs:
        wanted = [(kind, name) for type_, name in args.pairs for kind in _resolve(cluster, type_)]
    else:
        kinds: list[str] = []
        for type_ in args.types:
            kinds += [k for k in _resolve(cluster, type_) if k not in kinds]
        wanted = [(k, n) for k in kinds for n in args.names] if args.names else [(k, None) for k in kinds]
    sections: dict[str, list] = {}
    errors: list[str] = []
    for kind, name in wanted:
        if kind == "Node":
            found: list = [n for n in render.nodes(cluster) if name is None or n["name"] == name]
        else:
            found = [o for o in cluster.kube.select((kind,)) if _matches(o, args) and (name is None or o.name == name)]
        if name is not None and not found:
            errors.append(f'Error from server (NotFound): {_plural(kind)} "{name}" not found')
        sections.setdefault(kind, []).extend(found)
    single = len(wanted) == 1 and wanted[0][1] is not None
    out = _print(cluster, signals, args, list(sections.items()), now, single)
    return (1 if errors else 0), out + "".join(e + "\n" for e in errors)


def _plural(kind: str) -> str:
    group = {"Deployment": ".apps", "StatefulSet": ".apps", "DaemonSet": ".apps"}.get(kind, "")
    return kind.lower() + ("es" if kind.endswith("s") else "s") + group


def _print(
    cluster: Cluster,
    signals: ClusterSignals,
    args: GetArgs,
    sections: list[tuple[str, list]],
    now: datetime,
    single: bool,
) -> str:
    def as_json(kind: str, item: object) -> dict:
        if kind == "Node":
            return render.node_json(item)  # type: ignore[arg-type]
        return render.object_json(item, cluster, signals, now)  # type: ignore[arg-type]

    items = [as_json(kind, item) for kind, found in sections for item in found]
    if args.output == "json":
        if single:
            return json.dumps(items[0], indent=4) + "\n" if items else ""
        return render.json_list(items)
    if args.output == "name":
        return "".join(
            f"{resource_name(i) if i.get('kind') != 'Node' else 'node'}/{i['metadata']['name']}\n" for i in items
        )
    if not items:
        if args.names or args.pairs:
            return ""
        where = (
            ""
            if args.all_namespaces or all(k in CLUSTER_SCOPED for k, _ in sections)
            else f" in {args.namespace} namespace"
        )
        return f"No resources found{where}.\n"
    prefix = len(sections) > 1
    tables = []
    for kind, found in sections:
        if not found:
            continue
        if kind == "Node":
            headers, rows = render.node_rows(found, now)
        else:
            headers, rows = render.object_rows(kind, found, cluster, signals, now, prefix)
            if not args.all_namespaces and kind not in CLUSTER_SCOPED and headers[0] == "NAMESPACE":
                headers, rows = headers[1:], [r[1:] for r in rows]
        text = render.table(headers, rows)
        tables.append(text if args.headers else text.split("\n", 1)[1])
    return "\n".join(tables)
