"""Ship a byte transformer's float weights beside its integer model, for `mmcompress explain`.

    .venv/bin/python scripts/export_float_transformer.py [NAME]     (default: bytefmr-s)

Reads the training checkpoint ``checkpoints/NAME/last.pt`` (what `mmcompress train` leaves) and
writes ``models/NAME.float.safetensors``: the float32 weights and the model config. `explain
--model NAME:float` measures the float model's ideal cross-entropy from it (and checks that
quantising it gives the installed integer model exactly). Coding never uses it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mmcompress.explain.costs import FLOAT_FILE_FORMAT  # noqa: E402
from mmcompress.models import models_dir, save_model_file  # noqa: E402


def main(argv: list[str]) -> int:
    import torch

    name = argv[0] if argv else "bytefmr-s"
    checkpoint = ROOT / "checkpoints" / name / "last.pt"
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    tensors = {key: value.detach().float().numpy() for key, value in state["model"].items()}
    target = models_dir() / f"{name}.float.safetensors"
    info = {"from": f"checkpoints/{name}/last.pt", "step": state.get("step")}
    sha256 = save_model_file(target, tensors, FLOAT_FILE_FORMAT, dict(state["config"]), info)
    print(f"{target} ({target.stat().st_size} bytes, sha256 {sha256})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
