"""Checks deploy/monitoring/ beside promtool (called by .ci/monitoring.sh):

- the alert rules' conventions: `for:`, a severity, summary, description and a runbook
  hint at README#monitor, and the tenant named in per-tenant alerts;
- the dashboard: valid JSON, the datasource and tenant variables, every panel on the
  templated datasource, ids unique, the grid inside 24 columns without overlaps, and
  every query valid PromQL (promtool checks them as recording rules);
- every metric name that the rules, their unit tests and the dashboard use is one of
  roster's (METRICS below, the contract of src/http/metrics.rs), so a renamed metric
  fails here; and, when ROSTER_METRICS_SAMPLE names a file holding a real /metrics
  scrape, that each of them appears in it.

Usage: monitoring.py PROMTOOL. Prints one line of counts; exits 1 on any problem.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

DIR = "deploy/monitoring"
RULES = f"{DIR}/roster-alerts.yaml"
TESTS = f"{DIR}/roster-alerts.test.yaml"
DASHBOARD = f"{DIR}/roster-dashboard.json"

# roster's metrics as Prometheus stores them (counters with `_total`): the contract.
METRICS = {
    "roster_http_requests_total": "counter",
    "roster_http_request_duration_seconds": "histogram",
    "roster_scim_requests_total": "counter",
    "roster_tenant_last_scim_request_timestamp_seconds": "gauge",
    "roster_tenant_suspended": "gauge",
    "roster_webhook_deliveries_pending": "gauge",
    "roster_webhook_oldest_pending_age_seconds": "gauge",
    "roster_webhook_endpoints_failing": "gauge",
    "roster_webhook_endpoints_disabled": "gauge",
    "roster_events_latest_sequence": "gauge",
    "roster_event_feed_lag_events": "gauge",
    "roster_event_feed_last_read_timestamp_seconds": "gauge",
    "roster_change_sets_running": "gauge",
    "roster_change_set_users_remaining": "gauge",
    "roster_job_failures_total": "counter",
    "roster_metrics_database_ok": "gauge",
    "roster_db_pool_connections": "gauge",
    "roster_db_pool_idle_connections": "gauge",
    "roster_db_pool_max_connections": "gauge",
    "roster_write_batch_size": "histogram",
    "roster_write_queue_depth": "gauge",
    "roster_write_batches_failed_total": "counter",
    "roster_write_refused_queue_full_total": "counter",
    "roster_write_queue_timeouts_total": "counter",
    "roster_write_reruns_total": "counter",
    "roster_log_lines_dropped_total": "counter",
}
# Series that Prometheus itself makes for each target.
SCRAPE_SERIES = {"up"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SEVERITIES = {"critical", "warning", "info"}
KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
    "atan2",
}

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def metric_names(expr):
    """Metric names in a PromQL expression (or a Grafana query with $variables)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\$\{?\w+(?::\w+)?\}?", "5m", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        if m.group(2) or m.group(1) in KEYWORDS:
            continue
        names.add(m.group(1))
    return names


def known(name):
    if name in SCRAPE_SERIES or METRICS.get(name) in ("counter", "gauge"):
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix) and METRICS.get(name[: -len(suffix)]) == "histogram":
            return True
    return False


def load(path, parse):
    with open(path, encoding="utf-8") as f:
        return parse(f)


def check_rules(used):
    doc = load(RULES, yaml.safe_load)
    count = 0
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            count += 1
            where = f"{RULES}: {rule['alert']}"
            expr = rule["expr"]
            for name in metric_names(expr):
                used.setdefault(name, where)
            if "for" not in rule:
                problem(where, "no `for:`")
            if rule.get("labels", {}).get("severity") not in SEVERITIES:
                problem(where, f"severity must be one of {sorted(SEVERITIES)}")
            notes = rule.get("annotations", {})
            for key in ("summary", "description"):
                if not notes.get(key):
                    problem(where, f"no {key} annotation")
            if "#monitor" not in notes.get("runbook_url", ""):
                problem(where, "runbook_url must point at README.md#monitor")
            if re.search(r"\bby\s*\([^)]*\btenant\b", expr) and "$labels.tenant" not in (
                notes.get("summary", "") + notes.get("description", "")
            ):
                problem(where, "a per-tenant alert must name {{ $labels.tenant }}")
    return count


def check_tests(used):
    doc = load(TESTS, yaml.safe_load)
    cases = 0
    for test in doc["tests"]:
        for series in test.get("input_series", []):
            name = series["series"].split("{")[0].strip()
            used.setdefault(name, f"{TESTS}: {test.get('name', '?')}")
        cases += len(test.get("alert_rule_test", []))
    return len(doc["tests"]), cases


def check_dashboard(used, promtool):
    where = DASHBOARD
    try:
        dash = load(DASHBOARD, json.load)
    except ValueError as e:
        problem(where, f"not JSON: {e}")
        return 0, 0
    for key in ("uid", "title", "schemaVersion", "panels", "templating"):
        if key not in dash:
            problem(where, f"no `{key}`")
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    if variables.get("datasource", {}).get("type") != "datasource":
        problem(where, "no `datasource` variable of type datasource")
    tenant = variables.get("tenant", {})
    tenant_query = tenant.get("query")
    if isinstance(tenant_query, dict):
        tenant_query = tenant_query.get("query")
    if tenant_query != "label_values(roster_scim_requests_total, tenant)":
        problem(
            where,
            "the `tenant` variable must list label_values(roster_scim_requests_total, tenant)",
        )
    exprs = []
    for name, var in variables.items():
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if var.get("type") == "query":
            m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query or "")
            if not m:
                problem(where, f"variable {name}: expected label_values(metric, label)")
                continue
            exprs.append((f"variable {name}", m.group(1)))
    ids = set()
    cells = {}
    panels = 0
    for panel in dash.get("panels", []):
        title = panel.get("title", "?")
        pid = panel.get("id")
        if pid in ids:
            problem(where, f"panel id {pid} repeated")
        ids.add(pid)
        pos = panel.get("gridPos", {})
        x, y, w, h = (pos.get(k) for k in ("x", "y", "w", "h"))
        if None in (x, y, w, h) or x < 0 or w <= 0 or h <= 0 or x + w > 24:
            problem(where, f"panel {title!r}: bad gridPos {pos}")
        else:
            area = [(cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)]
            other = next((cells[c] for c in area if c in cells), None)
            if other:
                problem(where, f"panel {title!r} overlaps {other!r}")
            cells.update((c, title) for c in area)
        if panel.get("type") == "row":
            continue
        panels += 1
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problem(where, f"panel {title!r}: datasource must be ${{datasource}}")
        targets = panel.get("targets") or []
        if not targets:
            problem(where, f"panel {title!r}: no query")
        for target in targets:
            if not target.get("expr") or not target.get("refId"):
                problem(where, f"panel {title!r}: a target without expr or refId")
                continue
            exprs.append((f"panel {title!r} {target['refId']}", target["expr"]))
    for label, expr in exprs:
        for name in metric_names(expr):
            used.setdefault(name, f"{DASHBOARD}: {label}")

    # Every query must parse as PromQL: promtool checks them as recording rules, with
    # Grafana's variables replaced by values they can take.
    def concrete(expr):
        expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        return re.sub(r"\$\{?(\w+)\}?", ".*", expr)

    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard_query:{i}", "expr": concrete(e)}
                    for i, (_, e) in enumerate(exprs)
                ],
            }
        ]
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(rules, f)
        f.flush()
        run = subprocess.run(
            [promtool, "check", "rules", f.name], check=False, capture_output=True, text=True
        )
        if run.returncode != 0:
            out = run.stdout + run.stderr
            for i in reversed(range(len(exprs))):
                out = out.replace(f"dashboard_query:{i}", f"{DASHBOARD}: {exprs[i][0]}")
            problem(where, "a query is not valid PromQL:\n" + out.strip())
    return panels, len(exprs)


def scrape_names(path):
    """Sample names in a /metrics scrape, with those its # TYPE lines declare."""
    names = set()
    for line in load(path, lambda f: f.read().splitlines()):
        line = line.strip()
        if not line:
            continue
        m = re.match(r"#\s*TYPE\s+(\S+)\s+(\S+)", line)
        if m:
            family, kind = m.groups()
            names.add(family)
            if kind == "counter":
                names.add(family if family.endswith("_total") else family + "_total")
            elif kind in ("histogram", "summary", "gaugehistogram"):
                names.update(family + s for s in HISTOGRAM_SUFFIXES)
            continue
        if not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


def main():
    promtool = sys.argv[1]
    used = {}
    alerts = check_rules(used)
    groups, cases = check_tests(used)
    panels, queries = check_dashboard(used, promtool)
    for name, where in sorted(used.items()):
        if not known(name):
            problem(where, f"{name} is not one of roster's metrics")
    sample = os.environ.get("ROSTER_METRICS_SAMPLE")
    against = "the metric list"
    if sample:
        if not os.path.isfile(sample):
            problem("ROSTER_METRICS_SAMPLE", f"{sample} is not a file")
        else:
            scraped = scrape_names(sample)
            if not any(n.startswith("roster_") for n in scraped):
                problem(sample, "holds no roster_ metric: not a /metrics scrape of roster")
            for name, where in sorted(used.items()):
                if name in SCRAPE_SERIES:
                    continue
                base = name
                for suffix in HISTOGRAM_SUFFIXES:
                    if name.endswith(suffix):
                        base = name[: -len(suffix)]
                if name not in scraped and base not in scraped:
                    problem(where, f"{name} is not in the scrape {sample}")
            used_bases = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
            unused = sorted(n for n in METRICS if n not in scraped and n not in used_bases)
            if unused:
                print(f"note: the scrape lacks these listed metrics (unused): {', '.join(unused)}")
            against += " and a /metrics scrape"
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"monitoring: {len(problems)} problem(s)", file=sys.stderr)
        sys.exit(1)
    print(
        f"{alerts} alert rules, {cases} rule tests in {groups} groups, dashboard of {panels} panels "
        f"and {queries} queries; {len([n for n in used if n not in SCRAPE_SERIES])} metric names "
        f"checked against {against}"
    )


if __name__ == "__main__":
    main()
