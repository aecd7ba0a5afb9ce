"""Button payloads: one wire format, within Telegram's 64 bytes, and junk that never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.payloads import (
    MAX_BYTES,
    Confirm,
    KeepAnswer,
    KeepPrevious,
    PickOption,
    RunCommand,
    decode,
    encode,
)
from dialogs.spec import all_forms


@pytest.mark.parametrize(
    ("payload", "wire"),
    [
        (PickOption("3.6", 0), "ans:3.6:0"),
        (KeepPrevious("3.7.đ"), "keep:3.7.đ"),
        (KeepAnswer("3.2.a"), "warn:3.2.a"),
        (RunCommand("quaylai"), "cmd:quaylai"),
        (RunCommand("xem", "3"), "cmd:xem 3"),
        (Confirm(True), "confirm:yes"),
        (Confirm(False), "confirm:no"),
    ],
)
def test_each_payload_has_one_wire_form_that_reads_back(payload, wire):
    assert encode(payload) == wire
    assert decode(wire) == payload


def test_buttons_already_in_peoples_chats_keep_working():
    # The first version's strings: a person may press a button sent before an upgrade.
    assert decode("ans:6.2.1.a:2") == PickOption("6.2.1.a", 2)
    assert decode("cmd:tiendo") == RunCommand("tiendo")


def test_every_button_of_the_built_in_forms_fits_in_64_bytes():
    for spec in all_forms().values():
        for item in spec.items:
            last = max(len(item.choices()) - 1, 0)
            for payload in (PickOption(item.code, last), KeepPrevious(item.code)):
                assert len(encode(payload).encode()) <= MAX_BYTES


def test_a_payload_over_64_bytes_is_refused_when_built():
    with pytest.raises(ValueError):
        encode(PickOption("x" * 80, 1))


@pytest.mark.parametrize(
    "junk", ["", "ans:", "ans:3.6:", "ans:3.6:²", "ans:3.6:-1", "ans:3.6:99999", "nope", "cmd:"]
)
def test_foreign_or_broken_payloads_read_as_nothing(junk):
    assert decode(junk) is None


@given(st.text(max_size=80))
def test_decoding_any_text_never_raises(text):
    payload = decode(text)
    if payload is not None:
        assert decode(encode(payload)) == payload
