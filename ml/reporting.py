"""Building blocks for the platform's HTML reports: self-contained pages (plots inlined), tables with
small-cell suppression, and a lineage footer. Plain library: no Dagster, no dbt.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd

SMALL_CELL_THRESHOLD = 5
SUPPRESSED = "<5"


def suppress_small_cells(
    frame: pd.DataFrame,
    count_columns: Sequence[str],
    threshold: int = SMALL_CELL_THRESHOLD,
    dependent_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Return a copy in which every count below ``threshold`` (and above zero) is replaced by ``"<5"``.

    ``dependent_columns`` (rates, means, shares computed from those people) are blanked on the same
    rows, so a suppressed count cannot be recovered from a published rate. Zero is published as zero.
    """
    published = frame.copy()
    if published.empty:
        return published
    small = pd.Series(False, index=published.index)
    for column in count_columns:
        values = pd.to_numeric(published[column], errors="coerce")
        is_small = values.notna() & (values > 0) & (values < threshold)
        small |= is_small
        published[column] = published[column].astype(object).where(~is_small, SUPPRESSED)
    for column in dependent_columns:
        published[column] = published[column].astype(object).where(~small, None)
    return published


_COUNTED = re.compile(
    r"\b(\d+)(?=\s+(?:(?:treated|control|comparison|matched)\s+)?(?:people|person|offenders?|offender\(s\))\b)"
)


def not_estimable_text(reason: str, threshold: int = SMALL_CELL_THRESHOLD) -> str:
    """What a report prints where a figure would be when the analysis could not be estimated: ``not
    estimable: <reason>``, with any count of people under ``threshold`` in the reason shown as ``<5``
    (a reason such as "3 treated people, all with zero DA incidents" would otherwise publish a small cell)."""

    def mask(match: re.Match) -> str:
        n = int(match.group(1))
        return SUPPRESSED if 0 < n < threshold else match.group(1)

    text = _COUNTED.sub(mask, str(reason or "").strip())
    return f"not estimable: {text}" if text else "not estimable"


def figure_to_img(fig, alt: str) -> str:
    """Render a matplotlib figure as an inline PNG ``<img>`` tag (the page stays readable offline)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{encoded}">'


def table_html(frame: pd.DataFrame, float_format: str = "{:,.3g}", caption: str | None = None) -> str:
    def fmt(value):
        if isinstance(value, float):
            return "" if pd.isna(value) else float_format.format(value)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return str(value)

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


@dataclass
class Section:
    title: str
    body_html: str
    anchor: str = ""


@dataclass
class Lineage:
    """What the footer of every report names: the run, the code version and the input hashes."""

    run_id: str = "unknown"
    code_version: str = "unknown"
    input_hashes: dict[str, str] = field(default_factory=dict)


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0;font-size:0.88em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f0f0f0}td:first-child,th:first-child{text-align:left}caption{caption-side:top;text-align:left;font-weight:600;padding:4px 0}
.note{background:#fff8e0;border-left:4px solid #e0b000;padding:0.5em 1em}.muted{color:#666;font-size:0.85em}
footer{margin-top:3em;border-top:1px solid #ccc;padding-top:1em;font-size:0.8em;color:#555}
img{max-width:100%}
"""


def html_page(
    title: str, sections: Iterable[Section], lineage: Lineage | None = None, intro: str = ""
) -> str:
    """A complete, self-contained HTML page (no external assets)."""
    sections = list(sections)
    toc = "".join(
        f'<li><a href="#{html.escape(s.anchor or f"s{i}")}">{html.escape(s.title)}</a></li>'
        for i, s in enumerate(sections)
    )
    body = "".join(
        f'<h2 id="{html.escape(s.anchor or f"s{i}")}">{html.escape(s.title)}</h2>{s.body_html}'
        for i, s in enumerate(sections)
    )
    lineage = lineage or Lineage()
    hashes = "".join(
        f"<li><code>{html.escape(name)}</code> sha256 <code>{html.escape(digest)}</code></li>"
        for name, digest in sorted(lineage.input_hashes.items())
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = (
        f"<footer>Run <code>{html.escape(lineage.run_id)}</code> · code version "
        f"<code>{html.escape(lineage.code_version)}</code> · generated {generated}"
        f"<details><summary>Input files</summary><ul>{hashes}</ul></details></footer>"
    )
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{intro}"
        f"<nav><ul>{toc}</ul></nav>{body}{footer}</body></html>"
    )


def paragraph(text: str) -> str:
    """``text`` as one escaped HTML paragraph."""
    return f"<p>{html.escape(text)}</p>"
