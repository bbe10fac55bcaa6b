"""The static fairness report (HTML with inline SVG) and the Markdown model card.

Fairness Indicators' own view is a Jupyter widget; a KFP HTML artifact must be
one self-contained page, so charts are drawn as inline SVG with no scripts and
nothing fetched, and the page renders offline, in the KFP UI and in a browser.
"""

from __future__ import annotations

import html
import json

from mlpipe.components.evaluate.core import SUMMARY_METRICS
from mlpipe.config.dataset import DatasetConfig
from mlpipe.evaluation.gates import slice_keys_of, slices_of
from mlpipe.evaluation.results import OVERALL, SliceKey, undefined_on

COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and value.is_integer() and abs(value) > 1:
        return f"{int(value):,}"
    return f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))


def _cell(name: str, metric: str, value, one_class: dict[str, str]) -> str:
    """A metric of a slice as shown: counts whole, a metric a one-class slice cannot have said so."""
    if value is None and name in one_class and undefined_on(metric, one_class[name]):
        return "n/a (one class)"
    if metric == "example_count" and isinstance(value, int | float):
        return f"{int(value):,}"
    return _fmt(value)


def _no_gates(config: DatasetConfig) -> str:
    """Why the fairness table is empty."""
    if not config.slicing.features:
        return "No sensitive feature configured (`slicing.features`): no slice to compare."
    return "No fairness gate configured (`evaluation.fairness_gates`)."


def _bar_chart(
    title: str, groups: list[str], series: dict[str, list[float | None]], overall: list[float | None]
) -> str:
    """Grouped bars: one group per x label (threshold or metric), one bar per slice; dashed = overall."""
    width, height, left, bottom, top = 720, 240, 50, 30, 28
    labels = list(series)
    values = [v for vs in series.values() for v in vs if v is not None] + [
        v for v in overall if v is not None
    ]
    vmax = max(values + [1e-9]) * 1.1
    plot_w, plot_h = width - left - 10, height - bottom - top
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(labels), 1)
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height + 20 * ((len(labels) + 3) // 4)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{html.escape(title)}</text>',
    ]
    for tick in range(5):
        y = top + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{vmax * tick / 4:.2f}</text>'
        )
    for g, group in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        for s, label in enumerate(labels):
            value = series[label][g]
            if value is None:
                continue
            h = plot_h * value / vmax
            parts.append(
                f'<rect x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w * 0.9:.1f}" height="{h:.1f}" '
                f'fill="{COLORS[s % len(COLORS)]}"><title>{html.escape(label)} @ {html.escape(group)}: {value:.4f}</title></rect>'
            )
        if overall[g] is not None:
            y = top + plot_h - plot_h * overall[g] / vmax
            parts.append(
                f'<line x1="{x0 - 2:.1f}" x2="{x0 + group_w * 0.8 + 2:.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#000" stroke-dasharray="4 2"><title>overall: {overall[g]:.4f}</title></line>'
            )
        parts.append(
            f'<text x="{x0 + group_w * 0.4:.1f}" y="{top + plot_h + 14}" text-anchor="middle">{html.escape(group)}</text>'
        )
    for s, label in enumerate(labels):
        x, y = left + (s % 4) * 170, height + 4 + 20 * (s // 4)
        parts.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{COLORS[s % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="{y + 9}">{html.escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _slice_table(
    rows: dict[str, dict[str, float]], overall: dict[str, float], one_class: dict[str, str]
) -> str:
    head = "".join(f"<th>{html.escape(m)}</th>" for m in SUMMARY_METRICS)
    body = [
        f"<tr><th>{OVERALL}</th>"
        + "".join(f"<td>{_cell(OVERALL, m, overall.get(m), one_class)}</td>" for m in SUMMARY_METRICS)
        + "</tr>"
    ]
    for name, values in sorted(rows.items()):
        cells = []
        for m in SUMMARY_METRICS:
            value, base = values.get(m), overall.get(m)
            gap = (
                ""
                if m == "example_count" or value is None or base is None
                else f" <small>({value - base:+.3f})</small>"
            )
            cells.append(f"<td>{_cell(name, m, value, one_class)}{gap}</td>")
        body.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>slice</th>{head}</tr>{''.join(body)}</table>"


def _compared(check: dict) -> str:
    """What a fairness check compared: its two extreme slices, or why it could not compare."""
    if check.get("problem"):
        return check["problem"]
    if check.get("not_judged"):
        return check["not_judged"]
    return f"{check['min_slice']} vs {check['max_slice']}"


def render_html(
    config: DatasetConfig,
    metrics: dict[str, dict[str, float]],
    verdict: dict,
    keys: dict[str, SliceKey] | None = None,
) -> str:
    """The page; `keys` are the slices' (column, value) pairs (read from the names when absent)."""
    overall = metrics.get(OVERALL, {})
    one_class = verdict.get("one_class_slices") or {}
    thresholds = [f"{t:g}" for t in config.evaluation.fairness_thresholds]
    sections = []
    keys = slice_keys_of(metrics, config, keys)
    # TFMA names a cross slice with its columns sorted (`race:Black,sex:Female`), not in config order
    for columns in [*([f] for f in config.slicing.features), *config.slicing.crosses]:
        feature = ",".join(columns)
        rows = slices_of(columns, metrics, keys)
        charts = []
        for metric in ("false_positive_rate", "false_negative_rate"):
            series = {name: [m.get(f"{metric}@{t}") for t in thresholds] for name, m in sorted(rows.items())}
            charts.append(
                _bar_chart(
                    f"{metric} by threshold ({feature})",
                    thresholds,
                    series,
                    [overall.get(f"{metric}@{t}") for t in thresholds],
                )
            )
        threshold_free = ["binary_accuracy", "auc"]
        series = {name: [m.get(metric) for metric in threshold_free] for name, m in sorted(rows.items())}
        charts.append(
            _bar_chart(
                f"accuracy and AUC ({feature})",
                threshold_free,
                series,
                [overall.get(m) for m in threshold_free],
            )
        )
        sections.append(
            f'<section id="slice-{html.escape(feature)}"><h2>Slices by {html.escape(feature)}</h2>'
            f"{_slice_table(rows, overall, one_class)}<div class=charts>{''.join(charts)}</div></section>"
        )
    checks = "".join(
        f"<tr><td>{html.escape(c['feature'])}</td><td>{html.escape(c['metric'])}</td><td>{_fmt(c['gap'])}</td>"
        f"<td>{_fmt(c['max_gap'])}</td><td>{html.escape(_compared(c))}</td>"
        f"<td class={'ok' if c['passed'] else 'bad'}>{'not judged' if c.get('not_judged') else 'pass' if c['passed'] else 'FAIL'}</td></tr>"
        for c in verdict["fairness_checks"]
    )
    reasons = (
        "".join(f"<li>{html.escape(r)}</li>" for r in verdict["reasons"])
        or "<li>All thresholds and fairness gates passed.</li>"
    ) + "".join(f"<li>{html.escape(note)}</li>" for note in verdict.get("undefined") or [])
    gates = (
        f"<table><tr><th>feature</th><th>metric</th><th>gap</th><th>bound</th><th>slices</th>"
        f"<th>result</th></tr>{checks}</table>"
        if checks
        else f"<p>{html.escape(_no_gates(config))}</p>"
    )
    decision = "BLESSED" if verdict["blessed"] else "NOT BLESSED"
    style = (
        "body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}"
        ".ok{color:#1a7f37}.bad{color:#c62828;font-weight:bold}.charts svg{margin:8px 16px 8px 0}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Fairness report: {html.escape(config.model_name)}</title>"
        f"<style>{style}</style></head><body><h1>Fairness report: {html.escape(config.model_name)}</h1>"
        f"<p>Eval examples: {_fmt(overall.get('example_count'))}. Slices with fewer than "
        f"{config.evaluation.min_slice_size} examples are shown but not gated. Dashed lines mark the overall value; "
        f"numbers in brackets are the gap to overall.</p>{''.join(sections)}"
        f"<section id='fairness-gates'><h2>Fairness gates</h2>{gates}</section>"
        f"<section id='decision'><h2>Decision: <span class={'ok' if verdict['blessed'] else 'bad'}>{decision}</span></h2>"
        f"<ul>{reasons}</ul></section></body></html>"
    )


def render_model_card(
    config: DatasetConfig, model_metadata: dict, metrics: dict[str, dict[str, float]], verdict: dict
) -> str:
    lines = [
        f"# Model card: {config.model_name}",
        "",
        f"- Dataset: {config.name}; label `{config.label_key}` (positive: {', '.join(config.label.positive)})",
        f"- Data fingerprint (sha256 of the input files): `{model_metadata.get('data_fingerprint', 'unknown')}`",
        f"- Hyperparameters: `{json.dumps(model_metadata.get('hyperparameters', {}))}`",
        f"- Epochs run: {model_metadata.get('epochs_run', 'unknown')}",
        f"- Baseline: {_baseline_line(verdict.get('baseline'))}",
        "",
        "## Metrics by slice",
        "",
        "| slice | examples | AUC | accuracy | FPR@0.5 | FNR@0.5 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    one_class = verdict.get("one_class_slices") or {}
    columns = (
        "example_count",
        "auc",
        "binary_accuracy",
        "false_positive_rate@0.5",
        "false_negative_rate@0.5",
    )
    for name, m in sorted(metrics.items(), key=lambda kv: (kv[0] != OVERALL, kv[0])):
        cells = " | ".join(_cell(name, c, m.get(c), one_class) for c in columns)
        lines.append(f"| {name} | {cells} |")
    lines += ["", "## Fairness gates", ""]
    if verdict["fairness_checks"]:
        lines += ["| feature | metric | gap | bound | result |", "|---|---|---:|---:|---|"]
    else:
        lines.append(_no_gates(config))
    for c in verdict["fairness_checks"]:
        result = "not judged" if c.get("not_judged") else "pass" if c["passed"] else "FAIL"
        lines.append(
            f"| {c['feature']} | {c['metric']} | {_fmt(c['gap'])} | {_fmt(c['max_gap'])} | {result} |"
        )
    lines += ["", f"## Decision: {'blessed' if verdict['blessed'] else 'not blessed'}", ""]
    lines += [f"- {r}" for r in verdict["reasons"]] or ["- All thresholds and fairness gates passed."]
    if verdict.get("undefined"):
        lines += ["", "Left out of the gates (undefined on a slice of one class):", ""]
        lines += [f"- {note}" for note in verdict["undefined"]]
    return "\n".join(lines) + "\n"


def _baseline_line(baseline: dict | None) -> str:
    if not baseline:
        return "none (first model: absolute thresholds only)"
    source = baseline.get("baseline_source")
    why = {
        "served": "the version serving now",
        "latest blessed": "the newest blessed version; nothing serves",
    }.get(source, source or "")
    how = {
        "stored": "its metrics reused from its registry record: same eval data and eval config",
        "evaluated": "evaluated by TFMA on this eval data",
    }.get(baseline.get("metrics"))
    notes = "; ".join(note for note in (why, how) if note)
    return f"version {baseline['version']}" + (f" ({notes})" if notes else "")
