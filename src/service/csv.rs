//! RFC 4180 CSV for the log exports.

/// A quoted field. One that starts like a formula is prefixed with `'`, so a
/// spreadsheet opening the export does not run it.
pub fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Appends one record (cells already rendered by [`field`] or as numbers).
pub fn push_line(out: &mut String, cells: &[String]) {
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field(r#"a "b""#), r#""a ""b""""#);
        assert_eq!(field("=1+1"), "\"'=1+1\"");
        let mut out = String::new();
        push_line(&mut out, &[field("x"), "3".into()]);
        assert_eq!(out, "\"x\",3\r\n");
    }
}
