"""The figures the quality gate, ``make weights`` and the benchmark judge a net by."""

from __future__ import annotations

import pytest
import torch

from generation.ml.data import DigitData, TextCorpus
from generation.ml.evaluation import MeasurementStopped, figures_for, is_whole_piece
from generation.ml.nets.attention import CharTransformer, LmConfig, char_vocab
from generation.ml.nets.gan import ConditionalGan, GanConfig
from generation.ml.nets.vae import ConvVae, VaeConfig
from generation.tunes import Tune


def test_gan_figures_are_digit_fid_over_the_floor_and_conditional_accuracy(digits: DigitData) -> None:
    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny()).eval()

    figures = figures_for("gan", net, digits, draws=2)

    assert figures["draws"] == 2 and len(figures["classifier_sha256"]) == 64
    assert figures["digit_fid_ratio"] == pytest.approx(figures["digit_fid"] / figures["digit_fid_floor"])
    assert figures["digit_fid_ratio"] > 3  # an untrained generator is far from the digits
    assert 0.0 <= figures["conditional_accuracy"] <= 1.0
    assert figures == figures_for("gan", net, digits, draws=2)  # the same draws every time


def test_vae_figures_sit_beside_the_independent_pixel_baseline(digits: DigitData) -> None:
    torch.manual_seed(0)
    figures = figures_for("vae", ConvVae(VaeConfig.tiny()).eval(), digits)

    assert set(figures) == {"test_nats", "independent_pixel_nats"}
    assert figures["test_nats"] > 0 and figures["independent_pixel_nats"] > 0


def test_lm_figures_measure_the_text_and_the_pieces_of_each_tune(tiny_corpus: TextCorpus) -> None:
    torch.manual_seed(0)
    net = CharTransformer(LmConfig.tiny(char_vocab(tiny_corpus.text))).eval()

    figures = figures_for("lm", net, tiny_corpus, per_tune=2, max_chars=2000)

    assert figures["tunes"] == 7  # 调0 … 调6 in the made-up corpus
    assert figures["bigram_margin"] == pytest.approx(figures["bigram_nats_per_char"] - figures["nats_per_char"])
    assert figures["guided_form_rate"] == 1.0  # guided by the form, every piece has it
    assert 0.0 <= figures["whole_piece_rate"] <= 1.0 and 0.0 <= figures["free_form_rate"] <= 1.0


def test_a_corpus_without_tunes_has_no_whole_pieces(tiny_corpus: TextCorpus) -> None:
    plain = TextCorpus(
        text="\n".join(line.split("：", 1)[1] for line in tiny_corpus.text.splitlines()),
        fingerprint="1" * 64,
        name="no tunes",
        source="test",
        licence="none",
        licence_text="",
    )
    torch.manual_seed(0)
    net = CharTransformer(LmConfig.tiny(char_vocab(plain.text))).eval()

    figures = figures_for("lm", net, plain, max_chars=500)

    assert figures["tunes"] == 0 and figures["whole_piece_rate"] == 0.0


def test_a_whole_piece_ends_itself_with_a_full_stop_and_is_not_a_fragment() -> None:
    tune = Tune(name="浣溪沙", pieces=1, form=(7, 7, 7, 7, 7, 7), form_share=1.0)

    assert is_whole_piece(tune, "一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回，无可奈何花落去。似曾相识燕归来。")
    assert not is_whole_piece(tune, "。")
    assert not is_whole_piece(tune, "一曲新词酒一杯，去年天气旧亭台，夕阳西下几时回")


def test_a_measurement_stops_when_asked(digits: DigitData) -> None:
    torch.manual_seed(0)
    net = ConditionalGan(GanConfig.tiny()).eval()

    with pytest.raises(MeasurementStopped):
        figures_for("gan", net, digits, draws=2, should_stop=lambda: True)
