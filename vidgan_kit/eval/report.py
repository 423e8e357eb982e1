"""Human-readable outputs of an evaluation: ``report.md``, curve PNGs (Pillow), a GIF grid.

Plots are drawn with Pillow alone (no plotting library): a line per series with its 95 %
band, frame indices on the x axis. The conditioning frame (0) is left out of the curves;
its score is written under the figure in the report instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .card import MetricCard
from .results import Curves, ScoreSet
from .stats import Estimate

__all__ = ["plot_curves", "write_report", "markdown_report"]

_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (127, 127, 127)]


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.floor(lo / step) * step
    ticks, v = [], start
    while v <= hi + 1e-9:
        if v >= lo - 1e-9:
            ticks.append(round(v, 10))
        v += step
    return ticks


def plot_curves(
    path: str | Path,
    series: Sequence[tuple[str, list[int], list[Estimate]]],
    *,
    title: str,
    ylabel: str,
    size: tuple[int, int] = (720, 440),
) -> Path:
    """A PNG line chart: each series is (label, frame indices, per-frame estimates)."""
    width, height = size
    left, right, top, bottom = 70, 20, 40, 60
    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img, "RGBA")
    font = ImageFont.load_default()
    values = [v for _, _, ests in series for e in ests for v in (e.low, e.high, e.mean) if v is not None]
    frames = [f for _, fs, _ in series for f in fs]
    if not values or not frames:
        draw.text((left, top), f"{title}: no data", fill=(0, 0, 0), font=font)
        img.save(path)
        return Path(path)
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or 0.05 * max(abs(hi), 1.0)
    lo, hi = lo - pad, hi + pad
    fmin, fmax = min(frames), max(frames)
    fspan = max(fmax - fmin, 1)

    def xy(f: float, v: float) -> tuple[float, float]:
        x = left + (f - fmin) / fspan * (width - left - right)
        y = top + (hi - v) / (hi - lo) * (height - top - bottom)
        return x, y

    # axes, grid and ticks
    draw.rectangle([left, top, width - right, height - bottom], outline=(0, 0, 0))
    for v in _nice_ticks(lo, hi):
        _, y = xy(fmin, v)
        draw.line([left, y, width - right, y], fill=(225, 225, 225))
        draw.text((4, y - 6), f"{v:g}", fill=(0, 0, 0), font=font)
    step = max(1, round(fspan / 15))
    for f in range(fmin, fmax + 1, step):
        x, _ = xy(f, lo)
        draw.line([x, height - bottom, x, height - bottom + 4], fill=(0, 0, 0))
        draw.text((x - 4, height - bottom + 6), str(f), fill=(0, 0, 0), font=font)
    draw.text((left, 12), title, fill=(0, 0, 0), font=font)
    draw.text(((width - left) // 2, height - 22), "frame (conditioning frame 0 excluded)", fill=(0, 0, 0), font=font)
    draw.text((4, top - 16), ylabel, fill=(0, 0, 0), font=font)

    legend_y = top + 6
    for i, (label, fs, ests) in enumerate(series):
        color = _COLORS[i % len(_COLORS)]
        band_hi = [xy(f, e.high) for f, e in zip(fs, ests, strict=True) if e.high is not None]
        band_lo = [xy(f, e.low) for f, e in zip(fs, ests, strict=True) if e.low is not None]
        if len(band_hi) >= 2 and len(band_hi) == len(band_lo):
            draw.polygon(band_hi + band_lo[::-1], fill=(*color, 50))
        pts = [xy(f, e.mean) for f, e in zip(fs, ests, strict=True) if e.mean is not None]
        if len(pts) >= 2:
            draw.line(pts, fill=color, width=2)
        for x, y in pts:
            draw.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=color)
        draw.line([width - right - 190, legend_y + 6, width - right - 170, legend_y + 6], fill=color, width=3)
        draw.text((width - right - 165, legend_y), label, fill=(0, 0, 0), font=font)
        legend_y += 16
    img.save(path)
    return Path(path)


def curve_series(curves: dict[str, Curves], metric: str) -> list[tuple[str, list[int], list[Estimate]]]:
    return [(label, c.frames, getattr(c, metric)) for label, c in curves.items() if getattr(c, metric)]


# -- markdown ------------------------------------------------------------------------------


def _fmt(e: Estimate | None, digits: int = 3) -> str:
    return "n/a" if e is None else e.format(digits)


def _row(name: str, s: ScoreSet) -> str:
    return f"| {name} | {_fmt(s.ssim)} | {_fmt(s.psnr, 2)} | {_fmt(s.l1, 4)} |"


def _row2(name: str, s: ScoreSet) -> str:
    return f"| {name} | {_fmt(s.ssim)} | {_fmt(s.psnr, 2)} |"


#: Rows of the real-clip transfer table: method key -> what it is.
REAL_TRANSFER_ROWS = {
    "right": "right source (the clip itself)",
    "wrong": "wrong source (another clip's motion code)",
    "zero_code": "zero motion code (z_M = 0)",
    "mean_code": "mean motion code",
    "static": "static (target image held still)",
}


def _real_transfer_lines(card: MetricCard) -> list[str]:
    r, d = card.real_transfer, card.data
    assert r is not None
    held = ""
    if d.identities is not None:
        seen = "none seen in training" if d.identities_in_train == [] else (
            "seen in training: " + ", ".join(d.identities_in_train) if d.identities_in_train else "training unknown")
        held = f" Identities: {', '.join(d.identities)} ({seen}; split `{d.split_mode}`)."
    lines = [f"## Motion transfer on real clips: self-transfer ({r.clips} clips)", "",
             f"Target image: {r.target_image}; each output is scored against the clip itself on frames "
             f"{r.scored_frames[0]}–{r.scored_frames[-1]}. Motion code: {r.motion_code}; mean code: {r.mean_code}. "
             f"Wrong source: {r.wrong_source_rule} (labels: {r.labels_from or 'none'}).{held}", "",
             "| source | SSIM | PSNR (dB) | L1 |", "|---|---|---|---|"]
    lines += [_row(REAL_TRANSFER_ROWS.get(name, name), scores) for name, scores in r.methods.items()]
    lines += ["", "Paired differences per clip (mean [95 % CI] over clips):", "",
              "| difference | SSIM | PSNR (dB) |", "|---|---|---|"]
    lines += [_row2(name.replace(" - ", " − ").replace("_", " "), scores) for name, scores in r.gaps.items()]
    lines += ["", "| clip | identity | label | wrong source |", "|---|---|---|---|"]
    lines += [f"| {c.clip} | {c.identity or ''} | {c.label or ''} | {c.wrong_source} |" for c in r.clips_scored]
    return [*lines, ""]


def markdown_report(card: MetricCard, figures: dict[str, str]) -> str:
    """The report as Markdown tables (numbers are mean [95 % CI] over clips)."""
    st, ck, d = card.settings, card.checkpoint, card.data
    lines = [
        f"# Evaluation of `{ck.path}`",
        "",
        f"step {ck.step}, {ck.weights} weights, checkpoint sha256 `{ck.sha256[:16]}…`; data `{d.dataset}` "
        f"({d.split} split, {d.clips} clips, {d.frames}×{d.channels}×{d.height}×{d.width}); protocol `{st.protocol}`.",
        "",
        f"Numbers are means over clips with {st.ci_level:.0%} intervals ({st.ci_method}). Scores on [0, 1] "
        f"(data range 1); SSIM: {st.metrics.get('ssim', {}).get('implementation', '?')}, window "
        f"{st.metrics.get('ssim', {}).get('window', '?')} Gaussian, padding "
        f"{st.metrics.get('ssim', {}).get('padding', '?')}; "
        f"PSNR capped at {st.metrics.get('psnr', {}).get('cap_db', '?')} dB.",
        "",
    ]
    if card.stochastic is not None:
        s = card.stochastic
        lines += [
            f"## Stochastic generation (paper, Sec. 4.3/4.4): best of K = {s.samples}",
            "",
            f"Input: the first frame of each real clip; scored frames {s.scored_frames[0]}–{s.scored_frames[-1]} "
            f"(the conditioning frame {s.conditioning_frame} is reported apart). PSNR frames at the cap: "
            f"{s.psnr_capped_fraction:.1%}.",
            "",
            "| selection | SSIM | PSNR (dB) |",
            "|---|---|---|",
            _row2("best of K, per metric", s.per_metric.scores),
            _row2(s.joint.selection, s.joint.scores),
            _row2("mean of K (no selection)", s.mean_of_k.scores),
            *([_row2("static baseline (input held still)", s.static.scores)] if s.static is not None else []),
            "",
            f"Conditioning frame (frame {s.conditioning_frame}, best per metric): SSIM "
            f"{_fmt(s.per_metric.conditioning_frame.ssim)}, PSNR {_fmt(s.per_metric.conditioning_frame.psnr, 2)} dB.",
            "",
            f"Diversity (mean pairwise L1 between the K samples of one image): {_fmt(s.diversity.samples, 4)}; "
            f"real clips: {_fmt(s.diversity.real, 4)} ({s.diversity.real_reference or 'n/a'})"
            + (f"; real clips' frame changes (x^t − x^1, as if they shared one first frame): "
               f"{_fmt(s.diversity.real_changes, 4)}." if s.diversity.real_changes is not None else "."),
            "",
        ]
    if card.reconstruction is not None:
        r = card.reconstruction
        lines += ["## Reconstruction Ṽ_x (all frames)", "", "| | SSIM | PSNR (dB) | L1 |", "|---|---|---|---|",
                  _row("reconstruction", r.scores), ""]
    if card.fvd is not None:
        f = card.fvd
        value = "n/a" if f.value is None else f"{f.value:.2f}"
        lines += ["## FVD", "", f"FVD = **{value}** ({f.n_fake} generated vs {f.n_real} real clips; {f.fake_set}; "
                  f"features: {f.settings.get('features')}; weights: {f.settings.get('weights')}).", ""]
    if card.transfer is not None:
        t = card.transfer
        lines += [f"## Ground-truth motion transfer ({t.pairs} pairs, seed {t.pair_seed})", "",
                  "| method | SSIM | PSNR (dB) | L1 |", "|---|---|---|---|"]
        lines += [_row(name, scores) for name, scores in t.methods.items()]
        gain = "n/a" if t.motion_gain_l1 is None else f"{t.motion_gain_l1:+.4f}"
        lines += ["", f"Motion gain (L1 with the wrong motion clip − L1 with the right one): {gain} "
                  "(> 0 when the model uses the motion clip).", ""]
    if card.real_transfer is not None:
        lines += _real_transfer_lines(card)
    if card.disentanglement is not None:
        g = card.disentanglement
        ratio = "undefined (output ignores the motion clip)" if g.leakage_ratio is None else f"{g.leakage_ratio:.4f}"
        cp = g.content_preservation
        lines += ["## Disentanglement", "", f"Leakage ratio (0 ideal) = {ratio}: output change when only the motion "
                  f"clip's content changes {g.content_change:.4f} ÷ when only its motion changes "
                  f"{g.motion_change:.4f} ({g.triples} triples).", "",
                  f"Colour drift from the target image: model {_fmt(cp.model_color_drift, 4)}, "
                  f"ground truth {_fmt(cp.truth_color_drift, 4)}.", ""]
    if figures:
        lines += ["## Figures", ""]
        lines += [f"![{name}]({file})" if file.endswith(".png") else f"- {name}: `{file}`"
                  for name, file in figures.items()]
        lines.append("")
    if card.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in card.notes] + [""]
    lines += ["Every protocol choice is in `metric_card.json`."]
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, card: MetricCard, figures: dict[str, str]) -> Path:
    path = out_dir / "report.md"
    path.write_text(markdown_report(card, figures), encoding="utf-8")
    return path
