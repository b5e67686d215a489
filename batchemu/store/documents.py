"""How a document becomes the JSON text of a row: the store's last line against values JSON
cannot carry. NaN and infinities (which Python's json would write as the non-JSON words `NaN`
and `Infinity`, making SQLite's JSON functions fail on the row for good) and lone UTF-16
surrogates (which SQLite cannot encode as UTF-8) are refused with NotJson before anything is
written. The wire and the services refuse such input first, with a message for the client;
reaching this check is a bug of ours, reported as one.
"""

from __future__ import annotations

import json
import re

# json.dumps escapes every non-ASCII character, surrogates as \udXXX (lower-case hex).
_SURROGATE = re.compile(r"\\ud[89a-f]")


class NotJson(ValueError):
    """A document holds a value that is not JSON (NaN, Infinity, a lone surrogate)."""


def dump(doc) -> str:
    try:
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    except ValueError as exc:
        raise NotJson(f"refusing to store a document that is not JSON: {exc}") from None
    if _SURROGATE.search(text):  # rare: a pair (an emoji) or a lone half
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise NotJson("refusing to store a document that holds a lone UTF-16 surrogate") from None
    return text
