"""Invoice payloads: only this deployment's, untampered, within Telegram's 128 bytes."""

from __future__ import annotations

import pytest

from poller.invoices import MAX_PAYLOAD_BYTES, InvoicePayload, payload_key

KEY = payload_key("123:token")


def test_a_payload_round_trips() -> None:
    payload = InvoicePayload("p1000", 123456789012, 1000, 250)

    text = payload.encode(KEY)

    assert InvoicePayload.parse(text, KEY) == payload
    assert len(text.encode()) <= MAX_PAYLOAD_BYTES


def test_the_longest_payload_fits_telegrams_limit() -> None:
    payload = InvoicePayload("a" * 16, 10**15, 10**9, 10**9)

    assert len(payload.encode(KEY).encode()) <= MAX_PAYLOAD_BYTES


@pytest.mark.parametrize(
    "tamper",
    [
        lambda text: text.replace(".1000.", ".9000."),  # more credits
        lambda text: text.replace("r1.p1000.42.", "r1.p1000.43."),  # another buyer
        lambda text: text[:-1] + ("0" if text[-1] != "0" else "1"),  # another MAC
        lambda text: text.rpartition(".")[0],  # no MAC
        lambda text: "",
        lambda text: "x" * 200,
    ],
)
def test_a_tampered_or_foreign_payload_does_not_parse(tamper: object) -> None:
    text = InvoicePayload("p1000", 42, 1000, 250).encode(KEY)

    assert InvoicePayload.parse(tamper(text), KEY) is None  # type: ignore[operator]


def test_another_deployments_payload_does_not_parse() -> None:
    text = InvoicePayload("p1000", 42, 1000, 250).encode(payload_key("other:token"))

    assert InvoicePayload.parse(text, KEY) is None


def test_pack_ids_are_short_and_plain() -> None:
    with pytest.raises(ValueError, match="pack ids"):
        InvoicePayload("Pack.1", 42, 1000, 250).encode(KEY)
