"""Quality and speed of the generation nets, each figure printed next to its baselines from the same run.

By default measures the weights bundled in the repository (``generation/weights/``), in minutes; with
--train trains each net for a budget first (or loads checkpoints written by an earlier run with --save-dir).
It measures: digit-FID of the GAN against the floor (real train vs real test), training digits drawn at
random and two baselines, conditional accuracy, nearest-train distance; the VAE's test −ELBO against an
independent-pixel model; the LM's held-out nats per character against unigram and bigram models, and how
often its pieces have their tune's most common form (free and guided by the form) next to the corpus's own
rate; sampling latency and the KV-cache speed-up; and, for the bundled weights, the time from starting the
platform on its embedded default (what ``make run`` does) to the first digit served.

    python benchmarks/bench_generation.py                  # the bundled weights
    python benchmarks/bench_generation.py --train          # the GAN for its config's epochs, VAE 1 min, LM 30 min
    python benchmarks/bench_generation.py --train --only gan --gan-epochs 60 --threads 1 --save-dir var/bench-ckpt
    python benchmarks/bench_generation.py --load-dir var/bench-ckpt    # measure saved checkpoints

Options may also come from the environment: BENCH_TRAIN=1, BENCH_GAN_MINUTES (unset: GanConfig.epochs),
BENCH_VAE_MINUTES, BENCH_LM_MINUTES, BENCH_THREADS, BENCH_SEED, BENCH_CLOCK (cpu or wall), BENCH_STARTUP=0 (skip
the start-up measurement).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from generation.bundled import bundled_bytes, manifest  # noqa: E402
from generation.ml import metrics  # noqa: E402
from generation.ml.checkpoints import LoadedNet, checkpoint_loads, checkpoint_sha256  # noqa: E402
from generation.ml.data import DigitData, TextCorpus, mnist5k, songci, text_split  # noqa: E402
from generation.ml.evaluation import corpus_form_rate, lm_figures  # noqa: E402
from generation.ml.nets.vae import binarize  # noqa: E402
from generation.ml.sampling import gan_sample, gan_sample_labels, lm_sample, lm_sample_piece, vae_sample  # noqa: E402
from generation.ml.training import EpochReport, train  # noqa: E402
from generation.tunes import tune_table  # noqa: E402

# Independent draws of generated digits whose digit-FIDs are averaged (at least 2, for a spread).
GAN_FID_DRAWS = 5


def _env_float(name: str, default: float | None) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else default


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # No GAN budget in minutes by default: the GAN trains for its config's epochs (GanConfig.epochs).
    parser.add_argument("--gan-minutes", type=float, default=_env_float("BENCH_GAN_MINUTES", None))
    parser.add_argument("--vae-minutes", type=float, default=_env_float("BENCH_VAE_MINUTES", 1.0))
    parser.add_argument("--lm-minutes", type=float, default=_env_float("BENCH_LM_MINUTES", 30.0))
    for kind in ("gan", "vae", "lm"):
        parser.add_argument(
            f"--{kind}-epochs",
            type=int,
            help=f"train the {kind} for this many epochs instead of its minutes: the same work however busy the "
            "machine is (on a shared machine torch's threads also burn CPU time waiting for each other)",
        )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("BENCH_THREADS") or 2))
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default=os.environ.get("BENCH_CLOCK", "cpu"),
        help="count budgets in wall time or in CPU time per thread (default cpu: fair on a shared machine)",
    )
    parser.add_argument("--seed", type=int, default=int(os.environ.get("BENCH_SEED") or 0))
    parser.add_argument("--only", default="gan,vae,lm", help="comma-separated subset of gan,vae,lm")
    parser.add_argument("--gan-config", default="{}", help="JSON overrides of GanConfig")
    parser.add_argument("--vae-config", default="{}", help="JSON overrides of VaeConfig")
    parser.add_argument("--lm-config", default="{}", help="JSON overrides of LmConfig")
    parser.add_argument(
        "--train",
        action="store_true",
        default=os.environ.get("BENCH_TRAIN") == "1",
        help="train the nets for their budgets instead of measuring the bundled weights",
    )
    parser.add_argument(
        "--no-startup",
        action="store_true",
        default=os.environ.get("BENCH_STARTUP") == "0",
        help="skip timing the platform's start to its first served digit",
    )
    parser.add_argument("--save-dir", type=Path, help="write each trained checkpoint here (<kind>.ckpt)")
    parser.add_argument("--load-dir", type=Path, help="measure checkpoints saved by --save-dir instead of training")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    return parser.parse_args(argv)


def _timed(function: Callable[[], object], *, repeat: int = 5) -> float:
    function()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _obtain(kind: str, args: argparse.Namespace, data: DigitData | TextCorpus) -> LoadedNet:
    """The bundled net, one trained for its budget (printing the budget) with --train, or one from --load-dir."""
    if not args.train and not args.load_dir:
        entry = manifest().get("nets", {}).get(kind)
        if entry is None:
            raise SystemExit(f"No bundled {kind} net in generation/weights/manifest.json; run `make weights`.")
        loaded = checkpoint_loads(bundled_bytes(entry), expected_sha256=entry["sha256"])
        lineage = entry["lineage"]
        print(
            f"[{kind}] bundled {entry['file']} ({entry['size_bytes'] / 1e6:.2f} MB, {entry['precision']}, "
            f"{', '.join(entry['parts'])}): seed {lineage['seed']}, {lineage['epochs']} epochs, "
            f"best epoch {lineage['best_epoch']}, trained by code {lineage['code_version']}"
        )
        return loaded
    if args.load_dir:
        path = args.load_dir / f"{kind}.ckpt"
        blob = path.read_bytes()
        loaded = checkpoint_loads(blob, expected_sha256=checkpoint_sha256(blob))
        extra = loaded.extra
        print(f"[{kind}] loaded {path} (best epoch {extra.get('epoch')}, seed {extra.get('seed')})")
        return loaded
    epochs = getattr(args, f"{kind}_epochs")
    minutes = None if epochs else getattr(args, f"{kind}_minutes")
    config = json.loads(getattr(args, f"{kind}_config"))

    def progress(report: EpochReport) -> None:
        if not args.quiet:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in {**report.losses, **report.metrics}.items())
            print(f"  [{kind}] epoch {report.epoch:3d} {report.seconds:6.1f}s  {shown}", flush=True)

    result = train(
        kind,  # type: ignore[arg-type]
        seed=args.seed,
        minutes=minutes,
        epochs=epochs,
        config=config,
        data=data,
        on_epoch=progress,
        threads=args.threads,
        budget_clock=args.clock,
    )
    if epochs or not minutes:
        budget = f"{result.hyperparameters['epochs']} epochs"
    else:
        budget = f"{minutes:g} min ({args.clock} clock)"
    steps = result.hyperparameters.get("steps")
    print(
        f"[{kind}] budget {budget} on {args.threads} thread(s), seed {args.seed}, "
        f"config overrides {config}: "
        f"{len(result.epochs)} epochs{f' ({steps} steps)' if steps else ''}, "
        f"{result.seconds:.0f} s training ({result.wall_seconds:.0f} s wall); "
        f"best {result.metric_name} {result.best_metric:.3f} at epoch {result.best_epoch}"
    )
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
        (args.save_dir / f"{kind}.ckpt").write_bytes(result.checkpoint)
    return checkpoint_loads(result.checkpoint, expected_sha256=result.checkpoint_sha256)


def _print_draws(name: str, fids: list[float], floor: float, *, goal: str = "") -> None:
    """One line: the mean digit-FID of the draws with their spread, its ratio to the floor and the draws' range."""
    mean, spread = statistics.fmean(fids), statistics.stdev(fids)
    print(
        f"  {name:<33}{mean:9.2f} ± {spread:.2f}   ratio to floor {mean / floor:5.2f}"
        f" ({goal}draws {min(fids) / floor:.2f} to {max(fids) / floor:.2f})"
    )


def bench_gan(args: argparse.Namespace, digits: DigitData) -> LoadedNet:
    loaded = _obtain("gan", args, digits)
    net = loaded.net
    classifier = metrics.digit_classifier(digits)
    test_features, test_predicted = metrics.classifier_features(classifier, digits.test_x)
    n = len(digits.train_x)
    labels = torch.arange(n) % 10
    generated = gan_sample_labels(net, labels, seed=args.seed + 1)  # type: ignore[arg-type]
    gen_features, gen_predicted = metrics.classifier_features(classifier, generated)
    train_features, _ = metrics.classifier_features(classifier, digits.train_x)
    gaussian = metrics.per_class_gaussian_samples(digits, labels, seed=args.seed + 2)
    pixels = metrics.independent_pixel_samples(digits, n, seed=args.seed + 3)
    floor = metrics.fid(train_features, test_features)

    # One draw of n generated digits scores a checkpoint give or take about 0.2x the floor (the Fréchet distance
    # of samples this size is mostly sampling noise), so the figure is the mean over several draws of the same
    # size as the floor's training sample, with their spread.
    def draw_fids(sample: Callable[[int], torch.Tensor], draws: range = range(GAN_FID_DRAWS)) -> list[float]:
        return [metrics.fid(metrics.classifier_features(classifier, sample(d))[0], test_features) for d in draws]

    gan_fids = [metrics.fid(gen_features, test_features)] + draw_fids(
        lambda d: gan_sample_labels(net, labels, seed=args.seed + 1 + 1000 * d),  # type: ignore[arg-type]
        range(1, GAN_FID_DRAWS),
    )
    # A "generator" answering each request with a random training digit of that class, drawn the same way.
    resampled_fids = draw_fids(lambda d: metrics.training_digit_samples(digits, labels, seed=args.seed + 4 + 1000 * d))
    gaussian_fid = metrics.fid(metrics.classifier_features(classifier, gaussian)[0], test_features)
    pixel_fid = metrics.fid(metrics.classifier_features(classifier, pixels)[0], test_features)
    gan_kid, gan_kid_spread = metrics.kid(gen_features, test_features, seed=args.seed)
    floor_kid, floor_kid_spread = metrics.kid(train_features, test_features, seed=args.seed)
    accuracy = float((gen_predicted == labels.numpy()).mean())
    real_accuracy = float((test_predicted == digits.test_y.numpy()).mean())
    generated_uint8 = ((generated.squeeze(1) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    nn_gen = metrics.nearest_train_distance(generated_uint8[:1000], digits.train_x)
    nn_test = metrics.nearest_train_distance(digits.test_x, digits.train_x)
    print(
        f"GAN digit-FID vs real test digits ({n} generated per draw, {len(digits.test_x)} test,"
        " 64-d classifier features):"
    )
    _print_draws(f"GAN, mean of {GAN_FID_DRAWS} draws", gan_fids, floor, goal="goal <= 1.5; ")
    print(f"  floor: real train vs real test   {floor:9.2f}")
    _print_draws("train digits drawn at random", resampled_fids, floor)
    print(f"  (each digit asked for is a random training digit of its class, {GAN_FID_DRAWS} draws of {n}: what a")
    print("  perfect sampler of the training digits would score; the floor uses each training digit once)")
    searched = loaded.extra.get("latent_scale_fids")
    if searched:
        tried = ", ".join(f"{scale} {value:.2f}" for scale, value in searched.items())
        scale = loaded.extra["latent_scale"]
        print(f"  (noise scaled by {scale:g}, chosen after training by digit-FID against the training digits:")
        print(f"  {tried})")
    bundled = (manifest().get("digit_classifier") or {}).get("weights_sha256")
    where = (
        "bundled in the repository, the same on every machine"
        if bundled == metrics.weights_sha256(classifier)
        else "trained on this machine at first use: another machine's gives other figures, so compare ratios"
    )
    print(f"  (classifier sha256 {metrics.weights_sha256(classifier)[:16]}…, {where})")
    print(f"  baseline: per-class Gaussian     {gaussian_fid:9.2f}")
    print(f"  baseline: independent pixels     {pixel_fid:9.2f}")
    print("Kernel distance (KID x 1000) vs real test digits, mean and spread over 50 subsets of 1000 (no bias from")
    print("  sample size, unlike FID: real digits of one distribution score about 0):")
    print(f"  GAN                              {gan_kid * 1e3:9.2f} ± {gan_kid_spread * 1e3:.2f}")
    print(f"  real train digits                {floor_kid * 1e3:9.2f} ± {floor_kid_spread * 1e3:.2f}")
    print(f"GAN conditional accuracy           {accuracy:9.1%}   (goal >= 97%)")
    print(f"  classifier accuracy on real test {real_accuracy:9.1%}")
    print(f"Nearest-train RMS pixel distance   GAN {nn_gen:.3f}   real test digits {nn_test:.3f}   (copies score 0)")
    return loaded


def bench_vae(args: argparse.Namespace, digits: DigitData) -> LoadedNet:
    loaded = _obtain("vae", args, digits)
    nats = metrics.vae_test_nats(loaded.net, digits.test_x, seed=args.seed)  # type: ignore[arg-type]
    train_bits = binarize(digits.train_x).flatten(1)
    test_bits = binarize(digits.test_x).flatten(1)
    p = (train_bits.sum(0) + 1.0) / (len(train_bits) + 2.0)
    independent = float(-(test_bits * p.log() + (1 - test_bits) * (1 - p).log()).sum(1).mean())
    print("VAE test -ELBO on binarized test digits, nats per image (lower is better):")
    print(f"  VAE                              {nats:9.2f}   (goal <= 90)")
    print(f"  baseline: independent pixels     {independent:9.2f}")
    return loaded


def bench_lm(args: argparse.Namespace, corpus: TextCorpus) -> LoadedNet:
    loaded = _obtain("lm", args, corpus)
    net = loaded.net
    train_text, test_text = text_split(corpus)
    nats = metrics.lm_nats_per_char(net, test_text)  # type: ignore[arg-type]
    baselines = metrics.ngram_baselines(train_text, test_text, net.config.vocab)  # type: ignore[union-attr]
    print(f"LM held-out nats per character ({corpus.name}, {len(test_text)} test characters):")
    print(f"  transformer                      {nats:9.3f}   (goal <= 4.3)")
    print(f"  baseline: bigram (abs. discount) {baselines.bigram:9.3f}")
    print(f"  baseline: unigram                {baselines.unigram:9.3f}")
    print(f"  baseline: uniform over vocab     {baselines.uniform:9.3f}")
    print(f"  sample: {lm_sample(net, prompt='', max_chars=60, temperature=0.8, top_k=None, seed=args.seed)!r}")  # type: ignore[arg-type]
    started = time.perf_counter()
    tunes = tune_table(train_text)
    figures = lm_figures(net, corpus, tunes=tunes, per_tune=5, max_chars=20_000, seed=args.seed)  # type: ignore[arg-type]
    print(
        f"Pieces to the {len(tunes)} most common tunes, 5 each, written from the tune's name alone "
        f"({time.perf_counter() - started:.0f} s):"
    )
    print(f"  in the tune's most common form, guided by it   {figures['guided_form_rate']:7.1%}   (goal >= 80%)")
    print(f"  in the tune's most common form, written freely {figures['free_form_rate']:7.1%}")
    print(f"  whole pieces, written freely                   {figures['whole_piece_rate']:7.1%}")
    corpus_rate = corpus_form_rate(corpus, tunes)
    print(f"  held-out pieces of the corpus in that form     {corpus_rate:7.1%}   (the corpus itself)")
    tune = tunes[0]
    piece = lm_sample_piece(net, tune=tune.name, form=tune.form, opening="", temperature=0.8, top_k=40, seed=args.seed)  # type: ignore[arg-type]
    print(f"  sample ({tune.name}, {tune.pattern()}): {piece}")
    return loaded


def bench_speed(nets: dict[str, LoadedNet]) -> None:
    print(f"Speed (CPU, {torch.get_num_threads()} thread(s), median of 5):")
    if "gan" in nets:
        seconds = _timed(lambda: gan_sample(nets["gan"].net, digit=3, count=64, seed=1))  # type: ignore[arg-type]
        print(f"  64 GAN digits                    {seconds * 1000:9.1f} ms")
    if "vae" in nets:
        seconds = _timed(lambda: vae_sample(nets["vae"].net, count=64, seed=1))  # type: ignore[arg-type]
        print(f"  64 VAE digits                    {seconds * 1000:9.1f} ms")
    if "lm" in nets:
        net = nets["lm"].net

        def sample(cache: bool) -> Callable[[], object]:
            return lambda: lm_sample(
                net,  # type: ignore[arg-type]
                prompt="",
                max_chars=200,
                temperature=1.0,
                top_k=None,
                seed=1,
                use_cache=cache,
                stop_at_newline=False,
            )

        cached, uncached = _timed(sample(True), repeat=3), _timed(sample(False), repeat=3)
        print(f"  200 LM characters, KV cache      {cached * 1000:9.1f} ms")
        print(f"  200 LM characters, no cache      {uncached * 1000:9.1f} ms")
        print(f"  KV-cache speed-up at 200 chars   {uncached / cached:9.2f}x  (goal >= 3x)")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _api(url: str, *, token: str = "", body: dict[str, object] | None = None) -> dict[str, object]:
    import urllib.request

    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    method = "POST" if body is not None else "GET"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (a local URL)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (a local URL of our own)
        return json.loads(response.read())  # type: ignore[no-any-return]


def bench_startup(net: object) -> None:
    """Time from starting the platform on its embedded default to the first GAN digit served, against one sampling.

    The same steps as ``make run`` once set up (migrate, demo data, run_platform) in a fresh data folder, then an
    end user's first job through the API, timed until its digit is stored and labelled.
    """
    import re
    import signal
    import subprocess
    import tempfile

    from benchmarks.scratch import platform_start

    one_call = _timed(lambda: gan_sample(net, digit=7, count=1, seed=1))  # type: ignore[arg-type]
    manage = str(BASE_DIR / "manage.py")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL") and not k.startswith("DJANGO_")
    }
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        env |= {"GENAI_DATA_DIR": folder, "DJANGO_SETTINGS_MODULE": "genai_platform.settings.base"}
        env["PYTHONUNBUFFERED"] = "1"
        port = _free_port()
        log_path = Path(folder) / "run.log"
        started = time.perf_counter()
        subprocess.run([sys.executable, manage, "migrate", "--noinput", "-v", "0"], env=env, check=True)
        demo = subprocess.run(
            [sys.executable, manage, "demo_data"], env=env, check=True, capture_output=True, text=True
        )
        found = re.search(r"^\s*enduser\s+\S+\s+(\S+)\s*$", demo.stdout, re.MULTILINE)
        if found is None:
            print(f"Start-up: the demo data printed no password for enduser:\n{demo.stdout}")
            return
        prepared = time.perf_counter()
        proc = platform_start(manage, env, port, log_path)
        try:
            base = f"http://localhost:{port}/"
            while base not in log_path.read_text() and proc.poll() is None:
                time.sleep(0.05)
            url_printed = time.perf_counter()
            token = _api(f"{base}api/v1/auth/token/", body={"username": "enduser", "password": found.group(1)})
            job = _api(f"{base}api/v1/jobs/", token=str(token["token"]), body={"kind": "gan", "params": {"digit": 7}})
            while job["status"] not in ("succeeded", "failed", "refused", "cancelled"):
                time.sleep(0.05)
                job = _api(str(job["url"]), token=str(token["token"]))
            served = time.perf_counter()
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=60)
    print("Start-up on the embedded default (migrate, demo data, run_platform), then one GAN digit through the API:")
    print(f"  migrate and demo data            {prepared - started:9.1f} s")
    print(f"  start until the URL is printed   {url_printed - prepared:9.1f} s")
    print(f"  URL printed to first digit       {served - url_printed:9.1f} s   (job {job['status']}; goal <= 60 s)")
    ratio = (served - url_printed) / one_call
    print(f"  one sampling call of one digit   {one_call * 1000:9.1f} ms  (first digit / one call: {ratio:,.0f}x)")


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = set(kinds) - {"gan", "vae", "lm"}
    if unknown:
        print(f"Unknown --only entries: {', '.join(sorted(unknown))} (use gan, vae, lm).")
        return 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), numpy {np.__version__}")
    digits = mnist5k() if {"gan", "vae"} & set(kinds) else None
    if digits is not None:
        sizes = f"{len(digits.train_x)} train / {len(digits.test_x)} test"
        print(f"digits: {digits.name}, {sizes}, sha256 {digits.fingerprint[:16]}…")
    nets: dict[str, LoadedNet] = {}
    if "gan" in kinds:
        assert digits is not None
        nets["gan"] = bench_gan(args, digits)
    if "vae" in kinds:
        assert digits is not None
        nets["vae"] = bench_vae(args, digits)
    if "lm" in kinds:
        corpus = songci()
        print(
            f"text: {corpus.name}, {len(corpus.text)} characters, sha256 {corpus.fingerprint[:16]}… ({corpus.source})"
        )
        nets["lm"] = bench_lm(args, corpus)
    # Speed is measured on the nets just trained or loaded (the weights' values do not change the cost).
    bench_speed(nets)
    if "gan" in nets and not args.train and not args.load_dir and not args.no_startup:
        bench_startup(nets["gan"].net)
    return 0


if __name__ == "__main__":
    sys.exit(main())
