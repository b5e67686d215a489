"""Who is calling: account from the access key id, region and signing service from the SigV4
credential scope (Authorization header or presigned X-Amz-Credential).

A 12-digit access key id is taken as the account id (so tests can isolate accounts without
IAM); anything else is the default account. Signatures are not verified.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class Caller:
    access_key: str | None
    account: str
    region: str
    service: str | None


def identify(headers, args, default_account: str, default_region: str) -> Caller:
    scope = None
    auth = headers.get("Authorization", "")
    found = _CREDENTIAL.search(auth)
    if found:
        scope = found.groups()
    else:
        cred = args.get("X-Amz-Credential", "")
        parts = cred.split("/")
        if len(parts) == 5:
            scope = (parts[0], parts[1], parts[2], parts[3])
    if not scope:
        return Caller(None, default_account, default_region, None)
    key, _date, region, service = scope
    account = key if (len(key) == 12 and key.isdigit()) else default_account
    return Caller(key, account, region or default_region, service)
