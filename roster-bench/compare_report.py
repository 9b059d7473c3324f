"""The report of compare.sh for one concurrency: the table, the verdict, the limits, the chart.

    python3 roster-bench/compare_report.py DIR CONCURRENCY SVG

DIR holds the JSON of `roster-bench scim` (roster-sqlite, roster-pg, scim2-server) and of
`roster-bench baseline` (raw-sqlite, raw-pg). A target or row that is missing is shown as
n/a, so the report also reads a partial run.
"""

import html
import json
import pathlib
import sys

TARGETS = ["roster-sqlite", "roster-pg", "scim2-server"]
PEER = "scim2-server"
# The factor each backend should reach against the peer on every phase.
GOALS = {"roster-sqlite": ("SQLite", 5.0), "roster-pg": ("PostgreSQL", 3.0)}

out, concurrency, svg_path = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
r = {p.stem: {row["phase"]: row for row in json.loads(p.read_text())} for p in out.glob("*.json")}
phases = []
for t in TARGETS:
    for ph in r.get(t, {}):
        if ph != "http_floor" and ph not in phases:
            phases.append(ph)


def cell(row):
    if row is None:
        return "n/a"
    text = f"{row['ops_per_sec']:.0f} ({row['p50_ms']:.2f}/{row['p99_ms']:.2f})"
    if row["errors"]:
        text += f" **{row['errors']} errors"
        if row.get("status_503"):
            text += f", {row['status_503']} × 503"
        text += "**"
    return text


def ratio(t, ph):
    """(factor, comparable): comparable only when neither side had errors."""
    mine, peer = r.get(t, {}).get(ph), r.get(PEER, {}).get(ph)
    if mine is None or peer is None or not peer["ops_per_sec"]:
        return None, False
    return mine["ops_per_sec"] / peer["ops_per_sec"], not (mine["errors"] or peer["errors"])


def ratio_cell(t, ph):
    factor, comparable = ratio(t, ph)
    if factor is None:
        return "n/a"
    return f"{factor:.2f}×" if comparable else f"({factor:.2f}×, errors)"


print(f"\n### {concurrency} concurrent clients\n")
print("| phase | roster SQLite ops/s (p50/p99 ms) | roster PostgreSQL ops/s (p50/p99 ms) | "
      "scim2-server ops/s (p50/p99 ms) | SQLite ÷ peer | PostgreSQL ÷ peer |")
print("|---|---|---|---|---|---|")
for ph in phases:
    cells = [cell(r.get(t, {}).get(ph)) for t in TARGETS]
    print(f"| {ph} | " + " | ".join(cells) + f" | {ratio_cell('roster-sqlite', ph)} | {ratio_cell('roster-pg', ph)} |")

# The verdict: errors anywhere, and the phases that miss each goal.
errors = [f"{t} {ph} {row['errors']}" + (f" ({row['status_503']} × 503)" if row.get("status_503") else "")
          for t in TARGETS for ph, row in r.get(t, {}).items() if row["errors"]]
verdict = [f"errors: {'0 on every phase of every target' if not errors else 'yes — ' + ', '.join(errors)}"]
for t, (name, goal) in GOALS.items():
    if t not in r or PEER not in r:
        verdict.append(f"{name} ≥ {goal:g}× peer on every phase: n/a (no results of {t if t not in r else PEER})")
        continue
    misses = []
    for ph in phases:
        factor, comparable = ratio(t, ph)
        if factor is None:
            misses.append(f"{ph} (n/a)")
        elif not comparable:
            misses.append(f"{ph} (errors)")
        elif factor < goal:
            misses.append(f"{ph} {factor:.2f}×")
    verdict.append(f"{name} ≥ {goal:g}× peer on every phase: "
                   + ("yes" if not misses else "no, misses " + ", ".join(misses)))
print(f"\n**{concurrency} clients:** " + "; ".join(verdict) + ".")

for t in ("roster-sqlite", "roster-pg"):
    create = r.get(t, {}).get("create_user")
    if create is not None and "write_batch_size" in create:
        batches = create["write_batch_size"]
        print(f"\n{t} create_user batch sizes: {batches['summary'] if batches else 'not reported'}")

print("\n| limit (same run) | ops/s | p50 / p99 ms |\n|---|---|---|")
for label, key, ph in [("raw SQLite commit (WAL, synchronous=FULL)", "raw-sqlite", "raw_insert_commit"),
                       ("raw PostgreSQL commit", "raw-pg", "raw_insert_commit"),
                       ("HTTP floor: an empty actix-web handler (during the SQLite run)", "roster-sqlite", "http_floor"),
                       ("HTTP floor: an empty actix-web handler (during the PostgreSQL run)", "roster-pg", "http_floor")]:
    row = r.get(key, {}).get(ph)
    if row is None:
        print(f"| {label} | n/a | n/a |")
    else:
        print(f"| {label} | {row['ops_per_sec']:.0f} | {row['p50_ms']:.2f} / {row['p99_ms']:.2f} |")
for backend, raw in (("roster-sqlite", "raw-sqlite"), ("roster-pg", "raw-pg")):
    c, i = r.get(backend, {}).get("create_user"), r.get(raw, {}).get("raw_insert_commit")
    if c is not None and i is not None:
        print(f"\n{backend}: POST /Users at {c['ops_per_sec'] / i['ops_per_sec']:.2f} of the raw commit rate")

# Chart: p50 latency per phase and target, log-free horizontal bars.
colors = {"roster-sqlite": "#2b6cb0", "roster-pg": "#38a169", "scim2-server": "#d69e2e"}
bar, gap, left, width = 12, 10, 230, 520
rows = [(ph, t, r[t][ph]["p50_ms"]) for ph in phases for t in TARGETS
        if ph in r.get(t, {}) and not r[t][ph]["errors"]]
top = max((v for _, _, v in rows), default=1) or 1
height = len(phases) * (len(TARGETS) * bar + gap) + 60
parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" font-family="sans-serif" font-size="11">',
         f'<text x="10" y="18" font-size="13" font-weight="bold">p50 latency per phase (ms), same workload, one run, {html.escape(concurrency)} clients</text>']
y = 34
for ph in phases:
    parts.append(f'<text x="10" y="{y + bar * 1.8:.0f}">{html.escape(ph)}</text>')
    for t in TARGETS:
        row = r.get(t, {}).get(ph)
        if row and not row["errors"]:
            w = max(1, row["p50_ms"] / top * width)
            parts.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar - 2}" fill="{colors[t]}"/>')
            parts.append(f'<text x="{left + w + 4:.1f}" y="{y + bar - 3}">{row["p50_ms"]:.2f}</text>')
        y += bar
    y += gap
legend_x = left
for t in TARGETS:
    parts.append(f'<rect x="{legend_x}" y="{height - 18}" width="10" height="10" fill="{colors[t]}"/><text x="{legend_x + 14}" y="{height - 9}">{t}</text>')
    legend_x += 130
parts.append("</svg>")
svg_path.write_text("\n".join(parts))
print(f"\nchart: {svg_path}")
