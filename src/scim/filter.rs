//! TEMPORARY placeholder until the real parser lands (same API).
use std::fmt;
pub const MAX_FILTER_LEN: usize = 4096;
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub_attr: Option<String>,
}
impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(serde_json::Number),
    Bool(bool),
    Null,
}
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Literal,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter at offset {position}")]
pub struct FilterError {
    pub position: usize,
}
pub fn parse(_input: &str) -> Result<Filter, FilterError> {
    Err(FilterError { position: 0 })
}
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    pub sub_attr: Option<String>,
}
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    Ok(PatchPath {
        attr: AttrPath {
            urn: None,
            name: input.to_owned(),
            sub_attr: None,
        },
        filter: None,
        sub_attr: None,
    })
}
pub fn matches(_f: &Filter, _r: &serde_json::Value, _c: &dyn Fn(&AttrPath) -> bool) -> bool {
    false
}
