"""mmcompress explain: exact cost accounting, deterministic reports, the page in a real browser.

The HTML checks open the page in headless Chromium (Debian's ``chromium``; installed here with
apt-get when it is missing and we are root, otherwise those tests are skipped with the reason)
driven over the DevTools protocol: console errors and uncaught exceptions fail the test, every
request must stay inside the page (file: / data:), and the totals the page's script draws must be
those of the JSON report. Screenshots land in the test's temporary folder.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mmcompress import api, cli, levels
from mmcompress.blockcoding import model_encode
from mmcompress.coder import ideal_code_length_bits
from mmcompress.detect import Modality
from mmcompress.explain import explain, heat_map_image, heat_map_png, main
from mmcompress.explain.browser import Browser, BrowserUnavailable, find_chromium
from mmcompress.explain.charts import PixelCosts
from mmcompress.explain.costs import (
    BlockCost,
    ModelCosts,
    ModelSpec,
    level_model,
    model_costs,
    parse_model,
)
from mmcompress.explain.html import PAGE_BYTES_TEXT, render_html
from mmcompress.explain.limits import Limits, order0_bits, order2_bits
from mmcompress.explain.report import FileReport, Report
from mmcompress.predictors import predictor_for_recipe
from mmcompress.segments import Segmentation, choose_segment_count

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CODE_SAMPLE = SAMPLES / "click_parser.py"  # 19 KB of Python
IMAGE_SAMPLE = SAMPLES / "palette_hopper_wal.png"
ALICE = ROOT.parent / "shared" / "corpus" / "bench" / "text" / "alice29.txt"
LEVEL = 5
FAST_TOOLS = ("gzip", "zstd")
MODELS = ["cm-o4", "cm:max_order=2"]
#: A range coder may finish a little under the ideal length: never by more than one 32-bit word.
CODER_ROUNDING_BITS = 32


# ------------------------------------------------------------------------------ shared reports


@pytest.fixture(scope="module")
def code_report() -> Report:
    return explain(CODE_SAMPLE, level=LEVEL, models=MODELS, tools=FAST_TOOLS)


def _independent_cross_entropy(data: bytes, config: dict[str, Any], tag: int) -> float:
    """Σ −log2 p from a fresh session's tables, without the explain recorder."""
    predictor = predictor_for_recipe({k: v for k, v in config.items() if k != "version"})
    count = choose_segment_count(len(data), predictor.segment_count, predictor.min_segment_length)
    segmentation = Segmentation(len(data), count)
    ordered = segmentation.interleave(np.frombuffer(data, dtype=np.uint8))
    tables = predictor.start(segmentation, tag).tables_for(ordered, 0, segmentation.steps)
    return ideal_code_length_bits(ordered, tables, predictor.precision_bits)


# ------------------------------------------------------------------------------ exact accounting


def test_per_byte_costs_sum_to_the_reported_cross_entropy(code_report: Report) -> None:
    file = code_report.files[0]
    data = CODE_SAMPLE.read_bytes()
    document = json.loads(code_report.json_text())["files"][0]
    assert [m.name for m in file.models] == ["cm-o4", "cm-o2"]
    for costs, reported in zip(file.models, document["models"], strict=True):
        assert costs.bits.shape == (len(data),)
        assert (
            float(np.sum(costs.bits)) == costs.cross_entropy_bits == reported["cross_entropy_bits"]
        )
        assert sum(b.cross_entropy_bits for b in costs.blocks) == pytest.approx(
            costs.cross_entropy_bits, abs=1e-6
        )
        # The recorder sees exactly the tables a fresh model gives (a .py file: tag 2, python).
        independent = _independent_cross_entropy(data, costs.config, tag=2)
        assert costs.cross_entropy_bits == pytest.approx(independent, rel=1e-12)
        assert costs.bits.min() > 0 and costs.bits.max() <= costs.precision_bits


def test_coded_size_never_undercuts_the_cross_entropy(code_report: Report) -> None:
    for costs in code_report.files[0].models:
        for block in costs.blocks:
            coder_words_bits = 8 * (block.model_payload_bytes - 3)  # minus the model-block header
            assert coder_words_bits >= block.cross_entropy_bits - CODER_ROUNDING_BITS
        assert costs.coder_overhead_bytes >= -CODER_ROUNDING_BITS / 8
        # The decomposition is exact: archive = cross-entropy/8 + coder + fallback + container.
        parts = costs.cross_entropy_bits / 8 + costs.coder_overhead_bytes + costs.fallback_bytes
        assert parts + costs.container_overhead_bytes == pytest.approx(
            costs.archive_bytes, abs=1e-6
        )


def test_archive_is_the_one_the_packer_writes(
    code_report: Report, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = CODE_SAMPLE.read_bytes()
    level_model = code_report.files[0].model("cm-o4")
    cm_o4 = replace(levels.RECIPES[LEVEL], predictor={"id": "cm", "max_order": 4})
    monkeypatch.setitem(levels.RECIPES, LEVEL, cm_o4)  # whatever the level codes with today
    packed = api.Compressor(LEVEL).compress(data, name=CODE_SAMPLE.name)
    assert level_model.archive_bytes == len(packed)
    (block,) = level_model.blocks
    assert block.container_kind == "model"
    alone = model_encode(data, predictor_for_recipe({"id": "cm", "max_order": 4}), 2)  # tag: code
    assert block.container_payload_bytes == block.model_payload_bytes == len(alone)


def test_fallback_blocks_are_accounted_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # Three blocks: text, random bytes (stored: the model is never tried on them), text.
    monkeypatch.setitem(levels.RECIPES, LEVEL, replace(levels.RECIPES[LEVEL], block_size=8192))
    text = CODE_SAMPLE.read_bytes()[:8192]
    noise = np.random.default_rng(7).bytes(8192)
    data = text + noise + text[:5000]
    report = explain(data, name="mixed.bin", level=LEVEL, models=["cm-o2"], tools=())
    costs = report.files[0].models[0]
    assert [b.raw_bytes for b in costs.blocks] == [8192, 8192, 5000]
    kinds = [b.container_kind for b in costs.blocks]
    assert kinds[1] == "stored" and costs.blocks[1].container_payload_bytes == 8192
    assert kinds[0] in ("model", "zstd") and kinds[2] in ("model", "zstd")  # whichever is smaller
    fallbacks = [b for b in costs.blocks if b.container_kind != "model"]
    assert costs.fallback_blocks == len(fallbacks) >= 1
    assert costs.fallback_raw_bytes == sum(b.raw_bytes for b in fallbacks)
    assert costs.fallback_bytes == sum(
        b.container_payload_bytes - b.model_payload_bytes for b in fallbacks
    )
    assert costs.blocks[1].model_payload_bytes > 8192  # the model cannot squeeze noise
    assert float(np.sum(costs.bits)) == costs.cross_entropy_bits
    assert np.sum(costs.bits[8192:16384]) == pytest.approx(
        costs.blocks[1].cross_entropy_bits, abs=1e-6
    )
    parts = costs.cross_entropy_bits / 8 + costs.coder_overhead_bytes + costs.fallback_bytes
    assert parts + costs.container_overhead_bytes == pytest.approx(costs.archive_bytes, abs=1e-6)


def test_report_is_deterministic(code_report: Report) -> None:
    again = explain(CODE_SAMPLE, level=LEVEL, models=MODELS, tools=FAST_TOOLS)
    assert again.json_text() == code_report.json_text()
    for first, second in zip(code_report.files[0].models, again.files[0].models, strict=True):
        assert np.array_equal(first.bits, second.bits)


# ------------------------------------------------------------------------------ limits


def _reference_entropy(data: bytes, order: int) -> float:
    """Σ over contexts of n·H, with plain dictionaries (contexts padded with a start marker)."""
    counts: dict[tuple[int, ...], dict[int, int]] = {}
    padded = [-1] * order + list(data)
    for i, byte in enumerate(data):
        context = tuple(padded[i : i + order])
        counts.setdefault(context, {}).setdefault(byte, 0)
        counts[context][byte] += 1
    total = 0.0
    for row in counts.values():
        n = sum(row.values())
        total += sum(c * np.log2(n / c) for c in row.values())
    return total


def test_empirical_entropies() -> None:
    assert order0_bits(b"") == 0.0 and order2_bits(b"") == 0.0
    assert order0_bits(b"aabb") == 4.0
    assert order0_bits(b"aaaa") == 0.0
    assert order2_bits(b"abababab") == 0.0  # every context predicts its byte with certainty... but:
    assert order2_bits(b"abcabd") == 2.0  # context "ab" is followed once by c, once by d
    data = np.random.default_rng(1).integers(0, 5, 3000).astype(np.uint8).tobytes()
    for order, measured in ((0, order0_bits(data)), (2, order2_bits(data))):
        assert measured == pytest.approx(_reference_entropy(data, order), rel=1e-12)


def test_classic_sizes_are_those_of_bench(code_report: Report) -> None:
    from mmcompress.bench import classic

    data = CODE_SAMPLE.read_bytes()
    measured = {c.tool: c.size_bytes for c in code_report.files[0].limits.classic}
    assert list(measured) == list(FAST_TOOLS)
    for tool in FAST_TOOLS:
        assert measured[tool] == len(classic.compress(tool, data, path=CODE_SAMPLE))


# ------------------------------------------------------------------------------ command line


def test_command_line_table_json_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(CODE_SAMPLE), "--model", "cm:max_order=2", "--tools", "gzip"]) == 0
    table = capsys.readouterr().out
    assert "click_parser.py: 19052 bytes, code, level 5" in table
    assert "gzip -9" in table and "cm-o2 cross-entropy" in table and "container" in table

    assert (
        cli.main(
            ["explain", str(CODE_SAMPLE), "--model", "cm:max_order=2", "--tools", "none", "--json"]
        )
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["files"][0]["models"][0]["name"] == "cm-o2"

    page = tmp_path / "page.html"
    charts = tmp_path / "charts"
    code = main([str(CODE_SAMPLE), "--model", "cm:max_order=2", "--tools", "none", "-o", str(page), "-q",
                 "--charts", str(charts)])  # fmt: skip
    assert code == 0 and capsys.readouterr().out == ""
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert Image.open(charts / "click_parser.py.limits.png").format == "PNG"

    for argv, message in (
        ([str(tmp_path / "missing.txt")], "cannot read"),
        ([str(CODE_SAMPLE), "--model", "nosuch"], "unknown model 'nosuch'"),
        (
            [
                str(CODE_SAMPLE),
                "--model",
                "cm:max_order=2",
                "--tools",
                "none",
                "--compare",
                "cm-o2",
                "cm-o9",
            ],
            "cm-o9",
        ),
        ([str(CODE_SAMPLE), "--tools", "lz4"], "unknown classic tool"),
    ):
        assert main(argv) == 1
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mmcompress: ") and message in lines[0], (
            captured.err
        )


def test_parse_model_names() -> None:
    level_predictor = predictor_for_recipe(levels.recipe(2).predictor or {})
    assert parse_model("level", 2).config == level_predictor.config()
    assert parse_model("cm:max_order=6").config["max_order"] == 6
    assert parse_model("cm-o6") == parse_model("cm:max_order=6")
    assert parse_model("cm:max_order=3,hash_bits=16").name == "cm:max_order=3,hash_bits=16"
    with pytest.raises(ValueError):
        parse_model("level", 1)  # zstd only


def test_image_today_is_explained_on_its_byte_path() -> None:
    report = explain(IMAGE_SAMPLE, level=LEVEL, models=["cm:max_order=2"], tools=())
    file = report.files[0]
    assert file.modality == "image" and file.pixels == {}
    assert "byte path" in file.notes[0]
    assert file.models[0].bits.shape == (IMAGE_SAMPLE.stat().st_size,)


# ------------------------------------------------------------------------------ heat maps


def test_heat_map_has_the_image_size_and_the_reported_mean() -> None:
    image = Image.open(IMAGE_SAMPLE).convert("RGB")
    pixels = np.asarray(image, dtype=np.float64)
    # Stand-in costs until the pixel model lands: the local gradient, in "bits".
    gradient = np.abs(np.diff(pixels, axis=1, prepend=pixels[:, :1])).sum(axis=2)
    bits = np.log2(1.0 + gradient)
    costs = PixelCosts(bits)
    png, layout = heat_map_png(bits, image=image)
    drawn = Image.open(io.BytesIO(png))
    heat = drawn.crop(layout.heat_box)
    assert heat.size == image.size == (bits.shape[1], bits.shape[0])
    assert np.array_equal(np.asarray(heat), np.asarray(heat_map_image(bits)))
    assert np.array_equal(np.asarray(drawn.crop(layout.image_box)), np.asarray(image))
    assert layout.mean_bits == costs.bits_per_pixel == float(bits.mean())
    assert costs.summary()["bits_per_pixel"] == costs.bits_per_pixel
    assert layout.colorbar_box[0] == layout.heat_box[2]  # the colour bar is beside the map
    per_channel = PixelCosts(np.stack([bits, bits, bits], axis=2) / 3)
    assert per_channel.bits_per_pixel == pytest.approx(costs.bits_per_pixel, rel=1e-12)
    maps = per_channel.heat_maps(image, per_channel=True)
    assert [label for label, _, _ in maps] == ["channel 0", "channel 1", "channel 2"]
    for _, channel_png, channel_layout in maps:
        assert Image.open(io.BytesIO(channel_png)).crop(channel_layout.heat_box).size == image.size
    with pytest.raises(ValueError):
        heat_map_png(bits[:-1], image=image)


# ------------------------------------------------------------------------------ the page in Chromium


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = find_chromium()
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(argv, env=environment, capture_output=True, timeout=900, check=False)
        found = find_chromium()
    if found is None:
        pytest.skip(
            "Chromium is not installed and cannot be installed here (needs root and apt-get)"
        )
    return found


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Browser]:
    try:
        session = Browser(chromium_path)
    except BrowserUnavailable as exc:
        pytest.skip(f"cannot drive Chromium: {exc}")
    yield session
    session.close()


class _CellCollector(HTMLParser):
    """Text of the elements that carry data-model/data-field (totals) or data-limit attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[tuple[int, str, str], str] = {}
        self.limits: list[tuple[int, str]] = []
        self._open: tuple[int, str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("data-model") and values.get("data-field"):
            key = (
                int(str(values["data-file"])),
                str(values["data-model"]),
                str(values["data-field"]),
            )
            self._open, self._text = key, []
        elif values.get("data-limit"):
            self.limits.append((int(str(values["data-file"])), str(values["data-limit"])))

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag in ("td", "th"):
            self.cells[self._open] = "".join(self._text)
            self._open = None


def _write_page(
    tmp_path: Path, report: Report, name: str, compare: tuple[str, str] | None = None
) -> str:
    page = tmp_path / name
    page.write_text(render_html(report, compare), encoding="utf-8")
    return page.as_uri()


def test_browser_harness_sees_console_errors(browser: Browser, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><script>console.error('boom'); missingFunction();</script></body></html>"
    )
    browser.load(broken.as_uri())
    errors = browser.errors()
    assert (
        len(errors) >= 2
        and any("boom" in e for e in errors)
        and any("missingFunction" in e for e in errors)
    )


def test_page_renders_the_json_totals_without_errors(
    browser: Browser, code_report: Report, tmp_path: Path
) -> None:
    image_report = explain(IMAGE_SAMPLE, level=LEVEL, models=MODELS, tools=())
    report = Report(code_report.level, code_report.version, code_report.files + image_report.files)
    url = _write_page(tmp_path, report, "report.html", compare=("cm-o4", "cm-o2"))
    browser.load(url)
    assert browser.errors() == []
    assert all(u.startswith(("file:", "data:")) for u in browser.requested_urls()), (
        browser.requested_urls()
    )
    assert browser.evaluate("document.body.dataset.ready") == "1"
    screenshot = browser.screenshot(tmp_path / "report.png")
    assert Image.open(screenshot).size == (1280, 1000)

    collector = _CellCollector()
    collector.feed(browser.dom())
    document = report.to_json()
    for index, file in enumerate(document["files"]):
        for model in file["models"]:
            name = (index, model["name"])
            assert float(collector.cells[(*name, "bits_per_byte")]) == pytest.approx(
                model["bits_per_byte"], abs=5e-5
            )
            ce_cell = float(collector.cells[(*name, "cross_entropy_bytes")])
            assert ce_cell == pytest.approx(model["cross_entropy_bytes"], abs=0.05)
            assert int(collector.cells[(*name, "model_coded_bytes")]) == model["model_coded_bytes"]
            assert int(collector.cells[(*name, "archive_bytes")]) == model["archive_bytes"]
            assert collector.cells[(*name, "container_bytes")].startswith(
                f"+{model['overhead']['container_bytes']} B"
            )
    assert (0, "gzip -9") in collector.limits and (1, "order-2 entropy") in collector.limits
    assert (1, "cm-o2 cross-entropy") in collector.limits

    # The first file starts in comparison mode; hovering a byte shows every model's cost.
    assert browser.evaluate("document.getElementById('f0-mode').value") == "compare"
    shaded = browser.evaluate(
        "Array.from(document.querySelectorAll('#f0-bytes-view b')).slice(0, 50).map(b => b.className)"
    )
    assert all(name.startswith("d") for name in shaded)
    tip = browser.evaluate(
        "(() => { const b = document.querySelector('#f0-bytes-view b[data-i=\"5\"]');"
        " const r = b.getBoundingClientRect();"
        " b.dispatchEvent(new MouseEvent('mousemove', {bubbles: true, clientX: r.left + 1, clientY: r.top + 1}));"
        " return document.getElementById('tip').textContent; })()"
    )
    expected = code_report.files[0].model("cm-o2").bits[5]
    assert "offset 5" in tip and f"cm-o2: {expected:.3f} bits" in tip
    # The image is shown as a hex dump of its bytes.
    assert browser.evaluate("document.querySelector('#f1-bytes-view').classList.contains('hex')")
    assert browser.errors() == []


def test_ten_megabyte_page_stays_usable(browser: Browser, tmp_path: Path) -> None:
    size = 10 << 20
    rng = np.random.default_rng(3)
    words = np.frombuffer(b"the quick brown fox jumps over a lazy dog\n", dtype=np.uint8)
    data = np.resize(words, size).tobytes()
    bits = rng.gamma(2.0, 1.2, size)
    costs = ModelCosts("synthetic", {"id": "synthetic"}, 16, bits,
                       [BlockCost(size, float(bits.sum()), size // 4, "model", size // 4)], size // 4 + 500)  # fmt: skip
    file = FileReport("big.txt", data, "text", "0" * 64, Limits(size, 0.0, 0.0, []), [costs])
    url = _write_page(tmp_path, Report(LEVEL, "test", [file]), "big.html")
    started = time.monotonic()
    browser.load(url, timeout=90)
    load_seconds = time.monotonic() - started
    assert browser.errors() == []
    assert (
        browser.evaluate("document.querySelectorAll('#f0-bytes-view b').length") == PAGE_BYTES_TEXT
    )
    browser.evaluate("document.getElementById('f0-last').click()")
    pages = -(-size // PAGE_BYTES_TEXT)
    assert browser.evaluate("document.getElementById('f0-where').textContent").startswith(
        f"page {pages} of {pages}"
    )
    last = browser.evaluate("document.querySelector('#f0-bytes-view b:last-child').dataset.i")
    assert int(last) == size - 1
    assert load_seconds < 30, f"a 10 MB report took {load_seconds:.1f} s to open"


def test_installed_models_join_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two manifest records: one a registered predictor is rebuilt from, one nobody here knows.
    (tmp_path / "small.bin").write_bytes(b"weights")
    (tmp_path / "other.bin").write_bytes(b"weights")
    records = [
        {"name": "learned-small", "file": "small.bin", "predictor_config": {"id": "cm", "version": 1, "max_order": 1}},
        {"name": "learned-other", "file": "other.bin", "predictor_config": {"id": "nosuch", "version": 1}},
        {"name": "not-installed", "file": "absent.bin", "predictor_config": {"id": "cm", "version": 1}},
    ]  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps({"models": records}))
    monkeypatch.setenv("MMCOMPRESS_MODELS", str(tmp_path))
    report = explain(CODE_SAMPLE.read_bytes()[:4000], name="x.py", level=LEVEL, tools=())
    file = report.files[0]
    from_level = [spec.name for spec in [level_model(LEVEL)] if spec is not None]
    assert [m.name for m in file.models] == [*from_level, "learned-small"]
    assert file.model("learned-small").config["max_order"] == 1
    assert list(file.skipped) == ["learned-other"] and "nosuch" in file.skipped["learned-other"]
    assert "skipped learned-other" in report.summary_text()


def test_empty_input(tmp_path: Path) -> None:
    report = explain(b"", name="empty.txt", level=LEVEL, models=["cm-o2"], tools=("gzip",))
    costs = report.files[0].models[0]
    assert costs.bits.size == 0 and costs.cross_entropy_bits == 0.0 and costs.blocks == []
    assert costs.archive_bytes == len(api.Compressor(LEVEL).compress(b"", name="empty.txt"))
    assert json.loads(report.json_text())["files"][0]["models"][0]["max_bits"] == 0.0
    assert "<!DOCTYPE html>" in render_html(report)


def test_the_package_is_callable() -> None:
    import mmcompress.explain as package

    report = package(b"abracadabra " * 50, name="a.txt", level=LEVEL, models=["cm-o2"], tools=())
    assert isinstance(report, Report) and report.files[0].name == "a.txt"
    assert package.heat_map_png is heat_map_png  # still the package


def test_any_predictor_can_be_explained_even_a_byte_transformer() -> None:
    # An untrained, tiny byte transformer: explain needs only the Predictor interface.
    tfm = pytest.importorskip("mmcompress.predictors.transformer")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    config = tfm.TransformerConfig(d_model=32, n_layer=1, n_head=4, window=16, mlp_mult=2, n_tags=4)
    model = tfm.ByteTransformerModel(config).eval()
    predictor = tfm.ByteTransformer(
        tfm.IntByteTransformer(config, tfm.quantize(model)), "tiny", "0" * 64
    )
    data = CODE_SAMPLE.read_bytes()[:800]
    spec = ModelSpec("tiny", predictor.config())
    costs = model_costs(
        data, spec, level=LEVEL, modality=Modality.CODE, name="x.py", predictor=predictor
    )
    assert costs.bits.shape == (800,) and float(np.sum(costs.bits)) == costs.cross_entropy_bits
    assert costs.precision_bits == predictor.precision_bits
    (block,) = costs.blocks
    assert 8 * (block.model_payload_bytes - 3) >= block.cross_entropy_bits - CODER_ROUNDING_BITS
    parts = costs.cross_entropy_bits / 8 + costs.coder_overhead_bytes + costs.fallback_bytes
    assert parts + costs.container_overhead_bytes == pytest.approx(costs.archive_bytes, abs=1e-6)
