"""What every activity shares: Azure clients from settings, and permanent errors returned, not raised.

A temporary Azure error (throttling, 5xx) is raised, so the orchestrator's retry policy tries
again later. A permanent one (bad request, conflict, not found) is returned as {"permanent_error": {...}}:
retrying would only repeat it, and the orchestrator turns it into the run's reason.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from bluegreen.azure import AzureClients, clients
from bluegreen.errors import PermanentError, TemporaryError, classify
from bluegreen.traffic import FrontDoorRef, TrafficProvider, provider_for

log = logging.getLogger("bluegreen.activities")

# The envelope key of a permanent failure; no successful activity result uses it.
PERMANENT_ERROR = "permanent_error"

Activity = Callable[[dict[str, Any]], dict[str, Any]]


def azure_activity(fn: Activity) -> Activity:
    @functools.wraps(fn)
    def run(payload: dict[str, Any]) -> dict[str, Any]:
        try:
            return fn(payload)
        except PermanentError as exc:
            log.warning("%s: permanent error %s", fn.__name__, exc.code)
            return {PERMANENT_ERROR: exc.as_dict()}
        except TemporaryError:
            raise
        except Exception as exc:
            error = classify(exc)
            if error.temporary:
                raise error from exc
            log.warning("%s: permanent error %s", fn.__name__, error.code)
            return {PERMANENT_ERROR: error.as_dict()}

    return run


def azure() -> AzureClients:
    return clients()


def front_door(payload: dict[str, Any]) -> TrafficProvider:
    """The traffic provider for the plan's `front_door` entry (kind, id, group)."""
    fd = payload["front_door"]
    return provider_for(azure(), FrontDoorRef(fd["kind"], fd["id"], fd["group"]))
