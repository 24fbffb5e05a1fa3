"""Training the character language model: held-out nats per character each epoch, against a bigram baseline."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F  # noqa: N812

from generation.ml import metrics
from generation.ml.data import TextCorpus, text_split
from generation.ml.nets.attention import CharTransformer, LmConfig, char_vocab
from generation.ml.sampling import lm_sample
from generation.ml.training.base import EVAL_SEED, Clock


class LmTrainer:
    def __init__(
        self,
        seed: int,
        config: LmConfig,
        corpus: TextCorpus,
        clock_budget: int | None,
        *,
        device: torch.device | str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.train_text, self.test_text = text_split(corpus)
        if not config.vocab:
            config = config.replace(vocab=char_vocab(self.train_text, min_count=config.min_count))
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)
        self.net = CharTransformer(config).to(self.device)
        self.ids = torch.tensor(self.net.encode(self.train_text), dtype=torch.long, device=self.device)
        if len(self.ids) < config.block_size + 2:
            raise ValueError(
                f"The training text has {len(self.ids)} characters; the net needs more than {config.block_size + 1}."
            )
        self.windows = self.ids.unfold(0, config.block_size + 1, 1)
        decay = [p for p in self.net.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.net.parameters() if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.lr,
            betas=(0.9, 0.99),
        )
        self.total_steps = clock_budget
        self.step = 0
        test_scored = self.test_text[: config.eval_chars + 1] if config.eval_chars else self.test_text
        self.baselines = metrics.ngram_baselines(self.train_text, test_scored, config.vocab)

    def learning_rate(self, clock: Clock) -> float:
        config = self.config
        if self.step < config.warmup_steps:
            return config.lr * (self.step + 1) / config.warmup_steps
        progress = clock.progress(self.step, self.total_steps)
        low = config.lr * config.min_lr_fraction
        return low + 0.5 * (config.lr - low) * (1.0 + math.cos(math.pi * progress))

    def train_epoch(self, epoch: int, clock: Clock) -> tuple[dict[str, float], int]:
        self.net.train()
        total, steps = 0.0, 0
        for _ in range(self.config.steps_per_epoch):
            if clock.stop_now():
                break
            starts = torch.randint(0, len(self.windows), (self.config.batch_size,), generator=self.generator)
            batch = self.windows[starts.to(self.device)]
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.autocast_bf16):
                logits = self.net(batch[:, :-1])
            loss = F.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
            for group in self.optimizer.param_groups:
                group["lr"] = self.learning_rate(clock)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
            self.optimizer.step()
            self.step += 1
            total += loss.item()
            steps += 1
        return {"train_nats_per_char": total / max(steps, 1)}, steps

    def export_state(self) -> dict[str, torch.Tensor]:
        return self.net.state_dict()

    def evaluate(self, should_stop: Callable[[], bool] | None = None) -> tuple[dict[str, float], float]:
        nats = metrics.lm_nats_per_char(
            self.net, self.test_text, max_chars=self.config.eval_chars, should_stop=should_stop
        )
        return {
            "nats_per_char": nats,
            "bigram_nats_per_char": self.baselines.bigram,
            "unigram_nats_per_char": self.baselines.unigram,
        }, nats

    def sample_text(self) -> str:
        return lm_sample(self.net, prompt="", max_chars=80, temperature=0.8, top_k=None, seed=EVAL_SEED)
