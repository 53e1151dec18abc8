import pytest

from nlu.actions.phone import normalise_phone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8 (912) 345-67-89", "+79123456789"),
        ("+7 912 345 67 89", "+79123456789"),
        ("+7(912)345-67-89", "+79123456789"),
        ("+79123456789", "+79123456789"),
        ("89123456789", "+79123456789"),
        ("79123456789", "+79123456789"),
        ("9123456789", "+79123456789"),
        ("912.345.67.89", "+79123456789"),
        ("8-912-345-67-89", "+79123456789"),
        ("мой телефон: 8 912 345 67 89, звоните после 18", "+79123456789"),
        ("+7 (495) 123-45-67", "+74951234567"),
        ("8 (812) 123-45-67", "+78121234567"),
        ("(3852) 12-34-56", "+73852123456"),
    ],
)
def test_russian_numbers_are_normalised(text, expected):
    assert normalise_phone(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "не скажу",
        "12345",
        "8 912 345 67",  # too short
        "8 912 345 67 89 0",  # too long
        "8912345678",  # a mobile number that lost a digit
        "+1 212 555 1234",  # another country
        "+8 912 345 67 89",
        "+375 29 123-45-67",
        "1234567890",  # no Russian code starts with 1
        "89123456789 или 89123456780",  # which one?
    ],
)
def test_anything_else_is_refused(text):
    assert normalise_phone(text) is None
