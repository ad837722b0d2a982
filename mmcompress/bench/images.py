"""`mmcompress bench --images`: bits per pixel of mmcompress against PNG, WebP lossless and JPEG XL.

    run_image_bench(paths) ──► for each image (folders expanded to their raster files, sorted):
        read pixels (imagecodecs.imread; grey palettes reduced to 8-bit grey, as BASELINES.md)
        mmcompress pack ─┐ each in a fresh child process (bench/worker.py): best-of-N wall time,
        mmcompress unpack┘ peak RSS, byte-exact round trip; the path taken ("pixels" / "bytes")
                           read back from the archive with `list_archive`
        rivals, in this process, with the calls of ../shared/corpus/BASELINES.md ("Image
        baselines"), each decoded again and compared with numpy.array_equal:
            PNG      oxipng -o max --strip all if pyoxipng is installed, else the file as stored
            WebP     lossless, quality 100, method 6 (Pillow), 8-bit images only
            JXL e7   imagecodecs.jpegxl_encode(a, lossless=True, effort=7, numthreads=1)
            JXL e9   the same at effort 9
    ──► ImageBenchResult ──► text table, CSV, JSON, Markdown (for BENCHMARKS.md), PNG plot

bpp = compressed bytes × 8 / (width × height): whole files, headers included, all channels
together. A set is the folder given on the command line (kodak, waterloo...); its `mean` is the
unweighted mean of its images' bpp (as BASELINES.md reports) and `mmc/JXL e7` the ratio of total
bytes. Times are wall seconds per megapixel: mmcompress's in a fresh process per pack and unpack
(best of --repeat; with 1 the call is cold, model loading included), the rivals' around the encode
and decode calls alone. mmcompress is measured at the default promise (byte-exact: images take the
pixel path when the level's recipe has a pixel codec and the serializer can rebuild the file), or
with --pixels at the pixel-exact one (the unpacked PNG's pixels are compared with the input's).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import importlib
import io
import json
import os
import platform
import shlex
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mmcompress.bench.results import BYTES_PER_MB
from mmcompress.bench.worker import DEFAULT_API
from mmcompress.errors import InputError, MmcError

MMC = "mmc"
PNG, WEBP, JXL_E7, JXL_E9 = "png", "webp", "jxl_e7", "jxl_e9"
RIVALS = (PNG, WEBP, JXL_E7, JXL_E9)
#: The sets measured when no path is given (BASELINES.md's image sets).
DEFAULT_SETS = ("kodak", "waterloo", "imagecompression")
#: Where those sets live: ../shared/corpus from the repository root (as the Makefile says), or
#: next to the checkout this module belongs to.
CORPUS_IMAGES = Path("shared", "corpus", "bench", "images")
#: Raster files a folder contributes (JPEG and other lossy files are left out: their pixels are
#: not what the lossless rivals are compared on). A file named explicitly is always measured.
IMAGE_SUFFIXES = frozenset(
    {".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".gif", ".webp"}
)
PIXELS_PER_MEGAPIXEL = 1_000_000
MISSING = "–"


# --------------------------------------------------------------------------- results


@dataclass
class CodecResult:
    """One codec on one image. `size_bytes` None: not measured (see `note`)."""

    size_bytes: int | None
    encode_seconds: float | None = None  # wall; best of `repeat`
    decode_seconds: float | None = None
    encode_cpu_seconds: float | None = None  # process CPU time of that best call
    decode_cpu_seconds: float | None = None
    roundtrip_ok: bool = True  # False: decoded data differ, or mmcompress failed
    peak_mb: float | None = None  # mmcompress: peak RSS of its pack and unpack processes
    path_taken: str | None = None  # mmcompress: "pixels", "pixels-png", "bytes" (list_archive)
    note: str | None = None  # why not measured, or the error


@dataclass
class ImageResult:
    """Everything measured on one image."""

    name: str  # path relative to the folder given, as the tables show it
    path: str
    set_name: str  # the folder given: kodak, waterloo...
    width: int
    height: int
    channels: int  # of the pixels the rivals were given (grey palettes: 1)
    bits_per_sample: int  # 8 or 16
    file_bytes: int  # the stored file
    codecs: dict[str, CodecResult] = field(default_factory=dict)  # mmc first, then the rivals

    @property
    def pixel_count(self) -> int:
        return self.width * self.height

    @property
    def megapixels(self) -> float:
        return self.pixel_count / PIXELS_PER_MEGAPIXEL

    def bits_per_pixel(self, codec: str) -> float | None:
        result = self.codecs.get(codec)
        if result is None or result.size_bytes is None:
            return None
        return result.size_bytes * 8 / self.pixel_count

    def seconds(self, codec: str, action: str) -> float | None:
        """Wall seconds of `action` ("encode" or "decode"); None if not timed."""
        result = self.codecs.get(codec)
        if result is None:
            return None
        return result.encode_seconds if action == "encode" else result.decode_seconds

    def seconds_per_mp(self, codec: str, action: str) -> float | None:
        """Wall seconds per megapixel of `action` ("encode" or "decode")."""
        seconds = self.seconds(codec, action)
        return None if seconds is None else seconds / self.megapixels

    @property
    def mmc_to_jxl_e7(self) -> float | None:
        """mmcompress bytes / JPEG XL effort 7 bytes: below 1, mmcompress is smaller."""
        mmc, jxl = self.codecs.get(MMC), self.codecs.get(JXL_E7)
        if mmc is None or jxl is None or mmc.size_bytes is None or not jxl.size_bytes:
            return None
        return mmc.size_bytes / jxl.size_bytes

    @property
    def roundtrip_ok(self) -> bool:
        return all(result.roundtrip_ok for result in self.codecs.values())

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ImageResult:
        codecs = {key: CodecResult(**value) for key, value in record.pop("codecs").items()}
        return cls(**record, codecs=codecs)


@dataclass
class SetSummary:
    """The images of one set, summed up."""

    name: str
    image_count: int
    megapixels: float
    mean_bpp: dict[str, float | None]  # unweighted mean over the images the codec measured
    aggregate_bpp: dict[str, float | None]  # total bits / total pixels of those images
    measured_count: dict[str, int]  # images each codec measured (WebP: 8-bit ones only)
    total_bytes: dict[str, int]
    encode_s_per_mp: dict[str, float | None]
    decode_s_per_mp: dict[str, float | None]
    mmc_to_jxl_e7: float | None  # total mmcompress bytes / total JXL e7 bytes (same images)
    paths_taken: dict[str, int]  # mmcompress: "pixels" -> image count
    peak_mb: float | None
    roundtrip_ok: bool


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(set_name: str, images: list[ImageResult], codecs: Sequence[str]) -> SetSummary:
    """Means, totals, speeds and the mmcompress / JXL e7 ratio of one set's images."""
    mean_bpp: dict[str, float | None] = {}
    aggregate_bpp: dict[str, float | None] = {}
    measured: dict[str, int] = {}
    totals: dict[str, int] = {}
    encode_speed: dict[str, float | None] = {}
    decode_speed: dict[str, float | None] = {}
    for codec in codecs:
        done = [image for image in images if image.bits_per_pixel(codec) is not None]
        measured[codec] = len(done)
        mean_bpp[codec] = _mean([image.bits_per_pixel(codec) or 0.0 for image in done])
        totals[codec] = sum(image.codecs[codec].size_bytes or 0 for image in done)
        pixels = sum(image.pixel_count for image in done)
        aggregate_bpp[codec] = totals[codec] * 8 / pixels if pixels else None
        for action, speeds in (("encode", encode_speed), ("decode", decode_speed)):
            seconds = [image.seconds(codec, action) for image in done]
            known = [second for second in seconds if second is not None]
            megapixels = sum(image.megapixels for image in done)
            timed = bool(done) and len(known) == len(done)
            speeds[codec] = sum(known) / megapixels if timed else None
    both = [
        image
        for image in images
        if image.bits_per_pixel(MMC) is not None and image.bits_per_pixel(JXL_E7) is not None
    ]
    jxl_bytes = sum(image.codecs[JXL_E7].size_bytes or 0 for image in both)
    mmc_bytes = sum(image.codecs[MMC].size_bytes or 0 for image in both)
    mmc_results = [image.codecs[MMC] for image in images if MMC in image.codecs]
    peaks = [result.peak_mb for result in mmc_results if result.peak_mb is not None]
    paths = Counter(result.path_taken or "unknown" for result in mmc_results)
    return SetSummary(
        name=set_name,
        image_count=len(images),
        megapixels=sum(image.megapixels for image in images),
        mean_bpp=mean_bpp,
        aggregate_bpp=aggregate_bpp,
        measured_count=measured,
        total_bytes=totals,
        encode_s_per_mp=encode_speed,
        decode_s_per_mp=decode_speed,
        mmc_to_jxl_e7=mmc_bytes / jxl_bytes if jxl_bytes else None,
        paths_taken=dict(sorted(paths.items())),
        peak_mb=max(peaks) if peaks else None,
        roundtrip_ok=all(image.roundtrip_ok for image in images),
    )


@dataclass
class ImageBenchMeta:
    """How the image benchmark was run."""

    command: str
    date: str  # ISO 8601, UTC
    level: int | None  # None: the default level
    resolved_level: int
    pixel_codec: bool  # whether that level's recipe has a pixel codec (else: byte path)
    repeat: int
    codecs: list[str]  # column order: mmc first
    labels: dict[str, str]  # codec key -> column title
    implementations: dict[str, str]  # codec key -> exact call and library versions
    timing: str
    mmcompress_version: str
    api_module: str
    python: str
    platform: str
    cpu_count: int
    promise: str = "byte-exact"  # or "pixel-exact" (--pixels: same pixels, PNG re-encoded)


@dataclass
class ImageBenchResult:
    """A whole image benchmark run."""

    meta: ImageBenchMeta
    images: list[ImageResult] = field(default_factory=list)

    @property
    def sets(self) -> list[SetSummary]:
        """One summary per set, in the order the sets first appear."""
        by_set: dict[str, list[ImageResult]] = {}
        for image in self.images:
            by_set.setdefault(image.set_name, []).append(image)
        return [summarize(name, images, self.meta.codecs) for name, images in by_set.items()]

    @property
    def roundtrip_ok(self) -> bool:
        return all(image.roundtrip_ok for image in self.images)

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": asdict(self.meta),
            "images": [asdict(image) for image in self.images],
            "sets": [asdict(summary) for summary in self.sets],
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> ImageBenchResult:
        """Inverse of to_dict (the set summaries are recomputed from the images)."""
        return cls(
            ImageBenchMeta(**record["meta"]),
            [ImageResult.from_dict(dict(image)) for image in record["images"]],
        )


# --------------------------------------------------------------------------- finding the images


@dataclass(frozen=True)
class ImageInput:
    path: Path
    name: str
    set_name: str


def default_paths() -> list[Path]:
    """The three photo sets, from ../shared (the working folder's or the checkout's)."""
    for base in (Path.cwd().parent, Path(__file__).resolve().parents[3]):
        root = base / CORPUS_IMAGES
        if all((root / name).is_dir() for name in DEFAULT_SETS):
            return [root / name for name in DEFAULT_SETS]
    raise FileNotFoundError(
        f"no image sets at ../{CORPUS_IMAGES.as_posix()}/{{{','.join(DEFAULT_SETS)}}}: "
        "give the images or folders to measure"
    )


def collect_images(paths: Sequence[str | Path]) -> list[ImageInput]:
    """Folders expand to their raster files (by suffix, sorted); a file named is always measured.

    Raises FileNotFoundError for a path that does not exist.
    """
    inputs = []
    for given in map(Path, paths):
        if given.is_file():
            inputs.append(ImageInput(given, given.name, given.resolve().parent.name))
            continue
        if not given.is_dir():
            raise FileNotFoundError(f"no such file or folder: {given}")
        set_name = given.resolve().name
        found = [
            path
            for path in given.rglob("*")
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
        ]
        for path in sorted(found, key=lambda path: path.relative_to(given).as_posix()):
            inputs.append(ImageInput(path, path.relative_to(given).as_posix(), set_name))
    return inputs


# --------------------------------------------------------------------------- pixels


@dataclass
class Pixels:
    """An image's pixels as the rivals get them, and its stored file."""

    array: np.ndarray  # (H, W) or (H, W, C), uint8 or uint16
    as_read: np.ndarray  # what imread gave (a palette image expanded to RGB)
    data: bytes  # the stored file
    is_png: bool


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_pixels(path: Path) -> Pixels:
    """imagecodecs.imread of `path`; an RGB array whose channels are all equal (a grey
    palette) becomes 8-bit grey, as BASELINES.md did before WebP and JPEG XL."""
    import imagecodecs

    data = path.read_bytes()
    try:
        as_read = np.asarray(imagecodecs.imread(data))
    except Exception as error:  # imagecodecs raises its codecs' own error types
        raise InputError(f"{path}: cannot read its pixels ({error})") from None
    array = as_read
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    elif array.ndim == 3 and array.shape[2] == 3 and _channels_equal(array):
        array = np.ascontiguousarray(array[..., 0])
    if array.ndim not in (2, 3) or array.dtype not in (np.uint8, np.uint16) or array.size == 0:
        raise InputError(f"{path}: pixels of shape {array.shape} {array.dtype} not supported")
    return Pixels(array, as_read, data, data.startswith(PNG_SIGNATURE))


def _channels_equal(array: np.ndarray) -> bool:
    return bool(np.array_equal(array[..., 0], array[..., 1])) and bool(
        np.array_equal(array[..., 0], array[..., 2])
    )


def _as_rgba(array: np.ndarray) -> np.ndarray | None:
    """(H, W, 4): grey repeated into R, G, B; a missing alpha fully opaque (None: not pixels)."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        return None
    if not np.issubdtype(array.dtype, np.integer):
        return None
    channels = array.shape[2]
    colour = array[..., :3] if channels >= 3 else np.repeat(array[..., :1], 3, axis=2)
    if channels in (2, 4):
        alpha = array[..., -1:]
    else:
        alpha = np.full((*array.shape[:2], 1), np.iinfo(array.dtype).max, array.dtype)
    return np.concatenate([colour, alpha], axis=2)


def same_pixels(decoded: np.ndarray, expected: np.ndarray) -> bool:
    """numpy.array_equal, allowing a codec to change only the layout of the same pixels: grey as
    equal R, G, B (WebP decodes grey as RGB), or an opaque alpha channel added or dropped."""
    decoded, expected = np.asarray(decoded), np.asarray(expected)
    if decoded.dtype != expected.dtype:
        return False
    if decoded.shape == expected.shape:
        return bool(np.array_equal(decoded, expected))
    decoded_rgba, expected_rgba = _as_rgba(decoded), _as_rgba(expected)
    if decoded_rgba is None or expected_rgba is None:
        return False
    return bool(np.array_equal(decoded_rgba, expected_rgba))


# --------------------------------------------------------------------------- the rivals


@dataclass(frozen=True)
class Rival:
    """A lossless image codec as BASELINES.md called it."""

    key: str
    label: str
    call: str  # the exact call, for the report
    encode: Callable[[Pixels], bytes]
    decode: Callable[[bytes], np.ndarray]
    expected: Callable[[Pixels], np.ndarray] = lambda pixels: pixels.array
    stored: Callable[[Pixels], bool] = lambda pixels: False  # encode returns the stored file
    skip: Callable[[Pixels], str | None] = lambda pixels: None  # why this image is not measured


def _oxipng_module() -> Any:
    try:
        return importlib.import_module("oxipng")
    except ImportError:
        return None


def _png_rival() -> Rival:
    import imagecodecs

    oxipng = _oxipng_module()
    if oxipng is not None:
        return Rival(
            PNG,
            "PNG oxipng -o max",
            "oxipng.optimize_from_memory(data, level=6, strip=oxipng.StripChunks.all()), "
            f"pyoxipng {_version('pyoxipng')}",
            lambda pixels: bytes(
                oxipng.optimize_from_memory(
                    pixels.data if pixels.is_png else imagecodecs.png_encode(pixels.array),
                    level=6,
                    strip=oxipng.StripChunks.all(),
                )
            ),
            imagecodecs.png_decode,
            expected=lambda pixels: pixels.as_read if pixels.is_png else pixels.array,
        )
    return Rival(
        PNG,
        "PNG as stored",
        "the stored file's size (pyoxipng is not installed: no optimised PNG); a file that is "
        f"not a PNG: imagecodecs.png_encode(a, level=9), {imagecodecs.png_version()}",
        lambda pixels: (
            pixels.data if pixels.is_png else bytes(imagecodecs.png_encode(pixels.array, level=9))
        ),
        imagecodecs.png_decode,
        expected=lambda pixels: pixels.as_read if pixels.is_png else pixels.array,
        stored=lambda pixels: pixels.is_png,
    )


def _webp_encode(pixels: Pixels) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.array).save(buffer, format="WEBP", lossless=True, quality=100, method=6)
    return buffer.getvalue()


def _webp_decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image)


def _jxl_rival(key: str, effort: int) -> Rival:
    import imagecodecs

    return Rival(
        key,
        f"JXL e{effort}",
        f"imagecodecs.jpegxl_encode(a, lossless=True, effort={effort}, numthreads=1), "
        f"imagecodecs {imagecodecs.__version__}, {imagecodecs.jpegxl_version()}",
        lambda pixels: bytes(
            imagecodecs.jpegxl_encode(pixels.array, lossless=True, effort=effort, numthreads=1)
        ),
        lambda data: np.asarray(imagecodecs.jpegxl_decode(data, numthreads=1)),
    )


def make_rivals(keys: Sequence[str] = RIVALS) -> list[Rival]:
    """The rivals named by `keys`, in RIVALS order."""
    from PIL import __version__ as pillow_version
    from PIL import features

    webp = Rival(
        WEBP,
        "WebP LL",
        "PIL.Image.fromarray(a).save(buf, format='WEBP', lossless=True, quality=100, method=6), "
        f"Pillow {pillow_version}, libwebp {features.version('webp')}",
        _webp_encode,
        _webp_decode,
        skip=lambda pixels: "WebP has no 16-bit mode" if pixels.array.dtype != np.uint8 else None,
    )
    builders: dict[str, Callable[[], Rival]] = {
        PNG: _png_rival,
        WEBP: lambda: webp,
        JXL_E7: lambda: _jxl_rival(JXL_E7, 7),
        JXL_E9: lambda: _jxl_rival(JXL_E9, 9),
    }
    return [builders[key]() for key in RIVALS if key in keys]


def _timed(call: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """The result of `call`, with its fastest wall time of `repeat` runs and that run's CPU time."""
    best_wall, best_cpu, output = float("inf"), 0.0, None
    for _ in range(max(1, repeat)):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        output = call()
        wall, cpu = time.perf_counter() - wall_start, time.process_time() - cpu_start
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    return output, best_wall, best_cpu


def measure_rival(rival: Rival, pixels: Pixels, repeat: int = 1) -> CodecResult:
    """Encode (timed), decode (timed) and compare with the pixels; a codec error is a note."""
    reason = rival.skip(pixels)
    if reason is not None:
        return CodecResult(None, note=reason)
    stored = rival.stored(pixels)
    try:
        encoded, encode_wall, encode_cpu = _timed(lambda: rival.encode(pixels), repeat)
        decoded, decode_wall, decode_cpu = _timed(lambda: rival.decode(encoded), repeat)
    except Exception as error:  # a codec library's own error: recorded, not fatal
        return CodecResult(None, note=f"{type(error).__name__}: {error}")
    same = same_pixels(decoded, rival.expected(pixels))
    return CodecResult(
        len(encoded),
        encode_seconds=None if stored else encode_wall,  # the stored file: nothing was encoded
        decode_seconds=decode_wall,
        encode_cpu_seconds=None if stored else encode_cpu,
        decode_cpu_seconds=decode_cpu,
        roundtrip_ok=same,
        note=None if same else "decoded pixels differ from the input",
    )


# --------------------------------------------------------------------------- mmcompress


def measure_mmcompress(
    path: Path,
    data: bytes,
    *,
    level: int | None,
    repeat: int = 1,
    api_module: str = DEFAULT_API,
    expected_pixels: np.ndarray | None = None,
) -> CodecResult:
    """Pack and unpack `path` in fresh child processes; the path taken from the archive listing.

    The round trip is byte-exact, or with `expected_pixels` (the --pixels promise) the unpacked
    file's pixels must equal them.
    """
    from mmcompress.bench.runner import _run_worker

    with tempfile.TemporaryDirectory(prefix="mmc-bench-images-") as folder:
        packed, unpacked = Path(folder) / f"{path.name}.mmc", Path(folder) / path.name
        options: dict[str, Any] = dict(
            level=level, name=path.name, repeat=repeat, api_module=api_module
        )
        pack = _run_worker("pack", path, packed, **options)
        if pack.error is not None:
            return CodecResult(None, roundtrip_ok=False, note=pack.error)
        size = packed.stat().st_size
        path_taken = _path_taken(packed, api_module)
        unpack = _run_worker("unpack", packed, unpacked, **options)
        same = unpack.error is None and (
            unpacked.read_bytes() == data
            if expected_pixels is None
            else _same_file_pixels(unpacked, expected_pixels)
        )
    peaks = [
        peak / BYTES_PER_MB
        for peak in (pack.peak_rss_bytes, unpack.peak_rss_bytes)
        if peak is not None
    ]
    what = "bytes" if expected_pixels is None else "pixels"
    note = unpack.error or (None if same else f"round trip: unpacked {what} differ from the input")
    return CodecResult(
        size,
        encode_seconds=pack.seconds,
        decode_seconds=unpack.seconds,
        encode_cpu_seconds=pack.cpu_seconds,
        decode_cpu_seconds=unpack.cpu_seconds,
        roundtrip_ok=same,
        peak_mb=max(peaks) if peaks else None,
        path_taken=path_taken,
        note=note,
    )


def _same_file_pixels(path: Path, expected: np.ndarray) -> bool:
    import imagecodecs

    try:
        return same_pixels(np.asarray(imagecodecs.imread(path.read_bytes())), expected)
    except Exception:  # not an image imagecodecs can read: not the same pixels
        return False


# The API the workers call under --pixels (`--api mmcompress.bench.images`): mmcompress.api with
# the pixel-exact promise. The worker imports this module before it starts timing.
PIXELS_API = __name__


def compress(data: bytes, *, level: int | None = None, name: str = "") -> bytes:
    """mmcompress.api.compress(..., pixels=True): same pixels and metadata, PNG on unpack."""
    from mmcompress import api

    return api.compress(data, level=level, name=name, pixels=True)


def decompress(blob: bytes) -> bytes:
    from mmcompress import api

    return api.decompress(blob)


def list_archive(path: str | os.PathLike[str]) -> Any:
    from mmcompress import api

    return api.list_archive(path)


def _path_taken(archive: Path, api_module: str) -> str:
    """The one entry's path_taken in `list_archive` ("unknown" if the API cannot say)."""
    try:
        listing = importlib.import_module(api_module).list_archive(archive)
        return str(listing.entries[0].path_taken or "unknown")
    except Exception:  # a fake API in tests, or an archive the lister refuses
        return "unknown"


# --------------------------------------------------------------------------- the run


def _version(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _level_facts(level: int | None) -> tuple[int, bool]:
    from mmcompress.levels import recipe

    chosen = recipe(level)
    return chosen.level, chosen.pixel is not None


def run_image_bench(
    paths: Sequence[str | Path] | None = None,
    *,
    level: int | None = None,
    rivals: Sequence[str] = RIVALS,
    repeat: int = 1,
    progress: bool = True,
    api_module: str = DEFAULT_API,
    command: str | None = None,
    pixels: bool = False,
) -> ImageBenchResult:
    """Measure mmcompress (at `level`, None = default) and the `rivals` on every image.

    `paths` None: the three photo sets (default_paths). `pixels`: mmcompress under the
    pixel-exact promise (`--pixels`: the unpacked PNG must hold the same pixels), through
    PIXELS_API instead of `api_module`. Raises FileNotFoundError for a missing path, InputError
    for a file whose pixels cannot be read.
    """
    from mmcompress.bench.runner import _mmcompress_version

    inputs = collect_images(default_paths() if paths is None else paths)
    chosen = make_rivals(rivals)
    resolved_level, pixel_codec = _level_facts(level)
    codecs = [MMC, *(rival.key for rival in chosen)]
    mmc_label = "mmcompress" if level is None else f"mmcompress -{level}"
    if pixels:
        api_module, mmc_label = PIXELS_API, f"{mmc_label} --pixels"
    meta = ImageBenchMeta(
        command=command or shlex.join(["mmcompress", "bench", "--images", *map(str, paths or [])]),
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        level=level,
        resolved_level=resolved_level,
        pixel_codec=pixel_codec,
        repeat=max(1, repeat),
        codecs=codecs,
        labels={MMC: mmc_label, **{rival.key: rival.label for rival in chosen}},
        implementations={
            MMC: (
                f"mmcompress.api.compress(data, level={level}, name=file name, pixels=True) and "
                ".decompress: pixel-exact promise (unpacked PNG checked pixel by pixel)"
                if pixels
                else f"{api_module}.compress(data, level={level}, name=file name) and "
                ".decompress: default byte-exact promise"
            ),
            **{rival.key: rival.call for rival in chosen},
        },
        timing=(
            "wall seconds per megapixel, best of "
            f"{max(1, repeat)}; mmcompress: each pack and unpack in a fresh process "
            f"({'cold: model loading included' if repeat <= 1 else 'warm'}), API defaults; "
            "rivals: in-process, around the encode / decode call only, one thread"
        ),
        mmcompress_version=_mmcompress_version(),
        api_module=api_module,
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        cpu_count=os.cpu_count() or 1,
        promise="pixel-exact" if pixels else "byte-exact",
    )
    result = ImageBenchResult(meta)
    for index, image_input in enumerate(inputs, 1):
        started = time.perf_counter()
        image = measure_image(
            image_input,
            chosen,
            level=level,
            repeat=repeat,
            api_module=api_module,
            pixel_promise=pixels,
        )
        result.images.append(image)
        if progress:
            sys.stderr.write(
                f"[{index}/{len(inputs)}] {_progress_line(image, codecs)} "
                f"({time.perf_counter() - started:.1f} s)\n"
            )
            sys.stderr.flush()
    return result


def measure_image(
    image_input: ImageInput,
    rivals: Sequence[Rival],
    *,
    level: int | None = None,
    repeat: int = 1,
    api_module: str = DEFAULT_API,
    pixel_promise: bool = False,
) -> ImageResult:
    """mmcompress and every rival on one image (`pixel_promise`: its round trip is checked on
    the pixels of the unpacked file, not on its bytes)."""
    pixels = read_pixels(image_input.path)
    array = pixels.array
    image = ImageResult(
        name=image_input.name,
        path=str(image_input.path),
        set_name=image_input.set_name,
        width=int(array.shape[1]),
        height=int(array.shape[0]),
        channels=1 if array.ndim == 2 else int(array.shape[2]),
        bits_per_sample=8 * array.dtype.itemsize,
        file_bytes=len(pixels.data),
    )
    image.codecs[MMC] = measure_mmcompress(
        image_input.path,
        pixels.data,
        level=level,
        repeat=repeat,
        api_module=api_module,
        expected_pixels=pixels.as_read if pixel_promise else None,
    )
    for rival in rivals:
        image.codecs[rival.key] = measure_rival(rival, pixels, repeat)
    return image


def _progress_line(image: ImageResult, codecs: Sequence[str]) -> str:
    bpp = " ".join(f"{codec} {_number(image.bits_per_pixel(codec), 3)}" for codec in codecs)
    mmc = image.codecs[MMC]
    return (
        f"{image.set_name}/{image.name} {image.width}x{image.height}: bpp {bpp}; "
        f"path {mmc.path_taken or MISSING}; pack {_number(image.seconds_per_mp(MMC, 'encode'), 2)}"
        f" s/MP; rt {'ok' if image.roundtrip_ok else 'FAIL'}"
    )


# --------------------------------------------------------------------------- tables


def _number(value: float | None, digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _paths_cell(paths_taken: dict[str, int]) -> str:
    return ", ".join(f"{path} {count}" for path, count in paths_taken.items()) or MISSING


def set_table(result: ImageBenchResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-set table: mean bpp per codec, ratio to JXL e7, paths taken."""
    codecs, labels = result.meta.codecs, result.meta.labels
    header = ["set", "images", "Mpx", *(labels[codec] for codec in codecs)]
    header += ["mmc/JXL e7 bytes", "mmc path", "rt"]
    rows = []
    for summary in result.sets:
        cells = [summary.name, str(summary.image_count), f"{summary.megapixels:.2f}"]
        for codec in codecs:
            partial = 0 < summary.measured_count[codec] < summary.image_count
            cells.append(_number(summary.mean_bpp[codec], 3) + ("*" if partial else ""))
        cells += [
            _number(summary.mmc_to_jxl_e7, 3),
            _paths_cell(summary.paths_taken),
            "ok" if summary.roundtrip_ok else "FAIL",
        ]
        rows.append(cells)
    return header, rows


def speed_table(result: ImageBenchResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-set speeds: encode / decode seconds per megapixel per codec."""
    codecs, labels = result.meta.codecs, result.meta.labels
    header = ["set", *(f"{labels[codec]} enc/dec" for codec in codecs), "mmc peak MB"]
    rows = []
    for summary in result.sets:
        cells = [summary.name]
        for codec in codecs:
            encode = _number(summary.encode_s_per_mp[codec], 2)
            cells.append(f"{encode} / {_number(summary.decode_s_per_mp[codec], 2)}")
        cells.append(_number(summary.peak_mb, 0))
        rows.append(cells)
    return header, rows


def image_table(result: ImageBenchResult) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-image table: bpp per codec, mmcompress's path and speeds."""
    codecs, labels = result.meta.codecs, result.meta.labels
    header = ["set", "image", "WxH", "ch x bits", *(labels[codec] for codec in codecs)]
    header += ["mmc/JXL e7", "mmc path", "pack s/MP", "unpack s/MP", "peak MB", "rt"]
    rows = []
    for image in result.images:
        mmc = image.codecs[MMC]
        cells = [image.set_name, image.name, f"{image.width}x{image.height}"]
        cells.append(f"{image.channels}x{image.bits_per_sample}")
        cells += [_number(image.bits_per_pixel(codec), 3) for codec in codecs]
        cells += [
            _number(image.mmc_to_jxl_e7, 3),
            mmc.path_taken or MISSING,
            _number(image.seconds_per_mp(MMC, "encode"), 2),
            _number(image.seconds_per_mp(MMC, "decode"), 2),
            _number(mmc.peak_mb, 0),
            "ok" if image.roundtrip_ok else "FAIL",
        ]
        rows.append(cells)
    return header, rows


NON_NUMERIC_COLUMNS = frozenset({"set", "image", "WxH", "ch x bits", "mmc path", "rt"})


def _text_table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(line[index]) for line in [header, *rows]) for index in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if title in NON_NUMERIC_COLUMNS else cell.rjust(width)
            for cell, width, title in zip(cells, widths, header, strict=True)
        ).rstrip()

    return [line(header), "  ".join("-" * width for width in widths), *map(line, rows)]


CAPTION = (
    "bpp = bytes x 8 / (W x H), whole files; set bpp = mean over its images (* = over the images "
    "the codec measured: WebP has no 16-bit mode); mmc/JXL e7 = total bytes ratio; s/MP = wall "
    "seconds per megapixel"
)


def format_table(result: ImageBenchResult) -> str:
    """The per-image table, then the per-set table, for a terminal."""
    lines = [*_text_table(*image_table(result)), "", *_text_table(*set_table(result))]
    lines += ["", "seconds per megapixel, encode / decode:", *_text_table(*speed_table(result))]
    return "\n".join([*lines, "", CAPTION, f"timing: {result.meta.timing}"]) + "\n"


# --------------------------------------------------------------------------- files


def csv_records(result: ImageBenchResult) -> list[dict[str, Any]]:
    """One flat record per image, then per set (set bpp = the mean; agg_bpp = total / pixels)."""
    records = []
    for image in result.images:
        record: dict[str, Any] = {
            "kind": "image",
            "set": image.set_name,
            "name": image.name,
            "images": 1,
            "width": image.width,
            "height": image.height,
            "channels": image.channels,
            "bits_per_sample": image.bits_per_sample,
            "megapixels": image.megapixels,
            "file_bytes": image.file_bytes,
        }
        for codec in result.meta.codecs:
            outcome = image.codecs[codec]
            record[f"{codec}_bytes"] = outcome.size_bytes
            record[f"{codec}_bpp"] = image.bits_per_pixel(codec)
            record[f"{codec}_agg_bpp"] = image.bits_per_pixel(codec)
            record[f"{codec}_encode_s_per_mp"] = image.seconds_per_mp(codec, "encode")
            record[f"{codec}_decode_s_per_mp"] = image.seconds_per_mp(codec, "decode")
            record[f"{codec}_roundtrip_ok"] = outcome.roundtrip_ok
        mmc = image.codecs[MMC]
        record["mmc_to_jxl_e7"] = image.mmc_to_jxl_e7
        record.update(
            mmc_path=mmc.path_taken, mmc_peak_mb=mmc.peak_mb, roundtrip_ok=image.roundtrip_ok
        )
        records.append(record)
    for summary in result.sets:
        record = {key: None for key in records[0]} if records else {}
        record.update(
            kind="set",
            set=summary.name,
            name=summary.name,
            images=summary.image_count,
            megapixels=summary.megapixels,
        )
        for codec in result.meta.codecs:
            record[f"{codec}_bytes"] = summary.total_bytes[codec]
            record[f"{codec}_bpp"] = summary.mean_bpp[codec]
            record[f"{codec}_agg_bpp"] = summary.aggregate_bpp[codec]
            record[f"{codec}_encode_s_per_mp"] = summary.encode_s_per_mp[codec]
            record[f"{codec}_decode_s_per_mp"] = summary.decode_s_per_mp[codec]
        record.update(
            mmc_to_jxl_e7=summary.mmc_to_jxl_e7,
            mmc_path=_paths_cell(summary.paths_taken),
            mmc_peak_mb=summary.peak_mb,
            roundtrip_ok=summary.roundtrip_ok,
        )
        records.append(record)
    return records


def write_csv(result: ImageBenchResult, path: Path) -> None:
    records = csv_records(result)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)


def to_json(result: ImageBenchResult) -> str:
    return json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"


def combine(results: Sequence[ImageBenchResult], command: str) -> ImageBenchResult:
    """Runs made separately (one set each, say) as one result, recorded under `command`.

    They must have measured the same codecs at the same level and promise (ValueError if not);
    the first run's metadata is kept, its date included.
    """
    if not results:
        raise ValueError("no results to combine")
    first = results[0].meta
    for other in results[1:]:
        same = (other.meta.codecs, other.meta.level, other.meta.promise, other.meta.repeat) == (
            first.codecs,
            first.level,
            first.promise,
            first.repeat,
        )
        if not same:
            raise ValueError(
                f"runs differ in codecs, level, promise or repeat: {other.meta.command}"
            )
    images = [image for result in results for image in result.images]
    return ImageBenchResult(dataclasses.replace(first, command=command), images)


def load_json(path: Path) -> ImageBenchResult:
    """Read back what `write_outputs` or `--json` wrote (e.g. to re-render the Markdown)."""
    return ImageBenchResult.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def write_plot(result: ImageBenchResult, path: Path) -> None:
    """Mean bits per pixel per set, one bar per codec (matplotlib's Agg canvas, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    sets, codecs = result.sets, result.meta.codecs
    bar_width = 0.8 / len(codecs)
    figure = Figure(figsize=(max(6.0, 1.6 + 2.2 * len(sets)), 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, codec in enumerate(codecs):
        positions = [
            set_index + (index - (len(codecs) - 1) / 2) * bar_width
            for set_index in range(len(sets))
        ]
        values = [summary.mean_bpp[codec] or 0.0 for summary in sets]
        bars = axes.bar(positions, values, width=bar_width, label=result.meta.labels[codec])
        axes.bar_label(
            bars, labels=[_number(summary.mean_bpp[codec], 2) for summary in sets], fontsize=6
        )
    axes.set_xticks(range(len(sets)))
    axes.set_xticklabels(
        [
            f"{summary.name}\n({summary.image_count} image{'s' if summary.image_count > 1 else ''})"
            for summary in sets
        ]
    )
    axes.set_ylabel("mean bits per pixel (lower is better)")
    axes.set_title(
        textwrap.fill(result.meta.command, width=100) + f"\n{result.meta.date}", fontsize=8
    )
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    figure.savefig(path, dpi=100)


def _bold_smallest(cells: list[str], columns: Sequence[int]) -> list[str]:
    """`cells` with the smallest number among `columns` in bold (a trailing * is ignored)."""
    values = {}
    for index in columns:
        try:
            values[index] = float(cells[index].rstrip("*"))
        except ValueError:  # "–": not measured
            continue
    smallest = min(values.values(), default=None)
    return [
        f"**{cell}**" if values.get(index) == smallest and smallest is not None else cell
        for index, cell in enumerate(cells)
    ]


def _markdown_table(
    header: list[str], rows: list[list[str]], bold: Sequence[int] = ()
) -> list[str]:
    """A Markdown table; in each row the smallest value of the `bold` columns is in bold."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if title in NON_NUMERIC_COLUMNS else "---:" for title in header) + "|",
    ]
    for row in rows:
        cells = _bold_smallest([cell.replace("|", "\\|") for cell in row], bold)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _codec_columns(header: list[str], result: ImageBenchResult) -> list[int]:
    labels = {result.meta.labels[codec] for codec in result.meta.codecs}
    return [index for index, title in enumerate(header) if title in labels]


def to_markdown(result: ImageBenchResult, plot_path: str | None = None) -> str:
    """The "Images" section of BENCHMARKS.md: how it was run, per-set and per-image tables."""
    meta = result.meta
    level = "default" if meta.level is None else str(meta.level)
    if not meta.pixel_codec:
        path_note = "has no pixel codec yet: every image takes the byte path"
    elif meta.promise == "byte-exact":
        path_note = "has a pixel codec: images the serializer can rebuild byte-exactly take it"
    else:
        path_note = "has a pixel codec"
    lines = [
        f"## Images, {meta.date[:10]}",
        "",
        f"- Date: {meta.date}",
        f"- Command: `{meta.command}`",
        f"- mmcompress {meta.mmcompress_version}, level {level} (= {meta.resolved_level}, which "
        f"{path_note}), {meta.promise} promise, measured through `{meta.api_module}`",
        f"- Machine: {meta.platform}, {meta.cpu_count} CPUs, Python {meta.python}",
        "- Codecs:",
        *(f"  - {meta.labels[codec]}: {meta.implementations[codec]}" for codec in meta.codecs),
        "- bpp = compressed bytes × 8 / (width × height), whole files with headers; a set's bpp is "
        "the unweighted mean over its images (`*`: over the images the codec measured; WebP has "
        "no 16-bit mode). `mmc/JXL e7` = total mmcompress bytes / total JXL e7 bytes.",
        f"- Timing: {meta.timing}. `peak MB` = peak resident memory of the mmcompress pack or "
        f"unpack process. `rt` = {meta.promise} mmcompress round trip and pixel-exact rival round "
        "trips (numpy.array_equal).",
        "",
    ]
    if plot_path:
        lines += [f"![mean bits per pixel per set]({plot_path})", ""]
    header, rows = set_table(result)
    bold = _codec_columns(header, result)
    lines += ["### Per set (mean bits per pixel)", "", *_markdown_table(header, rows, bold), ""]
    lines += ["### Speed per set (wall seconds per megapixel, encode / decode)", ""]
    lines += [*_markdown_table(*speed_table(result)), ""]
    header, rows = image_table(result)
    bold = _codec_columns(header, result)
    lines += ["### Per image (bits per pixel)", "", *_markdown_table(header, rows, bold)]
    return "\n".join(lines) + "\n"


OUTPUT_NAMES = ("images.csv", "images.json", "images.md", "images.png")


def write_outputs(result: ImageBenchResult, out_dir: Path) -> list[Path]:
    """images.csv, .json, .md and .png in `out_dir` (created if needed); the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, markdown_path, plot_path = (out_dir / name for name in OUTPUT_NAMES)
    write_csv(result, csv_path)
    json_path.write_text(to_json(result), encoding="utf-8")
    markdown_path.write_text(to_markdown(result, plot_path.name), encoding="utf-8")
    write_plot(result, plot_path)
    return [csv_path, json_path, markdown_path, plot_path]


# --------------------------------------------------------------------------- command line


def _parse_rivals(text: str) -> list[str]:
    """A comma-separated list of rivals; "none" measures mmcompress alone."""
    if text.strip() == "none":
        return []
    keys = [key.strip().replace("-", "_") for key in text.split(",") if key.strip()]
    unknown = [key for key in keys if key not in RIVALS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"unknown rival(s) {', '.join(unknown) or '(none)'}; choose from {','.join(RIVALS)}"
        )
    return keys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmcompress bench --images",
        description="Bits per pixel of mmcompress against PNG, WebP lossless and JPEG XL "
        "lossless (effort 7 and 9), with pack/unpack seconds per megapixel and round trips.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="images or folders (default: ../shared/corpus/bench/images/{"
        + ",".join(DEFAULT_SETS)
        + "})",
    )
    parser.add_argument(
        "--level", type=int, default=None, help="mmcompress level (default: its default)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write images.csv/.json/.md/.png into DIR",
    )
    parser.add_argument(
        "--json", action="store_true", help="print JSON on stdout instead of the tables"
    )
    parser.add_argument(
        "--rivals",
        type=_parse_rivals,
        default=list(RIVALS),
        metavar="LIST",
        help=f"rival codecs, comma-separated, or none (default: {','.join(RIVALS)})",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="time each measurement N times and keep the fastest (default 1: mmcompress cold)",
    )
    parser.add_argument(
        "--pixels",
        action="store_true",
        help="measure mmcompress under the pixel-exact promise (mmcompress pack --pixels): the "
        "unpacked PNG must hold the same pixels",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines, no messages")
    parser.add_argument("--api", default=DEFAULT_API, help=argparse.SUPPRESS)  # tests pass a fake
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run `mmcompress bench --images`. Exit status: 0 all round trips OK, 1 a failure, 2 usage."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_request:  # --help (0) or a usage error (2), already printed
        return int(exit_request.code or 0)
    try:
        result = run_image_bench(
            args.paths or None,
            level=args.level,
            rivals=args.rivals,
            repeat=max(1, args.repeat),
            progress=not args.quiet,
            api_module=args.api,
            command=shlex.join(["mmcompress", "bench", "--images", *argv]),
            pixels=args.pixels,
        )
    except (MmcError, OSError, ValueError) as error:
        sys.stderr.write(f"mmcompress bench --images: {error}\n")
        return 1
    if not result.images:
        sys.stderr.write("mmcompress bench --images: no images to measure\n")
        return 1
    sys.stdout.write(to_json(result) if args.json else format_table(result))
    sys.stdout.flush()
    if args.out is not None:
        for written in write_outputs(result, args.out):
            if not args.quiet:
                sys.stderr.write(f"mmcompress bench --images: wrote {written}\n")
    for image in result.images:
        for codec, outcome in image.codecs.items():
            if not outcome.roundtrip_ok:
                sys.stderr.write(
                    f"mmcompress bench --images: {image.set_name}/{image.name}: "
                    f"{result.meta.labels[codec]} round trip FAILED ({outcome.note})\n"
                )
    return 0 if result.roundtrip_ok else 1
