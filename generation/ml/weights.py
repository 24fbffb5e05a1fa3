"""The weights that ship in the repository: trained by the project's own code from ``generation/weights/recipe.json``.

    python -m generation.ml.weights build              # train what the recipe asks, measure, write the bundled files
    python -m generation.ml.weights build --only lm    # one net (the others' files and the digit classifier are kept)
    python -m generation.ml.weights build --only classifier    # the moderation text classifier
    python -m generation.ml.weights check              # verify the bundled files and measure them again
    python -m generation.ml.weights seeds --only gan --seeds 0,1   # the recipe at other seeds, figures only

``build`` first trains the digit classifier that measures the GAN (so every machine measures with the same
numbers; ``--only digit_classifier``), then each net for the recipe's epochs on the recipe's thread count (the net
``classifier`` is moderation's text classifier, ``text-classifier.pt``), keeping the full checkpoint of each run
in the work folder (``var/weights/`` by default), so measuring and writing again costs no training.
It then measures each net in full precision and as stored (only the parts serving and measuring need, in
half precision), and writes the stored file, its SHA-256, its lineage and both sets of figures to the manifest.
When the manifest already held figures for the same recipe, it prints them side by side with the new ones.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

from generation.bundled import MANIFEST_PATH, WEIGHTS_DIR, BundledFileDamaged, bundled_bytes, manifest, recipe
from generation.ml import metrics
from generation.ml.checkpoints import checkpoint_loads, checkpoint_sha256
from generation.ml.data import DigitData, LabelledTexts, TextCorpus, cold, mnist5k, songci, text_split
from generation.ml.nets.textclf import TextClassifierConfig
from generation.ml.training import EpochReport, train
from generation.ml.version import code_version
from generation.tunes import tune_table

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DEFAULT_WORK_DIR = BASE_DIR / "var" / "weights"
KINDS = ("gan", "vae", "lm", "classifier")
# The digit classifier that measures the GAN: its part name for ``--only`` and its key in the recipe and manifest.
DIGIT_CLASSIFIER = "digit_classifier"
CLASSIFIER_FILE = "digit-classifier.pt"
# The bundled file of each net, where it is not named after the net.
NET_FILES = {"classifier": "text-classifier.pt"}
# How far a figure measured again may be from the one recorded (relative): float results differ between CPUs.
CHECK_TOLERANCE = 0.005


class RecipeError(Exception):
    """The recipe cannot be followed here (its data differ or are missing); the message says what to do."""


def _say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def recipe_data(name: str, expected_sha256: str) -> DigitData | TextCorpus | LabelledTexts:
    """The data set ``name`` of the recipe, refused unless its bytes are the ones the recipe names."""
    loaded: DigitData | TextCorpus | LabelledTexts
    if name == "mnist5k":
        loaded = mnist5k()
    elif name == "songci":
        loaded = songci()
    elif name == "cold":
        loaded = cold("train")
    else:
        raise RecipeError(f"The recipe names the data set {name!r}, which the project does not know.")
    if loaded.fingerprint != expected_sha256:
        hint = " Run `make setup` to fetch the Song ci." if name == "songci" else ""
        raise RecipeError(
            f"The data set {name!r} here is {loaded.name} with SHA-256 {loaded.fingerprint[:16]}…, but the recipe "
            f"was written for {expected_sha256[:16]}…; the weights would not be the recipe's.{hint}"
        )
    return loaded


def run_digest(kind: str, entry: dict[str, Any], data_sha256: str, threads: int, classifier_sha256: str) -> str:
    """Names one training run of the recipe: the same digest means the same inputs, so the same weights here."""
    facts = {"kind": kind, "entry": entry, "data": data_sha256, "threads": threads, "torch": torch.__version__}
    if kind == "gan":
        facts["classifier"] = classifier_sha256  # it chooses the GAN's best epoch and noise scale
    if kind == "classifier":
        # Its recipe leaves epochs and sizes to the configuration's defaults: a change of them is another run.
        facts["config"] = TextClassifierConfig.from_dict(entry.get("config") or {}).to_dict()
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def classifier_build(spec: dict[str, Any], data: DigitData, *, threads: int) -> dict[str, Any]:
    """Train the digit classifier of the recipe and write it beside the weights; returns its manifest entry."""
    torch.set_num_threads(threads)
    started = time.process_time()
    net = metrics.digit_classifier_train(data, epochs=spec["epochs"], seed=spec.get("seed", 0))
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    blob = buffer.getvalue()
    (WEIGHTS_DIR / CLASSIFIER_FILE).write_bytes(blob)
    _, predicted = metrics.classifier_features(net, data.test_x)
    accuracy = float((predicted == data.test_y.numpy()).mean())
    _say(f"[digit classifier] {time.process_time() - started:.0f} CPU-s, test accuracy {accuracy:.2%}")
    return {
        "file": CLASSIFIER_FILE,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "weights_sha256": metrics.weights_sha256(net),
        "key": metrics.classifier_key(data),
        "data_sha256": data.fingerprint,
        "epochs": spec["epochs"],
        "seed": spec.get("seed", 0),
        "threads": threads,
        "torch_version": torch.__version__,
        "test_accuracy": round(accuracy, 4),
    }


def net_train(
    kind: str,
    entry: dict[str, Any],
    data: DigitData | TextCorpus | LabelledTexts,
    *,
    threads: int,
    digest: str,
    work_dir: Path,
) -> tuple[bytes, dict[str, Any]]:
    """The full checkpoint of the recipe's run of ``kind`` and the run's facts: from the work folder, or trained."""
    checkpoint_path = work_dir / f"{kind}-{digest}.ckpt"
    facts_path = work_dir / f"{kind}-{digest}.json"
    if checkpoint_path.is_file() and facts_path.is_file():
        facts = json.loads(facts_path.read_text(encoding="utf-8"))
        blob = checkpoint_path.read_bytes()
        if checkpoint_sha256(blob) == facts["checkpoint_sha256"]:
            _say(f"[{kind}] reusing the run {digest} trained on {facts['finished_at']} ({checkpoint_path})")
            return blob, facts

    def progress(report: EpochReport) -> None:
        shown = ", ".join(f"{k} {v:.3f}" for k, v in {**report.losses, **report.metrics}.items())
        _say(f"  [{kind}] epoch {report.epoch:3d} {report.seconds:6.1f}s  {shown}")

    trained_by = code_version()  # the code as it is when training starts
    # No epochs: the configuration's. ``cpu_minutes`` is a ceiling the run must stay under, counted in CPU time per
    # thread; it is checked, not given to the run as a budget, which would tie the learning rate to the machine.
    epochs, cpu_minutes = entry["epochs"], entry.get("cpu_minutes")
    shown_epochs = epochs or "the configuration's"
    _say(f"[{kind}] training {shown_epochs} epochs, seed {entry['seed']}, {threads} thread(s) ({trained_by})")
    result = train(
        kind,  # type: ignore[arg-type]
        seed=entry["seed"],
        epochs=epochs,
        budget_clock="cpu" if cpu_minutes else "wall",
        config=entry.get("config") or None,
        data=data,
        on_epoch=progress,
        threads=threads,
    )
    if cpu_minutes and result.seconds > cpu_minutes * 60:
        raise RecipeError(
            f"The {kind} recipe trained for {result.seconds / 60:.1f} CPU minutes, over its {cpu_minutes}: "
            "lower its epochs or its net's size."
        )
    facts = {
        "checkpoint_sha256": result.checkpoint_sha256,
        "metric_name": result.metric_name,
        "best_metric": result.best_metric,
        "best_epoch": result.best_epoch,
        "hyperparameters": result.hyperparameters,
        "dataset_names": result.dataset_names,
        "dataset_fingerprints": result.dataset_fingerprints,
        "dataset_sources": result.dataset_sources,
        "dataset_licences": result.dataset_licences,
        "torch_version": result.torch_version,
        "training_cpu_seconds": round(result.seconds, 1),
        "wall_seconds": round(result.wall_seconds, 1),
        "finished_at": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "code_version": trained_by,
    }
    work_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path.write_bytes(result.checkpoint)
    facts_path.write_text(json.dumps(facts, indent=1, ensure_ascii=False), encoding="utf-8")
    _say(
        f"[{kind}] {result.best_metric:.3f} {result.metric_name} at epoch {result.best_epoch}; "
        f"{result.seconds:.0f} s training, {result.wall_seconds:.0f} s wall"
    )
    return result.checkpoint, facts


def seeds_try(kinds: list[str], seeds: list[int], *, work_dir: Path) -> int:
    """Train the recipe at other seeds (nothing bundled changes) and print each run's figures: how much of the
    bundled nets' quality is the recipe's and how much the seed's."""
    from generation.ml.evaluation import figures_for, measured_on

    spec = recipe()
    threads = spec["threads"]
    torch.set_num_threads(threads)
    for kind in kinds:
        for seed in seeds:
            entry = spec["nets"][kind] | {"seed": seed}
            data = recipe_data(entry["data"], spec["data"][entry["data"]])
            digest = run_digest(kind, entry, data.fingerprint, threads, _classifier_sha256())
            blob, _facts = net_train(kind, entry, data, threads=threads, digest=digest, work_dir=work_dir)
            loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
            figures = figures_for(kind, loaded.net, measured_on(kind, data))
            _say(f"[{kind}] seed {seed}: {_figures_line(figures)}")
    return 0


def _classifier_sha256() -> str:
    entry = manifest().get(DIGIT_CLASSIFIER)
    return entry["weights_sha256"] if entry else ""


def train_only(kinds: list[str], *, work_dir: Path) -> None:
    """Train (or find in the work folder) the recipe's runs of ``kinds``, with the bundled digit classifier in place."""
    spec = recipe()
    threads = spec["threads"]
    for kind in kinds:
        entry = spec["nets"][kind]
        data = recipe_data(entry["data"], spec["data"][entry["data"]])
        digest = run_digest(kind, entry, data.fingerprint, threads, _classifier_sha256())
        net_train(kind, entry, data, threads=threads, digest=digest, work_dir=work_dir)


def _manifest_write(current: dict[str, Any]) -> None:
    MANIFEST_PATH.write_text(json.dumps(current, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _figures_line(figures: dict[str, Any]) -> str:
    keys = [k for k in SHOWN_FIGURES if k in figures]
    return ", ".join(f"{k} {figures[k]:.4g}" for k in keys)


# The figures printed and compared between runs of the recipe, per net.
SHOWN_FIGURES = (
    "digit_fid_ratio",
    "digit_fid",
    "digit_fid_floor",
    "conditional_accuracy",
    "test_nats",
    "nats_per_char",
    "bigram_nats_per_char",
    "bigram_margin",
    "whole_piece_rate",
    "free_form_rate",
    "guided_form_rate",
    "accuracy",
    "macro_f1",
    "precision",
    "recall",
)


def _compare(kind: str, before: dict[str, Any] | None, after: dict[str, Any]) -> None:
    """Print how this build compares with the manifest's previous entry for the same recipe."""
    if not before:
        _say(f"[{kind}] no earlier build of this recipe in the manifest to compare with")
        return
    if before.get("recipe_digest") != after["recipe_digest"]:
        _say(
            f"[{kind}] the manifest held another recipe's weights (digest {before.get('recipe_digest')}); not compared"
        )
        return
    same = before["sha256"] == after["sha256"]
    _say(f"[{kind}] reproduced the bundled file bit for bit: {'yes' if same else 'no'} ({after['sha256'][:16]}…)")
    for key in SHOWN_FIGURES:
        if key in before["figures"] and key in after["figures"]:
            old, new = before["figures"][key], after["figures"][key]
            _say(f"  {key:<22} recorded {old:10.4f}   now {new:10.4f}   difference {new - old:+.4f}")


def net_build(kind: str, spec: dict[str, Any], *, work_dir: Path) -> dict[str, Any]:
    """Train (or reuse) the recipe's run of ``kind``, measure it, write its bundled file; returns its manifest entry."""
    from generation.ml.checkpoints import checkpoint_slim
    from generation.ml.evaluation import figures_for, measured_on

    entry = spec["nets"][kind]
    threads = spec["threads"]
    torch.set_num_threads(threads)
    data = recipe_data(entry["data"], spec["data"][entry["data"]])
    digest = run_digest(kind, entry, data.fingerprint, threads, _classifier_sha256())
    blob, facts = net_train(kind, entry, data, threads=threads, digest=digest, work_dir=work_dir)
    full = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
    evaluation = measured_on(kind, data)
    started = time.process_time()
    figures_full = figures_for(kind, full.net, evaluation)
    _say(f"[{kind}] full precision: {_figures_line(figures_full)} ({time.process_time() - started:.0f} CPU-s)")
    lineage = {
        "seed": entry["seed"],
        "data": entry["data"],
        "epochs": facts["hyperparameters"]["epochs"],
        "config": entry.get("config", {}),
        "threads": threads,
        "recipe_digest": digest,
        "full_checkpoint_sha256": facts["checkpoint_sha256"],
        "hyperparameters": facts["hyperparameters"],
        "datasets": [data.facts()],
        "metric_name": facts["metric_name"],
        "best_metric": facts["best_metric"],
        "best_epoch": facts["best_epoch"],
        "code_version": facts.get("code_version") or code_version(),
        "torch_version": facts["torch_version"],
        "training_cpu_seconds": facts["training_cpu_seconds"],
        "trained_at": facts["finished_at"],
    }
    stored = checkpoint_slim(
        blob,
        parts=entry["parts"],
        precision=entry["precision"],
        extra={"lineage": lineage, "figures_full_precision": figures_full},
    )
    slim = checkpoint_loads(stored, expected_sha256=checkpoint_sha256(stored))
    figures = figures_for(kind, slim.net, evaluation)
    _say(f"[{kind}] as stored ({entry['precision']}, {', '.join(entry['parts'])}): {_figures_line(figures)}")
    name = NET_FILES.get(kind, f"{kind}.pt")
    (WEIGHTS_DIR / name).write_bytes(stored)
    parameters = sum(
        p.numel()
        for n, p in slim.net.named_parameters()
        if slim.whole or any(n.startswith(part + ".") for part in slim.parts)
    )
    result = {
        "file": name,
        "sha256": checkpoint_sha256(stored),
        "size_bytes": len(stored),
        "parameters": parameters,
        "parts": list(entry["parts"]),
        "precision": entry["precision"],
        "recipe_digest": digest,
        "lineage": lineage,
        "figures": figures,
        "figures_full_precision": figures_full,
    }
    if isinstance(data, TextCorpus):
        # The same table a training run of the platform records (from the training part of the text).
        result["tunes"] = [tune.as_dict() for tune in tune_table(text_split(data)[0])]
    return result


def build(kinds: list[str], *, work_dir: Path) -> int:
    """Train what the recipe asks (the digit classifier first), measure, write the bundled files and the manifest."""
    spec = recipe()
    threads = spec["threads"]
    current = dict(manifest())
    if DIGIT_CLASSIFIER in kinds or DIGIT_CLASSIFIER not in current:
        classifier_spec = spec[DIGIT_CLASSIFIER]
        digits = recipe_data(classifier_spec["data"], spec["data"][classifier_spec["data"]])
        assert isinstance(digits, DigitData)
        previous_classifier = current.get(DIGIT_CLASSIFIER, {})
        current[DIGIT_CLASSIFIER] = classifier_build(classifier_spec, digits, threads=threads)
        same = previous_classifier.get("weights_sha256") == current[DIGIT_CLASSIFIER]["weights_sha256"]
        _say(f"[digit classifier] reproduced the bundled digit classifier bit for bit: {'yes' if same else 'no'}")
        _manifest_write(current)  # the nets are measured with this classifier
    nets = dict(current.get("nets", {}))
    for kind in (k for k in kinds if k in KINDS):
        before = nets.get(kind)
        nets[kind] = net_build(kind, spec, work_dir=work_dir)
        _compare(kind, before, nets[kind])
        current["nets"] = nets
        _manifest_write(current)
    total = sum(entry["size_bytes"] for entry in nets.values())
    sizes = ", ".join(f"{k} {v['size_bytes'] / 1e6:.2f} MB" for k, v in sorted(nets.items()))
    _say(f"bundled nets: {sizes}; {total / 1e6:.2f} MB in all (limit {spec.get('size_limit_mb', 20)} MB)")
    return 0 if total <= spec.get("size_limit_mb", 20) * 1e6 else 1


def check() -> int:
    """Verify every bundled file against the manifest and measure the nets again; 1 if anything differs."""
    from generation.ml.evaluation import figures_for, measured_on

    spec = recipe()
    torch.set_num_threads(spec["threads"])
    current = manifest()
    problems = 0
    for kind, entry in sorted(current.get("nets", {}).items()):
        blob = bundled_bytes(entry)
        loaded = checkpoint_loads(blob, expected_sha256=entry["sha256"])
        data = recipe_data(entry["lineage"]["data"], spec["data"][entry["lineage"]["data"]])
        figures = figures_for(kind, loaded.net, measured_on(kind, data))
        for key in SHOWN_FIGURES:
            if key in entry["figures"]:
                recorded, now = entry["figures"][key], figures[key]
                agree = abs(recorded - now) <= CHECK_TOLERANCE * max(1.0, abs(recorded))
                problems += not agree
                verdict = "ok" if agree else "DIFFERS"
                _say(f"[{kind}] {key:<22} recorded {recorded:10.4f}   measured {now:10.4f}   {verdict}")
    _say("bundled weights: every figure as recorded" if not problems else f"bundled weights: {problems} figures differ")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    parts = (DIGIT_CLASSIFIER, *KINDS)
    for name in ("build", "train", DIGIT_CLASSIFIER, "check", "seeds"):
        command = sub.add_parser(name)
        command.add_argument("--seeds", default="", help="seeds: comma-separated seeds to try the recipe at")
        command.add_argument("--only", default=",".join(parts), help=f"comma-separated subset of {','.join(parts)}")
        command.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    args = parser.parse_args(argv)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(parts))
    if unknown:
        _say(f"Unknown parts: {', '.join(unknown)} (use {', '.join(parts)}).")
        return 2
    try:
        if args.command == DIGIT_CLASSIFIER:
            spec = recipe()
            data = recipe_data(spec[DIGIT_CLASSIFIER]["data"], spec["data"][spec[DIGIT_CLASSIFIER]["data"]])
            assert isinstance(data, DigitData)
            entry = classifier_build(spec[DIGIT_CLASSIFIER], data, threads=spec["threads"])
            current = dict(manifest())
            current[DIGIT_CLASSIFIER] = entry
            MANIFEST_PATH.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        elif args.command == "train":
            train_only([k for k in kinds if k in KINDS], work_dir=args.work_dir)
        elif args.command == "build":
            return build(kinds, work_dir=args.work_dir)
        elif args.command == "check":
            return check()
        elif args.command == "seeds":
            seeds = [int(seed) for seed in args.seeds.split(",") if seed.strip()]
            return seeds_try([k for k in kinds if k in KINDS], seeds, work_dir=args.work_dir)
    except (RecipeError, BundledFileDamaged) as exc:
        _say(f"weights: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
