//! roster's `roster_write_batch_size` histogram, read from its Prometheus `/metrics`:
//! how many use cases each database commit carried.

use std::time::Duration;

use serde_json::{json, Value};

const NAME: &str = "roster_write_batch_size";

/// A cumulative histogram, summed over its label sets.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Histogram {
    /// `(le, observations ≤ le)`, ascending by `le`; the last is `+Inf`.
    buckets: Vec<(f64, f64)>,
    sum: f64,
    count: f64,
}

/// The histogram at `url`, or `None` when the server does not answer or does not report
/// it.
pub(super) fn scrape(url: &str) -> Option<Histogram> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let text = agent.get(url).call().ok()?.into_string().ok()?;
    parse(&text)
}

/// Reads `NAME_bucket{…,le="N"}`, `NAME_sum` and `NAME_count` out of Prometheus or
/// OpenMetrics text.
pub(super) fn parse(text: &str) -> Option<Histogram> {
    let mut h = Histogram::default();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(NAME) else {
            continue;
        };
        let (series, value) = match rest.rfind('}') {
            Some(end) => (&rest[..=end], rest[end + 1..].trim()),
            None => rest.split_once(' ').unwrap_or((rest, "")),
        };
        // A timestamp may follow the value.
        let Some(Ok(value)) = value.split_whitespace().next().map(str::parse::<f64>) else {
            continue;
        };
        if let Some(labels) = series.strip_prefix("_bucket") {
            let Some(le) = label(labels, "le").and_then(parse_bound) else {
                continue;
            };
            match h.buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, n)) => *n += value,
                None => h.buckets.push((le, value)),
            }
        } else if series.starts_with("_sum") {
            h.sum += value;
        } else if series.starts_with("_count") {
            h.count += value;
        }
    }
    if h.buckets.is_empty() {
        return None;
    }
    h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(h)
}

fn label<'a>(labels: &'a str, name: &str) -> Option<&'a str> {
    let inner = labels.strip_prefix('{')?.strip_suffix('}')?;
    inner.split(',').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == name).then(|| v.trim().trim_matches('"'))
    })
}

fn parse_bound(le: &str) -> Option<f64> {
    match le {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => le.parse().ok(),
    }
}

impl Histogram {
    /// What was observed between `earlier` and `self`.
    pub(super) fn since(&self, earlier: Option<&Histogram>) -> Histogram {
        let Some(earlier) = earlier else {
            return self.clone();
        };
        let before = |le: f64| {
            earlier
                .buckets
                .iter()
                .find(|(b, _)| *b == le)
                .map_or(0.0, |(_, n)| *n)
        };
        Histogram {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, n)| (le, n - before(le)))
                .collect(),
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }

    /// Cumulative shares at 1, 4, 16 and 64 (or the largest bucket bound below each),
    /// and the share above the last: `[("≤1", 0.62), …, (">64", 0.0)]`.
    fn shares(&self) -> Vec<(String, f64)> {
        let mut shares = Vec::new();
        let mut last: Option<(f64, f64)> = None;
        for target in [1.0, 4.0, 16.0, 64.0] {
            let Some(&(le, n)) = self.buckets.iter().rev().find(|(b, _)| *b <= target) else {
                continue;
            };
            if last.is_some_and(|(l, _)| l == le) {
                continue;
            }
            shares.push((format!("≤{le}"), n / self.count));
            last = Some((le, n));
        }
        if let Some((le, n)) = last {
            shares.push((format!(">{le}"), (self.count - n) / self.count));
        }
        shares
    }

    /// `batches=…, mean=…, ≤1: a%, ≤4: b%, ≤16: c%, ≤64: d%, >64: e%`.
    pub(super) fn summary(&self) -> String {
        if self.count <= 0.0 {
            return "batches=0".to_owned();
        }
        let mut out = format!(
            "batches={:.0}, mean={:.2}",
            self.count,
            self.sum / self.count
        );
        for (label, share) in self.shares() {
            out.push_str(&format!(", {label}: {:.1}%", share * 100.0));
        }
        out
    }

    pub(super) fn to_json(&self) -> Value {
        let buckets: Vec<Value> = self
            .buckets
            .iter()
            .map(|&(le, n)| {
                json!({"le": if le.is_finite() { json!(le) } else { json!("+Inf") }, "count": n})
            })
            .collect();
        json!({
            "batches": self.count,
            "sum": self.sum,
            "mean": if self.count > 0.0 { json!(self.sum / self.count) } else { Value::Null },
            "buckets": buckets,
            "summary": self.summary(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP roster_write_batch_size Use cases per commit.
# TYPE roster_write_batch_size histogram
roster_write_batch_size_sum{backend="sqlite"} 300.0
roster_write_batch_size_count{backend="sqlite"} 100
roster_write_batch_size_bucket{le="1.0",backend="sqlite"} 40
roster_write_batch_size_bucket{backend="sqlite",le="4.0"} 70
roster_write_batch_size_bucket{backend="sqlite",le="16.0"} 90
roster_write_batch_size_bucket{backend="sqlite",le="64.0"} 99
roster_write_batch_size_bucket{backend="sqlite",le="+Inf"} 100
roster_http_requests_total{route="/x",method="GET",status="200"} 5
# EOF
"#;

    #[test]
    fn reads_the_histogram_and_summarises_it() {
        let h = parse(TEXT).unwrap();
        assert_eq!(h.count, 100.0);
        assert_eq!(
            h.summary(),
            "batches=100, mean=3.00, ≤1: 40.0%, ≤4: 70.0%, ≤16: 90.0%, ≤64: 99.0%, >64: 1.0%"
        );
    }

    #[test]
    fn a_difference_counts_only_the_later_batches() {
        let before = parse(&TEXT.replace(" 40\n", " 20\n").replace(" 100\n", " 80\n")).unwrap();
        let h = parse(TEXT).unwrap().since(Some(&before));
        assert_eq!(h.count, 20.0);
        assert_eq!(h.buckets[0], (1.0, 20.0));
    }

    #[test]
    fn reads_integer_bounds_without_labels() {
        let text = "# TYPE roster_write_batch_size histogram\n\
            roster_write_batch_size_bucket{le=\"1\"} 5\n\
            roster_write_batch_size_bucket{le=\"2\"} 6\n\
            roster_write_batch_size_bucket{le=\"4\"} 8\n\
            roster_write_batch_size_bucket{le=\"8\"} 8\n\
            roster_write_batch_size_bucket{le=\"16\"} 9\n\
            roster_write_batch_size_bucket{le=\"32\"} 9\n\
            roster_write_batch_size_bucket{le=\"64\"} 10\n\
            roster_write_batch_size_bucket{le=\"+Inf\"} 10\n\
            roster_write_batch_size_sum 80\n\
            roster_write_batch_size_count 10\n\
            roster_write_batches_failed_total 0\n# EOF\n";
        assert_eq!(
            parse(text).unwrap().summary(),
            "batches=10, mean=8.00, ≤1: 50.0%, ≤4: 80.0%, ≤16: 90.0%, ≤64: 100.0%, >64: 0.0%"
        );
    }

    #[test]
    fn absent_when_not_reported() {
        assert_eq!(parse("roster_http_requests_total 1\n# EOF\n"), None);
    }
}
