"""``mmcompress train``: train the byte transformer on a corpus, checkpoint, resume, export.

    mmcompress train CORPUS_DIR [CORPUS_DIR...] --out NAME [--size s|m|l] [--steps N] [--resume]

Progress goes to stderr, one line per ``--log-every`` steps. A checkpoint (model, optimiser, step,
random state) is written to ``checkpoints/NAME/last.pt`` every ``--checkpoint-minutes`` and at the
end; ``--resume`` continues from it with the same schedule. At the end the float model is measured
on the validation split, quantised (:func:`mmcompress.predictors.transformer.quantize`), the
integer model is measured too, and the integer weights are exported to
``models/NAME-<sha256[:8]>.safetensors`` with an entry in ``models/manifest.json``.
``--export-only`` does that last part from the newest checkpoint.

Training is quantisation-aware from the first step, so the two figures stay close.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..predictors import transformer as tfm
from . import data

SIZES: dict[str, tfm.TransformerConfig] = {
    "xs": tfm.TransformerConfig(d_model=96, n_layer=3, n_head=4, window=128),
    "s": tfm.TransformerConfig(d_model=128, n_layer=4, n_head=4, window=128),
    "m": tfm.TransformerConfig(d_model=192, n_layer=4, n_head=4, window=128),
    "l": tfm.TransformerConfig(d_model=256, n_layer=4, n_head=8, window=128),
}
LN2 = math.log(2.0)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mmcompress train", description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+", type=Path, help="folders of training files")
    parser.add_argument("--out", required=True, help="model name (checkpoints/NAME, models/NAME-*)")
    parser.add_argument("--size", default="s", choices=sorted(SIZES), help="model size preset")
    parser.add_argument("--steps", type=int, default=4000, help="optimiser steps in all")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training time budget: the schedule follows the clock, training stops when it runs out",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch threads on cpu")
    parser.add_argument(
        "--resume", action="store_true", help="continue from checkpoints/NAME/last.pt"
    )
    parser.add_argument("--checkpoint-minutes", type=float, default=5.0)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument(
        "--val-sequences", type=int, default=256, help="validation crops for the float eval"
    )
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument(
        "--models-dir", type=Path, default=None, help="export folder (default: models/)"
    )
    parser.add_argument("--no-export", action="store_true", help="train and checkpoint only")
    parser.add_argument(
        "--export-only", action="store_true", help="export the newest checkpoint, no training"
    )
    return parser.parse_args(argv)


def training_progress(step: int, seconds: float, args: argparse.Namespace) -> float:
    """How far along the run is, 0..1: by steps, or by the clock when ``--minutes`` is given."""
    by_steps = step / max(1, args.steps)
    if args.minutes is None:
        return min(1.0, by_steps)
    return min(1.0, max(by_steps, seconds / (60.0 * args.minutes)))


def learning_rate(step: int, progress: float, args: argparse.Namespace) -> float:
    """Linear warm-up over ``--warmup`` steps, then cosine decay to a tenth of the peak at the end."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    return args.lr * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def make_optimizer(model: torch.nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    # Weight decay on matrices only, not on embeddings (nanoGPT's split, embeddings kept out).
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "emb" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "emb" not in n)]
    groups = [
        {"params": decay, "weight_decay": args.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.95))


@torch.no_grad()
def float_bits_per_byte(
    model: tfm.ByteTransformerModel, batches: list[tuple[torch.Tensor, ...]], device: str
) -> float:
    model.eval()
    total_nats, total_bytes = 0.0, 0
    for inputs, targets, tags in batches:
        logits = model(inputs.to(device), tags.to(device))
        nats = torch.nn.functional.cross_entropy(
            logits.flatten(0, 1), targets.to(device).flatten(), reduction="sum"
        )
        total_nats += float(nats)
        total_bytes += targets.numel()
    model.train()
    return total_nats / total_bytes / LN2


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    pixel_modalities = ("image", "video")
    if (
        any(a in (f"--modality={m}" for m in pixel_modalities) for a in arguments)
        or "--modality" in arguments
        and (arguments[arguments.index("--modality") + 1 :][:1] in (["image"], ["video"]))
    ):
        # The pixel models (image, and video: fine-tuned on frame pairs): train/pixels.py.
        from .pixels import main as train_pixels

        return train_pixels(arguments)
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    run_dir = args.checkpoints / args.out
    checkpoint_path = run_dir / "last.pt"
    try:
        folders = data.training_folders(args.corpus)
    except ValueError as exc:
        log(f"error: {exc}")
        return 2

    t0 = time.time()
    train_pieces, val_pieces = data.load_split(folders)
    log(
        f"data: {train_pieces.size_bytes / 1e6:.1f} MB train, {val_pieces.size_bytes / 1e6:.2f} MB validation "
        f"({time.time() - t0:.1f} s)"
    )
    val_batches = data.fixed_batches(val_pieces, args.val_sequences, args.seq_len, args.batch_size)

    config = SIZES[args.size]
    step = 0
    train_seconds = 0.0  # time spent in the training loop, over all resumes
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    resumed: dict[str, Any] | None = None
    if args.resume or args.export_only:
        if not checkpoint_path.is_file():
            log(f"error: no checkpoint at {checkpoint_path}")
            return 2
        resumed = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        config = tfm.TransformerConfig(**resumed["config"])
    model = tfm.ByteTransformerModel(config).to(args.device)
    optimizer = make_optimizer(model, args)
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        optimizer.load_state_dict(resumed["optimizer"])
        step = int(resumed["step"])
        train_seconds = float(resumed.get("train_seconds", 0.0))
        rng.bit_generator.state = resumed["rng"]
        torch.set_rng_state(resumed["torch_rng"])
        log(f"resumed {checkpoint_path} at step {step}")
    params = sum(p.numel() for p in model.parameters())
    log(
        f"model: {asdict(config)}, {params / 1e6:.2f} M parameters, device {args.device}, threads {args.threads}"
    )

    def checkpoint() -> None:
        save_checkpoint(checkpoint_path, {
            "config": asdict(config), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "train_seconds": train_seconds, "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "args": {k: str(v) for k, v in vars(args).items()}, "corpus": [str(f) for f in folders],
        })  # fmt: skip

    if not args.export_only:
        model.train()
        last_checkpoint = time.time()
        window_loss, window_start = 0.0, time.time()
        loop_start = time.time() - train_seconds
        while training_progress(step, train_seconds, args) < 1.0:
            lr = learning_rate(step, training_progress(step, train_seconds, args), args)
            for group in optimizer.param_groups:
                group["lr"] = lr
            inputs, targets, tags = data.sample_batch(
                train_pieces, args.batch_size, args.seq_len, rng
            )
            logits = model(inputs.to(args.device), tags.to(args.device))
            loss = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), targets.to(args.device).flatten()
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            train_seconds = time.time() - loop_start
            finished = training_progress(step, train_seconds, args) >= 1.0
            window_loss += float(loss.detach())
            if step % args.log_every == 0:
                elapsed = time.time() - window_start
                log(
                    f"step {step}  {100 * training_progress(step, train_seconds, args):.1f}%  train {window_loss / args.log_every / LN2:.3f} bits/byte  "
                    f"lr {lr:.2e}  {elapsed / args.log_every:.2f} s/step"
                )
                window_loss, window_start = 0.0, time.time()
            if step % args.eval_every == 0 or finished:
                log(
                    f"step {step}  validation {float_bits_per_byte(model, val_batches, args.device):.4f} bits/byte (float)"
                    f"  {train_seconds / 60:.1f} min"
                )
            if time.time() - last_checkpoint > 60 * args.checkpoint_minutes or finished:
                checkpoint()
                last_checkpoint = time.time()
                log(f"checkpoint {checkpoint_path} (step {step})")

    if args.no_export:
        return 0
    val_float = float_bits_per_byte(model, val_batches, args.device)
    log(
        f"validation {val_float:.4f} bits/byte (float); quantising and measuring the integer model..."
    )
    run = resumed["args"] if resumed is not None else {k: str(v) for k, v in vars(args).items()}
    command = f"mmcompress train {' '.join(str(f) for f in args.corpus)} --out {args.out}"
    for option in ("size", "steps", "minutes", "batch_size", "seq_len", "lr", "seed"):
        if run.get(option) not in (None, "None"):
            command += f" --{option.replace('_', '-')} {run[option]}"
    extra = {
        "command": command,
        "train_seconds": round(train_seconds),
        "batch_size": int(run["batch_size"]),
        "seq_len": int(run["seq_len"]),
        "val_sequences": args.val_sequences,
    }
    record = export_model(
        model.cpu(), name=args.out, steps=step, val_batches=val_batches, val_bpb_float=val_float,
        training_data=[str(f) for f in args.corpus], models_dir=args.models_dir, extra=extra,
    )  # fmt: skip
    log(json.dumps(record, indent=1))
    return 0


def integer_bits_per_byte(
    model: tfm.IntByteTransformer, batches: list[tuple[torch.Tensor, ...]]
) -> float:
    """Ideal code length of the integer model's frequency tables on the validation crops."""
    total_bits, total_bytes = 0.0, 0
    for inputs, targets, tags in batches:
        cache = model.new_cache(inputs.shape[0])
        per_call = tfm.positions_per_call(inputs.shape[0])
        for lo in range(0, inputs.shape[1], per_call):
            hi = lo + per_call
            logits = model.forward(inputs[:, lo:hi], tags, cache)
            tables = model.freq_tables(logits.flatten(0, 1))
            picked = tables[np.arange(len(tables)), targets[:, lo:hi].flatten().numpy()]
            total_bits += float(np.sum(tfm.PRECISION_BITS - np.log2(picked.astype(np.float64))))
            total_bytes += len(picked)
    return total_bits / total_bytes


def export_model(
    model: tfm.ByteTransformerModel,
    *,
    name: str,
    steps: int,
    val_batches: list[tuple[torch.Tensor, ...]],
    val_bpb_float: float,
    training_data: list[str],
    models_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Quantise, measure the integer model, write ``models/NAME-<sha8>.safetensors`` + manifest entry."""
    from ..models import MANIFEST_NAME
    from ..models import models_dir as default_models_dir

    folder = Path(models_dir) if models_dir is not None else default_models_dir()
    model.eval()
    tensors = tfm.quantize(model)
    int_model = tfm.IntByteTransformer(model.config, tensors)
    val_bpb_int = integer_bits_per_byte(int_model, val_batches)
    info = {
        "name": name,
        "steps": steps,
        "val_bpb_float": round(val_bpb_float, 4),
        "val_bpb_int": round(val_bpb_int, 4),
    }
    temporary = folder / f".{name}.tmp.safetensors"
    sha256 = tfm.save_int_model(temporary, tensors, model.config, info)
    file_name = f"{name}-{sha256[:8]}.safetensors"
    os.replace(temporary, folder / file_name)
    os.chmod(folder / file_name, 0o644)
    record = {
        "name": name,
        "kind": tfm.ByteTransformer.kind,
        "description": (
            f"byte transformer d={model.config.d_model}, {model.config.n_layer} layers, "
            f"window {model.config.window}, int8 integer-exact; see models/README.md"
        ),
        "file": file_name,
        "sha256": sha256,
        "size_bytes": (folder / file_name).stat().st_size,
        "config": asdict(model.config),
        "parameters": sum(p.numel() for p in model.parameters()),
        "training_data": training_data,
        "steps": steps,
        "val_bpb_float": round(val_bpb_float, 4),
        "val_bpb_int": round(val_bpb_int, 4),
        "precision_bits": tfm.PRECISION_BITS,
        "predictor_config": tfm.ByteTransformer(int_model, name, sha256).config(),
        **(extra or {}),
    }
    manifest_path = folder / MANIFEST_NAME
    records = (
        json.loads(manifest_path.read_text(encoding="utf-8")).get("models", [])
        if manifest_path.is_file()
        else []
    )
    records = [r for r in records if r.get("name") != name] + [record]
    manifest_tmp = manifest_path.with_suffix(".tmp")
    manifest_tmp.write_text(
        json.dumps({"models": records}, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    os.replace(manifest_tmp, manifest_path)
    return record
