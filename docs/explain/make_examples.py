"""Rebuild docs/explain/: the example reports' JSON, bar charts, screenshots and README tables.

    .venv/bin/python docs/explain/make_examples.py [--corpus ../shared/corpus/bench]

Runs ``mmcompress explain`` on each example, opens each page in headless Chromium for the
screenshots (mmcompress.explain.browser), and writes README.md with the tables printed from the
JSON: no figure here is typed by hand. The pages themselves are not kept (they embed the input).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import tempfile
from pathlib import Path

from PIL import Image

from mmcompress.explain import main as explain_main
from mmcompress.explain.browser import Browser, find_chromium

HERE = Path(__file__).resolve().parent
#: (name, path in the bench corpus): one text, one source file.
EXAMPLES = (("alice29", "text/alice29.txt"), ("deflate.c", "code/c/zlib/deflate.c"))
#: The level's model (bcm at -5) and the PPM context model of -4, compared in the alice29 example.
MODELS = ("level", "cm-o4", "bytefmr-s", "bytefmr-s:float", "mix")
#: (name, path in the bench corpus, explain options, {screenshot: index of the page's figure it
#: scrolls to}): a Kodak image and a raw video clip, explained on their pixels with the level's
#: pixel model (pixel-m) and video model (pixel-v). Figures: the limits chart, then (video) the
#: bits per frame, then the heat maps.
MEDIA = (
    ("kodim23", "images/kodak/kodim23.png", ["--model", "pixel-m", "--model", "pixel-s"],
     {"heat": 1}),
    ("cisco", "video/raw/cisco_vt2people_320x192_9f.y4m",
     ["--model", "pixel-v", "--frames-shown", "0,8"], {"frames": 1, "heat": 2}),
)  # fmt: skip
SCREEN_WIDTH = 1280
PNG_COLOURS = 128  # screenshots are palette PNGs: a few tens of KB each


def run_explain(argv: list[str]) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = explain_main(argv)
    if status:
        raise SystemExit(f"mmcompress explain {' '.join(argv)} failed ({status})")
    return stdout.getvalue()


def screenshot(browser: Browser, page: Path, target: Path, height: int, script: str = "") -> None:
    browser.load(page.as_uri(), width=SCREEN_WIDTH, height=height)
    if browser.errors():
        raise SystemExit(f"{page}: {browser.errors()}")
    if script:
        browser.evaluate(script)
        browser.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
    raw = target.with_suffix(".raw.png")
    browser.screenshot(raw)
    picture = Image.open(raw).convert("RGB").quantize(PNG_COLOURS, Image.Quantize.MEDIANCUT)
    picture.save(target, optimize=True)
    raw.unlink()


def tables(document: dict) -> tuple[str, str, str]:
    file = document["files"][0]
    title = f"{file['name']}, {file['size_bytes']} bytes ({file['modality']}), level {document['level']}"
    models = [
        "| model | cross-entropy (bits/byte) | cross-entropy (bytes) | model-coded (bytes) "
        "| archive (bytes) | coder | container | fallback |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in file["models"]:
        o = m["overhead"]
        if not m.get("coded", True):  # a float model: measured, not coded
            models.append(
                f"| {m['name']} | {m['bits_per_byte']:.4f} | {m['cross_entropy_bytes']:.1f} "
                "| n/a | n/a | n/a | n/a | n/a (ideal only: not coded) |"
            )
            continue
        models.append(
            f"| {m['name']} | {m['bits_per_byte']:.4f} | {m['cross_entropy_bytes']:.1f} "
            f"| {m['model_coded_bytes']} | {m['archive_bytes']} "
            f"| {o['coder_bytes']:+.1f} B ({o['coder_percent']:.2f}%) "
            f"| {o['container_bytes']:+d} B ({o['container_percent']:.2f}%) "
            f"| {o['fallback_bytes']:+d} B ({o['fallback_percent']:.2f}%), "
            f"{o['fallback_blocks']} of {len(m['blocks'])} blocks |"
        )
    limits = file["limits"]
    rows = [
        "| limit | bits/byte | bytes |",
        "|---|---:|---:|",
        f"| order-0 entropy | {limits['order0_bits_per_byte']:.4f} | {limits['order0_bits'] / 8:.1f} |",
        f"| order-2 empirical entropy | {limits['order2_bits_per_byte']:.4f} | {limits['order2_bits'] / 8:.1f} |",
    ]
    rows += [
        f"| {c['label']} | {c['bits_per_byte']:.4f} | {c['size_bytes']} |"
        for c in limits["classic"]
    ]
    return title, "\n".join(models), "\n".join(rows)


def media_tables(document: dict) -> tuple[str, str]:
    """Title and Markdown tables (models, limits) of an image or video report."""
    file = document["files"][0]
    media = file["media"]
    what = f"{media['width']}x{media['height']}, {len(media['planes'])} planes"
    if media["kind"] == "video":
        what += f", {media['frame_count']} frames"
    title = f"{file['name']}, {file['size_bytes']} bytes ({media['kind']}: {what}), level {document['level']}"
    rows = [
        "| model | cross-entropy (bits/pixel) | bits/sample | cross-entropy (bytes) | coded (bytes) "
        "| archive (bytes) | archive bits/pixel | path |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    rows += [
        f"| {m['name']} | {m['bits_per_pixel']:.4f} | {m['bits_per_subpixel']:.4f} "
        f"| {m['cross_entropy_bytes']:.1f} | {m['coded_bytes']} | {m['archive_bytes']} "
        f"| {m['archive_bits_per_pixel']:.4f} | {m['path']} |"
        for m in media["models"]
    ]
    limits = media["limits"]
    rows += [
        "",
        "| limit | bits/pixel | bytes |",
        "|---|---:|---:|",
        f"| order-0 entropy (per plane) | {limits['order0_bits_per_pixel']:.4f} "
        f"| {limits['order0_bits'] / 8:.1f} |",
    ]
    rows += [
        f"| {r['label']} | {r['bits_per_pixel']:.4f} | {r['size_bytes']} |"
        for r in limits["rivals"]
        if r["size_bytes"] is not None
    ]
    return title, "\n".join(rows)


README = """# `mmcompress explain`: example reports

`mmcompress explain FILE` measures, for each model, the cross-entropy Σ −log₂ p(byte) (the size an
ideal coder would reach) next to what mmcompress really writes, and splits the difference exactly:

    archive bytes = cross-entropy / 8 + coder overhead + fallback blocks + container overhead

*coder*: the range coder's payload (the packer's own `model_encode`) minus the cross-entropy;
*fallback*: blocks the container stored or zstd'd instead (their size minus the model payload);
*container*: header and metadata, block headers, index, trailer of the real archive. Beside them:
order-0 and order-2 empirical entropy and the classic tools. See `mmcompress explain -h` and the
docstring of `mmcompress/explain/__init__.py`.

Everything here is made by `docs/explain/make_examples.py` (corpus: `../shared/corpus/bench`):
the JSON by `mmcompress explain FILE --model level --model cm-o4 --model bytefmr-s --model
bytefmr-s:float --model mix --json --charts docs/explain` (the text examples; `level` is the
default level's binary context mixing, `cm-o4` the PPM context model of -4; `bytefmr-s:float` is
the float model the integer one was exported from, measured but never coded; `mix` is the -9
mixer of binary context mixing and the byte transformer),
the screenshots of the page (`-o report.html`, not kept: it embeds the input) by headless
Chromium, and the tables below from the JSON. No figure is typed by hand.

## {a_title}

{a_models}

{a_limits}

![alice29.txt: totals, limits and bar chart](alice29-summary.png)

The limits bar chart alone (`--charts DIR`):

![alice29.txt limits](alice29.txt.limits.png)

Every byte shaded by its cost under {first} (in the page, hover for each model's exact cost):

![alice29.txt shaded by cost](alice29-bytes.png)

`--compare {first} {second}`: blue where {first} spends fewer bits, red where {second} does:

![alice29.txt, {first} against {second}](alice29-compare.png)

## {d_title}

{d_models}

{d_limits}

![deflate.c: totals and limits](deflate.c-summary.png)

![deflate.c limits](deflate.c.limits.png)

![deflate.c shaded by cost, page 2](deflate.c-bytes.png)

## {k_title}

{k_tables}

![kodim23.png: totals, limits and the bits-per-pixel heat map](kodim23-summary.png)

![kodim23.png: heat map beside the image](kodim23-heat.png)

## {v_title}

{v_tables}

![cisco: totals and limits](cisco-summary.png)

![cisco: bits per frame and plane](cisco-frames.png)

![cisco: heat maps of frames 0 and 8](cisco-heat.png)

## Images and video

An image or video that takes its pixel or frame path is explained on its samples. Each sample
costs −log₂ p under the integer table the real pixel or frames codec coded it with; the codec
records this while writing the real archive. The tables give bits per pixel and per sample, next
to the image tools (PNG as stored, WebP lossless, JPEG XL e7/e9, as `mmcompress bench --images`
runs them) or, for raw video, the byte tools. The archive is split as cross-entropy + coder +
codec side info + fallback + container. The page shows a heat map of bits per pixel beside the
image (`--per-channel` adds one per channel). For video it shows bits per frame per plane, plus
heat maps of the frames picked with `--frames-shown`. Samples that are not coded (exact-copy
blocks, static frames) cost 0; a frame's mode, vectors and copy flags are its side bits.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=HERE.parents[2] / "shared" / "corpus" / "bench"
    )
    parser.add_argument(
        "--media-only",
        action="store_true",
        help="redo only the image and video examples (the text ones' JSON is read back)",
    )
    args = parser.parse_args()
    models = [word for name in MODELS for word in ("--model", name)]
    documents = {}
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt-get install chromium)")
    with (
        tempfile.TemporaryDirectory(prefix="mmc-explain-docs-") as folder,
        Browser(chromium) as browser,
    ):
        pages = Path(folder)
        for name, relative, options, shots in MEDIA:
            page = pages / f"{name}.html"
            source = str(args.corpus / relative)
            text = run_explain([source, *options, "-o", str(page), "--json"])
            (HERE / f"{name}.json").write_text(text)
            documents[name] = json.loads(text)
            screenshot(browser, page, HERE / f"{name}-summary.png", 900)
            for shot, figure in shots.items():
                view = f"document.querySelectorAll('figure.heat')[{figure}].scrollIntoView()"
                screenshot(browser, page, HERE / f"{name}-{shot}.png", 700, view)
        for name, _ in EXAMPLES if args.media_only else ():
            documents[name] = json.loads((HERE / f"{name}.json").read_text())
        for name, relative in () if args.media_only else EXAMPLES:
            source = str(args.corpus / relative)
            page = pages / f"{name}.html"
            text = run_explain([source, *models, "-o", str(page), "--json", "--charts", str(HERE)])
            (HERE / f"{name}.json").write_text(text)
            documents[name] = json.loads(text)
            screenshot(browser, page, HERE / f"{name}-summary.png", 1000)
            turn = "document.getElementById('f0-next').click();" if name != "alice29" else ""
            view = "document.getElementById('f0-viewer').scrollIntoView()"
            screenshot(browser, page, HERE / f"{name}-bytes.png", 800, turn + view)
        first, second = (m["name"] for m in documents["alice29"]["files"][0]["models"][:2])
        if not args.media_only:
            compare_page = pages / "alice29-compare.html"
            alice = str(args.corpus / EXAMPLES[0][1])
            run_explain(
                [alice, *models, "--compare", first, second, "-o", str(compare_page), "-q",
                 "--tools", "none"]
            )  # fmt: skip
            view = "document.getElementById('f0-viewer').scrollIntoView()"
            screenshot(browser, compare_page, HERE / "alice29-compare.png", 800, view)
    a_title, a_models, a_limits = tables(documents["alice29"])
    d_title, d_models, d_limits = tables(documents["deflate.c"])
    k_title, k_tables = media_tables(documents["kodim23"])
    v_title, v_tables = media_tables(documents["cisco"])
    (HERE / "README.md").write_text(
        README.format(
            a_title=a_title,
            a_models=a_models,
            a_limits=a_limits,
            first=first,
            second=second,
            d_title=d_title,
            d_models=d_models,
            d_limits=d_limits,
            k_title=k_title,
            k_tables=k_tables,
            v_title=v_title,
            v_tables=v_tables,
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
