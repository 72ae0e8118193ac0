"""The run contract's JSON Schemas as the OpenAPI description shows them (`python -m triggers.schemas` writes them).

The API returns the run's custom status (`RunStatus`) and output (`RunOutput`) as they are in history, and a
plan (`PlanReport`) as `python -m bluegreen plan --json` prints it, so their schemas come from the contract
models themselves; a test keeps openapi.json in step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OPENAPI_FILE = Path(__file__).with_name("openapi.json")


def contract_schemas() -> dict[str, Any]:
    """Every schema RunStatus, RunOutput, PlanReport and EnvironmentStatus need, by model name, with component refs."""
    from pydantic.json_schema import models_json_schema

    from bluegreen import contract

    _, schemas = models_json_schema(
        [
            (contract.RunStatus, "serialization"),
            (contract.RunOutput, "serialization"),
            (contract.PlanReport, "serialization"),
            (contract.EnvironmentStatus, "serialization"),
        ],
        ref_template="#/components/schemas/{model}",
    )
    return dict(schemas["$defs"])


def write() -> None:
    spec = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    spec["components"]["schemas"].update(contract_schemas())
    OPENAPI_FILE.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
