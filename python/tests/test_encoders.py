"""OneGate form bodies and the IPC wire format through Python."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import stamen
from stamen import ConfigError, IpcError, decode_status, encode_onegate_erase, encode_onegate_status, encode_onegate_update, encode_status

from helpers import VECTORS


def reference_puts() -> list[tuple[str, list[str], str]]:
    """(case, argv, body) of the official client's `vm update` requests."""
    out = []
    for line in (VECTORS / "onegate" / "reference-requests.jsonl").read_text().splitlines():
        req = json.loads(line)
        if req["method"] == "PUT" and req["argv"][:2] == ["vm", "update"]:
            out.append((req["case"], req["argv"], req["body"]))
    return out


REFERENCE = reference_puts()


def test_reference_vectors_exist() -> None:
    assert len(REFERENCE) >= 8


@pytest.mark.parametrize(("case", "argv", "body"), REFERENCE, ids=[c for c, _, _ in REFERENCE])
def test_bodies_match_the_official_client(case: str, argv: list[str], body: str) -> None:
    flag, value = argv[-2], argv[-1]
    if flag == "--erase":
        assert encode_onegate_erase(value) == body
    else:
        assert flag == "--data"
        # The client sends --data verbatim: real newlines separate K=V lines.
        attrs = dict(line.split("=", 1) for line in value.split("\n"))
        assert encode_onegate_update(attrs) == body


def test_update_encoding_rules() -> None:
    assert encode_onegate_update({"A": "x y", "N": 7}) == "data=A%3Dx+y%0AN%3D7&type=1"
    assert encode_onegate_update({"U": "é*-._~"}) == "data=U%3D%C3%A9*-._%7E&type=1"
    assert encode_onegate_update({}) == "data=&type=1"
    assert encode_onegate_update({"F": 0.5}) == "data=F%3D0.5&type=1"


def test_status_and_erase_bodies() -> None:
    assert encode_onegate_status(2, 3) == "data=FL_CLIENT_STATUS%3D2%0AFL_TRAINING_ACTIVE%3D1%0AFL_ROUND_NUMBER%3D3&type=1"
    assert encode_onegate_status(stamen.ClientStatus.IDLE) == "data=FL_CLIENT_STATUS%3D1%0AFL_TRAINING_ACTIVE%3D0%0AFL_ROUND_NUMBER%3D0&type=1"
    assert encode_onegate_erase("FL_X") == "data=FL_X&type=2"


@pytest.mark.parametrize(
    ("attrs", "key", "offset"),
    [
        ({"BAD KEY": "v"}, "BAD KEY", 3),
        ({"": "v"}, "", 0),
        ({"A": "ok", "B": "line\nbreak"}, "B", 4),
        ({"C": "nul\x00"}, "C", 3),
    ],
)
def test_invalid_attributes_name_key_and_offset(attrs: dict[str, str], key: str, offset: int) -> None:
    with pytest.raises(ConfigError) as info:
        encode_onegate_update(attrs)
    assert info.value.key == key and info.value.offset == offset
    assert str(info.value).startswith(f"{key}: ")


def test_bool_values_are_rejected() -> None:
    with pytest.raises(ConfigError, match="use 1 or 0"):
        encode_onegate_update({"FL_TRAINING_ACTIVE": True})


def test_erase_rejects_bad_key() -> None:
    with pytest.raises(ConfigError) as info:
        encode_onegate_erase("A=B")
    assert info.value.key == "A=B" and info.value.offset == 1


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.from_regex(r"[A-Za-z0-9_.\-]{1,12}", fullmatch=True),
                       st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), max_size=40),
                       max_size=6))
def test_update_body_decodes_back(attrs: dict[str, str]) -> None:
    body = encode_onegate_update(attrs)
    parsed = urllib.parse.parse_qs(body, keep_blank_values=True)
    assert parsed["type"] == ["1"]
    data = parsed["data"][0]
    got = dict(line.split("=", 1) for line in data.split("\n")) if attrs else {}
    assert got == attrs


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([1, 2, 3]), st.none() | st.integers(0, 2**64 - 1))
def test_ipc_round_trip(status: int, rnd: int | None) -> None:
    datagram = encode_status(status, rnd)
    assert len(datagram) <= 128
    assert decode_status(datagram) == (status, rnd)
    assert decode_status(datagram + b"\n") == (status, rnd)


@pytest.mark.parametrize(
    ("datagram", "offset"),
    [
        (b"stamen/2 status=1", 7),
        (b"stamen/1 status=4", 16),
        (b"stamen/1 status=1 round=01", 24),
        (b"stamen/1 status=1 extra=1", 18),
        (b"hello", 0),
        (b"stamen/1 status=1" + b" " * 200, 128),
    ],
)
def test_ipc_errors_carry_the_offset(datagram: bytes, offset: int) -> None:
    with pytest.raises(IpcError) as info:
        decode_status(datagram)
    assert info.value.offset == offset


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=160))
def test_ipc_decoder_is_total(data: bytes) -> None:
    try:
        status, rnd = decode_status(data)
    except IpcError as e:
        assert 0 <= e.offset <= 128
    else:
        assert status in (1, 2, 3)
        assert encode_status(status, rnd) == data.rstrip(b"\n")
