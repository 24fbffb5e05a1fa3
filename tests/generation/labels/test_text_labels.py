"""Labelled Markdown texts and JSON responses, read back without the package's readers."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from generation.labels import TEXT_NOTICE, Verdict, label_json, label_text, text_body, verify_file
from generation.labels.signing import public_key_jwks
from tests.generation.labels.conftest import FOREIGN_PRODUCER, OWN_PRODUCER, OWN_USCC, PRODUCE_ID

# Fast and self-contained: part of the subset CI also runs on the embedded default.
pytestmark = pytest.mark.smoke

OWN = {OWN_USCC}
FIELDS = ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID", "ReservedCode2"]
CHARSET = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")
POEM = "明月几时有\n把酒问青天"


def split_front_matter(markdown: str) -> tuple[dict[str, str], str]:
    """Independent reader: the AIGC mapping (via PyYAML's safe loader) and the body."""
    import yaml

    match = re.match(r"---\n(.*?)\n---\n(.*)", markdown, re.S)
    assert match, "no front matter at the head of the file"
    data = yaml.safe_load(match.group(1))
    assert list(data) == ["AIGC"]
    return data["AIGC"], match.group(2)


def verify(markdown: str):  # type: ignore[no-untyped-def]
    return verify_file(markdown.encode("utf-8"), filename="output.md", own_usccs=OWN)


@pytest.fixture
def labelled_text() -> str:
    return label_text(POEM, produce_id=PRODUCE_ID, producer=OWN_PRODUCER)


def test_front_matter_fields_charset_and_notice(labelled_text: str) -> None:
    fields, body = split_front_matter(labelled_text)
    assert list(fields) == FIELDS
    assert fields["Label"] == "1"
    assert fields["ContentProducer"] == fields["ContentPropagator"] == OWN_PRODUCER
    assert fields["ProduceID"] == fields["PropagateID"] == PRODUCE_ID
    assert all(isinstance(v, str) and CHARSET.fullmatch(v) for v in fields.values())
    assert body == f"{POEM}\n\n{TEXT_NOTICE}\n"
    assert body.rstrip().endswith(TEXT_NOTICE)
    assert ("人工智能" in TEXT_NOTICE or "AI" in TEXT_NOTICE) and "生成" in TEXT_NOTICE
    assert labelled_text.count("AIGC:") == 1


def test_signature_covers_the_body(labelled_text: str) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    fields, body = split_front_matter(labelled_text)
    _v, kid, when, digest, signature = fields["ReservedCode1"].split(":")
    (jwk,) = public_key_jwks()["keys"]
    key = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "="))
    sha = hashlib.sha256(body.encode()).digest()
    assert base64.urlsafe_b64decode(digest + "=") == sha
    message = "\n".join(["GB45438-AIGC-ReservedCode1-v1", "1", OWN_PRODUCER, PRODUCE_ID, "md", kid, when, sha.hex()])
    key.verify(base64.urlsafe_b64decode(signature + "=="), message.encode())


def test_notice_at_start_and_never_twice() -> None:
    at_start = label_text(POEM, produce_id="s-1", producer=OWN_PRODUCER, notice_at_start=True)
    assert split_front_matter(at_start)[1].startswith(TEXT_NOTICE + "\n")
    already = label_text(f"{POEM}\n\n{TEXT_NOTICE}", produce_id="s-2", producer=OWN_PRODUCER)
    assert split_front_matter(already)[1].count(TEXT_NOTICE) == 1


def test_text_body_strips_only_the_front_matter(labelled_text: str) -> None:
    assert text_body(labelled_text) == f"{POEM}\n\n{TEXT_NOTICE}\n"


def test_genuine(labelled_text: str) -> None:
    result = verify(labelled_text)
    assert result.verdict is Verdict.GENUINE, result.message
    assert result.produce_id == PRODUCE_ID and result.model_code == "GAN1" and result.explicit_label is True


def test_altered_text(labelled_text: str) -> None:
    assert verify(labelled_text.replace("青天", "青山")).verdict is Verdict.ALTERED


def test_removed_notice_is_altered_and_reported(labelled_text: str) -> None:
    result = verify(labelled_text.replace(f"\n\n{TEXT_NOTICE}\n", "\n"))
    assert result.verdict is Verdict.ALTERED
    assert result.explicit_label is False


def test_stripped_front_matter(labelled_text: str) -> None:
    assert verify(split_front_matter(labelled_text)[1]).verdict is Verdict.NO_LABEL


def test_swapped_label() -> None:
    first = label_text(POEM, produce_id="a-1", producer=OWN_PRODUCER)
    second = label_text("大江东去", produce_id="a-2", producer=OWN_PRODUCER)
    swapped = first[: first.index("---\n", 4) + 4] + split_front_matter(second)[1]
    result = verify(swapped)
    assert result.verdict is Verdict.ALTERED and result.produce_id == "a-1"


def test_double_label_stacked_front_matter(labelled_text: str) -> None:
    head = labelled_text[: labelled_text.index("---\n", 4) + 4]
    assert verify(head + labelled_text).verdict is Verdict.DOUBLE_LABEL


def test_double_label_two_keys_in_one_block(labelled_text: str) -> None:
    fields, body = split_front_matter(labelled_text)
    entry = "AIGC:\n" + "".join(f'  {k}: "{v}"\n' for k, v in fields.items())
    assert verify(f"---\n{entry}{entry}---\n{body}").verdict is Verdict.DOUBLE_LABEL


def test_foreign_producer() -> None:
    text = label_text(POEM, produce_id="f-1", producer=FOREIGN_PRODUCER)
    assert verify(text).verdict is Verdict.FOREIGN_PRODUCER


def test_edited_field(labelled_text: str) -> None:
    assert verify(labelled_text.replace(f'ProduceID: "{PRODUCE_ID}"', 'ProduceID: "x-1"')).verdict is (
        Verdict.SIGNATURE_INVALID
    )


@pytest.mark.parametrize("wrapped", [True, False])
def test_inline_json_forms_are_read(labelled_text: str, wrapped: bool) -> None:
    fields, body = split_front_matter(labelled_text)
    value = json.dumps({"AIGC": fields} if wrapped else fields)
    assert verify(f"---\nAIGC: {value}\ntitle: 词\n---\n{body}").verdict is Verdict.GENUINE
    assert verify(f"---\nAIGC: '{value}'\n---\n{body}").verdict is Verdict.GENUINE


def test_other_front_matter_keys_are_ignored(labelled_text: str) -> None:
    fields, body = split_front_matter(labelled_text)
    entry = "".join(f"  {k}: {v}\n" for k, v in fields.items())  # plain scalars
    text = f"---\ntitle: 水调歌头\ntags:\n  - 宋词\nAIGC:\n{entry}# a comment\n---\n{body}"
    assert verify(text).verdict is Verdict.GENUINE


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('---\nAIGC:\n  Label: "1"\n', "not closed"),
        ("---\nAIGC:\n  Label: *alias\n---\nbody\n", "anchors, aliases"),
        ("---\nAIGC:\n  - Label\n---\nbody\n", "Key: value"),
        ("---\n" + "x: y\n" * 5000 + "---\nbody\n", "larger"),
    ],
)
def test_hostile_front_matter(text: str, fragment: str) -> None:
    result = verify(text)
    assert result.verdict is Verdict.UNREADABLE
    assert fragment in result.message


def test_plain_text_without_front_matter_has_no_label() -> None:
    result = verify_file(f"{POEM}\n{TEXT_NOTICE}\n".encode(), filename="poem.txt", own_usccs=OWN)
    assert result.verdict is Verdict.NO_LABEL


def test_not_utf8() -> None:
    result = verify_file("---\n明月".encode("gb18030"), filename="a.md", own_usccs=OWN)
    assert result.verdict is Verdict.UNREADABLE and "UTF-8" in result.message


# --------------------------------------------------------------------------------------------
# JSON responses
# --------------------------------------------------------------------------------------------
def test_json_response_carries_the_label() -> None:
    payload = {"id": 7, "text": POEM, "items": [1, 2]}
    labelled = label_json(payload, produce_id="j-1", producer=OWN_PRODUCER)
    assert labelled["id"] == 7 and list(labelled["AIGC"]) == FIELDS
    assert labelled["AIGC"]["ProduceID"] == labelled["AIGC"]["PropagateID"] == "j-1"
    encoded = json.dumps(labelled, ensure_ascii=False, indent=2).encode()
    assert verify_file(encoded, filename="r.json", own_usccs=OWN).verdict is Verdict.GENUINE
    labelled["text"] = "changed"
    changed = json.dumps(labelled).encode()
    assert verify_file(changed, filename="r.json", own_usccs=OWN).verdict is Verdict.ALTERED


def test_json_double_and_missing_label() -> None:
    labelled = label_json({"id": 1}, produce_id="j-2", producer=OWN_PRODUCER)
    label = json.dumps(labelled["AIGC"])
    doubled = ('{"id": 1, "AIGC": ' + label + ', "AIGC": ' + label + "}").encode()
    assert verify_file(doubled, own_usccs=OWN).verdict is Verdict.DOUBLE_LABEL
    assert verify_file(b'{"id": 1}', own_usccs=OWN).verdict is Verdict.NO_LABEL
    deep = b'{"a":' * 100 + b"1" + b"}" * 100
    assert verify_file(deep, own_usccs=OWN).verdict is Verdict.UNREADABLE


def test_markdown_that_starts_with_a_brace_is_read_as_text() -> None:
    result = verify_file("{注} 正文\n".encode(), filename="note.md", own_usccs=OWN)
    assert result.verdict is Verdict.NO_LABEL and result.file_type == "markdown"
