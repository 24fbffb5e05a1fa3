"""The 27-character provider code written in ContentProducer and ContentPropagator.

Layout (TC260-PG-20252A, regulation.md §4.5)::

    positions  1-2   format code               "00"
    position   3     subject type              "1" = organisation
    position   4     binding method            "1" = bound to the unified social credit code
    positions  5-22  subject code              the 18-character USCC (GB 32100, with its check character)
    position   23    service type              "1" = generation, "2" = propagation, "0" = not used
    positions 24-27  model or application code chosen by the provider, "0000" when not used

Example: ``001191440300708461136T1XGW3`` is Tencent's USCC, a generation service and model XGW3.
The check character of the code is the USCC's own (position 22 of the code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from filing.validators import uscc_validate

PRODUCER_CODE_LENGTH = 27
FORMAT_CODE = "00"
SUBJECT_ORGANISATION = "1"
BINDING_USCC = "1"
MODEL_CODE_LENGTH = 4
MODEL_CODE_UNUSED = "0000"

_MODEL_CODE_RE = re.compile(r"[0-9A-Z]{4}")


class ServiceType(StrEnum):
    """Position 23 of the code."""

    GENERATION = "1"
    PROPAGATION = "2"
    NOT_USED = "0"


@dataclass(frozen=True)
class ProducerCode:
    """A parsed, valid provider code."""

    code: str
    uscc: str
    service_type: ServiceType
    model_code: str

    def __str__(self) -> str:
        return self.code


def model_code_validate(value: str) -> str:
    """Return the 4-character model code in upper case, or raise ValidationError saying what is wrong."""
    code = value.strip().upper()
    if len(code) != MODEL_CODE_LENGTH:
        raise ValidationError(
            _("A model code has 4 characters; this one has %(n)d.") % {"n": len(code)}, code="model_code_length"
        )
    if not _MODEL_CODE_RE.fullmatch(code):
        raise ValidationError(
            _("A model code uses only digits and capital letters A to Z; “%(code)s” does not.") % {"code": code},
            code="model_code_character",
        )
    return code


def producer_code_build(*, uscc: str, service_type: ServiceType | str, model_code: str) -> str:
    """The 27-character code of a provider's service and model.

    Raises ValidationError when the USCC fails GB 32100 (length, alphabet, division code or check
    character) or the model code is not 4 digits or capital letters. A code that is "not used"
    (service type "0") must have model code "0000".
    """
    checked_uscc = uscc_validate(uscc)
    try:
        kind = ServiceType(str(service_type))
    except ValueError:
        raise ValidationError(
            _("The service type is “%(got)s”; it must be 1 (generation), 2 (propagation) or 0 (not used).")
            % {"got": service_type},
            code="producer_service_type",
        ) from None
    checked_model = model_code_validate(model_code)
    if kind is ServiceType.NOT_USED and checked_model != MODEL_CODE_UNUSED:
        raise ValidationError(
            _("A code whose service type is 0 (not used) must have model code 0000."), code="producer_unused"
        )
    return f"{FORMAT_CODE}{SUBJECT_ORGANISATION}{BINDING_USCC}{checked_uscc}{kind.value}{checked_model}"


def producer_code_parse(value: str) -> ProducerCode:
    """Parse and check a 27-character code, or raise ValidationError naming the first problem."""
    code = value.strip()
    if len(code) != PRODUCER_CODE_LENGTH:
        raise ValidationError(
            _("A producer code has 27 characters; this one has %(n)d.") % {"n": len(code)}, code="producer_length"
        )
    if code[0:2] != FORMAT_CODE:
        raise ValidationError(
            _("Characters 1 and 2 of a producer code are the format code 00; this code has “%(got)s”.")
            % {"got": code[0:2]},
            code="producer_format",
        )
    if code[2] != SUBJECT_ORGANISATION or code[3] != BINDING_USCC:
        raise ValidationError(
            _(
                "Characters 3 and 4 must be 11 (an organisation bound to its unified social credit code); "
                "this code has “%(got)s”."
            )
            % {"got": code[2:4]},
            code="producer_subject",
        )
    try:
        uscc = uscc_validate(code[4:22])
    except ValidationError as exc:
        raise ValidationError(
            _("Characters 5 to 22 are not a valid unified social credit code: %(reason)s")
            % {"reason": " ".join(exc.messages)},
            code="producer_uscc",
        ) from None
    if uscc != code[4:22]:
        # uscc_validate upper-cases; a code in the label must already be canonical.
        raise ValidationError(_("A producer code uses capital letters only."), code="producer_case")
    try:
        kind = ServiceType(code[22])
    except ValueError:
        raise ValidationError(
            _("Character 23 is the service type and must be 1, 2 or 0; this code has “%(got)s”.") % {"got": code[22]},
            code="producer_service_type",
        ) from None
    model = code[23:27]
    if model != model_code_validate(model):
        raise ValidationError(_("A producer code uses capital letters only."), code="producer_case")
    return ProducerCode(code=code, uscc=uscc, service_type=kind, model_code=model)
