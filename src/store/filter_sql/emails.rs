//! `emails[value eq "…"]` and `emails.value eq "…"` on Users, answered from the
//! `user_emails` table and its index instead of a walk over every user's JSON.
//!
//! Exactly what `matches` selects: `user_emails` holds every string either form
//! compares (see `resource::email_values`), folded, since `emails.value` is not
//! case-exact; `bare` marks the strings only the value-filter form reaches.

use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::resource::fold;
use crate::scim::schema::ResourceKind;
use crate::store::raw::Bind;

use super::{Compiler, Sql, FALSE};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// `emails`, or the same under the core User URN.
fn is_emails(path: &AttrPath) -> bool {
    path.is("emails")
        && path
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(USER_URN))
}

impl Compiler<'_> {
    /// The indexed form of `filter` (at the resource's top level), if it has one.
    pub(super) fn indexed_email(&self, filter: &Filter) -> Option<Sql> {
        if self.kind != ResourceKind::User {
            return None;
        }
        match filter {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Literal::String(text),
            } if is_emails(path)
                && path
                    .sub_attr
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("value")) =>
            {
                Some(email_in(text, false))
            }
            Filter::ValuePath { path, filter } if is_emails(path) && path.sub_attr.is_none() => {
                match filter.as_ref() {
                    Filter::Compare {
                        path: inner,
                        op: CompareOp::Eq,
                        value: Literal::String(text),
                    } if inner.urn.is_none() && inner.sub_attr.is_none() && inner.is("value") => {
                        Some(email_in(text, true))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// Users holding `text` (folded) among their email values; `with_bare` admits the
/// strings only a value filter compares.
fn email_in(text: &str, with_bare: bool) -> Sql {
    // No stored string holds U+0000 (refused on input), so nothing equals such a literal.
    if text.contains('\0') {
        return Sql::new(FALSE);
    }
    let mut q = Sql::new(
        "((users.tenant_id, users.id) IN (SELECT ue.tenant_id, ue.user_id FROM user_emails ue \
         WHERE ue.value_folded = ",
    );
    q.bind(Bind::Text(fold(text)));
    if !with_bare {
        q.sql(" AND NOT ue.bare");
    }
    q.sql("))");
    q
}
