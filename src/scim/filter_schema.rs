//! A parsed filter read against the schema of the resources it selects: what the
//! grammar alone cannot decide (RFC 7644 §3.4.2.2).
//!
//! [`check`] runs before a filter is compiled to SQL or evaluated in memory, and both
//! consume its output, so they keep agreeing. It:
//! - refuses comparing a complex attribute without a sub-attribute (`name eq "x"`,
//!   `meta gt "a"`): §3.4.2.2 says a sub-attribute MUST be named. A complex attribute
//!   with a `value` sub-attribute (`emails`, `groups`, `members`, `manager`) compares
//!   that `value`, as roster has always read `emails co "x"`; `eq null` and `ne null`
//!   stay presence tests;
//! - refuses comparing a `dateTime` attribute (`meta.created`, `meta.lastModified`) with
//!   a value that is not a valid `xsd:dateTime` (with `eq`, `ne`, `gt`, `ge`, `lt`,
//!   `le`); `co`, `sw` and `ew` compare the stored text, so `sw "2026-12"` still works;
//! - rewrites every valid `dateTime` literal to the form roster stores (UTC, three
//!   fractional digits, `Z`), so stored values compare as instants, whatever offset or
//!   precision the literal has. An instant finer than a millisecond orders exactly:
//!   `gt t` becomes `gt floor(t)` and `lt t` becomes `le floor(t)`.
//!
//! A literal without an offset is read as UTC. Every refusal is `invalidFilter`.

use super::error::{Invalid, ScimType};
use super::filter::{AttrPath, CompareOp, Filter, Literal};
use super::schema::{self, AttrType, AttributeDef, ResourceKind};

/// `filter` checked against the schema of `kind`, with its `dateTime` literals in
/// stored form.
pub fn check(kind: ResourceKind, filter: &Filter) -> Result<Filter, Invalid> {
    Checker { kind }.filter(filter, None)
}

struct Checker {
    kind: ResourceKind,
}

impl Checker {
    /// `within`: the multi-valued attribute of the value filter `filter` sits in.
    fn filter(
        &self,
        filter: &Filter,
        within: Option<&'static AttributeDef>,
    ) -> Result<Filter, Invalid> {
        Ok(match filter {
            Filter::And(..) => self.chain(filter, true, within)?,
            Filter::Or(..) => self.chain(filter, false, within)?,
            Filter::Not(inner) => Filter::Not(Box::new(self.filter(inner, within)?)),
            Filter::Present(path) => Filter::Present(path.clone()),
            Filter::ValuePath { path, filter } => Filter::ValuePath {
                path: path.clone(),
                filter: Box::new(self.filter(filter, self.attribute(path, None))?),
            },
            Filter::Compare { path, op, value } => {
                let (op, value) = self.compare(path, *op, value, within)?;
                Filter::Compare {
                    path: path.clone(),
                    op,
                    value,
                }
            }
        })
    }

    /// An `and` (or `or`) chain: long and left-deep, so walked without recursing.
    fn chain(
        &self,
        filter: &Filter,
        is_and: bool,
        within: Option<&'static AttributeDef>,
    ) -> Result<Filter, Invalid> {
        let mut terms = Vec::new();
        let mut stack = vec![filter];
        while let Some(f) = stack.pop() {
            match f {
                Filter::And(l, r) if is_and => stack.extend([r.as_ref(), l.as_ref()]),
                Filter::Or(l, r) if !is_and => stack.extend([r.as_ref(), l.as_ref()]),
                other => terms.push(self.filter(other, within)?),
            }
        }
        let join = |l: Filter, r: Filter| match is_and {
            true => Filter::And(Box::new(l), Box::new(r)),
            false => Filter::Or(Box::new(l), Box::new(r)),
        };
        terms
            .into_iter()
            .reduce(join)
            .ok_or_else(|| invalid("an empty filter"))
    }

    /// The definition `path` names, if roster knows it; inside a value filter, paths
    /// name sub-attributes of `within`.
    fn attribute(
        &self,
        path: &AttrPath,
        within: Option<&'static AttributeDef>,
    ) -> Option<&'static AttributeDef> {
        match within {
            Some(outer) if path.urn.is_none() && path.sub_attr.is_none() => {
                outer.sub_attribute(&path.name)
            }
            Some(_) => None,
            None => schema::find_attribute(
                self.kind,
                path.urn.as_deref(),
                &path.name,
                path.sub_attr.as_deref(),
            ),
        }
    }

    fn compare(
        &self,
        path: &AttrPath,
        op: CompareOp,
        value: &Literal,
        within: Option<&'static AttributeDef>,
    ) -> Result<(CompareOp, Literal), Invalid> {
        let unchanged = Ok((op, value.clone()));
        let Some(mut def) = self.attribute(path, within) else {
            return unchanged;
        };
        if matches!(value, Literal::Null) {
            return unchanged;
        }
        if def.is_complex() {
            // What `emails co "x"` compares: the `value` sub-attribute.
            def = def.sub_attribute("value").ok_or_else(|| {
                invalid(format!(
                    "'{path}' is complex: compare one of its sub-attributes, such as '{path}.{}'",
                    def.sub_attributes.first().map_or("value", |s| s.name)
                ))
            })?;
        }
        if def.attr_type != AttrType::DateTime
            || matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
        {
            return unchanged;
        }
        let not_a_date = || {
            invalid(format!(
                "'{path}' is a dateTime: compare it with a date and time such as \"2026-12-06T15:33:46Z\""
            ))
        };
        let Literal::String(text) = value else {
            return Err(not_a_date());
        };
        let instant = Instant::parse(text).ok_or_else(not_a_date)?;
        let stored = Literal::String(instant.stored());
        Ok(match (op, instant.finer_than_stored) {
            (_, false) => (op, stored),
            // Stored values are whole milliseconds: between floor(t) and t there is none.
            (CompareOp::Gt | CompareOp::Ge, true) => (CompareOp::Gt, stored),
            (CompareOp::Lt | CompareOp::Le, true) => (CompareOp::Le, stored),
            // No stored value equals an instant finer than a millisecond; the full text
            // (never a stored form) keeps `eq` false and `ne` true.
            (_, true) => (op, Literal::String(instant.exact())),
        })
    }
}

fn invalid(detail: impl Into<String>) -> Invalid {
    Invalid::new(ScimType::InvalidFilter, detail)
}

/// A valid `xsd:dateTime` in UTC: the date and time to the millisecond, and the digits
/// of a second beyond it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instant {
    days: i64,
    millis_of_day: i64,
    /// Digits after the third fractional one, without trailing zeros.
    finer: String,
    finer_than_stored: bool,
}

impl Instant {
    /// Reads `YYYY-MM-DDThh:mm:ss[.fff…][Z|±hh:mm]` (RFC 3339 §5.6, also lower-case `t`
    /// and `z`; no offset is UTC). Years 0001–9999, no leap second.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let digits = |from: usize, n: usize| -> Option<i64> {
            let part = b.get(from..from + n)?;
            part.iter().all(u8::is_ascii_digit).then(|| {
                part.iter()
                    .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
            })
        };
        let at = |i: usize, c: u8| b.get(i) == Some(&c);
        if !(at(4, b'-') && at(7, b'-') && (at(10, b'T') || at(10, b't')))
            || !(at(13, b':') && at(16, b':'))
        {
            return None;
        }
        let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
        let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
        if year < 1
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let mut i = 19;
        let mut fraction = String::new();
        if at(i, b'.') {
            i += 1;
            while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                fraction.push(char::from(*d));
                i += 1;
            }
            if fraction.is_empty() {
                return None;
            }
        }
        let offset_minutes = match b.get(i) {
            None => 0,
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && at(i + 3, b':') => {
                let (h, m) = (digits(i + 1, 2)?, digits(i + 4, 2)?);
                if h > 23 || m > 59 {
                    return None;
                }
                if *sign == b'-' {
                    -(h * 60 + m)
                } else {
                    h * 60 + m
                }
            }
            _ => return None,
        };
        while fraction.len() < 3 {
            fraction.push('0');
        }
        let millis: i64 = fraction[..3].parse().ok()?;
        let finer = fraction[3..].trim_end_matches('0').to_owned();
        let local = (hour * 60 + minute) * 60_000 + second * 1000 + millis;
        let total =
            days_from_civil(year, month, day) * 86_400_000 + local - offset_minutes * 60_000;
        let instant = Self {
            days: total.div_euclid(86_400_000),
            millis_of_day: total.rem_euclid(86_400_000),
            finer_than_stored: !finer.is_empty(),
            finer,
        };
        // Four-digit years keep the stored text in time order.
        let (year, _, _) = civil_from_days(instant.days);
        (0..=9999).contains(&year).then_some(instant)
    }

    /// As roster stores times: `2026-12-06T14:33:46.000Z` (the instant's millisecond).
    pub fn stored(&self) -> String {
        self.text("")
    }

    /// To the instant's last digit, in the stored layout.
    fn exact(&self) -> String {
        self.text(&self.finer)
    }

    fn text(&self, finer: &str) -> String {
        let (year, month, day) = civil_from_days(self.days);
        let ms = self.millis_of_day;
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}{finer}Z",
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000
        )
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests;
