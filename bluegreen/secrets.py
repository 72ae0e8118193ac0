"""Secrets by reference: a Key Vault secret (read with the Function App's identity) or an app setting.

The environment file and the run's history hold references only; the value is read by the activity that
needs it, used, and never returned, logged or recorded.
"""

from __future__ import annotations

import os

from bluegreen.azure import AzureClients
from bluegreen.errors import PermanentError, classify

APP_SETTING = "appsetting:"


def resolve(clients: AzureClients, reference: str) -> str:
    """The secret's value; PermanentError (SecretNotFound) naming the reference when it cannot be read."""
    if reference.startswith(APP_SETTING):
        name = reference.removeprefix(APP_SETTING)
        value = os.environ.get(name)
        if not value:
            raise PermanentError("SecretNotFound", f"app setting {name} is not set")
        return value
    vault_url, _, rest = reference.partition("/secrets/")
    name, _, version = rest.partition("/")
    try:
        secret = clients.secrets(vault_url).get_secret(name, version or None)
    except Exception as exc:
        error = classify(exc)
        if error.temporary:
            raise error from exc
        raise PermanentError("SecretNotFound", f"cannot read {reference}: {error.code}") from exc
    if not secret.value:
        raise PermanentError("SecretNotFound", f"{reference} is empty")
    return str(secret.value)
