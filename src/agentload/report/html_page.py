"""The self-contained HTML page: styles, the embedded chart library, the chart renderer.

Charts are drawn by uPlot (MIT; ``assets/uPlot.iife.min.js``, its licence beside it),
embedded once per file, so the page works offline. Everything the page shows that came from
a run (names, error messages, action names) is escaped: text with ``html.escape`` and the
chart data as JSON whose ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc., so no value
can close the ``<script>`` element that carries it.

The page reports on itself for tests: ``window.onerror`` lists errors in ``#js-errors``, and
``<body data-plots-rendered="N">`` is set once every chart has drawn (``N`` = how many).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from agentload.report.html_charts import Spec


@cache
def _asset(name: str) -> str:
    return resources.files("agentload.report").joinpath("assets", name).read_text("utf-8")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def script_json(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, numeric_from: int = 1
) -> str:
    """An HTML table; cells are escaped, columns from ``numeric_from`` right-aligned."""
    head = "".join(
        f'<th class="{"num" if i >= numeric_from else ""}">{esc(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if i >= numeric_from else ""}">{esc(c)}</td>'
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def card(label: str, value: str, detail: str = "", tone: str = "") -> str:
    return (
        f'<div class="card {esc(tone)}"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div><div class="detail">{esc(detail)}</div></div>'
    )


def chart_slots(charts: Sequence[Spec], *, wide: Sequence[str] = ()) -> str:
    return "".join(
        f'<figure class="chart{" wide" if c["id"] in wide else ""}"><figcaption>'
        f"{esc(c['title'])}</figcaption>"
        f'<div class="plot" id="plot-{esc(c["id"])}"></div>'
        f'<p class="note">{esc(c.get("note", ""))}</p></figure>'
        for c in charts
    )


def page(title: str, subtitle: str, body: str, charts: Sequence[Spec]) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_asset('uPlot.min.css')}\n{_asset('report.css')}</style>"
        "<script>window.__errors=[];window.onerror=function(m,s,l,c,e){"
        "window.__errors.push(String(m)+' at '+l+':'+c);var p=document.getElementById"
        "('js-errors');if(p){p.textContent=window.__errors.join('\\n');}};</script>"
        f'</head><body><header><h1>{esc(title)}</h1><p class="sub">{esc(subtitle)}</p>'
        f'</header><main>{body}</main><pre id="js-errors"></pre>'
        f'<script id="chart-data" type="application/json">{script_json(list(charts))}</script>'
        f"<script>{_asset('uPlot.iife.min.js')}</script><script>{_asset('report.js')}</script>"
        "</body></html>\n"
    )
