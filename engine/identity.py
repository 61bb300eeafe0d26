"""Identity keys that mark two customer records as the same person or company (the first defence against
duplicates): normalised so that formatting differences do not hide a duplicate."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from .errors import InvalidRequest, quote

KINDS = ("phone", "email", "company_registration")


MAX_EMAIL = 254  # characters of an address (RFC 5321's path)


def normalise(kind: str, value: str) -> str:
    if kind == "phone":
        return _phone(value)
    if kind == "email":
        email = value.strip().lower()
        if len(email) > MAX_EMAIL or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise InvalidRequest(f"email {quote(value)} is not an address (at most {MAX_EMAIL} characters)")
        return email
    if kind == "company_registration":
        number = re.sub(r"[\s-]", "", value).upper()
        if not re.fullmatch(r"[0-9A-Z]{8,30}", number):
            raise InvalidRequest(f"company registration number {quote(value)} has characters other than 0-9 and A-Z")
        return number
    raise InvalidRequest(f"unknown identity kind {quote(kind)}: use one of {', '.join(KINDS)}")


def _phone(value: str) -> str:
    """Digits with country code: '138-0013-8000', '+86 138 0013 8000' and '008613800138000' are one number, and
    so is '１３８００１３８０００' (full-width digits, as a Chinese input method types them)."""
    digits = re.sub(r"[\s().-]", "", unicodedata.normalize("NFKC", value))
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    elif len(digits) == 11 and digits.startswith("1"):
        digits = "86" + digits  # a mainland China mobile number written without its country code
    if not (digits.isascii() and digits.isdigit()) or not 7 <= len(digits) <= 15:
        raise InvalidRequest(f"phone number {quote(value)} is not a number with 7 to 15 digits")
    return digits


def identity_keys(identities: Mapping[str, str]) -> dict[str, str]:
    """{'phone': '+86 138…'} → {'phone': '86138…'}; empty values are left out."""
    return {kind: normalise(kind, value) for kind, value in identities.items() if value.strip()}
