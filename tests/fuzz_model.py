"""Hostile requests generated from a botocore service model, for the fuzz test (issue 12).

For an operation, `FuzzRequests.build(op)` makes one HTTP request (method, path, headers, body
bytes) from the operation's input shape: the required members (valid values come from
conformance.generate, plus names of resources that exist so that requests reach the services'
deeper rules), a random share of the optional members, and mutations anywhere in the tree:
wrong JSON types, required members left out, values outside enums, lengths and ranges,
integers wider than 32/64 bits, NaN/Infinity/1e999, huge strings and lists, control
characters and NUL, lone UTF-16 surrogates (escaped and as raw bytes), bytes that are not
UTF-8, nesting thousands deep, bodies that are not JSON or not an object.

Seeded (random.Random): the same seed gives the same requests. Knows the model and the two
wire protocols only, nothing of what a service accepts.
"""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from botocore.model import OperationModel, Shape

from conformance import generate

# Placeholders replaced in the encoded body: values json.dumps cannot write as such.
_BIG_NUMBER = "\x00fuzz-big-number\x00"
_DEEP = "\x00fuzz-deep\x00"
_NOT_UTF8 = "\x00fuzz-not-utf8\x00"
_RAW_SURROGATE = "\x00fuzz-raw-surrogate\x00"

MAX_LABEL = 4096
MAX_BODY = 1 << 20  # a longer body is cut (and so not JSON): big enough for every size limit
WIDE_INTEGERS = (2 ** 31, -(2 ** 31) - 1, 2 ** 63, -(2 ** 63) - 1, 2 ** 64, 10 ** 300, -1, 0)
ODD_STRINGS = ("", " ", "\u0000", "a\u0000b", "\n", "\t\r", "\u202e", "é", "\U0001F600",
               "\ud800", "x\udfff", "\ud83d\ude00", "*", "%", "../../etc/passwd", "a" * 129,
               "Ref::x", "arn:aws:batch:us-east-1:123456789012:job-queue/", "null", "1e999",
               "nan", "-1", "0", "NaN", "Infinity", "\\u0000", "'\"", "<script>")


@dataclass
class Request:
    operation: str
    method: str
    path: str
    headers: dict
    body: bytes


class FuzzRequests:
    def __init__(self, model, seed: int, names=(), protocol: str = "rest-json",
                 target_prefix: str = "", mutation_rate: float = 0.08, hints=None):
        self.model = model
        self.rng = random.Random(seed)
        self.names = list(names)  # names and ARNs of resources that exist on the server
        # member name (lower case) -> values that refer to an existing resource, so that a
        # request reaches the rules behind the look-up (e.g. "jobqueue": ["fz-q"]).
        self.hints = {k.lower(): list(v) for k, v in (hints or {}).items()}
        self.protocol = protocol
        self.target_prefix = target_prefix
        self.hostile_rate = self.mutation_rate = mutation_rate
        self.optional_rate = 0.35

    # -- one request --------------------------------------------------------------------------

    def build(self, op: OperationModel) -> Request:
        rng = self.rng
        shape = op.input_shape
        # Half the requests are nearly valid (few mutations, few optional members), so that they
        # get past the first rule into the deeper ones; the other half are hostile throughout.
        gentle = rng.random() < 0.5
        self.mutation_rate, self.optional_rate = (0.01, 0.2) if gentle else (self.hostile_rate, 0.35)
        params = self.structure(shape, 0) if shape is not None else {}
        if self.protocol == "json":
            return Request(op.name, "POST", "/",
                           {"X-Amz-Target": f"{self.target_prefix}.{op.name}",
                            "Content-Type": "application/x-amz-json-1.1"},
                           self._encode(params))
        uri, _, fixed_query = op.http["requestUri"].partition("?")
        query, body = [], {}
        members = shape.members if shape is not None else {}
        for name, value in params.items():
            member = members.get(name)
            location = member.serialization.get("location") if member is not None else None
            wire = member.serialization.get("name", name) if member is not None else name
            if location == "uri":
                # Request lines beyond 64 KiB are the HTTP server's to refuse (tested there).
                text = (value if isinstance(value, str) else json.dumps(value))[:MAX_LABEL]
                uri = uri.replace("{" + wire + "+}", "{" + wire + "}").replace(
                    "{" + wire + "}", quote(text.encode("utf-8", "surrogatepass"), safe=""))
            elif location == "querystring":
                for item in (value if isinstance(value, list) else [value])[:20]:
                    text = (item if isinstance(item, str) else json.dumps(item))[:MAX_LABEL]
                    query.append((wire, text.encode("utf-8", "surrogatepass")))
            elif location == "header":
                continue
            else:
                body[wire] = value
        # A label generation left out (a required member dropped) still needs a path segment.
        while "{" in uri:
            start = uri.index("{")
            uri = uri[:start] + "x" + uri[uri.index("}", start) + 1:]
        if fixed_query or query:
            uri += "?" + "&".join(filter(None, [fixed_query, urlencode(query)]))
        method = op.http["method"]
        payload = self._encode(body) if (body or method not in ("GET", "DELETE")) else b""
        return Request(op.name, method, uri, {"Content-Type": "application/json"}, payload)

    def _encode(self, doc) -> bytes:
        """The JSON body, sometimes broken as a whole; placeholders become raw text."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.01:
            return b"[" * rng.choice((1000, 100_000))
        if roll < 0.02:
            return rng.choice((b"", b"{", b"null", b"[]", b"42", b'"x"', b"{}}", b"\xff\xfe{}",
                               '{"a":1}'.encode("utf-16"), b"{\"a\":\x00}", b"{'a':1}"))
        text = json.dumps(doc, ensure_ascii=rng.random() < 0.8)
        if roll < 0.04 and len(text) > 2:  # truncated
            text = text[:rng.randrange(1, len(text))]
        text = (text.replace(json.dumps(_BIG_NUMBER), rng.choice(("1e999", "-1e999", "1" * 5000, "1e308", "-0.0")))
                .replace(json.dumps(_DEEP), "[" * (n := rng.choice((65, 1000, 20_000))) + "]" * n)
                .replace(json.dumps(_RAW_SURROGATE), '"\ud800"'))
        data = text.encode("utf-8", "surrogatepass")[:MAX_BODY]
        return data.replace(json.dumps(_NOT_UTF8).encode(), b'"\xc3\x28\xff"')

    # -- values from shapes -------------------------------------------------------------------

    def structure(self, shape: Shape, depth: int) -> dict:
        rng = self.rng
        out = {}
        required = set(shape.required_members)
        for name, member in shape.members.items():
            if name in required:
                if rng.random() < self.mutation_rate / 3:
                    continue  # a required member left out
            elif rng.random() > (self.optional_rate if depth < 3 else 0.1):
                continue
            out[name] = self.value(member, depth + 1, name)
        if rng.random() < 0.02:
            out["unknownMember" + str(rng.randrange(10))] = self.anything(depth + 1)
        return out

    def value(self, shape: Shape, depth: int, name: str = ""):
        rng = self.rng
        if rng.random() < self.mutation_rate:
            return self.mutated(shape, depth, name)
        kind, meta = shape.type_name, shape.metadata
        if kind == "structure":
            return self.structure(shape, depth) if depth < 8 else {}
        if kind == "list":
            count = rng.choice((0, 1, 1, 2, 3)) if depth < 6 else 0
            count = max(count, meta.get("min", 0)) if rng.random() < 0.9 else count
            return [self.value(shape.member, depth + 1, name) for _ in range(count)]
        if kind == "map":
            count = rng.choice((0, 1, 2)) if depth < 6 else 0
            count = max(count, meta.get("min", 0)) if rng.random() < 0.9 else count
            return {self.string(shape.key, name): self.value(shape.value, depth + 1, name)
                    for _ in range(count)}
        if kind == "string":
            return self.string(shape, name)
        if kind in ("integer", "long"):
            # Small values: a valid array size of 10,000 makes 10,000 jobs, and the fuzz run is
            # about input, not scale (bench/ measures that). Edges come from mutated().
            lo = meta.get("min", 0)
            hi = max(lo, min(meta.get("max", 100), lo + 100))
            return rng.choice((lo, lo + 1, rng.randint(lo, hi), generate.value(shape, name)))
        if kind in ("float", "double"):
            return rng.choice((0.0, 0.5, 1.0, 100.25, generate.value(shape, name)))
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "timestamp":
            return rng.choice((0, 1_700_000_000, 1_700_000_000.5, "2026-01-01T00:00:00Z"))
        if kind == "blob":
            return base64.b64encode(rng.randbytes(rng.randrange(0, 32))).decode()
        return None

    def string(self, shape: Shape, name: str) -> str:
        rng = self.rng
        if shape.enum and rng.random() < 0.9:
            return rng.choice(shape.enum)
        hint = self.hints.get(name.lower())
        if hint and rng.random() < 0.7:
            return rng.choice(hint)
        roll = rng.random()
        if roll < 0.35 and self.names:
            return rng.choice(self.names)
        if roll < 0.7:
            if name.lower().endswith("name"):  # generate.value's names are uuids: not seeded
                return f"gen{rng.getrandbits(32):08x}"[:shape.metadata.get("max", 11)]
            return generate.value(shape, name)
        if roll < 0.85:
            return rng.choice(("1", "2", "512", "0.25", "16", "VCPU", "MEMORY", "GPU", "EXIT", "RETRY",
                               "JOB_NAME", "*", "a*", "fz"))
        return rng.choice(ODD_STRINGS)

    def mutated(self, shape: Shape, depth: int, name: str):
        """A value this member must not accept, or one at the edge of what it accepts."""
        rng = self.rng
        kind, meta = shape.type_name, shape.metadata
        choices = [
            lambda: self.anything(depth),                       # any JSON type
            lambda: None,                                       # null
            lambda: rng.choice(ODD_STRINGS),
            lambda: rng.choice(WIDE_INTEGERS),
            lambda: rng.choice((float("nan"), float("inf"), float("-inf"), 1e308, -0.0, 0.1)),
            lambda: _BIG_NUMBER,
            lambda: _DEEP,
            lambda: _NOT_UTF8,
            lambda: _RAW_SURROGATE,
            lambda: "x" * rng.choice((129, 256, 1025, 10_000, 100_000)),
            # Many items, each without mutations (mutations inside would multiply the size).
            lambda: [self.calm(shape, depth, name)] * rng.choice((101, 1001)) if kind != "list"
            else [self.calm(shape.member, depth, name) for _ in range(rng.choice((51, 101, 1001)))],
        ]
        if kind == "string" and shape.enum:
            choices.append(lambda: rng.choice(shape.enum).lower() + rng.choice(("", "X", " ")))
        if kind in ("integer", "long") and ("min" in meta or "max" in meta):
            choices.append(lambda: rng.choice((meta.get("min", 0) - 1, meta.get("max", 0) + 1)))
        if kind == "structure":
            choices.append(lambda: {k: v for k, v in self.structure(shape, depth).items()
                                    if k not in shape.required_members})
        if kind == "map":
            choices.append(lambda: {f"k{i}": self.value(shape.value, depth + 1, name) for i in range(60)})
        return rng.choice(choices)()

    def calm(self, shape: Shape, depth: int, name: str):
        """A value of `shape` without mutations."""
        rate, self.mutation_rate = self.mutation_rate, 0.0
        try:
            return self.value(shape, depth + 1, name)
        finally:
            self.mutation_rate = rate

    def anything(self, depth: int):
        rng = self.rng
        return rng.choice((lambda: 12345, lambda: -1.5, lambda: True, lambda: "text", lambda: [],
                           lambda: [1, "a", None], lambda: {}, lambda: {"a": {"b": [1]}},
                           lambda: None))()
