"""Server-rendered pages of the local view: plain HTML, inline CSS and JS, no CDN, no framework.

Every value that came from a file, a partner or the coordinator is escaped
here (``esc``); partner-supplied fields are untrusted input on our machine.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from html import escape
from typing import Any

CSS = """
:root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; --card:#fff; --accent:#1d4ed8; --ok:#15803d; --bad:#b91c1c; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
header { background:#0f172a; color:#fff; padding:10px 24px; display:flex; align-items:center; gap:28px; }
header .brand { font-weight:700; letter-spacing:.02em; }
header nav a { color:#cbd5e1; text-decoration:none; margin-right:18px; padding:4px 0; }
header nav a[aria-current=page] { color:#fff; border-bottom:2px solid #60a5fa; }
header .who { margin-left:auto; color:#94a3b8; font-size:13px; }
main { padding:20px 24px 40px; max-width:1500px; }
h1 { font-size:20px; margin:0 0 14px; } h2 { font-size:16px; margin:0 0 10px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px; margin-bottom:16px; }
.grid { display:grid; grid-template-columns:repeat(auto-fill,minmax(430px,1fr)); gap:16px; }
.muted { color:var(--muted); } .small { font-size:12px; }
.banner { border-radius:6px; padding:10px 14px; margin-bottom:14px; }
.banner.warn { background:#fef3c7; border:1px solid #f59e0b; } .banner.bad { background:#fee2e2; border:1px solid #ef4444; }
.banner.ok { background:#dcfce7; border:1px solid #22c55e; }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; background:#e2e8f0; margin:1px 2px 1px 0; }
.pill.active { background:#dcfce7; color:#14532d; } .pill.proposed { background:#fef3c7; color:#78350f; } .pill.revoked { background:#fee2e2; color:#7f1d1d; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:#334155; background:#f1f5f9; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
table.kv th { width:34%; background:none; }
table.heat { width:auto; } table.heat td, table.heat th { text-align:center; min-width:88px; border:2px solid #fff; }
table.heat td { font-variant-numeric:tabular-nums; font-weight:600; border-radius:4px; }
table.heat td.suppressed { background:repeating-linear-gradient(45deg,#f1f5f9,#f1f5f9 6px,#e2e8f0 6px,#e2e8f0 12px); color:var(--muted); font-weight:400; }
table.heat td.none { background:#fff; color:#cbd5e1; }
table.heat td.revealed { box-shadow:inset 0 0 0 3px #f59e0b; }
.swatch { display:inline-block; width:14px; height:10px; border-radius:2px; box-shadow:inset 0 0 0 2px #f59e0b; vertical-align:middle; }
.legend { display:flex; align-items:center; gap:8px; margin-top:8px; }
th[data-sort] { cursor:pointer; user-select:none; }
th[data-sort]::after { content:" \\2195"; color:#94a3b8; }
th[aria-sort=ascending]::after { content:" \\25B2"; color:var(--accent); }
th[aria-sort=descending]::after { content:" \\25BC"; color:var(--accent); }
.toolbar { display:flex; flex-wrap:wrap; gap:10px; align-items:end; margin-bottom:12px; }
.toolbar label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); gap:3px; }
input, select, button { font:inherit; padding:6px 8px; border:1px solid #cbd5e1; border-radius:6px; background:#fff; }
input[type=search] { width:260px; }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
.bar { display:inline-block; height:8px; background:#bfdbfe; border-radius:4px; vertical-align:middle; margin-left:6px; }
dl.fields { margin:0; display:grid; grid-template-columns:auto 1fr; gap:0 8px; font-size:13px; }
dl.fields dt { color:var(--muted); } dl.fields dd { margin:0; }
.count { font-weight:600; }
"""

JS = """
(function () {
  const table = document.getElementById('targets');
  if (!table) return;
  const body = table.tBodies[0];
  const all = Array.from(body.rows);
  const q = document.getElementById('q'), partner = document.getElementById('f-partner'),
        mine = document.getElementById('f-mine'), theirs = document.getElementById('f-theirs'),
        minScore = document.getElementById('f-score'), shown = document.getElementById('shown');
  function visible(row) {
    const d = row.dataset;
    if (q.value && !d.search.includes(q.value.trim().toLowerCase())) return false;
    if (partner.value && d.partner !== partner.value) return false;
    if (mine.value && !d.mine.split(' ').includes(mine.value)) return false;
    if (theirs.value && !d.theirs.split(' ').includes(theirs.value)) return false;
    if (minScore.value && parseFloat(d.score) < parseFloat(minScore.value)) return false;
    return true;
  }
  function apply() {
    let n = 0;
    for (const row of all) { const v = visible(row); row.hidden = !v; if (v) n++; }
    shown.textContent = n;
  }
  for (const el of [q, partner, mine, theirs, minScore]) el.addEventListener('input', apply);
  table.querySelectorAll('th[data-sort]').forEach(function (th) {
    th.addEventListener('click', function () {
      const key = th.dataset.sort, numeric = th.dataset.type === 'number';
      const dir = th.getAttribute('aria-sort') === 'descending' ? 'ascending'
                : th.getAttribute('aria-sort') === 'ascending' ? 'descending' : (numeric ? 'descending' : 'ascending');
      table.querySelectorAll('th[data-sort]').forEach(function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir);
      const sign = dir === 'ascending' ? 1 : -1;
      all.sort(function (a, b) {
        const x = a.dataset[key], y = b.dataset[key];
        let c = numeric ? (parseFloat(x || '-1') - parseFloat(y || '-1')) : x.localeCompare(y);
        if (c === 0) c = parseInt(a.dataset.rank) - parseInt(b.dataset.rank);
        return sign * c;
      });
      for (const row of all) body.appendChild(row);
    });
  });
  function csvCell(v) { v = v == null ? '' : String(v); return /[",\\r\\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }
  document.getElementById('export').addEventListener('click', function () {
    const lines = [JSON.parse(table.dataset.csvHeader).map(csvCell).join(',')];
    for (const row of all) if (!row.hidden) lines.push(JSON.parse(row.dataset.csv).map(csvCell).join(','));
    const blob = new Blob(['\\ufeff' + lines.join('\\r\\n') + '\\r\\n'], {type: 'text/csv;charset=utf-8'});
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob); a.download = 'co-sell-targets.csv';
    document.body.appendChild(a); a.click(); a.remove();
  });
  apply();
})();
"""


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def page(title: str, current: str, party: str, body: str, nonce: str, banners: Sequence[tuple[str, str]] = ()) -> str:
    nav = "".join(
        f'<a href="{href}"{" aria-current=page" if key == current else ""}>{label}</a>'
        for key, href, label in (
            ("overview", "/", "Agreements"),
            ("targets", "/targets", "Co-sell targets"),
            ("receipts", "/receipts", "Receipts"),
        )
    )
    notes = "".join(f'<div class="banner {esc(kind)}" role="status">{esc(text)}</div>' for kind, text in banners)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} - Cleanroom ({esc(party)})</title>
<style nonce="{nonce}">{CSS}</style></head>
<body><header><span class="brand">Cleanroom</span><nav>{nav}</nav><span class="who">signed in locally as <b>{esc(party)}</b></span></header>
<main><h1>{esc(title)}</h1>{notes}{body}</main>
<script nonce="{nonce}">{JS}</script></body></html>"""


def _shade(value: int, top: int) -> tuple[str, str]:
    """Background and text colour of a heat-map cell: white to deep blue by share of the largest cell."""
    t = 0.0 if top <= 0 else value / top
    low, high = (239, 246, 255), (29, 78, 216)
    rgb = tuple(round(a + (b - a) * t) for a, b in zip(low, high, strict=True))
    return f"rgb({rgb[0]},{rgb[1]},{rgb[2]})", "#fff" if t > 0.55 else "#0f172a"


def heat_map(
    view: dict[str, Any] | None,
    mine_pops: list[str],
    their_pops: list[str],
    viewer: str,
    other: str,
    revealed: Set[tuple[str, str]] = frozenset(),
) -> str:
    """The overlap matrix released to us, as a heat map (rows: our populations, columns: theirs);
    pairs on which accounts are revealed to us are outlined."""
    if view is None:
        return '<p class="muted">No overlap released to you yet: run <code>cleanroom-client map</code> or <code>overlap</code> for this agreement.</p>'
    cells = {(c["mine"], c["theirs"]): c for c in view["cells"]}
    top = max((c["count"] or 0 for c in view["cells"]), default=0)
    head = "".join(f'<th scope="col">{esc(t)}</th>' for t in their_pops)
    rows = []
    for m in mine_pops:
        tds = []
        for t in their_pops:
            c = cells.get((m, t))
            mark = " revealed" if (m, t) in revealed else ""
            hint = "; accounts revealed to you on this pair" if mark else ""
            if c is None:
                tds.append('<td class="none" title="not released to you">-</td>')
            elif c["suppressed"]:
                tds.append(
                    f'<td class="suppressed{mark}" title="fewer than {view["min_count"]}: suppressed{hint}">&lt; {view["min_count"]}</td>'
                )
            else:
                bg, fg = _shade(c["count"], top)
                tds.append(
                    f'<td class="cell{mark}" style="background:{bg};color:{fg}" data-count="{c["count"]}" title="{c["count"]:,} companies{hint}">{c["count"]:,}</td>'
                )
        rows.append(f'<tr><th scope="row">{esc(m)}</th>{"".join(tds)}</tr>')
    totals = view["totals"]
    overlap = "withheld" if totals["overlap"] is None else f"{totals['overlap']:,}"
    lo, hi = _shade(0, 1)[0], _shade(1, 1)[0]
    return f"""<table class="heat" aria-label="overlap heat map"><thead><tr><th>{esc(viewer)} \\ {esc(other)}</th>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<div class="legend small muted"><span>0</span><svg width="120" height="10" aria-hidden="true"><defs><linearGradient id="g"><stop offset="0" stop-color="{lo}"/><stop offset="1" stop-color="{hi}"/></linearGradient></defs><rect width="120" height="10" rx="3" fill="url(#g)"/></svg><span>{top:,}</span>
{'<span class="swatch"></span><span>accounts revealed</span>' if revealed else ""}<span>&nbsp;accounts: you {totals["mine"]:,}, {esc(other)} {totals["theirs"]:,}; overlap {overlap}; run {esc(view["run_id"])}, released {esc(view["released_at"][:19])}</span></div>"""


def kv_table(rows: list[tuple[str, str]]) -> str:
    return '<table class="kv">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>"


def targets_table(targets: list[dict[str, Any]], header: list[str], csv_cells: list[list[str]]) -> str:
    partners = sorted({t["partner"] for t in targets})
    mine = sorted({p for t in targets for p in t["my_populations"]})
    theirs = sorted({p for t in targets for p in t["partner_populations"]})

    def options(values: list[str]) -> str:
        return '<option value="">all</option>' + "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)

    rows = []
    for t, cells in zip(targets, csv_cells, strict=True):
        fields = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in t["partner_fields"].items() if v not in (None, ""))
        search = " ".join([t["account"], t["domain"], t["partner"], *(str(v) for v in t["partner_fields"].values() if v)]).lower()
        amount = t["my_amount"]
        rows.append(
            f'<tr data-rank="{t["rank"]}" data-score="{t["score"]}" data-account="{esc(t["account"].casefold())}" data-partner="{esc(t["partner"])}"'
            f' data-amount="{"" if amount is None else amount}" data-activity="{esc(t["partner_last_activity"] or "")}"'
            f' data-mine="{esc(" ".join(t["my_populations"]))}" data-theirs="{esc(" ".join(t["partner_populations"]))}"'
            f' data-search="{esc(search)}" data-csv="{esc(json.dumps(cells))}">'
            f'<td class="num">{t["rank"]}</td>'
            f'<td class="num score">{t["score"]:.1f}<span class="bar" style="width:{max(2, round(t["score"] * 0.6))}px"></span></td>'
            f'<td class="account"><b>{esc(t["account"])}</b><div class="small muted">{esc(t["account_id"] or "")}</div></td>'
            f"<td>{esc(t['domain'])}</td>"
            f'<td>{"".join(f"<span class=pill>{esc(p)}</span>" for p in t["my_populations"])}<div class="small muted">{esc(t["my_stage"] or "")}</div></td>'
            f'<td class="num">{"" if amount is None else f"{amount:,.0f}"}</td>'
            f'<td class="partner">{esc(t["partner"])}</td>'
            f"<td>{''.join(f'<span class=pill>{esc(p)}</span>' for p in t['partner_populations'])}</td>"
            f'<td><dl class="fields">{fields}</dl></td>'
            f'<td class="num">{len(t["partners_overlapping"])}</td></tr>'
        )
    return f"""<div class="toolbar">
<label>Search<input type="search" id="q" placeholder="account, domain, owner..." aria-label="search targets"></label>
<label>Partner<select id="f-partner">{options(partners)}</select></label>
<label>My population<select id="f-mine">{options(mine)}</select></label>
<label>Partner's population<select id="f-theirs">{options(theirs)}</select></label>
<label>Minimum score<input type="number" id="f-score" min="0" max="100" step="1" style="width:90px"></label>
<button type="button" id="export">Export visible rows (CSV)</button>
<a href="/targets.csv">Download all (CSV)</a>
<span class="muted">Showing <span class="count" id="shown">{len(targets)}</span> of {len(targets)} targets</span>
</div>
<table id="targets" data-csv-header="{esc(json.dumps(header))}"><thead><tr>
<th class="num" data-sort="rank" data-type="number" scope="col">#</th>
<th class="num" data-sort="score" data-type="number" scope="col" aria-sort="descending">Score</th>
<th data-sort="account" scope="col">Account</th><th scope="col">Domain</th><th scope="col">My populations</th>
<th class="num" data-sort="amount" data-type="number" scope="col">My amount</th>
<th data-sort="partner" scope="col">Partner</th><th scope="col">Partner's populations</th><th data-sort="activity" scope="col">Partner's fields</th>
<th class="num" scope="col" title="partners that have this account">Partners</th>
</tr></thead><tbody>{"".join(rows)}</tbody></table>"""
