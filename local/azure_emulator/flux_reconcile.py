"""What Flux does on the cluster for a fluxConfiguration: fetch the source, build and apply each Kustomization.

Messages and reasons are Flux's own:
- source failures: "failed to checkout and determine revision: unable to clone '<url>': <cause>", reason
  GitOperationFailed (source-controller; e.g. "repository not found", "authentication required", "couldn't find
  remote ref"); success: "Fetched revision: <branch>/<sha>", reason GitOperationSucceed (DOCS
  tutorial-use-gitops-flux2).
- a private repository needs credentials: the protected settings httpsKey (with gitRepository.httpsUser) for an
  HTTPS URL or sshPrivateKey for SSH, or `localAuthRef` naming a Secret in the configuration's namespace
  (SPEC fluxconfiguration.json GitRepositoryDefinition; the keys as azure-cli-extensions k8s-configuration consts.py
  stores them).
- a missing path: "kustomization path not found: stat /tmp/kustomization-<n>/<path>: no such file or directory",
  reason ArtifactFailed (kustomize-controller); an unready dependency: "dependency '<ns>/<name>' is not ready",
  reason DependencyNotReady.
- postBuild.substitute / substituteFrom: `${var}`, `${var:=default}` / `${var:-default}`, `$${var}` for a literal,
  inline values winning over substituteFrom (fluxcd.io/flux/components/kustomize/kustomizations, "Post build
  variable substitution"); an unset variable without default becomes empty.
- prune: objects Flux applied are deleted when they leave the source or the configuration is deleted
  ("objects that Flux deployed to the cluster will be cleaned up if they're removed from the repository or if the
  Flux configuration or kustomizations are deleted", DOCS tutorial-use-gitops-flux2.md, `prune`).
- suspend: nothing is reconciled, complianceState Suspended.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from local.azure_emulator import gitrepos, kube
from local.azure_emulator.aks_model import Cluster
from local.azure_emulator.flux_state import NAME_LABEL, NAMESPACE_LABEL, Condition, FluxConfig
from local.azure_emulator.k8s_objects import normalize
from local.azure_emulator.world import World

_VAR = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}")
_WHOLE = re.compile(r"^\$\{[^}]+\}$")


def _flux_objects(config: FluxConfig, kustomizations: list[str]) -> list[dict[str, Any]]:
    """The Flux custom resources the configuration creates in its namespace."""
    ns = config.namespace
    git = config.props.get("gitRepository") or {}
    objects: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}]
    objects.append(
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1",
            "kind": "GitRepository",
            "metadata": {"namespace": ns, "name": config.name},
            "spec": {"url": git.get("url"), "ref": git.get("repositoryRef") or {"branch": "master"}},
        }
    )
    for name in kustomizations:
        spec = config.props["kustomizations"][name]
        objects.append(
            {
                "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
                "kind": "Kustomization",
                "metadata": {"namespace": ns, "name": f"{config.name}-{name}"},
                "spec": {
                    "path": spec.get("path", ""),
                    "prune": bool(spec.get("prune")),
                    "sourceRef": {"kind": "GitRepository", "name": config.name},
                },
            }
        )
    return objects


def _has_secret(cluster: Cluster, namespace: str, name: str) -> bool:
    return cluster.kube.get("Secret", namespace, name) is not None


def _credentials_ok(config: FluxConfig, cluster: Cluster, repo: gitrepos.GitRepo, url: str) -> bool:
    git = config.props.get("gitRepository") or {}
    if git.get("localAuthRef"):
        return _has_secret(cluster, config.namespace, str(git["localAuthRef"]))
    ssh = url.startswith("ssh://") or bool(re.match(r"^[\w.-]+@[^:/]+:", url))
    given = (
        {"sshPrivateKey": config.protected.get("sshPrivateKey")}
        if ssh
        else {
            "httpsKey": config.protected.get("httpsKey"),
            "httpsUser": git.get("httpsUser"),
        }
    )
    if not all(given.values()):
        return False
    return all(repo.credentials.get(k) in (None, v) for k, v in given.items())


def fetch(
    world: World, config: FluxConfig, cluster: Cluster, at: datetime
) -> tuple[Condition, dict[str, list[dict[str, Any]]] | None]:
    """The GitRepository's condition, and the checked-out tree when it could be fetched."""
    kind = config.props.get("sourceKind") or "GitRepository"
    if kind != "GitRepository":
        return Condition("Non-Compliant", "GitOperationFailed", f"the emulated Azure has no {kind} sources", at), None
    git = config.props.get("gitRepository") or {}
    url = str(git.get("url") or "")
    repo = world.git.get(gitrepos.normalize_url(url)) if url else None

    def failed(cause: str) -> tuple[Condition, None]:
        message = f"failed to checkout and determine revision: unable to clone '{url}': {cause}"
        return Condition("Non-Compliant", "GitOperationFailed", message, at), None

    if repo is None:
        return failed("repository not found")
    if repo.private and not _credentials_ok(config, cluster, repo, url):
        return failed("authentication required")
    ref = git.get("repositoryRef") or {}
    if ref.get("semver"):
        return failed(f"semver ranges are not modelled by the emulated repository ({ref['semver']})")
    if ref.get("tag"):
        tree, label = repo.tags.get(str(ref["tag"])), str(ref["tag"])
        if tree is None:
            return failed(f'couldn\'t find remote ref "refs/tags/{ref["tag"]}"')
    else:
        branch = str(ref.get("branch") or "master")  # Flux's default when no reference is given
        tree, label = repo.branches.get(branch), branch
        if tree is None:
            return failed(f'couldn\'t find remote ref "refs/heads/{branch}"')
    sha = gitrepos.revision(repo, label, tree)
    if ref.get("commit") and str(ref["commit"]) != sha:
        return failed(f"object not found (commit {ref['commit']})")
    config.revision = f"{label}/{sha}"
    return Condition("Compliant", "GitOperationSucceed", f"Fetched revision: {config.revision}", at), tree


def _order(kustomizations: dict[str, Any]) -> list[str]:
    """Dependencies first (dependsOn), otherwise in the order given."""
    done: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name in path or name not in kustomizations:
            return
        for dep in kustomizations[name].get("dependsOn") or []:
            visit(dep, (*path, name))
        done.append(name)

    for name in kustomizations:
        visit(name, ())
    return done


def _variables(config: FluxConfig, cluster: Cluster, spec: dict[str, Any]) -> dict[str, str]:
    post = spec.get("postBuild") or {}
    values: dict[str, str] = {}
    for source in post.get("substituteFrom") or []:
        kind, name = str(source.get("kind")), str(source.get("name"))
        obj = cluster.kube.get(kind, config.namespace, name)
        if obj is None:
            if source.get("optional"):
                continue
            raise ValueError(f"substitute from '{kind}/{name}' failed: {kind.lower()}s \"{name}\" not found")
        data = dict(obj.manifest.get("data") or {})
        if kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in data.items()}
            data.update(obj.manifest.get("stringData") or {})
        values.update({k: str(v) for k, v in data.items()})
    values.update({k: str(v) for k, v in (post.get("substitute") or {}).items()})
    return values


def substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def one(match: re.Match[str]) -> str:
        escaped, name, op, default = match.groups()
        if escaped:
            return match.group(0)[1:]
        current = variables.get(name)
        if op and (current is None or (op.startswith(":") and current == "")):
            return default or ""
        return current or ""

    result = _VAR.sub(one, value)
    if _WHOLE.match(value):  # Flux substitutes YAML text: `replicas: ${n}` becomes a number
        if re.fullmatch(r"-?\d+", result):
            return int(result)
        if result in ("true", "false"):
            return result == "true"
    return result


def _prune(
    world: World, cluster: Cluster, config: FluxConfig, name: str, keep: set[tuple[str, str, str]], at: datetime
) -> None:
    labels = config.labels(name)
    kube.remove_where(
        world,
        cluster,
        lambda o: o.key not in keep and all(o.labels.get(k) == v for k, v in labels.items()),
        at,
    )


def reconcile(world: World, config: FluxConfig, at: datetime, seeded: bool = False) -> None:
    """One reconciliation of the whole configuration at `at` (seeded: done before the emulator started, the
    objects applied and rolled out all along)."""
    cluster = world.clusters.get(config.cluster_key)
    if cluster is None or world.flux.get(config.id.lower()) is not config:
        return
    if not world.signals_for(cluster.name).serving.at(at):
        config.awaiting_start = True  # Flux runs in the cluster: nothing happens while it is stopped
        return
    config.awaiting_start = False
    kustomizations: dict[str, Any] = config.props.get("kustomizations") or {}
    if config.props.get("suspend"):
        return
    order = _order(kustomizations)
    kube.apply(world, cluster, _flux_objects(config, order), at, namespaces_first=True, seeded=seeded)
    config.reconciled_at = at
    config.source, tree = fetch(world, config, cluster, at)
    config.kustomizations = {}
    for index, name in enumerate(order):
        spec = kustomizations[name]
        config.kustomizations[name] = _kustomize(world, cluster, config, name, spec, tree, at, index, seeded)


def _kustomize(
    world: World,
    cluster: Cluster,
    config: FluxConfig,
    name: str,
    spec: dict[str, Any],
    tree: dict[str, list[dict[str, Any]]] | None,
    at: datetime,
    index: int,
    seeded: bool,
) -> Condition:
    if tree is None:
        return Condition("Non-Compliant", "ArtifactFailed", "Source artifact not found, retrying in 30s", at)
    for dep in spec.get("dependsOn") or []:
        state = config.kustomizations.get(dep)
        if state is None or state.state == "Non-Compliant":
            message = f"dependency '{config.namespace}/{config.name}-{dep}' is not ready"
            return Condition("Non-Compliant", "DependencyNotReady", message, at)
    objects = gitrepos.objects_at(tree, spec.get("path"))
    if objects is None:
        path = gitrepos.clean_path(spec.get("path"))
        message = (
            f"kustomization path not found: stat /tmp/kustomization-{1000 + index}/{path}: no such file or directory"
        )
        return Condition("Non-Compliant", "ArtifactFailed", message, at)
    try:
        variables = _variables(config, cluster, spec)
        built = [substitute(obj, variables) for obj in objects] if spec.get("postBuild") else objects
        keys = set()
        for obj in built:
            clean = normalize(obj)
            keys.add((clean["kind"], clean["metadata"].get("namespace") or "", clean["metadata"]["name"]))
    except ValueError as exc:
        return Condition("Non-Compliant", "BuildFailed", str(exc), at)
    result = kube.apply(world, cluster, built, at, labels=config.labels(name), namespaces_first=True, seeded=seeded)
    if not result.ok:
        return Condition("Non-Compliant", "ReconciliationFailed", "; ".join(result.errors), at)
    if spec.get("prune"):
        _prune(world, cluster, config, name, keys, at)
    config.applied_at[name] = at
    return Condition("Compliant", "ReconciliationSucceeded", f"Applied revision: {config.revision}", at)


def delete(world: World, config: FluxConfig, at: datetime, prune: bool = True) -> None:
    """The configuration is gone: its Flux objects go, and with `prune` the objects its kustomizations applied."""
    cluster = world.clusters.get(config.cluster_key)
    world.flux.pop(config.id.lower(), None)
    if cluster is None:
        return
    names = list((config.props.get("kustomizations") or {}).items())
    pruned = {f"{config.name}-{n}" for n, spec in names if prune and spec.get("prune")}
    flux_kinds = ("GitRepository", "Kustomization")
    kube.remove_where(
        world,
        cluster,
        lambda o: (
            (
                o.kind in flux_kinds
                and o.namespace == config.namespace
                and o.name in {config.name} | {f"{config.name}-{n}" for n, _ in names}
            )
            or (o.labels.get(NAMESPACE_LABEL) == config.namespace and o.labels.get(NAME_LABEL) in pruned)
        ),
        at,
    )
