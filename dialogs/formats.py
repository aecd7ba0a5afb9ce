"""Formats of text answers: what an email, a phone number, a web address, a document number
(số hiệu văn bản) or a date must look like, checked as typed and stored one way.

A spec gives a text item a ``format``; ``check`` returns the answer as it is stored, or
raises ``Refusal("format_<name>")`` (the message names the format with an example).
Checks work offline: ``email-validator`` without its DNS lookup, ``phonenumbers`` with its
bundled metadata for Vietnam.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from dialogs.parsing import Refusal

REGION = "VN"
_SEPARATORS = re.compile(r"[;,\s]+")
_URL = re.compile(
    r"(?:(?P<scheme>https?)://)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})"
    r"(?::[0-9]{1,5})?(?P<path>/\S*)?",
    re.IGNORECASE,
)
# "12/QĐ-UBND", "1234/KH-UBND", "03/2014/TT-BTTTT", "57/TTr-STTTT"
_DOCUMENT_NUMBER = re.compile(
    r"(?<![0-9/])[0-9]{1,5}/(?:[0-9]{4}/)?[A-Za-zĐđ][A-Za-zĐđ0-9&]*(?:-[A-Za-zĐđ0-9&]+)*"
)
_DATE = re.compile(r"([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{4})")


def _email(text: str) -> str:
    """One address or several separated by ";" (or "," or spaces), each checked."""
    addresses = [part for part in _SEPARATORS.split(text) if part]
    if not addresses:
        raise Refusal("format_email")
    normalised = []
    for address in addresses:
        try:
            normalised.append(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError:
            raise Refusal("format_email", text=address[:60]) from None
    return "; ".join(normalised)


def _phone(text: str) -> str:
    """Vietnamese mobile and landline numbers, written with spaces, dots, dashes or +84, stored
    in the national format ("0905 123 456"); words around them ("Fax:") stay as typed, but a
    digit outside a valid number is refused (a number with a digit missing)."""
    matches = list(
        phonenumbers.PhoneNumberMatcher(text, REGION, leniency=phonenumbers.Leniency.VALID)
    )
    if not matches:
        raise Refusal("format_phone")
    pieces, end = [], 0
    for match in matches:
        pieces.append(text[end : match.start])
        national = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.NATIONAL)
        pieces.append(national)
        end = match.end
    pieces.append(text[end:])
    if any(ch.isdigit() for piece in pieces[::2] for ch in piece):
        raise Refusal("format_phone")
    return "".join(pieces).strip()


def _url(text: str) -> str:
    """A web address with or without ``https://``; several may be separated by ";"."""
    addresses = [part for part in re.split(r"[;\s]+", text) if part]
    if not addresses:
        raise Refusal("format_url")
    normalised = []
    for address in addresses:
        match = _URL.fullmatch(address.rstrip("/"))
        if match is None:
            raise Refusal("format_url", text=address[:60])
        host = match.group("host").lower()
        scheme = f"{match.group('scheme').lower()}://" if match.group("scheme") else ""
        normalised.append(scheme + host + address.rstrip("/")[match.end("host") :])
    return "; ".join(normalised)


def _doc_ref(text: str) -> str:
    """Text naming at least one document by its number ("12/QĐ-UBND ngày 05/3/2020") or
    giving a link to it; the rest (name, date) is kept as typed."""
    if _DOCUMENT_NUMBER.search(text):
        return text
    if any(_URL.fullmatch(word.strip(".,;()").rstrip("/")) for word in text.split()):
        return text
    raise Refusal("format_doc_ref")


def _date(text: str) -> str:
    """dd/mm/yyyy (also with "-" or "."), stored as 05/03/2020."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise Refusal("format_date")
    day, month, year = (int(group) for group in match.groups())
    try:
        return date(year, month, day).strftime("%d/%m/%Y")
    except ValueError:
        raise Refusal("format_date") from None


FORMATS: dict[str, Callable[[str], str]] = {
    "email": _email,
    "phone": _phone,
    "url": _url,
    "doc_ref": _doc_ref,
    "date": _date,
}


def check(name: str, text: str) -> str:
    """``text`` as stored for the format ``name``; raises ``Refusal`` when it does not fit."""
    return FORMATS[name](text)


def found_in(name: str, text: str) -> str | None:
    """The parts of ``text`` (e.g. a unit's contact line "0234 3822 123; ubnd@x.gov.vn") that
    fit the format ``name``, as stored; None when none does."""
    fitting = []
    for part in re.split(r"[;,]", text or ""):
        try:
            fitting.append(check(name, part.strip()))
        except Refusal:
            continue
    return "; ".join(fitting) or None
