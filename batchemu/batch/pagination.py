"""Pagination for every paginated Describe/List operation (ref §1.6), driven by botocore's
paginators-1.json: the result key and token names come from the model.

Tokens are opaque (base64 of a position) and change on every page; the last page has no
nextToken. A module that pages in SQL itself marks its function with @pages_itself.
"""

from __future__ import annotations

import base64
import json

from batchemu.batch.errors import ClientException

DEFAULT_LIMIT = 100


def pages_itself(fn):
    fn.pages_itself = True
    return fn


def encode_token(position) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode()


def decode_token(token: str | None):
    if token is None:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))["p"]
    except Exception:
        raise ClientException(f"Invalid nextToken: {token!r} was not returned by this service")


def page_size(params: dict, default: int = DEFAULT_LIMIT, maximum: int = DEFAULT_LIMIT) -> int:
    limit = params.get("maxResults")
    if limit is None:
        return default
    if limit < 1:
        raise ClientException(f"maxResults must be between 1 and {maximum}, got {limit}")
    return min(limit, maximum)


def paginate(result: dict, config: dict, params: dict) -> dict:
    """Cut the full list under result_key to one page after the position in nextToken."""
    key = config["result_key"]
    items = result.get(key) or []
    start = decode_token(params.get(config["input_token"])) or 0
    if not isinstance(start, int) or start < 0:
        raise ClientException("Invalid nextToken")
    size = page_size(params)
    result = dict(result)
    result[key] = items[start:start + size]
    if start + size < len(items):
        result[config["output_token"]] = encode_token(start + size)
    else:
        result.pop(config["output_token"], None)
    return result
