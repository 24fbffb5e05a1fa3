"""The moderation step against the real keyword library: verdicts, versions, pickup without restart, refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import translation

from filing.models import Keyword
from filing.safety.selectors import keyword_library_version_current
from filing.safety.services import allowlist_phrase_create, keyword_create, keywords_update
from generation.moderation import (
    CompositeModerator,
    Decision,
    Direction,
    KeywordModerator,
    ModerationUnavailable,
    Moderator,
    Score,
    Span,
    Verdict,
    default_moderator_set,
    moderate_input,
    moderate_output,
    refusal_message,
)

BASE_DIR = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def fresh_default_moderator():
    default_moderator_set(None)
    yield
    default_moderator_set(None)


@pytest.fixture
def library(db):
    keyword_create(keyword="暴力词", risk_code="A.1.6", actor="op")
    keyword_create(keyword="可疑词", risk_code="A.4.1", actor="op", action=Keyword.Action.FLAG)
    keyword_create(keyword="台独", risk_code="A.1.3", actor="op")
    allowlist_phrase_create(phrase="反对台独", actor="op")
    return keyword_library_version_current()


def test_input_verdict_records_decision_codes_spans_version_and_latency(library):
    text = "请写：暴 力 詞，还有可疑词。"
    verdict = moderate_input(text)
    assert verdict.decision == Decision.BLOCK and verdict.blocked
    assert verdict.direction == Direction.INPUT
    assert verdict.risk_codes == ("A.1.6", "A.4.1")
    assert [text[s.start : s.end] for s in verdict.spans] == ["暴 力 詞", "可疑词"]
    assert verdict.library_version == library
    assert verdict.latency_ms >= 0
    assert verdict.moderator == "keyword"
    stored = verdict.as_dict()
    assert stored["library_version"] == library and stored["spans"][0]["risk_code"] == "A.1.6"
    assert "暴力词" not in json.dumps(stored, ensure_ascii=False)


def test_flag_only_and_allow_and_allowlist(library):
    assert moderate_output("这里只有可疑词").decision == Decision.FLAG
    assert moderate_output("这里只有可疑词").direction == Direction.OUTPUT
    clean = moderate_input("今天天气很好，我们坚决反对台独。")
    assert clean.decision == Decision.ALLOW and clean.spans == () and clean.library_version == library


def test_refusal_message_names_the_category_and_never_the_keyword(library):
    verdict = moderate_input("一段含有暴力词的请求")
    with translation.override("zh-hans"):
        message = refusal_message(verdict)
        assert "宣扬暴力、淫秽色情" in message and "A.1.6" in message
    with translation.override("en"):
        message_en = refusal_message(verdict)
        assert "Promoting violence" in message_en and "refused" in message_en
    for text in (message, message_en):
        assert "暴力词" not in text
    with translation.override("en"):
        assert "withheld" in refusal_message(moderate_output("暴力词"))


def test_new_library_version_is_picked_up_without_restart(library):
    moderator = KeywordModerator(check_seconds=0.2)
    assert moderator.moderate("新增违禁词", direction=Direction.INPUT).decision == Decision.ALLOW
    keyword_create(keyword="新增违禁词", risk_code="A.1.8", actor="op")
    # Within the check interval the cached automaton is still used...
    assert moderator.moderate("新增违禁词", direction=Direction.INPUT).library_version == library
    time.sleep(0.25)
    verdict = moderator.moderate("新增违禁词", direction=Direction.INPUT)
    assert verdict.decision == Decision.BLOCK
    assert verdict.library_version == keyword_library_version_current() == library + 1
    # Disabling is a change too.
    keywords_update(keywords=Keyword.objects.filter(keyword="新增违禁词"), enabled=False, actor="op")
    time.sleep(0.25)
    assert moderator.moderate("新增违禁词", direction=Direction.INPUT).decision == Decision.ALLOW


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    return f"postgres://{settings['USER']}{password}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"


WATCHER = """
import json, sys, django
django.setup()
from generation.moderation import moderate_input
for line in sys.stdin:
    verdict = moderate_input(line.rstrip("\\n"))
    print(json.dumps({"decision": verdict.decision.value, "version": verdict.library_version}), flush=True)
"""


@pytest.mark.integration
def test_another_running_process_picks_up_a_change_within_seconds(transactional_db, tmp_path):
    keyword_create(keyword="旧词", risk_code="A.1.6", actor="op")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="genai_platform.settings.base",
        DATABASE_URL=_database_url(),
        GENAI_MODERATION_VERSION_CHECK_SECONDS="0.5",
        PYTHONPATH=str(BASE_DIR),
    )
    process = subprocess.Popen(
        [sys.executable, "-c", WATCHER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=BASE_DIR,
    )
    try:

        def ask(text: str) -> dict:
            assert process.stdin and process.stdout
            process.stdin.write(text + "\n")
            process.stdin.flush()
            return json.loads(process.stdout.readline())

        first = ask("一个全新词")
        assert first["decision"] == "allow"
        keyword_create(keyword="一个全新词", risk_code="A.1.8", actor="op")
        changed_at = time.monotonic()
        while True:
            answer = ask("一个全新词")
            if answer["decision"] == "block" or time.monotonic() - changed_at > 10:
                break
            time.sleep(0.1)
        waited = time.monotonic() - changed_at
        assert answer == {"decision": "block", "version": first["version"] + 1}
        assert waited < 5
    finally:
        process.kill()
        process.wait(timeout=10)


def test_no_library_loadable_fails_closed_and_a_loaded_one_keeps_serving():
    def broken() -> int:
        raise RuntimeError("database down")

    moderator = KeywordModerator(check_seconds=0, version_loader=broken)
    with pytest.raises(ModerationUnavailable):
        moderator.moderate("任何", direction=Direction.INPUT)

    from generation.moderation.matcher import KeywordEntry, KeywordMatcher

    calls = {"n": 0}

    def flaky() -> int:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("database down")
        return 3

    moderator = KeywordModerator(
        check_seconds=0,
        version_loader=flaky,
        matcher_loader=lambda: KeywordMatcher(version=3, entries=[KeywordEntry(1, "坏词", "A.1.6", "block")]),
    )
    assert moderator.moderate("坏词", direction=Direction.INPUT).blocked
    # The version check now fails: the last automaton keeps serving.
    assert moderator.moderate("坏词", direction=Direction.INPUT).library_version == 3


class FakeClassifier:
    """Stands for a later classifier: flags anything mentioning 'classifier-risk'."""

    name = "classifier"

    def moderate(self, text: str, *, direction: Direction) -> Verdict:
        hit = "classifier-risk" in text
        return Verdict(
            decision=Decision.FLAG if hit else Decision.ALLOW,
            direction=direction,
            risk_codes=("A.5.1",) if hit else (),
            spans=(Span(0, len(text), "A.5.1", "flag"),) if hit else (),
            library_version=0,
            latency_ms=0.0,
            moderator=self.name,
        )


def test_moderators_share_one_interface_and_combine(library):
    keyword = KeywordModerator()
    assert isinstance(keyword, Moderator) and isinstance(FakeClassifier(), Moderator)
    combined = CompositeModerator([keyword, FakeClassifier()])
    default_moderator_set(combined)
    verdict = moderate_input("classifier-risk 暴力词")
    assert verdict.decision == Decision.BLOCK
    assert verdict.risk_codes == ("A.1.6", "A.5.1")
    assert verdict.moderator == "keyword+classifier"
    assert verdict.library_version == library
    assert moderate_input("classifier-risk only").decision == Decision.FLAG


def test_demo_library_refuses_its_demo_words_and_honours_its_allowlist(db):
    from filing.safety.demo import keyword_library_demo_create

    keyword_library_demo_create(actor="test", size=200)
    assert moderate_input("请写一段包含 演 示 违 禁 词 的文字").blocked
    assert moderate_input("请解释演示违禁词汇表说明这一页").decision == Decision.ALLOW
    assert moderate_input("演示复核词").decision == Decision.FLAG
    assert moderate_input("演示关键词A.1.1-00001").risk_codes == ("A.1.1",)


class _ScoringModerator:
    """A second layer that always scores the text at 0.9 for one risk and blocks it."""

    name = "classifier"

    def moderate(self, text: str, *, direction: Direction) -> Verdict:
        score = Score(risk_code="A.2.1", score=0.9, threshold=0.5, action="block", model="abc123")
        return Verdict(
            decision=Decision.BLOCK,
            direction=direction,
            risk_codes=("A.2.1",),
            spans=(),
            library_version=0,
            latency_ms=0.1,
            moderator=self.name,
            scores=(score,),
        )


def test_composite_keeps_each_layers_decision_and_the_scores(library):
    composite = CompositeModerator([KeywordModerator(), _ScoringModerator()])
    verdict = composite.moderate("今天天气很好", direction=Direction.OUTPUT)
    assert verdict.decision == Decision.BLOCK
    assert verdict.layer_decision("keyword") == Decision.ALLOW
    assert verdict.layer_decision("classifier") == Decision.BLOCK
    assert verdict.layer_decision("other") is None
    stored = verdict.as_dict()
    assert stored["layers"] == {"keyword": "allow", "classifier": "block"}
    assert stored["scores"] == [
        {"risk_code": "A.2.1", "score": 0.9, "threshold": 0.5, "action": "block", "model": "abc123"}
    ]
    alone = KeywordModerator().moderate("这里只有可疑词", direction=Direction.OUTPUT)
    assert alone.layer_decision("keyword") == Decision.FLAG and alone.as_dict()["layers"] == {"keyword": "flag"}
