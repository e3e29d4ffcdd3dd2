"""Geometry for the pages' inline SVG charts (the templates draw them; Jinja escapes every label)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

LIGHT = (236, 243, 251)
DARK = (22, 78, 156)


def _mix(t: float) -> str:
    t = max(0.0, min(1.0, t))
    r, g, b = (round(a + (z - a) * t) for a, z in zip(LIGHT, DARK, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _heatmap_cell(mine: str, theirs: str, c: dict[str, Any] | None, k: Any, top: int) -> dict[str, Any]:
    """One cell's text, colours and tooltip: withheld (not released to the viewer), suppressed ('< k') or a count."""
    if c is None:
        return {
            "mine": mine,
            "theirs": theirs,
            "text": "—",
            "fill": "#ffffff",
            "ink": "#6b7280",
            "title": f"{mine} × {theirs}: not released to you",
            "state": "withheld",
            "count": "",
        }
    if c.get("suppressed"):
        return {
            "mine": mine,
            "theirs": theirs,
            "text": f"< {k}",
            "fill": "url(#hatch)",
            "ink": "#374151",
            "title": f"{mine} × {theirs}: fewer than {k} (suppressed)",
            "state": "suppressed",
            "count": "",
        }
    t = (c["count"] / top) if top else 0.0
    return {
        "mine": mine,
        "theirs": theirs,
        "text": f"{c['count']:,}",
        "fill": _mix(0.08 + 0.92 * t),
        "ink": "#ffffff" if t > 0.5 else "#111827",
        "title": f"{mine} × {theirs}: {c['count']:,}",
        "state": "count",
        "count": str(c["count"]),
    }


def heatmap(release: dict[str, Any], cell_w: int = 132, cell_h: int = 46, label_w: int = 128, head_h: int = 34) -> dict[str, Any]:
    """Rows: the viewer's populations; columns: the partner's. Colour by count, '< k' for suppressed cells."""
    cells = release.get("cells", [])
    rows = list(dict.fromkeys(c["mine"] for c in cells))
    cols = list(dict.fromkeys(c["theirs"] for c in cells))
    by = {(c["mine"], c["theirs"]): c for c in cells}
    top = max([c["count"] for c in cells if c.get("count") is not None] or [0])
    k = release.get("min_count")
    out = [
        {"x": label_w + j * cell_w, "y": head_h + i * cell_h, **_heatmap_cell(mine, theirs, by.get((mine, theirs)), k, top)}
        for i, mine in enumerate(rows)
        for j, theirs in enumerate(cols)
    ]
    return {
        "width": label_w + max(1, len(cols)) * cell_w + 2,
        "height": head_h + max(1, len(rows)) * cell_h + 2,
        "cell_w": cell_w,
        "cell_h": cell_h,
        "label_w": label_w,
        "head_h": head_h,
        "rows": [{"label": m, "y": head_h + i * cell_h + cell_h / 2} for i, m in enumerate(rows)],
        "cols": [{"label": t, "x": label_w + j * cell_w + cell_w / 2} for j, t in enumerate(cols)],
        "cells": out,
    }


def amount(value: Any) -> Decimal | None:
    """A released money figure (a decimal string) as a Decimal; None when suppressed or absent."""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _nice_step(top: float, ticks: int = 4) -> float:
    if top <= 0:
        return 1.0
    raw = top / ticks
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def compact(value: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"{value / size:,.1f}".rstrip("0").rstrip(".") + unit
    return f"{value:,.0f}"


def credit_bars(
    partners: list[dict[str, Any]], width: int = 1080, bar_h: int = 26, gap: int = 14, label_w: int = 150
) -> dict[str, Any]:
    """Horizontal stacked bars per partner: credited won revenue, then credited open pipeline."""
    rows = []
    for p in partners:
        won, open_ = amount(p.get("credited_won")), amount(p.get("credited_open"))
        rows.append(
            {
                "partner": p["partner"],
                "won": won,
                "open": open_,
                "won_text": p.get("credited_won"),
                "open_text": p.get("credited_open"),
            }
        )
    top = max([float((r["won"] or 0) + (r["open"] or 0)) for r in rows] or [0.0])
    step = _nice_step(top)
    axis_max = step * max(1, -(-top // step)) if top else step
    plot_w = width - label_w - 330  # room for the value labels
    scale = plot_w / axis_max
    head = 8
    for i, r in enumerate(rows):
        y = head + i * (bar_h + gap)
        won_w = float(r["won"] or 0) * scale
        open_w = float(r["open"] or 0) * scale
        r.update(
            y=y,
            text_y=y + bar_h / 2,
            won_x=label_w,
            won_w=won_w,
            open_x=label_w + won_w,
            open_w=open_w,
            value_x=label_w + won_w + open_w + 8,
        )
    plot_h = head + len(rows) * (bar_h + gap)
    ticks = []
    value = 0.0
    while value <= axis_max + 1e-9:
        ticks.append({"x": label_w + value * scale, "label": compact(value)})
        value += step
    return {
        "width": width,
        "height": plot_h + 24,
        "bar_h": bar_h,
        "label_w": label_w,
        "plot_h": plot_h,
        "rows": rows,
        "ticks": ticks,
    }


def share_bar(share: float | None, width: int = 120) -> dict[str, Any] | None:
    if share is None:
        return None
    return {"width": width, "fill_w": max(1.0, min(1.0, share) * width), "text": f"{share:.1%}"}
