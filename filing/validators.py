"""Validators for filing records.

The unified social credit code (统一社会信用代码) follows GB 32100-2015: 18 characters from a
31-character alphabet (no I, O, S, V, Z); position 18 is a check character over the first 17
with weights 3^(i-1) mod 31.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_LENGTH = 18
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))


def uscc_normalise(value: str) -> str:
    return value.strip().upper()


def uscc_check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code (assumed in the alphabet)."""
    total = sum(USCC_ALPHABET.index(ch) * weight for ch, weight in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_validate(value: str) -> str:
    """Return the normalised code, or raise ValidationError saying exactly what is wrong."""
    code = uscc_normalise(value)
    if len(code) != USCC_LENGTH:
        raise ValidationError(
            _("A unified social credit code has 18 characters; this one has %(n)d.") % {"n": len(code)},
            code="uscc_length",
        )
    for position, ch in enumerate(code, start=1):
        if ch not in USCC_ALPHABET:
            raise ValidationError(
                _(
                    "Character %(pos)d (“%(ch)s”) is not allowed: "
                    "codes use digits and capital letters except I, O, S, V and Z."
                )
                % {"pos": position, "ch": ch},
                code="uscc_character",
            )
    if not code[2:8].isdigit():
        raise ValidationError(
            _("Characters 3 to 8 are the administrative division code and must be digits."), code="uscc_division"
        )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        raise ValidationError(
            _("The check character (position 18) is “%(got)s” but the first 17 characters require “%(want)s”.")
            % {"got": code[17], "want": expected},
            code="uscc_check",
        )
    return code


MODEL_CODE_LENGTH = 4
MODEL_CODE_CHARACTERS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def model_code_validate(value: str) -> str:
    """A model code is 4 digits or capital letters (the last 4 characters of the producer code)."""
    code = value.strip().upper()
    if len(code) != MODEL_CODE_LENGTH or not set(code) <= MODEL_CODE_CHARACTERS:
        raise ValidationError(
            _("A model code has exactly 4 characters, each a digit or a capital letter (for example GAN1)."),
            code="model_code",
        )
    return code
