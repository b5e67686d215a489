"""wire.jsonbody: what a request body must be before any service sees it (issue 12)."""

import pytest

from batchemu.wire import jsonbody
from batchemu.wire.errors import ApiError


def refused(body) -> str:
    with pytest.raises(ApiError) as exc:
        jsonbody.load(body, "ClientException")
    assert exc.value.status == 400 and exc.value.code == "ClientException"
    return exc.value.message


def test_ordinary_documents_pass_unchanged():
    assert jsonbody.load(b'{"a":[1,2.5,-0.0,1e308,"\\ud83d\\ude00",null,true]}', "X") == {
        "a": [1, 2.5, -0.0, 1e308, "\U0001F600", None, True]}
    assert jsonbody.load("{\"k\":\"\u00e9\"}".encode(), "X") == {"k": "\u00e9"}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_numbers_json_cannot_carry_are_refused(literal):
    assert "not valid JSON" in refused(f'{{"a":{literal}}}'.encode())


def test_depth_limit_is_exact():
    inside = jsonbody.MAX_DEPTH - 1
    assert jsonbody.load(("{\"a\":" + "[" * inside + "]" * inside + "}").encode(), "X")
    assert "nested more than 64" in refused(("{\"a\":" + "[" * 64 + "]" * 64 + "}").encode())
    assert "nested more than 64" in refused(b"[" * 50_000 + b"]" * 50_000)
    # Many brackets side by side are not depth.
    assert jsonbody.load(("{\"a\":[" + ",".join(["[]"] * 500) + "]}").encode(), "X")


@pytest.mark.parametrize("body", [b'["\\ud800"]', b'{"\\uDFFF":1}', b'["a\\udbff b"]', b'["\\ude00\\ud83d"]'])
def test_lone_surrogates_are_refused(body):
    assert "lone UTF-16 surrogate" in refused(body)


@pytest.mark.parametrize("body", [b'["\xed\xa0\x80"]', b'["\xff"]', '{"a":1}'.encode("utf-16"),
                                  '{"a":1}'.encode("utf-32")])
def test_bodies_that_are_not_utf8_are_refused(body):
    assert "not UTF-8" in refused(body)


def test_an_escaped_backslash_is_not_taken_for_a_surrogate():
    assert jsonbody.load(b'["\\\\ud800"]', "X") == ["\\ud800"]
