"""Parsers of what a user types for signing: any text gives a value or a clear error, never a traceback."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier_station.core.errors import DossierError
from dossier_station.signing.keys import parse_key_ref
from dossier_station.station.signing_ceremony import parse_at


@settings(max_examples=200)
@given(st.text(max_size=60))
def test_any_at_text_is_a_placement_or_a_clear_error(text: str) -> None:
    try:
        p = parse_at(text)
    except DossierError as exc:
        assert "--at" in str(exc)
        return
    x1, y1, x2, y2 = p.box
    assert x2 > x1 and y2 > y1


def test_at_refuses_page_zero_and_non_numbers() -> None:
    import pytest

    for bad in ("0,1,1,10,10", "1,nan,1,10,10", "1.5,1,1,10,10", "1,1,1,inf,10", "a,b"):
        with pytest.raises(DossierError):
            parse_at(bad)


def test_any_pkcs11_id_is_bytes() -> None:
    assert parse_key_ref("pkcs11:token=t;id=中").key_id == "中".encode()


def test_at_counts_pages_from_one_and_minus_one_is_the_last() -> None:
    assert parse_at("1,10,20,100,50").page == 0
    assert parse_at("-1,10,20,100,50").page == -1
    assert parse_at("2,10,20,100,50").box == (10.0, 20.0, 110.0, 70.0)


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_any_pkcs11_uri_text_is_a_key_reference_or_a_clear_error(tail: str) -> None:
    try:
        ref = parse_key_ref("pkcs11:" + tail)
    except DossierError:
        return
    assert ref.kind == "pkcs11" and ref.token is not None


def test_pkcs11_uri_fields_are_read() -> None:
    ref = parse_key_ref("pkcs11:token=seal%20token;object=seal;id=%01?module-path=/opt/hsm.so")
    assert (ref.token, ref.label, ref.key_id, ref.module) == ("seal token", "seal", b"\x01", "/opt/hsm.so")
