"""wire.guard's Host rules and wire.auth's key files, without a server."""

from __future__ import annotations

import pytest

from batchemu.wire.auth import load_credentials
from batchemu.wire.guard import Guard, host_name, is_loopback


@pytest.mark.parametrize("header, name", [
    ("localhost:8000", "localhost"), ("LocalHost.", "localhost"), ("[::1]:8000", "::1"), ("[::1]", "::1"),
    ("127.0.0.1", "127.0.0.1"), ("bucket.localhost:9", "bucket.localhost"), ("::1", "::1"),
    ("evil.example:80", "evil.example")])
def test_host_name(header, name):
    assert host_name(header) == name


@pytest.mark.parametrize("name, loopback", [
    ("localhost", True), ("a.b.localhost", True), ("127.255.0.1", True), ("::1", True),
    ("localhost.evil.example", False), ("evillocalhost", False), ("10.0.0.1", False), ("0.0.0.0", False)])
def test_loopback_names(name, loopback):
    assert is_loopback(name) is loopback


def test_bound_address_patterns_and_runtime_hosts():
    asked = []

    def job_hosts():
        asked.append(1)
        return ["host.docker.internal", None]

    guard = Guard("10.1.2.3", "batchemu, *.corp.example", "", extra_hosts=job_hosts)
    assert guard.host_allowed("10.1.2.3") and guard.host_allowed("batchemu")
    assert guard.host_allowed("a.corp.example")
    assert not asked  # only asked for names not otherwise allowed
    assert not guard.host_allowed("corp.example.evil")
    assert guard.host_allowed("host.docker.internal") and not guard.host_allowed("evil.example")
    assert not Guard("0.0.0.0").host_allowed("0.0.0.0")
    assert Guard("myhost.lan").host_allowed("myhost.lan")
    assert Guard("", "*").host_allowed("anything.example")


def test_credentials_from_pairs_and_files(tmp_path):
    shared = tmp_path / "shared"
    shared.write_text("[default]\naws_access_key_id = AK1\naws_secret_access_key = s1\n"
                      "[other]\naws_access_key_id=AK2\naws_secret_access_key=s:2\n")
    lines = tmp_path / "lines"
    lines.write_text("# team keys\nAK3:s3  # the CI key\n\nAK4:s4\n")
    assert load_credentials("AK0:s0, AK5:s5", str(shared)) == {"AK0": "s0", "AK5": "s5", "AK1": "s1",
                                                               "AK2": "s:2"}
    assert load_credentials("", str(lines)) == {"AK3": "s3", "AK4": "s4"}
    with pytest.raises(ValueError, match="ACCESS_KEY_ID:SECRET"):
        load_credentials("no-secret")
