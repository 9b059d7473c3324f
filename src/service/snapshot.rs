//! The directory snapshot an application bootstraps from before it follows the feed:
//! every user with its effective roles, in pages, with the feed sequence to follow from.
//!
//! Each page is read on one database snapshot. The first page takes the tenant's last
//! sequence `S` before it reads any user, so every change up to `S` is in it; later
//! pages pass `at=S` and may also show changes made after `S`. Those changes are in the
//! feed after `S` too, and every event carries the whole after-state of what it
//! changes (the user, or its full role set), so a consumer that applies the pages and
//! then the feed from `S` ends at roster's state, whatever happened in between. A page
//! asked `at` a sequence whose following events were pruned is refused (410): the feed
//! could no longer fill the gap.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::events::{gone, pruned_after};
use super::{invalid, ServiceError};
use crate::store::events::last_sequence;
use crate::store::{read_transaction, DbConnection, TenantId};

/// Most users one page holds.
pub const MAX_PAGE: i64 = 1000;

/// A user as the snapshot lists it: the attributes applications key on, and its roles.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SnapshotUser {
    pub id: String,
    #[serde(rename = "userName")]
    pub user_name: String,
    #[serde(rename = "externalId")]
    #[schema(required = true)]
    pub external_id: Option<String>,
    pub active: bool,
    /// The SCIM `emails`, as the IdP sent them; absent when it sent none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub emails: Option<Value>,
    /// Effective role slugs, sorted (none while the user is inactive).
    pub roles: Vec<String>,
}

/// One page of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SnapshotPage {
    /// Follow the feed from here (`/events?after=<sequence>`) once every page is read;
    /// pass it as `at` on every later page.
    pub sequence: i64,
    /// In id order.
    pub users: Vec<SnapshotUser>,
    /// Pass it as `after` for the next page; null on the last one.
    #[schema(required = true)]
    pub next_after: Option<String>,
}

/// One page: users after id `after`, at most `limit`. `at` is the first page's
/// `sequence`, required on every later page.
pub fn page(
    conn: &mut DbConnection,
    tenant: &TenantId,
    at: Option<i64>,
    after: Option<&str>,
    limit: i64,
) -> Result<SnapshotPage, ServiceError> {
    read_transaction(conn, |c| {
        let last = last_sequence(c, tenant)?;
        let sequence = match (at, after) {
            (None, Some(_)) => {
                return Err(invalid(
                    "a later page needs 'at': the sequence the first page answered with",
                ))
            }
            (None, None) => last,
            (Some(at), _) if !(0..=last).contains(&at) => {
                return Err(invalid(format!(
                    "'at' must be a sequence this tenant has reached (0 to {last})"
                )))
            }
            (Some(at), _) => {
                if pruned_after(c, tenant, at)? {
                    return Err(gone(at));
                }
                at
            }
        };
        let limit = limit.clamp(1, MAX_PAGE);
        let mut rows = crate::store::users::page_after(c, tenant, after, limit + 1)?;
        let next_after = (rows.len() as i64 > limit).then(|| {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id.clone()).unwrap_or_default()
        });
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let slugs: BTreeMap<String, String> = crate::store::roles::list_roles(c, tenant)?
            .into_iter()
            .map(|r| (r.id, r.slug))
            .collect();
        let mut roles: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for grant in crate::store::roles::grants_of(c, tenant, &ids)? {
            if let Some(slug) = slugs.get(&grant.role_id) {
                roles.entry(grant.user_id).or_default().insert(slug.clone());
            }
        }
        let users = rows
            .into_iter()
            .map(|row| {
                let emails =
                    serde_json::from_str::<serde_json::Map<String, Value>>(&row.attributes)
                        .ok()
                        .and_then(|mut a| a.remove("emails"));
                SnapshotUser {
                    roles: roles
                        .remove(&row.id)
                        .map(|r| r.into_iter().collect())
                        .unwrap_or_default(),
                    id: row.id,
                    user_name: row.user_name,
                    external_id: row.external_id,
                    active: row.active,
                    emails,
                }
            })
            .collect();
        Ok(SnapshotPage {
            sequence,
            users,
            next_after,
        })
    })
}
