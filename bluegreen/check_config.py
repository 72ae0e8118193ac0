"""`python -m bluegreen check-config [FILE]`: validate an environments file exactly as the app loads it.

FILE defaults to BLUEGREEN_CONFIG, else ./environments.toml (TOML, or JSON for a `.json` file). Every problem is
named by its field, one a line (`environments.toml: environment.0.front_door.kind: Input should be ...`).

Exit status: 0 the file is valid (each environment is summarised), 2 it cannot be used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bluegreen.config import Environment

# bluegreen.config (pydantic) is imported when a file is checked: building the CLI's parser stays light.
DEFAULT_CONFIG_FILE = "environments.toml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help=f"environments file (default: BLUEGREEN_CONFIG, else ./{DEFAULT_CONFIG_FILE})",
    )


def config_path(given: str | None) -> str:
    """The file the app would read: the one given, else BLUEGREEN_CONFIG, else ./environments.toml."""
    return given or os.environ.get("BLUEGREEN_CONFIG") or DEFAULT_CONFIG_FILE


def problems(path: str) -> list[str]:
    """Every problem of the file, one per field (empty when it loads)."""
    from bluegreen.config import ConfigError, load_environments

    try:
        load_environments(path)
    except ConfigError as exc:
        return _each_problem(path) or [str(exc)]
    return []


def _each_problem(path: str) -> list[str]:
    """The validation errors one by one (load_environments joins them in one message)."""
    from pydantic import ValidationError

    from bluegreen.config import Environments, _describe

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else tomllib.loads(text)
        Environments.model_validate(data)
    except ValidationError as exc:
        return [f"{file}: {_describe(error)}" for error in exc.errors()]
    except (OSError, ValueError):
        return []  # unreadable or not TOML/JSON: load_environments' one message says so
    return []


def describe(env: Environment) -> str:
    """One line an operator recognises an environment by."""
    clusters = env.clusters
    if clusters.names is not None:
        where = f"clusters {', '.join(clusters.names)} in {clusters.resource_group}"
    else:
        where = f"live cluster {str(clusters.live_id).rsplit('/', 1)[-1]} (each run names the next)"
    fd = env.front_door
    approval = env.approval.mode + (", four-eyes" if env.approval.mode == "manual" and env.approval.four_eyes else "")
    if env.approval.approvers:
        approval += f", approvers {', '.join(env.approval.approvers)}"
    what = "origin group" if fd.kind == "standard" else "backend pool"
    groups = "; ".join(f"{g.origin_group} (origins {', '.join(g.origins)})" for g in fd.groups)
    front_door = f"Front Door {fd.kind} {fd.id.rsplit('/', 1)[-1]}, {what}{'s' if len(fd.groups) > 1 else ''} {groups}"
    return f"{env.name}: {where}; {front_door}; {env.strategy}; approval {approval}; retire {env.retire.mode}"


def run(args: argparse.Namespace) -> int:
    from bluegreen.config import load_environments

    path = config_path(getattr(args, "file", None))
    found = problems(path)
    if found:
        for problem in found:
            print(f"check-config: {problem}", file=sys.stderr)
        return 2
    environments = load_environments(path).environment
    print(f"{path}: valid, {len(environments)} environment{'s' if len(environments) != 1 else ''}")
    for env in environments:
        print(f"  {describe(env)}")
    return 0
