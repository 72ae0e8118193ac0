"""azd postdeploy hook: wire the deployed Function App to Azure, idempotently.

azd runs it after `azd deploy` (azure.yaml: `hooks: postdeploy: run: python infra/hooks/postdeploy.py`), from the
project root, with the environment's values (AZURE_* and the Bicep outputs) exported as environment variables. The
Python that runs it needs requirements.txt installed (the project's .venv).

Reads (required):
  AZURE_SUBSCRIPTION_ID          subscription of the Function App (azd sets it)
  AZURE_RESOURCE_GROUP           resource group of the Function App (Bicep output)
  AZURE_FUNCTION_APP_NAME        name of the Function App (Bicep output)
Optional:
  BLUEGREEN_CONFIG               the environments file, relative to the project root (default environments.toml)
  AZURE_FUNCTION_APP_HOSTNAME    the app's host name (Bicep output; else read from ARM: defaultHostName)
  ALERT_ACTION_GROUP_NAME        the action group's name (Bicep output; else ag-{app}-rollback)
  ALERT_ACTION_GROUP_SHORT_NAME  its short name, at most 12 characters (Bicep output; else bg-rollback)
  BLUEGREEN_AZURE_MODE           `azure` (default: DefaultAzureCredential, e.g. your `az login`) or `emulated`

For every environment: an Event Grid system topic on its live cluster (the existing one reused) with the
subscription `bluegreen` to the app's Event Grid webhook; an action group posting to /api/alerts; a metric alert on
its Front Door profile (5xx share above bake.max_error_rate). One line per resource (created, updated, unchanged,
skipped or failed), then a summary. `--dry-run` reads and says what it would do, writing nothing. The webhook URLs
carry the app's keys: only names and ids are printed. Exit status 0 when everything is wired, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the project root: run as a script by azd

REQUIRED = ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME")
WOULD = {"created": "would create", "updated": "would update"}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="postdeploy", description="Wire the deployed app to Event Grid and alerts.")
    parser.add_argument("--dry-run", action="store_true", help="read and print what would change; write nothing")
    args = parser.parse_args(argv)
    env = dict(os.environ if environ is None else environ)
    missing = [name for name in REQUIRED if not env.get(name)]
    if missing:
        return fail(f"{', '.join(missing)} not set (azd exports them from the environment; `azd env set NAME VALUE`)")
    try:
        return run(env, args.dry_run)
    except KeyboardInterrupt:
        return fail("interrupted")
    except Exception as exc:  # no stack trace for the operator: what failed, in one line
        return fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def run(env: dict[str, str], dry_run: bool) -> int:
    from bluegreen import deploy_wiring as dw
    from bluegreen.azure import AzureClients, AzureSettings
    from bluegreen.config import ConfigError, load_environments
    from bluegreen.errors import classify

    try:
        environments = load_environments(ROOT / (env.get("BLUEGREEN_CONFIG") or "environments.toml")).environment
    except ConfigError as exc:
        return fail(str(exc))
    target = dw.Target(
        env["AZURE_SUBSCRIPTION_ID"],
        env["AZURE_RESOURCE_GROUP"],
        env["AZURE_FUNCTION_APP_NAME"],
        action_group=env.get("ALERT_ACTION_GROUP_NAME", ""),
        short_name=env.get("ALERT_ACTION_GROUP_SHORT_NAME") or dw.SHORT_NAME,
        host_name=env.get("AZURE_FUNCTION_APP_HOSTNAME", ""),
    )
    if len(target.short_name) > 12:
        return fail(f"ALERT_ACTION_GROUP_SHORT_NAME {target.short_name!r} is longer than 12 characters")
    clients = AzureClients(AzureSettings.from_env(env))
    try:
        webhooks = dw.function_app_webhooks(clients, target)
    except dw.KeysUnavailable as exc:
        return fail(str(exc))
    except Exception as exc:
        error = classify(exc)
        return fail(f"cannot read the keys of Function App {target.function_app}: {error.code}: {error.message}")
    results = dw.DeployWiring(clients, webhooks, target, dry_run=dry_run).apply(environments)
    for r in results:
        outcome = WOULD.get(r.outcome, r.outcome) if dry_run else r.outcome
        detail = "; ".join(part for part in (r.note, r.id) if part)
        print(f"{outcome:<12} {r.kind} {r.name}" + (f" ({detail})" if detail else ""))
    counts = Counter(WOULD.get(r.outcome, r.outcome) if dry_run else r.outcome for r in results)
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    print(f"postdeploy{' (dry run)' if dry_run else ''}: {len(environments)} environments; {summary}")
    if counts["failed"]:
        return fail(f"{counts['failed']} failed: see the lines marked failed above")
    return 0


def fail(message: str) -> int:
    print(f"postdeploy: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
