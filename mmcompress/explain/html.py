"""The explain report as ONE self-contained HTML page: no external script, font, style or request.

What the page holds, per file:

* the totals per model (cross-entropy, coded size, archive, and the overheads) and the limits
  table, both drawn by the page's script from the embedded report JSON, and the limits bar chart
  (a PNG in a ``data:`` URL);
* the input itself, each byte shaded by its cost under the chosen model (text and code as text,
  anything else as a hex dump), with a legend and the exact costs of every model on hover;
  with ``compare=(A, B)`` a second shading shows where A beats B (and by how many bits).

Windowing keeps large inputs usable: the bytes and costs are embedded once (base64: the bytes,
and each model's costs as little-endian uint16 in 1/1024 bit), but only one page of
``PAGE_BYTES`` is turned into DOM at a time; an overview strip of the whole file (mean cost per
slice) jumps to any page by a click. A 10 MB input makes a page of ~40 MB per model that opens in
a few seconds and never holds more than one page of spans.
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any

import numpy as np

from .charts import limits_chart_png
from .report import FileReport, Report, limit_rows

#: Bytes turned into DOM at once: text pages, and hex pages (16 bytes a row).
PAGE_BYTES_TEXT = 16384
PAGE_BYTES_HEX = 4096
#: Costs travel as uint16 in units of 2^-COST_FRACTION_BITS bit (resolution ~0.001 bit, max 64 bits).
COST_FRACTION_BITS = 10
#: Shading: COST_SHADES steps from 0 to SHADE_MAX_BITS bits (above: the darkest); the comparison
#: shades the difference in COMPARE_SHADES steps over ±COMPARE_MAX_BITS.
COST_SHADES = 32
SHADE_MAX_BITS = 12.0
COMPARE_SHADES = 33
COMPARE_MAX_BITS = 6.0
COST_COLORMAP = "YlOrRd"
COMPARE_COLORMAP = "RdBu_r"  # blue: A cheaper, red: B cheaper


def encode_costs(bits: np.ndarray) -> str:
    """Base64 of the costs as little-endian uint16 in 1/1024 bit (clamped to the uint16 range)."""
    scaled = np.clip(
        np.rint(np.asarray(bits, dtype=np.float64) * (1 << COST_FRACTION_BITS)), 0, 0xFFFF
    )
    return base64.b64encode(scaled.astype("<u2").tobytes()).decode("ascii")


def _palette(colormap: str, steps: int) -> list[tuple[str, str]]:
    """(background, text colour) for each step of ``colormap``."""
    from matplotlib import colormaps

    out = []
    for rgba in colormaps[colormap](np.linspace(0.0, 1.0, steps)):
        red, green, blue = (int(round(255 * c)) for c in rgba[:3])
        luminance = 0.299 * red + 0.587 * green + 0.114 * blue
        out.append((f"#{red:02x}{green:02x}{blue:02x}", "#000" if luminance > 140 else "#fff"))
    return out


def _css() -> str:
    rules = [
        f".s{i}{{background:{bg};color:{fg}}}"
        for i, (bg, fg) in enumerate(_palette(COST_COLORMAP, COST_SHADES))
    ]
    rules += [
        f".d{i}{{background:{bg};color:{fg}}}"
        for i, (bg, fg) in enumerate(_palette(COMPARE_COLORMAP, COMPARE_SHADES))
    ]
    cost_stops = ",".join(bg for bg, _ in _palette(COST_COLORMAP, 8))
    compare_stops = ",".join(bg for bg, _ in _palette(COMPARE_COLORMAP, 9))
    return _STYLE % {"cost_stops": cost_stops, "compare_stops": compare_stops} + "\n".join(rules)


def _script_json(value: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' left as such."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _file_section(
    index: int, file: FileReport, compare: tuple[str, str] | None
) -> tuple[str, dict[str, Any]]:
    if file.media is not None:  # an image or video: tables, charts and heat maps, no byte viewer
        return file.media.html_section(index, file.name), {"name": file.name, "view": "media"}
    text_like = file.modality in ("text", "code")
    chart = limits_chart_png(f"{file.name}: limits and models", limit_rows(file), file.size_bytes)
    chart_url = "data:image/png;base64," + base64.b64encode(chart).decode("ascii")
    blobs = [
        f'<script type="text/plain" id="f{index}-bytes">{base64.b64encode(file.data).decode("ascii")}</script>'
    ]
    for model_index, costs in enumerate(file.models):
        blobs.append(
            f'<script type="text/plain" id="f{index}-cost{model_index}">{encode_costs(costs.bits)}</script>'
        )
    names = [m.name for m in file.models]
    view = {
        "name": file.name,
        "size": file.size_bytes,
        "view": "text" if text_like else "hex",
        "page_bytes": PAGE_BYTES_TEXT if text_like else PAGE_BYTES_HEX,
        "models": names,
        "compare": [names.index(compare[0]), names.index(compare[1])] if compare else None,
    }
    title = html.escape(file.name)
    section = f"""
<section class="file" id="file{index}" data-file="{index}">
  <h2>{title} <small>{file.size_bytes} bytes · {html.escape(file.modality)}</small></h2>
  <div class="cols">
    <div>
      <h3>Models: where the bits go</h3>
      <table class="totals" id="f{index}-totals"></table>
      <h3>Limits side by side</h3>
      <table class="limits" id="f{index}-limits"></table>
      <p class="hint">Empirical entropies count the file's own statistics for free (no model to
      learn or send): on small inputs order-2 falls far below anything a coder can reach.</p>
      <ul class="notes" id="f{index}-notes"></ul>
    </div>
    <figure><img alt="bar chart of the limits of {title}" src="{chart_url}"></figure>
  </div>
  <div class="viewer" id="f{index}-viewer">
    <div class="bar">
      <label>shade by <select id="f{index}-mode"></select></label>
      <button id="f{index}-first">«</button><button id="f{index}-prev">‹</button>
      <span id="f{index}-where"></span>
      <button id="f{index}-next">›</button><button id="f{index}-last">»</button>
      <label>offset <input id="f{index}-offset" type="number" min="0" value="0"></label>
    </div>
    <canvas id="f{index}-overview" class="overview" height="48"></canvas>
    <div class="legend" id="f{index}-legend"></div>
    <pre class="bytes {view["view"]}" id="f{index}-bytes-view"></pre>
  </div>
  {"".join(blobs)}
</section>"""
    return section, view


def render_html(report: Report, compare: tuple[str, str] | None = None) -> str:
    """The whole page. ``compare``: two model names present in every file of the report."""
    sections, views = [], []
    for index, file in enumerate(report.files):
        names = [m.name for m in file.models]
        if compare and not all(name in names for name in compare):
            raise ValueError(
                f"--compare needs two of the models explained on {file.name}: {', '.join(names)}"
            )
        section, view = _file_section(index, file, compare)
        sections.append(section)
        views.append(view)
    titles = ", ".join(html.escape(f.name) for f in report.files)
    return _PAGE % {
        "title": f"mmcompress explain: {titles}",
        "css": _css(),
        "level": report.level,
        "version": html.escape(report.version),
        "sections": "".join(sections),
        "report_json": _script_json(report.to_json()),
        "views_json": _script_json(
            {
                "files": views,
                "cost_fraction_bits": COST_FRACTION_BITS,
                "shade_max_bits": SHADE_MAX_BITS,
                "cost_shades": COST_SHADES,
                "compare_max_bits": COMPARE_MAX_BITS,
                "compare_shades": COMPARE_SHADES,
            }
        ),  # fmt: skip
        "script": _SCRIPT,
    }


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.2em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.2em;border-top:1px solid #ccc;padding-top:.6em}
h2 small{font-weight:normal;color:#666} h3{font-size:1em;margin:.8em 0 .3em}
.cols{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start} figure{margin:0}
figure img{max-width:640px;border:1px solid #ddd;background:#fff}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;background:#fff}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right} td:first-child,th:first-child{text-align:left}
th{background:#f0f0f0;font-weight:600}
.hint{font-size:12px;color:#666;max-width:34em}
.bar{display:flex;gap:.4em;align-items:center;flex-wrap:wrap;margin:.6em 0}
.bar input{width:9em}
canvas.overview{width:100%%;height:48px;display:block;cursor:pointer;background:#fff;border:1px solid #ddd}
.legend{display:flex;align-items:center;gap:.5em;margin:.4em 0;font-size:12px}
.legend .ramp{width:240px;height:12px;border:1px solid #999}
.legend .ramp.cost{background:linear-gradient(to right,%(cost_stops)s)}
.legend .ramp.compare{background:linear-gradient(to right,%(compare_stops)s)}
pre.bytes{font:13px/1.5 ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;background:#fff;
  border:1px solid #ddd;padding:.5em;white-space:pre-wrap;word-break:break-all;margin:0}
pre.bytes b{font-weight:normal} pre.bytes b.u{display:inline-block;width:3px;height:1em;vertical-align:middle}
pre.bytes b.nl{opacity:.75} pre.hex b{padding:0 2px;margin-right:1px} pre.hex i{color:#888;font-style:normal}
#tip{position:fixed;display:none;pointer-events:none;background:#222;color:#fff;padding:4px 8px;
  border-radius:4px;font:12px/1.4 ui-monospace,monospace;white-space:pre;z-index:10}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>%(title)s</title>
<style>%(css)s</style>
</head><body>
<h1>mmcompress explain</h1>
<p>Every byte costs −log₂ p bits under a model; their sum, the <em>cross-entropy</em>, is the size
an ideal coder reaches. The tables show how close the real coder and container come to it (level
%(level)s, mmcompress %(version)s); the text below is shaded by each byte's cost: hover for values.</p>
%(sections)s
<div id="tip"></div>
<script type="application/json" id="report-json">%(report_json)s</script>
<script type="application/json" id="views-json">%(views_json)s</script>
<script>%(script)s</script>
</body></html>
"""

_SCRIPT = r"""
"use strict";
const REPORT = JSON.parse(document.getElementById("report-json").textContent);
const VIEWS = JSON.parse(document.getElementById("views-json").textContent);
const tip = document.getElementById("tip");

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function row(table, cells, header, attrs) {
  const tr = table.insertRow();
  cells.forEach((cell, i) => {
    const td = el(header ? "th" : "td", (attrs && attrs[i]) || {}, String(cell));
    tr.appendChild(td);
  });
}
function fmt(x, digits) { return Number(x).toFixed(digits); }
function signed(x, digits) { return (x >= 0 ? "+" : "") + Number(x).toFixed(digits); }
function decodeBase64(id) {
  const text = atob(document.getElementById(id).textContent.trim());
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}
function escapeHtml(s) { return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

function renderTotals(index, file) {
  const table = document.getElementById(`f${index}-totals`);
  row(table, ["model", "bits/byte", "cross-entropy (bytes)", "model-coded (bytes)", "archive (bytes)",
              "coder overhead", "container overhead", "fallback blocks"], true);
  for (const m of file.models) {
    const o = m.overhead;
    const f = (field) => ({"data-file": String(index), "data-model": m.name, "data-field": field});
    const coded = m.coded !== false;  // a float model is measured, not coded: n/a columns
    row(table, [m.name, fmt(m.bits_per_byte, 4), fmt(m.cross_entropy_bytes, 1),
                coded ? m.model_coded_bytes : "n/a", coded ? m.archive_bytes : "n/a",
                coded ? `${signed(o.coder_bytes, 1)} B (${fmt(o.coder_percent, 2)}%)` : "n/a",
                coded ? `${signed(o.container_bytes, 0)} B (${fmt(o.container_percent, 2)}%)` : "n/a",
                coded ? `${signed(o.fallback_bytes, 0)} B (${fmt(o.fallback_percent, 2)}%), ${o.fallback_blocks} of ${m.blocks.length}` : "n/a"],
        false, [f("name"), f("bits_per_byte"), f("cross_entropy_bytes"), f("model_coded_bytes"),
                f("archive_bytes"), f("coder_bytes"), f("container_bytes"), f("fallback_bytes")]);
  }
  if (!file.models.length) row(table, ["no model explained on this input"], false);
  const limits = document.getElementById(`f${index}-limits`);
  row(limits, ["limit", "bits/byte", "bytes"], true);
  const size = file.size_bytes || 1;
  const lim = file.limits;
  const entries = [["order-0 entropy", lim.order0_bits], ["order-2 entropy", lim.order2_bits]];
  for (const c of lim.classic) entries.push([c.label, 8 * c.size_bytes]);
  for (const m of file.models) {
    entries.push([`${m.name} cross-entropy`, m.cross_entropy_bits]);
    if (m.coded !== false) entries.push([`${m.name} archive`, 8 * m.archive_bytes]);
  }
  for (const [label, bits] of entries)
    row(limits, [label, fmt(bits / size, 4), fmt(bits / 8, 1)], false,
        [{"data-file": String(index), "data-limit": label}, {"data-limit-field": "bits_per_byte"},
         {"data-limit-field": "bytes"}]);
  const notes = document.getElementById(`f${index}-notes`);
  for (const [name, why] of Object.entries(file.skipped)) notes.appendChild(el("li", {}, `skipped ${name}: ${why}`));
  for (const note of file.notes) notes.appendChild(el("li", {}, note));
}

class Viewer {
  constructor(index, view, file) {
    this.index = index; this.view = view; this.file = file;
    this.bytes = decodeBase64(`f${index}-bytes`);
    this.costs = view.models.map((_, m) => new Uint16Array(decodeBase64(`f${index}-cost${m}`).buffer));
    this.scale = 1 / (1 << VIEWS.cost_fraction_bits);
    this.pages = Math.max(1, Math.ceil(view.size / view.page_bytes));
    this.page = 0;
    this.decoder = new TextDecoder("utf-8", {fatal: true});
    const $ = (name) => document.getElementById(`f${index}-${name}`);
    this.pre = $("bytes-view"); this.where = $("where"); this.mode = $("mode");
    this.legend = $("legend"); this.overview = $("overview"); this.offset = $("offset");
    view.models.forEach((name, m) => this.mode.appendChild(el("option", {value: String(m)}, name)));
    if (view.compare) {
      const [a, b] = view.compare;
      this.mode.appendChild(el("option", {value: "compare"}, `${view.models[a]} vs ${view.models[b]}`));
      this.mode.value = "compare";
    }
    this.mode.addEventListener("change", () => { this.profile = null; this.render(); });
    $("first").addEventListener("click", () => this.go(0));
    $("prev").addEventListener("click", () => this.go(this.page - 1));
    $("next").addEventListener("click", () => this.go(this.page + 1));
    $("last").addEventListener("click", () => this.go(this.pages - 1));
    this.offset.addEventListener("change", () => this.go(Math.floor(Number(this.offset.value) / view.page_bytes)));
    this.overview.addEventListener("click", (e) => {
      const box = this.overview.getBoundingClientRect();
      this.go(Math.floor((e.clientX - box.left) / box.width * this.pages));
    });
    this.pre.addEventListener("mousemove", (e) => this.hover(e));
    this.pre.addEventListener("mouseleave", () => { tip.style.display = "none"; });
    this.render();
  }
  comparing() { return this.mode.value === "compare" && this.view.compare; }
  // The shade of byte i: a cost class "sN", or a difference class "dN" when comparing.
  shade(i) {
    if (this.comparing()) {
      const [a, b] = this.view.compare;
      const diff = (this.costs[a][i] - this.costs[b][i]) * this.scale;
      const half = (VIEWS.compare_shades - 1) / 2;
      const step = Math.round(Math.max(-1, Math.min(1, diff / VIEWS.compare_max_bits)) * half);
      return "d" + (step + half);
    }
    if (!this.costs.length) return "";
    const bits = this.costs[Number(this.mode.value)][i] * this.scale;
    return "s" + Math.min(VIEWS.cost_shades - 1, Math.floor(bits / VIEWS.shade_max_bits * VIEWS.cost_shades));
  }
  glyph(i) {
    const b = this.bytes[i];
    if (b === 10) return ["nl", "↵\n"];
    if (b === 9) return ["", "\t"];
    if (b === 13) return ["nl", "←"];
    if (b < 32 || b === 127) return ["", "·"];
    if (b < 128) return ["", escapeHtml(String.fromCharCode(b))];
    if (b < 0xC0) return ["u", ""];  // UTF-8 continuation: its character is shown on the lead byte
    const n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    try { return ["", escapeHtml(this.decoder.decode(this.bytes.subarray(i, i + n)))]; }
    catch (err) { return ["", "·"]; }
  }
  render() {
    const lo = this.page * this.view.page_bytes, hi = Math.min(this.view.size, lo + this.view.page_bytes);
    const parts = [];
    if (this.view.view === "text") {
      for (let i = lo; i < hi; i++) {
        const [kind, text] = this.glyph(i);
        parts.push(`<b class="${this.shade(i)} ${kind}" data-i="${i}">${text}</b>`);
      }
    } else {
      for (let row = lo; row < hi; row += 16) {
        parts.push(`<i>${row.toString(16).padStart(8, "0")}  </i>`);
        for (let i = row; i < Math.min(hi, row + 16); i++)
          parts.push(`<b class="${this.shade(i)}" data-i="${i}">${this.bytes[i].toString(16).padStart(2, "0")}</b>`);
        parts.push("\n");
      }
    }
    this.pre.innerHTML = parts.join("");
    this.where.textContent = `page ${this.page + 1} of ${this.pages} · bytes ${lo}–${Math.max(lo, hi - 1)}`;
    this.offset.value = String(lo);
    this.renderLegend();
    this.drawOverview();
  }
  go(page) {
    const target = Math.max(0, Math.min(this.pages - 1, page | 0));
    if (target !== this.page) { this.page = target; this.render(); }
  }
  renderLegend() {
    this.legend.textContent = "";
    if (this.comparing()) {
      const [a, b] = this.view.compare, max = VIEWS.compare_max_bits;
      this.legend.append(el("span", {}, `${this.view.models[a]} cheaper by ${max}+ bits`),
                         el("span", {class: "ramp compare"}),
                         el("span", {}, `${this.view.models[b]} cheaper by ${max}+ bits`));
    } else if (this.costs.length) {
      this.legend.append(el("span", {}, "0 bits"), el("span", {class: "ramp cost"}),
                         el("span", {}, `${VIEWS.shade_max_bits}+ bits per byte`));
    }
  }
  // Mean cost (or difference) per slice of the file, for the overview strip.
  slices(count) {
    if (this.profile && this.profile.length === count) return this.profile;
    const out = new Float64Array(count), n = this.view.size;
    if (!this.costs.length || !n) return (this.profile = out);
    const cmp = this.comparing(), [a, b] = this.view.compare || [0, 0];
    const costs = cmp ? null : this.costs[Number(this.mode.value)];
    for (let s = 0; s < count; s++) {
      const lo = Math.floor(s * n / count), hi = Math.max(lo + 1, Math.floor((s + 1) * n / count));
      let sum = 0;
      for (let i = lo; i < hi && i < n; i++) sum += cmp ? this.costs[a][i] - this.costs[b][i] : costs[i];
      out[s] = sum * this.scale / (hi - lo);
    }
    return (this.profile = out);
  }
  drawOverview() {
    const canvas = this.overview, width = Math.max(100, Math.floor(canvas.clientWidth || 800));
    canvas.width = width;
    const ctx = canvas.getContext("2d"), height = canvas.height, values = this.slices(width);
    ctx.clearRect(0, 0, width, height);
    const cmp = this.comparing();
    // Differences are small on average: scale them to the largest one in the file.
    let peak = 1e-9;
    for (const v of values) peak = Math.max(peak, Math.abs(v));
    for (let x = 0; x < width; x++) {
      const v = values[x];
      if (cmp) {
        const h = Math.abs(v) / peak * height / 2;
        ctx.fillStyle = v < 0 ? "#2166ac" : "#b2182b";
        ctx.fillRect(x, v < 0 ? height / 2 - h : height / 2, 1, h);
      } else {
        const h = Math.min(1, v / 8) * height;
        ctx.fillStyle = "#e8590c";
        ctx.fillRect(x, height - h, 1, h);
      }
    }
    ctx.fillStyle = "rgba(25,113,194,0.3)";
    ctx.fillRect(this.page / this.pages * width, 0, Math.max(2, width / this.pages), height);
  }
  hover(e) {
    const target = e.target;
    if (!target.dataset || target.dataset.i === undefined) { tip.style.display = "none"; return; }
    const i = Number(target.dataset.i), b = this.bytes[i];
    const shown = b >= 32 && b < 127 ? ` '${String.fromCharCode(b)}'` : "";
    const lines = [`offset ${i} · byte 0x${b.toString(16).padStart(2, "0")}${shown}`];
    this.view.models.forEach((name, m) => lines.push(`${name}: ${fmt(this.costs[m][i] * this.scale, 3)} bits`));
    if (this.view.compare) {
      const [a, c] = this.view.compare;
      lines.push(`${this.view.models[a]} − ${this.view.models[c]}: ${signed((this.costs[a][i] - this.costs[c][i]) * this.scale, 3)} bits`);
    }
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    tip.style.left = `${Math.min(e.clientX + 14, window.innerWidth - 260)}px`;
    tip.style.top = `${e.clientY + 16}px`;
  }
}

const viewers = REPORT.files.map((file, index) => {
  if (VIEWS.files[index].view === "media") return null;  // drawn on the server side
  renderTotals(index, file);
  return new Viewer(index, VIEWS.files[index], file);
});
document.body.dataset.ready = "1";
"""
