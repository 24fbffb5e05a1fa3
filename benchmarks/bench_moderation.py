"""Keyword moderation: normalise + Aho-Corasick against a compiled regex alternation of the same keywords.

For 10,000 and 100,000 synthetic keywords (2-6 common Chinese characters, GB2312 level 1) it
measures, in one run:
- throughput of the full moderation step (normalise + match, offsets on a hit) on realistic
  Chinese prompts, against ``re.compile("|".join(keywords))`` run on the same normalised text
  (the regex is given a time budget; its throughput is measured on as many prompts as fit);
- p50/p99 latency of the full step for a 2,000-character prompt, as wall time and as thread CPU
  time (the second is not inflated by other processes on a shared machine);
- automaton build time (wall and thread CPU) and the resident memory it adds;
- p50/p99 CPU time of the full step for a 500-character prompt, against a baseline measured in the
  same run: the plain step (normalise, one automaton pass, no evasion views or rules);
- at 100,000 keywords: the share of the evasion set (tests/generation/moderation/data/evasions.json)
  caught with its keywords added to the library, and the share of innocent text refused (Song ci
  lines, COLD's safe dev comments) among texts holding no keyword literally;
- the classifier layer (the bundled text classifier, one torch thread): p50/p99 CPU time for a
  500-character prompt, alone and with the keyword step of 10,000 keywords (the whole step), and the
  share of Song ci lines it would refuse or send for review at the shipped thresholds.

Run: ``python benchmarks/run.py moderation`` (or ``python benchmarks/bench_moderation.py``).
Goals (``GOALS``, at 100,000 keywords): full step >= 50x the regex; CPU p99 <= 1.5 ms at 2,000
characters and <= 1 ms at 500; build <= 3 s CPU; resident memory added <= 120 MiB (every web and
worker process holds a matcher); evasion set >= 95% caught; over-refusal <= 1%. The whole step
(keywords and classifier) p99 <= 5 ms at 500 characters.
Experiment records: benchmarks/docs/moderation.md.
"""

from __future__ import annotations

import gc
import random
import re
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import json

import ahocorasick

from generation.ml.data import cold, songci
from generation.moderation.automata import encode
from generation.moderation.matcher import KeywordEntry, KeywordMatcher
from generation.moderation.measures import catch_rate, over_refusal_rate
from generation.moderation.normalise import normalise, translation_table

EVASIONS = Path(__file__).resolve().parent.parent / "tests" / "generation" / "moderation" / "data" / "evasions.json"
THRESHOLDS = Path(__file__).resolve().parent.parent / "filing" / "data" / "safety_thresholds.json"

SIZES = (10_000, 100_000)
PROMPTS = 300
LATENCY_RUNS = 2_000
REGEX_BUDGET_SECONDS = 8.0
SEED = 20261129
GOALS = {
    "ratio": 50.0,
    "p99_2000_ms": 1.5,
    "p99_500_ms": 1.0,
    "build_cpu_s": 3.0,
    "rss_mib": 120.0,
    "caught": 0.95,
    "refused": 0.01,
}

# Sentences of the kind users send; prompts are random mixes of them, with the odd keyword,
# full-width letter or inserted space.
SENTENCES = (
    "请帮我写一首关于秋天的七言绝句，要有落叶和远山。",
    "用通俗的语言解释一下什么是注意力机制，以及它为什么适合处理长文本。",
    "我明天要去杭州出差三天，请帮我列一个行李清单。",
    "给一个十岁的孩子讲一个关于勇气的小故事，不超过五百字。",
    "请把下面这段话改写得更正式一些，用于公司年终总结。",
    "比较一下宋词里豪放派和婉约派的主要区别，并各举两个例子。",
    "帮我想五个适合咖啡店的店名，要简短好记。",
    "写一封给客户的道歉信，说明发货延迟的原因和补偿方案。",
    "这段代码为什么会报空指针异常？请逐行分析。",
    "请生成一段描写江南雨夜的散文，语气要安静。",
    "如何在周末带父母去郊外徒步，有哪些需要注意的地方？",
    "总结一下这篇文章的三个要点，每点不超过二十个字。",
    "我想学习做红烧肉，请给出详细步骤和火候建议。",
    "请用Python写一个读取CSV文件并统计每列平均值的函数。",
    "帮我把这首诗翻译成英文，尽量保留原来的韵律。",
    "介绍一下长城的历史，以及明长城和秦长城的不同。",
    "给新员工写一份入职第一周的安排，包括培训和熟悉团队。",
    "请模仿苏轼的风格写一首词，主题是中秋思念家人。",
    "解释一下复利是怎么计算的，并举一个存款的例子。",
    "列出提高睡眠质量的十个习惯，并说明原因。",
)


def gb2312_level1() -> list[str]:
    chars = []
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def keywords_make(count: int, rng: random.Random, alphabet: list[str]) -> list[str]:
    lengths = (2, 3, 3, 4, 4, 4, 5, 5, 6)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(alphabet) for _ in range(rng.choice(lengths))))
    return sorted(words)


def prompt_make(length: int, rng: random.Random, keywords: list[str], with_hit: bool) -> str:
    parts: list[str] = []
    while sum(map(len, parts)) < length:
        parts.append(rng.choice(SENTENCES))
    text = "".join(parts)[:length]
    if rng.random() < 0.2:
        text = text.replace("请", "请 ", 1).replace("Python", "Ｐｙｔｈｏｎ")
    if with_hit:
        at = rng.randrange(0, max(1, len(text) - 10))
        word = rng.choice(keywords)
        text = (text[:at] + " ".join(word) + text[at:])[: length + 2 * len(word)]
    return text


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def run_size(size: int, alphabet: list[str]) -> dict[str, float]:
    rng = random.Random(SEED + size)
    keywords = keywords_make(size, rng, alphabet)
    entries = [KeywordEntry(i, w, "A.1.8", "block") for i, w in enumerate(keywords)]

    gc.collect()
    rss_before = rss_bytes()
    cpu_started = time.thread_time()
    matcher = KeywordMatcher(version=1, entries=entries)
    build_cpu = time.thread_time() - cpu_started
    build_seconds = matcher.build_seconds
    rss_added = rss_bytes() - rss_before

    # Throughput: prompts of 200-2,000 characters, one in ten with a (spaced-out) keyword.
    prompts = [prompt_make(rng.randint(200, 2000), rng, keywords, with_hit=i % 10 == 0) for i in range(PROMPTS)]
    chars = sum(map(len, prompts))
    matcher.find("预热 warm-up 女子 3")  # tables built once per process (pinyin, components) are not throughput
    started = time.perf_counter()
    hits = sum(len(matcher.find(p)) for p in prompts)
    ac_seconds = time.perf_counter() - started
    ac_rate = chars / ac_seconds

    regex_started = time.perf_counter()
    pattern = re.compile("|".join(re.escape(normalise(w)) for w in sorted(keywords, key=len, reverse=True)))
    regex_build = time.perf_counter() - regex_started
    regex_chars = 0
    regex_hits = 0
    started = time.perf_counter()
    for prompt in prompts:
        regex_hits += len(pattern.findall(normalise(prompt)))
        regex_chars += len(prompt)
        if time.perf_counter() - started > REGEX_BUDGET_SECONDS:
            break
    regex_rate = regex_chars / (time.perf_counter() - started)
    # Dropped before the latency runs: left in the process, the compiled alternation of 100,000
    # keywords made the keyword step about 40% slower (2,000 characters, CPU p50 0.94 -> 1.30 ms),
    # and no serving process holds one.
    del pattern
    gc.collect()

    # Latency: 2,000-character prompts, one in ten with a hit, each timed on its own.
    latency_prompts = [prompt_make(2000, rng, keywords, with_hit=i % 10 == 0) for i in range(200)]
    # Wall time counts the moments another process holds the CPU (these machines are shared);
    # thread CPU time does not, so both are reported. The collector is paused while timing.
    timings = []
    cpu_timings = []
    gc.disable()
    try:
        for i in range(LATENCY_RUNS):
            prompt = latency_prompts[i % len(latency_prompts)]
            started, cpu_started = time.perf_counter(), time.thread_time()
            matcher.find(prompt)
            cpu_timings.append((time.thread_time() - cpu_started) * 1000)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        gc.enable()
    timings.sort()
    cpu_timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    cpu_p99 = cpu_timings[int(len(cpu_timings) * 0.99) - 1]

    print(f"\n{size:,} keywords ({matcher.keyword_count:,} in the automaton)")
    print(
        f"  automaton build          : {build_seconds:8.2f} s wall, {build_cpu:.2f} s CPU, "
        f"+{rss_added / 2**20:6.1f} MiB resident   (goal <= {GOALS['build_cpu_s']:g} s CPU, "
        f"+{GOALS['rss_mib']:g} MiB at 100,000)"
    )
    print(f"  regex compile            : {regex_build:8.2f} s")
    print(f"  full step (normalise+AC) : {ac_rate / 1e6:8.2f} M chars/s on {PROMPTS} prompts, {hits} hits")
    print(f"  regex alternation        : {regex_rate / 1e6:8.4f} M chars/s on {regex_chars:,} chars, {regex_hits} hits")
    print(f"  ratio AC / regex         : {ac_rate / regex_rate:8.1f}x   (goal >= {GOALS['ratio']:g}x)")
    print(
        f"  2,000-char prompt, wall  : p50 {statistics.median(timings):.3f} ms, p99 {p99:.3f} ms, "
        f"max {timings[-1]:.3f} ms"
    )
    print(
        f"  2,000-char prompt, CPU   : p50 {statistics.median(cpu_timings):.3f} ms, p99 {cpu_p99:.3f} ms   "
        f"(goal p99 <= {GOALS['p99_2000_ms']:g} ms at 100,000)"
    )

    # 500 characters: the full step against the plain one (what matching was before the evasion forms).
    plain = ahocorasick.Automaton()
    for word in keywords:
        encoded = encode(normalise(word))
        plain.add_word(encoded, len(encoded))
    plain.make_automaton()

    def plain_find(text: str) -> int:
        return sum(1 for last, length in plain.iter(encode(normalise(text))) if not (last - length + 1) & 1)

    short_prompts = [prompt_make(500, rng, keywords, with_hit=i % 10 == 0) for i in range(200)]
    full_500 = cpu_times(matcher.find, short_prompts)
    plain_500 = cpu_times(plain_find, short_prompts)
    full_p99, plain_p99 = full_500[int(len(full_500) * 0.99) - 1], plain_500[int(len(plain_500) * 0.99) - 1]
    print(
        f"  500-char prompt, CPU     : p50 {statistics.median(full_500):.3f} ms, p99 {full_p99:.3f} ms   "
        f"(goal p99 <= {GOALS['p99_500_ms']:g} ms at 100,000)"
    )
    print(
        f"  plain step (baseline)    : p50 {statistics.median(plain_500):.3f} ms, p99 {plain_p99:.3f} ms; "
        f"full / plain p99 {full_p99 / plain_p99:.1f}x"
    )
    if size == max(SIZES):
        quality(keywords, entries)
    return {
        "size": size,
        "build_seconds": build_seconds,
        "build_cpu_seconds": build_cpu,
        "rss_mib": rss_added / 2**20,
        "ac_chars_per_s": ac_rate,
        "regex_chars_per_s": regex_rate,
        "ratio": ac_rate / regex_rate,
        "p99_ms": p99,
        "cpu_p99_ms": cpu_p99,
    }


def cpu_times(step: object, prompts: list[str]) -> list[float]:
    """Sorted thread CPU milliseconds of ``step(prompt)`` over LATENCY_RUNS runs, the collector paused."""
    timings = []
    gc.disable()
    try:
        for i in range(LATENCY_RUNS):
            prompt = prompts[i % len(prompts)]
            started = time.thread_time()
            step(prompt)  # type: ignore[operator]
            timings.append((time.thread_time() - started) * 1000)
    finally:
        gc.enable()
    return sorted(timings)


def quality(keywords: list[str], entries: list[KeywordEntry]) -> None:
    """Evasion catch rate and over-refusal of the keyword layer at this library size."""
    evasions = json.loads(EVASIONS.read_text(encoding="utf-8"))
    extra = [KeywordEntry(len(entries) + i, w, "A.1.8", "block") for i, w in enumerate(evasions["keywords"])]
    library = keywords + evasions["keywords"]
    matcher = KeywordMatcher(version=2, entries=entries + extra)
    caught = catch_rate(matcher, ((v["keyword"], v["text"]) for v in evasions["variants"]))
    print(
        f"  evasion set caught       : {caught.rate:8.1%} of {caught.total} variants   (goal >= {GOALS['caught']:.0%})"
    )
    corpus = songci()
    lines = [line for line in corpus.text.splitlines() if line.strip()]
    refused = over_refusal_rate(matcher, lines, library)
    print(
        f"  refused, {corpus.name[:20]:20}: {refused.rate:8.2%} of {refused.total:,} lines without keyword "
        f"(goal <= {GOALS['refused']:.0%})"
    )
    data = cold("dev")
    safe = [text for text, label in zip(data.texts, data.labels, strict=True) if label == 0]
    refused = over_refusal_rate(matcher, safe, library)
    print(
        f"  refused, COLD dev safe   : {refused.rate:8.2%} of {refused.total:,} comments without a keyword "
        f"(goal <= {GOALS['refused']:.0%})"
    )


def classifier_step(alphabet: list[str]) -> None:
    """CPU time of the classifier layer on 500-character prompts, alone and after the keyword step, and the share
    of Song ci lines it refuses or flags at the shipped thresholds."""
    import torch

    from generation.bundled import bundled_bytes, manifest
    from generation.ml.scoring import TextScorer

    entry = manifest().get("nets", {}).get("classifier")
    if entry is None:
        print("classifier layer: no bundled classifier in the manifest; run `make weights`")
        return
    torch.set_num_threads(1)
    scorer = TextScorer(bundled_bytes(entry), sha256=entry["sha256"])
    shipped = {
        row["key"]: float(row["value"])
        for row in json.loads(THRESHOLDS.read_text(encoding="utf-8"))["thresholds"]
        if row["key"].startswith("classifier_")
    }
    rng = random.Random(SEED)
    keywords = keywords_make(SIZES[0], rng, alphabet)
    matcher = KeywordMatcher(version=1, entries=[KeywordEntry(i, w, "A.1.8", "block") for i, w in enumerate(keywords)])
    prompts = [prompt_make(500, rng, keywords, with_hit=i % 10 == 0) for i in range(200)]
    for prompt in prompts[:20]:
        scorer.score(prompt)  # warm-up: the first calls allocate

    def whole(text: str) -> None:
        matcher.find(text)
        scorer.score(text)

    alone, both = cpu_times(scorer.score, prompts), cpu_times(whole, prompts)
    p99 = lambda timings: timings[int(len(timings) * 0.99) - 1]  # noqa: E731
    print(f"classifier layer ({entry['sha256'][:12]}, 1 torch thread), 500-char prompt, CPU:")
    print(f"  classifier alone         : p50 {statistics.median(alone):.3f} ms, p99 {p99(alone):.3f} ms")
    print(
        f"  keywords ({SIZES[0]:,}) + classifier: p50 {statistics.median(both):.3f} ms, p99 {p99(both):.3f} ms   "
        "(goal p99 <= 5 ms)"
    )
    lines = [line for line in songci().text.splitlines() if line.strip()][:3000]
    scores = [scorer.score(line) for line in lines]
    refused = sum(s >= shipped["classifier_block_score_min"] for s in scores) / len(scores)
    flagged = sum(shipped["classifier_flag_score_min"] <= s < shipped["classifier_block_score_min"] for s in scores)
    print(
        f"  Song ci lines            : refused {refused:.2%}, sent for review {flagged / len(scores):.2%} "
        f"of {len(scores):,}"
    )


def main() -> None:
    started = time.perf_counter()
    translation_table()
    print(f"normalisation table built in {time.perf_counter() - started:.2f} s (once per process)")
    alphabet = gb2312_level1()
    for size in SIZES:
        run_size(size, alphabet)
    classifier_step(alphabet)


if __name__ == "__main__":
    main()
