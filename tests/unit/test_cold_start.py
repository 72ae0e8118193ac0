"""Cold start: `import function_app` loads the Functions SDKs and the app's own light modules, nothing more.

A Function App pays for every import when a new worker starts. The contract (pydantic), the
configuration and the Azure SDKs load when a function first needs them (bluegreen/lazy.py); this
test checks which modules the import leaves loaded, in a fresh process, rather than timing it
(`make bench` prints the timing ratio).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What a function loads on first use, never at import.
HEAVY = ("pydantic", "azure.core", "azure.mgmt", "azure.identity", "azure.monitor", "requests", "jinja2")


def loaded_after(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout))


def test_importing_the_app_loads_no_heavy_dependency():
    loaded = loaded_after("import function_app")
    heavy = sorted(m for m in loaded if m.startswith(HEAVY))
    assert heavy == []


def test_the_app_registers_every_function_without_loading_them():
    loaded = loaded_after(
        "import function_app; names = [f.get_function_name() for f in function_app.app.get_functions()];"
        " assert {'bluegreen_upgrade', 'cluster_operation', 'bake_watch', 'start_green_create',"
        " 'monitor_alerts', 'aks_lifecycle_events'} <= set(names), names"
    )
    assert not any(m.startswith(HEAVY) for m in loaded)


def test_a_function_that_needs_the_contract_loads_it_on_first_use():
    loaded = loaded_after("import function_app; from bluegreen.lazy import contract; contract.Phase.CLONE")
    assert "pydantic" in loaded
    assert not any(m.startswith("azure.mgmt") for m in loaded)  # the contract needs no Azure SDK
