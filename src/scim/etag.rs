//! Entity tags and the `If-Match` / `If-None-Match` preconditions (RFC 7644 §3.14,
//! RFC 9110 §13). roster's tags are weak (`W/"3"`), so comparison is weak throughout:
//! `W/"3"` and `"3"` name the same version.

/// The preconditions a request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    if_match: Option<Vec<String>>,
    if_none_match: Option<Vec<String>>,
}

/// What a precondition decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    /// 304: a GET whose `If-None-Match` names the current version.
    NotModified,
    /// 412.
    Failed,
}

impl Preconditions {
    pub fn parse(if_match: Option<&str>, if_none_match: Option<&str>) -> Self {
        Self {
            if_match: if_match.map(tags),
            if_none_match: if_none_match.map(tags),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Decides a read of a resource whose current tag is `current`.
    pub fn for_read(&self, current: &str) -> Outcome {
        if self
            .if_match
            .as_ref()
            .is_some_and(|list| !matches_any(list, Some(current)))
        {
            return Outcome::Failed;
        }
        if self
            .if_none_match
            .as_ref()
            .is_some_and(|list| matches_any(list, Some(current)))
        {
            return Outcome::NotModified;
        }
        Outcome::Proceed
    }

    /// Decides a change (PUT, PATCH, DELETE) of a resource whose current tag is `current`.
    pub fn for_write(&self, current: &str) -> Outcome {
        let failed = self
            .if_match
            .as_ref()
            .is_some_and(|list| !matches_any(list, Some(current)))
            || self
                .if_none_match
                .as_ref()
                .is_some_and(|list| matches_any(list, Some(current)));
        if failed {
            Outcome::Failed
        } else {
            Outcome::Proceed
        }
    }
}

/// The opaque part of each tag in a header list, or `*`.
fn tags(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(|t| opaque(t.trim()).to_owned())
        .filter(|t| !t.is_empty())
        .collect()
}

fn opaque(tag: &str) -> &str {
    let tag = tag.strip_prefix("W/").unwrap_or(tag);
    tag.trim_matches('"')
}

fn matches_any(list: &[String], current: Option<&str>) -> bool {
    let Some(current) = current.map(opaque) else {
        return false;
    };
    list.iter().any(|t| t == "*" || t == current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_with_the_current_tag_proceeds_and_a_stale_one_fails() {
        let p = Preconditions::parse(Some("W/\"3\""), None);
        assert_eq!(p.for_write("W/\"3\""), Outcome::Proceed);
        assert_eq!(p.for_write("W/\"4\""), Outcome::Failed);
    }

    #[test]
    fn comparison_is_weak_and_lists_and_star_work() {
        let p = Preconditions::parse(Some("\"1\", \"3\""), None);
        assert_eq!(p.for_write("W/\"3\""), Outcome::Proceed);
        assert_eq!(
            Preconditions::parse(Some("*"), None).for_write("W/\"9\""),
            Outcome::Proceed
        );
    }

    #[test]
    fn if_none_match_gives_304_on_reads_and_412_on_writes() {
        let p = Preconditions::parse(None, Some("W/\"3\""));
        assert_eq!(p.for_read("W/\"3\""), Outcome::NotModified);
        assert_eq!(p.for_read("W/\"4\""), Outcome::Proceed);
        assert_eq!(p.for_write("W/\"3\""), Outcome::Failed);
        assert_eq!(
            Preconditions::parse(None, Some("*")).for_write("W/\"1\""),
            Outcome::Failed
        );
    }

    #[test]
    fn no_headers_always_proceed() {
        let p = Preconditions::default();
        assert!(p.is_empty());
        assert_eq!(p.for_read("W/\"1\""), Outcome::Proceed);
        assert_eq!(p.for_write("W/\"1\""), Outcome::Proceed);
    }
}
