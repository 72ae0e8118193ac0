"""Local Functions host: runs a function app's orchestrators (real SDK replay), activities, HTTP routes,
Event Grid deliveries and the Durable management API, with SQLite state and a real or virtual clock."""

from local.functions_host.app_index import AppLoadError
from local.functions_host.host import LocalHost

__all__ = ["AppLoadError", "LocalHost"]
