"""Activities: thin and idempotent (check, then act). Each takes one contract model and returns one.

Every module here registers on this one blueprint; function_app.py registers the blueprint.
"""

import azure.durable_functions as df

bp = df.Blueprint()

# Import the modules for their registrations (after `bp` exists).
from activities import clusters, inherit, notify, planning, retention, traffic, verify, workloads  # noqa: E402

__all__ = ["bp", "clusters", "inherit", "notify", "planning", "retention", "traffic", "verify", "workloads"]
