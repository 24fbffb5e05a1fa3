"""The 27-character producer code (TC260-PG-20252A) and its embedded GB 32100 check character."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from generation.labels.codes import ServiceType, model_code_validate, producer_code_build, producer_code_parse

# Fast and self-contained: part of the subset CI also runs on the embedded default.
pytestmark = pytest.mark.smoke

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def check_character(first17: str) -> str:
    """GB 32100-2015 computed here, apart from the code under test: weights 3^(i-1) mod 31."""
    total = sum(ALPHABET.index(c) * (3**i % 31) for i, c in enumerate(first17))
    return ALPHABET[(31 - total % 31) % 31]


@pytest.mark.parametrize(
    "code",
    [
        "001191440300708461136T1XGW3",
        "001191110102MAD55U9H0F10002",
        "001191440300MA5G49LC9K1YO01",
        "001191440101MA9Y9T4H7A00000",
    ],
)
def test_codes_seen_in_real_labels_parse(code: str) -> None:
    parsed = producer_code_parse(code)
    assert parsed.code == code
    assert parsed.uscc == code[4:22]
    assert check_character(parsed.uscc[:17]) == parsed.uscc[17] == code[21]
    assert parsed.model_code == code[23:]


def test_build_lays_out_the_27_characters() -> None:
    code = producer_code_build(uscc="91440300708461136t ", service_type=ServiceType.GENERATION, model_code="gan1")
    assert code == "001191440300708461136T1GAN1"
    assert len(code) == 27
    assert code[:2] == "00" and code[2] == "1" and code[3] == "1"
    assert code[4:22] == "91440300708461136T"
    assert code[21] == check_character(code[4:21])
    assert code[22] == "1" and code[23:] == "GAN1"
    assert producer_code_build(uscc="91440300708461136T", service_type="2", model_code="0002")[22] == "2"


def test_build_rejects_a_wrong_check_character() -> None:
    with pytest.raises(ValidationError) as exc:
        producer_code_build(uscc="91110000802100433A", service_type="1", model_code="ERN4")
    assert "check character" in exc.value.messages[0]
    assert "B" in exc.value.messages[0]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"uscc": "9144030070846113", "service_type": "1", "model_code": "GAN1"}, "18 characters"),
        ({"uscc": "91440300708461136T", "service_type": "7", "model_code": "GAN1"}, "service type"),
        ({"uscc": "91440300708461136T", "service_type": "1", "model_code": "GAN"}, "4 characters"),
        ({"uscc": "91440300708461136T", "service_type": "1", "model_code": "GA-1"}, "capital letters"),
        ({"uscc": "91440300708461136T", "service_type": "0", "model_code": "GAN1"}, "0000"),
    ],
)
def test_build_says_what_is_wrong(kwargs: dict[str, str], fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        producer_code_build(**kwargs)
    assert fragment in exc.value.messages[0]


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("001191440300708461136T1XGW", "27 characters"),
        ("011191440300708461136T1XGW3", "format code"),
        ("002191440300708461136T1XGW3", "organisation"),
        ("001191440300708461136A1XGW3", "unified social credit code"),
        ("001191440300708461136T9XGW3", "service type"),
        ("001191440300708461136T1xgw3", "capital letters"),
    ],
)
def test_parse_says_what_is_wrong(code: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        producer_code_parse(code)
    assert fragment in exc.value.messages[0]


def test_every_single_character_change_of_the_uscc_is_caught() -> None:
    code = "001191440300708461136T1XGW3"
    for position in range(4, 22):
        for replacement in "0A":
            if code[position] == replacement:
                continue
            changed = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(ValidationError):
                producer_code_parse(changed)


def test_model_code_validate() -> None:
    assert model_code_validate(" vae2 ") == "VAE2"
