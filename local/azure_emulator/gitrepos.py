"""Git repositories Flux can fetch: emulator data, seeded as pseudo items of type `emulator/gitRepository`.

    {"type": "emulator/gitRepository",
     "url": "https://github.com/contoso/web-gitops",          # also matched as git@github.com:contoso/web-gitops
     "branches": {"main": {"paths": {"./apps/web": [<Kubernetes objects>], ...}}},
     "tags": {"v1.2.0": {"paths": {...}}},                      # optional
     "private": false,                                          # private: credentials needed (Flux protected
     "credentials": {"httpsUser": "git", "httpsKey": "..."}}    #   settings); when given, they must match

A directory holds the objects of every path at or below it, as Flux builds a directory without a
kustomization.yaml from all the manifests under it (fluxcd.io/flux/components/kustomize/kustomizations, "Generate
kustomization.yaml"). A commit id is a SHA-1 of the content, so the same content is always the same revision.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

PSEUDO_TYPE = "emulator/gitRepository"


@dataclass
class GitRepo:
    url: str
    branches: dict[str, dict[str, list[dict[str, Any]]]]
    tags: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    private: bool = False
    credentials: dict[str, str] = field(default_factory=dict)


def normalize_url(url: str) -> str:
    """host/path, lowercased: https://github.com/a/b(.git), ssh://git@github.com/a/b and git@github.com:a/b agree."""
    text = url.strip()
    scp = re.match(r"^[\w.-]+@([^:/]+):(.+)$", text)
    if scp:
        host, path = scp.groups()
    else:
        rest = re.sub(r"^[a-z+]+://", "", text, flags=re.IGNORECASE)
        rest = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
        host, _, path = rest.partition("/")
        host = host.split(":", 1)[0]
    path = re.sub(r"\.git$", "", path.strip("/"))
    return f"{host}/{path}".lower()


def clean_path(path: str | None) -> str:
    text = (path or "").strip()
    text = re.sub(r"^\./?", "", text).strip("/")
    return "" if text == "." else text


def parse(item: dict[str, Any]) -> GitRepo:
    """A repository from its seed item; ValueError says what is wrong."""
    url = item.get("url")
    if not isinstance(url, str) or not url:
        raise ValueError("an emulator/gitRepository needs a 'url'")
    refs: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    for what in ("branches", "tags"):
        given = item.get(what) or {}
        if not isinstance(given, dict):
            raise ValueError(f"'{what}' must map names to {{'paths': {{path: [objects]}}}}")
        refs[what] = {}
        for name, ref in given.items():
            paths = (ref or {}).get("paths") if isinstance(ref, dict) else None
            if not isinstance(paths, dict) or not all(isinstance(v, list) for v in paths.values()):
                raise ValueError(f"{what} {name!r}: needs 'paths': {{path: [objects]}}")
            refs[what][name] = {clean_path(p): copy.deepcopy(v) for p, v in paths.items()}
    if not refs["branches"] and not refs["tags"]:
        raise ValueError("an emulator/gitRepository needs at least one branch or tag")
    credentials = item.get("credentials") or {}
    return GitRepo(url, refs["branches"], refs["tags"], bool(item.get("private")), dict(credentials))


def revision(repo: GitRepo, ref: str, paths: dict[str, list[dict[str, Any]]]) -> str:
    content = json.dumps([normalize_url(repo.url), ref, paths], sort_keys=True)
    return hashlib.sha1(content.encode()).hexdigest()


def objects_at(paths: dict[str, list[dict[str, Any]]], path: str | None) -> list[dict[str, Any]] | None:
    """The manifests at or below `path`; None when no such directory exists."""
    wanted = clean_path(path)
    found = [p for p in sorted(paths) if not wanted or p == wanted or p.startswith(wanted + "/")]
    if not found and wanted:
        return None
    return [copy.deepcopy(obj) for p in found for obj in paths[p]]
