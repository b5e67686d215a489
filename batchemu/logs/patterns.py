"""FilterLogEvents filter patterns for unstructured events: `matcher(pattern)` gives a
predicate over a message. Supported: terms (`ERROR`), quoted phrases (`"Exit code 1"`), all of
them required; `?term` (at least one of the ?-terms); `-term` (excluded); `%regex%` (Python
`re.search`). Case-sensitive, matched anywhere in the message, like CloudWatch Logs.
JSON (`{ $.x = 1 }`) and space-delimited (`[a, b]`) patterns are rejected, not ignored.
"""

from __future__ import annotations

import re

from batchemu.logs.errors import InvalidParameter

_TOKEN = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|%((?:[^%\\]|\\.)+)%|([^\s"%]\S*))')


def matcher(pattern: str | None):
    text = (pattern or "").strip()
    if not text or text == '""' or text == '" "':
        return lambda message: True  # no pattern, or AWS's "match everything" pattern
    if text[0] in "{[":
        kind = "JSON" if text[0] == "{" else "space-delimited"
        raise InvalidParameter(f"Invalid filter pattern {pattern!r}: batchemu supports terms, "
                               f'"quoted phrases", ?term, -term and %regex% only, not {kind} patterns')
    required, optional, excluded = [], [], []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        found = _TOKEN.match(text, pos)
        if not found:
            raise InvalidParameter(f"Invalid filter pattern {pattern!r} at position {pos}")
        prefix, phrase, regex, word = found.groups()
        pos = found.end()
        if regex is not None:
            try:
                test = re.compile(regex).search
            except re.error as exc:
                raise InvalidParameter(f"Invalid regular expression in filter pattern: %{regex}%: {exc}")
        else:
            needle = re.sub(r"\\(.)", r"\1", phrase) if phrase is not None else word
            test = (lambda message, n=needle: n in message)
        {"": required, "?": optional, "-": excluded}[prefix].append(test)

    def matches(message: str) -> bool:
        return (all(t(message) for t in required)
                and not any(t(message) for t in excluded)
                and (not optional or any(t(message) for t in optional)))
    return matches
