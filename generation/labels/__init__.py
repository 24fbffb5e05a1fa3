"""Content labels (GB 45438-2025): explicit and implicit labels on outputs, and their verification.

Pure library code: functions take plain values (pixel arrays, text, codes) and return bytes or
strings; nothing here touches a Django model except the verifier's default list of the
platform's own providers. The worker calls ``label_image`` / ``label_text``; the verify page, the
API and ``manage.py label_verify`` call ``verify_file``.
"""

from generation.labels.aigc import AigcLabel, LabelError, LabelFormatError
from generation.labels.codes import (
    ProducerCode,
    ServiceType,
    model_code_validate,
    producer_code_build,
    producer_code_parse,
)
from generation.labels.explicit import IMAGE_LABEL_TEXT, TEXT_NOTICE, LabelFontMissing, label_font_require
from generation.labels.labelling import (
    LabelReadBackError,
    label_image,
    label_json,
    label_text,
    text_body,
    verify_image_labelled,
    verify_text_labelled,
)
from generation.labels.signing import public_key_jwks, public_key_pem
from generation.labels.verify import Verdict, VerifyResult, verify_file

__all__ = [
    "IMAGE_LABEL_TEXT",
    "TEXT_NOTICE",
    "AigcLabel",
    "LabelError",
    "LabelFontMissing",
    "LabelFormatError",
    "LabelReadBackError",
    "ProducerCode",
    "ServiceType",
    "Verdict",
    "VerifyResult",
    "label_font_require",
    "label_image",
    "label_json",
    "label_text",
    "model_code_validate",
    "producer_code_build",
    "producer_code_parse",
    "public_key_jwks",
    "public_key_pem",
    "text_body",
    "verify_file",
    "verify_image_labelled",
    "verify_text_labelled",
]
