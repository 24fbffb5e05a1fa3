import pytest
from django.core.exceptions import ValidationError

from filing.validators import USCC_WEIGHTS, uscc_check_character, uscc_validate

pytestmark = pytest.mark.smoke


@pytest.mark.parametrize(
    "code",
    [
        "91440300708461136T",
        "91330100716105852F",
        "914403001922038216",
        "91110000802100433B",
        "91110102MAD55U9H0F",
        "91440300MA5G49LC9K",
        "91440101MA9Y9T4H7A",
    ],
)
def test_known_good_codes_pass(code):
    assert uscc_validate(code) == code


def test_weights_are_powers_of_three_mod_31():
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_worked_example_check_character():
    assert uscc_check_character("91440300708461136") == "T"


def test_input_is_trimmed_and_upper_cased():
    assert uscc_validate("  91110102mad55u9h0f ") == "91110102MAD55U9H0F"


def test_wrong_check_character_names_the_expected_one():
    with pytest.raises(ValidationError) as excinfo:
        uscc_validate("91110000802100433A")

    assert excinfo.value.code == "uscc_check"
    assert "“A”" in excinfo.value.messages[0] and "“B”" in excinfo.value.messages[0]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("9144030070846113", "uscc_length"),
        ("91440300708461136TX", "uscc_length"),
        ("9144030070846I136T", "uscc_character"),
        ("91AB0300708461136T", "uscc_division"),
    ],
)
def test_malformed_codes_say_what_is_wrong(code, error):
    with pytest.raises(ValidationError) as excinfo:
        uscc_validate(code)

    assert excinfo.value.code == error


def test_forbidden_letter_position_is_reported():
    with pytest.raises(ValidationError) as excinfo:
        uscc_validate("9144030070846O136T")

    assert "14" in excinfo.value.messages[0]
