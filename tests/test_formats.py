"""Text formats: what is accepted, how it is stored, what is refused (dialogs/formats.py)."""

import pytest

from dialogs.formats import check, found_in
from dialogs.parsing import Refusal


@pytest.mark.parametrize(
    ("name", "typed", "stored"),
    [
        ("email", "ubnd@huongvinh.gov.vn", "ubnd@huongvinh.gov.vn"),
        ("email", "a@x.gov.vn; b@x.gov.vn", "a@x.gov.vn; b@x.gov.vn"),
        ("email", "Hoa.LT@GMAIL.COM", "Hoa.LT@gmail.com"),
        ("phone", "0905 123 456", "0905 123 456"),
        ("phone", "0905.123.456", "0905 123 456"),
        ("phone", "+84 905 123 456", "0905 123 456"),
        ("phone", "0234-3551-234", "0234 3551 234"),
        ("phone", "ĐT 0256 3822123 - Fax 0256 3822124", "ĐT 0256 3822 123 - Fax 0256 3822 124"),
        ("url", "huongvinh.huongtra.gov.vn", "huongvinh.huongtra.gov.vn"),
        ("url", "HTTPS://Tuphap.BinhDinh.gov.vn/", "https://tuphap.binhdinh.gov.vn"),
        ("url", "https://stp.gov.vn/van-ban?id=3", "https://stp.gov.vn/van-ban?id=3"),
        ("doc_ref", "12/QĐ-UBND", "12/QĐ-UBND"),
        (
            "doc_ref",
            "Quyết định số 1234/KH-UBND ngày 05/3/2020",
            "Quyết định số 1234/KH-UBND ngày 05/3/2020",
        ),
        ("doc_ref", "03/2014/TT-BTTTT", "03/2014/TT-BTTTT"),
        ("doc_ref", "https://stp.gov.vn/qd12.pdf", "https://stp.gov.vn/qd12.pdf"),
        ("date", "5/3/2020", "05/03/2020"),
        ("date", "05-03-2020", "05/03/2020"),
    ],
)
def test_accepted_and_stored_one_way(name, typed, stored):
    assert check(name, typed) == stored


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("email", "hoalt@gmail,com"),
        ("email", "khong co"),
        ("email", "a@b"),
        ("phone", "abc"),
        ("phone", "0905 123 45"),
        ("phone", "0905 123 456 7"),
        ("url", "huongvinh gov vn"),
        ("url", "không có"),
        ("doc_ref", "co"),
        ("doc_ref", "ngày 12/3/2020"),
        ("date", "31/02/2020"),
        ("date", "2020-03-05"),
    ],
)
def test_refused_with_the_format_named(name, typed):
    with pytest.raises(Refusal) as info:
        check(name, typed)
    assert info.value.key == f"format_{name}"


def test_a_unit_contact_line_fills_each_format_with_what_fits():
    contact = "0234 3551 234; ubndhuongvinh@thuathienhue.gov.vn"
    assert found_in("phone", contact) == "0234 3551 234"
    assert found_in("email", contact) == "ubndhuongvinh@thuathienhue.gov.vn"
    assert found_in("url", contact) is None
    assert found_in("email", None) is None
