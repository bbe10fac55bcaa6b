"""The monitoring dashboard: one static HTML page of inline SVG charts, no script, no network.

People read trends in pictures: per batch, the drift distance of every feature against its
threshold, the missing fraction, the score mean and distribution, and once labels exist the
sliced AUC and false positive rate and the fairness gaps; the current verdict on top. It opens
from disk in any browser and renders as a KFP HTML artifact.
"""

from __future__ import annotations

import html

from mlpipe.config.dataset import DatasetConfig

W, H, PAD = 360, 170, 34
COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
VERDICT_COLORS = {"ok": "#2ca02c", "alarm": "#ff7f0e", "retrain": "#d62728"}


def _line_chart(
    chart_id: str, kind: str, title: str, n: int, series: list, bound: float | None = None
) -> str:
    """An SVG line chart over batches 0..n-1: `series` is [(name, [value or None per batch])]."""
    values = [v for _, vs in series for v in vs if v is not None] + ([bound] if bound is not None else [])
    top = max(values, default=1.0) * 1.15 or 1.0

    def x(i):
        return PAD + (W - 2 * PAD) * (i / max(n - 1, 1))

    def y(v):
        return H - PAD + -(H - 2 * PAD) * (v / top)

    parts = [
        f'<svg id="{chart_id}" data-chart="{kind}" class="chart" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<text x="{PAD}" y="14" class="t">{html.escape(title)}</text>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#999"/>',
        f'<text x="2" y="{PAD + 4}" class="a">{top:.3g}</text><text x="2" y="{H - PAD}" class="a">0</text>',
    ]
    for i in range(n):
        parts.append(f'<text x="{x(i) - 3:.1f}" y="{H - PAD + 13}" class="a">{i}</text>')
    if bound is not None:
        parts.append(
            f'<line class="bound" x1="{PAD}" y1="{y(bound):.1f}" x2="{W - PAD}" y2="{y(bound):.1f}" '
            f'stroke="#d62728" stroke-dasharray="4 3"><title>bound {bound:.4g}</title></line>'
        )
    for k, (name, vs) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        points = [(x(i), y(v)) for i, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for (px, py), v in zip(points, [v for v in vs if v is not None], strict=True):
            parts.append(
                f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"><title>{html.escape(name)}: {v:.4g}</title></circle>'
            )
        if len(series) > 1:
            parts.append(
                f'<text x="{W - PAD + 2}" y="{PAD + 11 * k}" class="l" fill="{color}">{html.escape(name[:14])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _distribution(records: list[dict]) -> str:
    """Score histograms per batch as a strip of shaded cells (darker: more of the batch's scores)."""
    n = len(records)
    cell_w = (W - 2 * PAD) / max(n, 1)
    parts = [
        f'<svg id="chart-prediction-distribution" data-chart="prediction" class="chart" width="{W}" '
        f'height="{H}" viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg" role="img">',
        '<text x="34" y="14" class="t">score distribution per batch (0 bottom, 1 top)</text>',
    ]
    for i, r in enumerate(records):
        counts = r["predictions"]["histogram"]
        total = max(sum(counts), 1)
        cell_h = (H - 2 * PAD) / len(counts)
        for b, count in enumerate(counts):
            shade = min(1.0, 4 * count / total)
            parts.append(
                f'<rect x="{PAD + i * cell_w:.1f}" y="{H - PAD - (b + 1) * cell_h:.1f}" width="{cell_w:.1f}" '
                f'height="{cell_h:.1f}" fill="#1f77b4" fill-opacity="{shade:.2f}"/>'
            )
        parts.append(f'<text x="{PAD + (i + 0.4) * cell_w:.1f}" y="{H - PAD + 13}" class="a">{i}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _series(records: list[dict], get) -> list:
    out = []
    for r in records:
        try:
            out.append(get(r))
        except (KeyError, TypeError):
            out.append(None)
    return out


def charts(config: DatasetConfig, records: list[dict]) -> dict[str, list[str]]:
    """The SVG charts of each configured kind."""
    m, n, out = config.monitoring, len(records), {}
    if "drift" in m.charts:
        out["drift"] = []
        for f in config.feature_keys:
            values = _series(records, lambda r, f=f: r["drift"][f]["value"])
            bound = next((r["drift"][f]["threshold"] for r in records if f in r["drift"]), None)
            out["drift"].append(
                _line_chart(f"chart-drift-{f}", "drift", f"drift: {f}", n, [(f, values)], bound)
            )
    if "missing" in m.charts:
        series = [
            (f, _series(records, lambda r, f=f: r["quality"]["missing"][f])) for f in config.feature_keys
        ]
        series = [s for s in series if any(v for v in s[1])] or series[:1]
        out["missing"] = [_line_chart("chart-missing", "missing", "missing fraction", n, series)]
    if "prediction" in m.charts:
        mean = [
            ("batch", _series(records, lambda r: r["predictions"]["mean"])),
            ("eval data", _series(records, lambda r: r["predictions"]["reference_mean"])),
        ]
        drift = [("score drift", _series(records, lambda r: r["predictions"]["drift"]))]
        out["prediction"] = [
            _line_chart("chart-prediction-mean", "prediction", "mean score", n, mean),
            _line_chart(
                "chart-prediction-drift",
                "prediction",
                "score drift (JS)",
                n,
                drift,
                m.prediction_drift_threshold,
            ),
            _distribution(records),
        ]
    labelled = [r for r in records if r.get("performance")]
    slices = sorted({s for r in labelled for s in r["performance"]["metrics"]})
    if "performance" in m.charts and labelled:
        out["performance"] = [
            _line_chart(
                f"chart-performance-{metric.split('@')[0]}", "performance", f"{metric} by slice", n,
                [(s, _series(records, lambda r, s=s, metric=metric: r["performance"]["metrics"][s][metric])) for s in slices],
            )
            for metric in ("auc", "false_positive_rate@0.5")
        ]  # fmt: skip
    if "fairness" in m.charts and labelled:
        gates = sorted({g for r in labelled for g in r["performance"]["fairness"]})
        out["fairness"] = [
            _line_chart(
                f"chart-fairness-{g.replace('/', '-').replace('@', '-')}", "fairness", f"gap: {g}", n,
                [("gap", _series(records, lambda r, g=g: r["performance"]["fairness"][g]["gap"])),
                 ("card", _series(records, lambda r, g=g: r["performance"]["fairness"][g]["card_gap"]))],
            )
            for g in gates
        ]  # fmt: skip
    return out


def render_dashboard(config: DatasetConfig, records: list[dict]) -> str:
    """The whole page: verdict on top, then each chart kind's section."""
    last = records[-1]["decision"] if records else {"verdict": "ok", "reasons": [], "alarms": []}
    verdict = last["verdict"]
    lines = last["reasons"] or last["alarms"] or ["every signal within its bound"]
    version = records[-1]["model_version"] if records else "-"
    sections = []
    for kind, svgs in charts(config, records).items():
        sections.append(f'<section id="section-{kind}"><h2>{kind}</h2>{"".join(svgs)}</section>')
    if not any(r.get("performance") for r in records):
        sections.append(
            '<p class="note">No labels yet: performance and fairness charts appear once labels arrive.</p>'
        )
    reasons = "".join(f"<li>{html.escape(x)}</li>" for x in lines)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Monitoring: {html.escape(config.model_name)}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; color: #222; }}
#verdict {{ padding: 10px 14px; border-radius: 6px; color: #fff; background: {VERDICT_COLORS[verdict]}; }}
#verdict h1 {{ margin: 0 0 4px 0; font-size: 20px; }}
section {{ margin-top: 14px; }} h2 {{ font-size: 16px; margin: 6px 0; }}
.chart {{ border: 1px solid #ddd; margin: 3px; background: #fff; }}
.t {{ font-size: 11px; font-weight: bold; }} .a {{ font-size: 9px; fill: #555; }} .l {{ font-size: 8px; }}
</style></head><body>
<div id="verdict" data-verdict="{verdict}"><h1>{html.escape(config.model_name)} version {version}: {verdict.upper()}</h1>
<p>{len(records)} batches monitored (x axis: batch number)</p><ul>{reasons}</ul></div>
{"".join(sections)}
</body></html>
"""
