"""The caller, as App Service Authentication (Easy Auth) passes it: X-MS-CLIENT-PRINCIPAL* headers.

Easy Auth strips these headers from incoming requests and sets them itself, so on Azure they can
be trusted only when authentication is enabled on the Function App. The principal blob is a
bearer of claims: it is decoded here and never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

NAME_HEADER = "x-ms-client-principal-name"
PRINCIPAL_HEADER = "x-ms-client-principal"
ID_HEADER = "x-ms-client-principal-id"
# Claims that name a person or an app, in the order we prefer them for display.
_NAME_CLAIMS = (
    "name",
    "preferred_username",
    "upn",
    "email",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)
_ID_CLAIMS = ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier", "appid", "azp")


@dataclass(frozen=True)
class Caller:
    name: str
    # Every other way an approvers list may name this caller (UPN, e-mail, object id), lower-case.
    aliases: frozenset[str] = field(default_factory=frozenset)

    def is_one_of(self, names: Iterable[str]) -> bool:
        wanted = {n.strip().lower() for n in names if n.strip()}
        return bool(wanted & ({self.name.lower()} | self.aliases))

    def same_as(self, other: str | None) -> bool:
        return other is not None and self.is_one_of([other])


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _claims(blob: str) -> tuple[str | None, list[str]]:
    """(name by the principal's own name claim type, all identifying claim values); ({}, []) if unreadable."""
    try:
        padded = blob.strip() + "=" * (-len(blob.strip()) % 4)
        data = json.loads(base64.b64decode(padded, validate=False))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):  # nesting too deep: unreadable
        return None, []
    if not isinstance(data, dict) or not isinstance(data.get("claims"), list):
        return None, []
    name_type = str(data.get("name_typ") or "")
    named: str | None = None
    values: list[str] = []
    for claim in data["claims"]:
        if not isinstance(claim, dict):
            continue
        typ, val = str(claim.get("typ") or ""), claim.get("val")
        if not isinstance(val, str) or not val.strip():
            continue
        if typ == name_type and named is None:
            named = val
        if typ in _NAME_CLAIMS or typ in _ID_CLAIMS:
            values.append(val)
    return named, values


class IdentityMismatch(Exception):
    """The name header says one person and the signed claims another: a forged header, refused (401)."""


def caller_from_headers(headers: Mapping[str, str]) -> Caller | None:
    """The authenticated caller, derived once, or None when nobody is signed in.

    Easy Auth always sends both the principal blob (the claims of the signed-in token) and the name
    header; the claims decide. The name header alone is used only when no blob is present (a caller
    that authenticated some other way in front of the app). A name header that names nobody in the
    claims is a forgery attempt and raises IdentityMismatch. An unreadable blob is nobody.
    """
    name_header = (_header(headers, NAME_HEADER) or "").strip()
    principal_id = (_header(headers, ID_HEADER) or "").strip()
    blob = _header(headers, PRINCIPAL_HEADER)
    if blob is None or not blob.strip():
        if not name_header:
            return None
        aliases = {principal_id.lower()} if principal_id else set()
        return Caller(name=name_header[:256], aliases=frozenset(aliases))
    claim_name, values = _claims(blob)
    name = (claim_name or "").strip() or (values[0].strip() if values else "")
    if not name:
        return None
    aliases = {v.strip().lower() for v in values if v.strip()}
    if name_header and name_header.lower() != name.lower() and name_header.lower() not in aliases:
        raise IdentityMismatch(f"the name header does not match the signed claims of {name!r}")
    if principal_id:
        aliases.add(principal_id.lower())
    return Caller(name=name[:256], aliases=frozenset(aliases))
