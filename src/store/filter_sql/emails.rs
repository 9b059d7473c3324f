//! `emails[value eq "…"]` and `emails.value eq "…"` on Users, answered from the
//! `user_emails` table and its index instead of a walk over every user's JSON.
//!
//! Exactly what `matches` selects: `user_emails` holds every string either form
//! compares (see `resource::email_values`), folded, since `emails.value` is not
//! case-exact; `bare` marks the strings only the value-filter form reaches.

use crate::scim::filter::{AttrPath, CompareOp, Filter, Literal};
use crate::scim::resource::fold;
use crate::scim::schema::ResourceKind;
use crate::store::query::Bind;

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
                value_eq(filter).map(|text| email_in(text, true))
            }
            _ => None,
        }
    }

    /// For a value filter on emails with more in it than `value eq "…"` (Entra's
    /// `emails[type eq "work"].value eq "…"` is `type eq "work" and value eq "…"`): a
    /// condition every match meets, from the index, to AND with the exact test, so
    /// the database starts from the few users holding that value.
    pub(super) fn email_precondition(&self, filter: &Filter) -> Option<Sql> {
        if self.kind != ResourceKind::User {
            return None;
        }
        let Filter::ValuePath { path, filter } = filter else {
            return None;
        };
        if !is_emails(path) || path.sub_attr.is_some() {
            return None;
        }
        super::chain(filter, true)
            .into_iter()
            .find_map(value_eq)
            .map(|text| email_in(text, true))
    }
}

/// The literal of `value eq "…"` inside a value filter.
fn value_eq(filter: &Filter) -> Option<&str> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Literal::String(text),
        } if path.urn.is_none() && path.sub_attr.is_none() && path.is("value") => Some(text),
        _ => None,
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
