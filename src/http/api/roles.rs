//! Roles, effective roles, manual grants and the event feed.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{parse, paths, query, read, respond, run, view_json, Access, KeyCaller, Refusals};
use crate::http::error::ApiError;
use crate::http::scim::media::ScimBody;
use crate::http::state::AppState;
use crate::roles::Mode;
use crate::scim::{Invalid, ScimType};
use crate::service::change_sets::{
    self, ChangeSetView, MappingView, Operation, Preview, Request, RoleSettings,
};
use crate::service::roles::{
    self, EffectiveRoles, HolderPage, RoleInput, RoleSummary, RoleView, UserLookup,
};
use crate::service::{events, now};

/// Most events one feed page returns.
pub const MAX_EVENTS_PAGE: i64 = 500;

/// One page of the event feed.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct EventPage {
    /// In sequence order.
    pub data: Vec<events::Event>,
    /// Pass it as `after` for the next page (the last sequence here, or `after`).
    pub next_after: i64,
}

/// `GET /events?after=<sequence>&limit=<n>&types=a,b`: the ordered feed.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/events",
    params(
        paths::Tenant,
        ("after" = Option<i64>, Query, description = "Events after this sequence (default 0)"),
        ("limit" = Option<i64>, Query, description = "At most this many, 1 to 500 (default 100)"),
        ("types" = Option<String>, Query, description = "Only these event types, comma-separated"),
    ),
    responses(
        Refusals,
        (status = 200, description = "The next events, in the tenant's sequence order", body = EventPage),
        (status = 410, description = "Events after `after` are past their retention and deleted: bootstrap again from /snapshot"),
    ),
    security(("api_key" = ["events:read"])),
    tag = "events"
)]
pub async fn events(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let number = |name: &str, default: i64| -> Result<i64, ApiError> {
        get(name).map_or(Ok(default), |v| {
            v.parse::<i64>().map_err(|_| {
                Invalid::new(
                    ScimType::InvalidValue,
                    format!("'{name}' must be an integer"),
                )
                .into()
            })
        })
    };
    let after = number("after", 0)?.max(0);
    let limit = number("limit", 100)?.clamp(1, MAX_EVENTS_PAGE);
    let types: Vec<String> = get("types")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let slug = caller.slug().to_owned();
    let (page, key_id) = run(&state, caller, "events:read", false, move |c, scope| {
        let data = events::read(c, &scope.tenant, after, limit, &types)?;
        let next_after = data.last().map_or(after, |e| e.sequence);
        Ok((EventPage { data, next_after }, scope.actor.id.clone()))
    })
    .await?;
    state.metrics.feed_read(&slug, &key_id, after);
    Ok(view_json(StatusCode::OK, &page))
}

/// `GET /users/{id}/roles`: effective roles with reasons.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/users/{id}/roles",
    params(
        paths::TenantUser,
    ),
    responses(
        Refusals,
        (status = 200, description = "The user's roles, each with its reasons", body = EffectiveRoles),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "roles"
)]
pub async fn user_roles(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    read(&state, caller, "roles:read", move |c, scope| {
        roles::effective(c, &scope.tenant, &id)
    })
    .await
}

/// Exactly one way of naming the user whose roles an application asks for.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserLookupQuery {
    /// roster's id of the user
    id: Option<String>,
    /// The user's `userName`, in any case
    #[serde(rename = "userName")]
    #[param(rename = "userName")]
    user_name: Option<String>,
    /// The IdP's id of the user (`externalId`), exactly
    #[serde(rename = "externalId")]
    #[param(rename = "externalId")]
    external_id: Option<String>,
    /// One of the user's e-mail addresses, in any case
    email: Option<String>,
}

impl UserLookupQuery {
    fn lookup(self) -> Result<UserLookup, ApiError> {
        let given = [
            self.id.map(UserLookup::Id),
            self.user_name.map(UserLookup::UserName),
            self.external_id.map(UserLookup::ExternalId),
            self.email.map(UserLookup::Email),
        ];
        let mut given = given.into_iter().flatten();
        match (given.next(), given.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(Invalid::new(
                ScimType::InvalidValue,
                "name the user by exactly one of id, userName, externalId or email",
            )
            .into()),
        }
    }
}

/// `GET /effective-roles?userName=…` (or `id`, `externalId`, `email`): the roles of a
/// user as the application knows it, without roster's id.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/effective-roles",
    params(
        paths::Tenant,
        UserLookupQuery,
    ),
    responses(
        Refusals,
        (status = 200, description = "The user's roles, each with its reasons", body = EffectiveRoles),
        (status = 409, description = "Several users share this e-mail or external id"),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "roles"
)]
pub async fn effective_roles(
    state: web::Data<AppState>,
    caller: KeyCaller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let lookup = query::<UserLookupQuery>(&req)?.lookup()?;
    read(&state, caller, "roles:read", move |c, scope| {
        roles::effective_by(c, &scope.tenant, &lookup)
    })
    .await
}

/// `PUT /users/{id}/manual-grants/{role}`: the user's roles after the grant.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/users/{id}/manual-grants/{role}",
    params(
        paths::UserGrant,
    ),
    responses(
        Refusals,
        (status = 200, description = "The user's roles after the grant", body = EffectiveRoles),
        (status = 409, description = "Manual grants are off for this tenant"),
    ),
    security(("api_key" = ["admin"])),
    tag = "roles"
)]
pub async fn grant(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_manual_grant(&state, caller, path.into_inner(), true).await
}

/// `DELETE /users/{id}/manual-grants/{role}`: the user's roles without the grant.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/users/{id}/manual-grants/{role}",
    params(
        paths::UserGrant,
    ),
    responses(
        Refusals,
        (status = 200, description = "The user's roles without the grant", body = EffectiveRoles),
        (status = 409, description = "Manual grants are off for this tenant"),
    ),
    security(("api_key" = ["admin"])),
    tag = "roles"
)]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    set_manual_grant(&state, caller, path.into_inner(), false).await
}

async fn set_manual_grant(
    state: &AppState,
    caller: KeyCaller,
    (_, user, role): (String, String, String),
    granted: bool,
) -> Result<HttpResponse, ApiError> {
    respond(
        state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| roles::set_manual_grant(c, scope, &user, &role, granted, &now()),
    )
    .await
}

/// `GET /roles`: the tenant's roles in priority order.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/roles",
    params(paths::Tenant),
    responses(
        Refusals,
        (status = 200, description = "The roles, highest priority first", body = Vec<RoleSummary>),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "roles"
)]
pub async fn list_roles(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "roles:read", |c, scope| {
        roles::list_roles(c, &scope.tenant)
    })
    .await
}

/// `GET /roles/{slug}`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/roles/{slug}",
    params(
        paths::TenantRole,
    ),
    responses(
        Refusals,
        (status = 200, description = "The role", body = RoleSummary),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "roles"
)]
pub async fn get_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    read(&state, caller, "roles:read", move |c, scope| {
        roles::role_summary(c, &scope.tenant, &slug)
    })
    .await
}

/// Most holders one page returns.
pub const MAX_HOLDERS_PAGE: i64 = 1000;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HoldersQuery {
    /// Holders after this user id (the previous page's `next_after`)
    after: Option<String>,
    /// At most this many, 1 to 1000 (default 100)
    limit: Option<i64>,
}

/// `GET /roles/{slug}/holders?after=&limit=`: who holds the role now, in id order.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/roles/{slug}/holders",
    params(
        paths::TenantRole,
        HoldersQuery,
    ),
    responses(
        Refusals,
        (status = 200, description = "A page of the role's holders", body = HolderPage),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "roles"
)]
pub async fn role_holders(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    let query: HoldersQuery = query(&req)?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_HOLDERS_PAGE);
    read(&state, caller, "roles:read", move |c, scope| {
        roles::holders(c, &scope.tenant, &slug, query.after.as_deref(), limit)
    })
    .await
}

/// `POST /roles`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/roles",
    params(paths::Tenant),
    request_body = RoleInput,
    responses(
        Refusals,
        (status = 201, description = "The new role", body = RoleView),
        (status = 409, description = "The slug or priority is taken"),
    ),
    security(("api_key" = ["admin"])),
    tag = "roles"
)]
pub async fn create_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: RoleInput = parse(body.0)?;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| roles::create_role(c, scope, input, &now()),
    )
    .await
}

/// `PATCH /roles/{slug}`: name, description, privileged (the slug never changes; a
/// priority changes through a change-set).
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{tenant}/roles/{slug}",
    params(
        paths::TenantRole,
    ),
    request_body = RoleInput,
    responses(
        Refusals,
        (status = 200, description = "The role after the change", body = RoleView),
    ),
    security(("api_key" = ["admin"])),
    tag = "roles"
)]
pub async fn update_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    let input: RoleInput = parse(body.0)?;
    respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::OK,
        move |c, scope| roles::update_role(c, scope, &slug, input, &now()),
    )
    .await
}

/// `DELETE /roles/{slug}`: refused while the role is mapped or the default.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/roles/{slug}",
    params(
        paths::TenantRole,
    ),
    responses(
        Refusals,
        (status = 204, description = "Deleted"),
        (status = 409, description = "The role is mapped or the default"),
    ),
    security(("api_key" = ["admin"])),
    tag = "roles"
)]
pub async fn delete_role(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner().1;
    run(&state, caller, "admin", true, move |c, scope| {
        roles::delete_role(c, scope, &slug, &now())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /mappings`: active and orphaned mappings.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/mappings",
    params(paths::Tenant),
    responses(
        Refusals,
        (status = 200, description = "Every mapping, active and orphaned", body = Vec<MappingView>),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "mappings"
)]
pub async fn list_mappings(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "roles:read", |c, scope| {
        change_sets::mappings(c, &scope.tenant)
    })
    .await
}

/// A mapping to add, as a one-operation change-set.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMapping {
    group: String,
    role: String,
    #[serde(default)]
    description: String,
}

/// `POST /mappings`: a one-operation change-set.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/mappings",
    params(
        paths::Tenant,
    ),
    request_body = NewMapping,
    responses(
        Refusals,
        (status = 201, description = "The change-set, applied (or applying in the background)", body = ChangeSetView),
        (status = 409, description = "The lockout guard refused it, or it conflicts with the current state"),
    ),
    security(("api_key" = ["admin"])),
    tag = "change-sets"
)]
pub async fn create_mapping(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: NewMapping = parse(body.0)?;
    apply(
        &state,
        caller,
        Request {
            operations: vec![Operation::AddMapping {
                group: input.group,
                role: input.role,
            }],
            description: input.description,
        },
    )
    .await
}

/// `DELETE /mappings/{id}`: a one-operation change-set.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/mappings/{id}",
    params(
        paths::TenantItem,
    ),
    responses(
        Refusals,
        (status = 201, description = "The change-set, applied (or applying in the background)", body = ChangeSetView),
        (status = 409, description = "The lockout guard refused it, or it conflicts with the current state"),
    ),
    security(("api_key" = ["admin"])),
    tag = "change-sets"
)]
pub async fn delete_mapping(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let limit = state.inline_limit;
    let answer = respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| change_sets::remove_mapping(c, scope, &id, limit, &now()),
    )
    .await;
    state.change_sets.notify_one();
    answer
}

/// `GET /role-settings`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/role-settings",
    params(paths::Tenant),
    responses(
        Refusals,
        (status = 200, description = "How the tenant resolves roles", body = RoleSettings),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "mappings"
)]
pub async fn get_settings(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "roles:read", |c, scope| {
        change_sets::settings(c, &scope.tenant)
    })
    .await
}

/// Settings to change (absent: unchanged), as one change-set.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// `union` or `highest_priority`.
    #[schema(value_type = Option<String>)]
    mode: Option<Mode>,
    /// `null` clears the default; absent leaves it.
    #[serde(default, with = "serde_with_null")]
    #[schema(value_type = Option<String>)]
    default_role: Option<Option<String>>,
    allow_manual_grants: Option<bool>,
    #[serde(default)]
    description: String,
}

/// Tells "absent" from "null" for `default_role`.
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PUT /role-settings`: the changed settings as one change-set.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/role-settings",
    params(
        paths::Tenant,
    ),
    request_body = SettingsInput,
    responses(
        Refusals,
        (status = 201, description = "The change-set, applied (or applying in the background)", body = ChangeSetView),
        (status = 409, description = "The lockout guard refused it, or it conflicts with the current state"),
    ),
    security(("api_key" = ["admin"])),
    tag = "change-sets"
)]
pub async fn put_settings(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let input: SettingsInput = parse(body.0)?;
    let mut operations = Vec::new();
    if let Some(mode) = input.mode {
        operations.push(Operation::SetMode { mode });
    }
    if let Some(role) = input.default_role {
        operations.push(Operation::SetDefaultRole { role });
    }
    if let Some(allowed) = input.allow_manual_grants {
        operations.push(Operation::SetManualGrants { allowed });
    }
    apply(
        &state,
        caller,
        Request {
            operations,
            description: input.description,
        },
    )
    .await
}

async fn apply(
    state: &AppState,
    caller: KeyCaller,
    request: Request,
) -> Result<HttpResponse, ApiError> {
    let limit = state.inline_limit;
    let answer = respond(
        state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| change_sets::apply(c, scope, request, None, limit, &now()),
    )
    .await;
    state.change_sets.notify_one();
    answer
}

/// `GET /change-sets`: the newest 200, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/change-sets",
    params(
        paths::Tenant,
    ),
    responses(
        Refusals,
        (status = 200, description = "The change-sets", body = Vec<ChangeSetView>),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "change-sets"
)]
pub async fn list_change_sets(
    state: web::Data<AppState>,
    caller: KeyCaller,
) -> Result<HttpResponse, ApiError> {
    read(&state, caller, "roles:read", |c, scope| {
        change_sets::list(c, &scope.tenant)
    })
    .await
}

/// `GET /change-sets/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/change-sets/{id}",
    params(
        paths::TenantItem,
    ),
    responses(
        Refusals,
        (status = 200, description = "The change-set", body = ChangeSetView),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "change-sets"
)]
pub async fn get_change_set(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    read(&state, caller, "roles:read", move |c, scope| {
        change_sets::get(c, &scope.tenant, &id)
    })
    .await
}

/// `POST /change-sets`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/change-sets",
    params(
        paths::Tenant,
    ),
    request_body = Request,
    responses(
        Refusals,
        (status = 201, description = "The change-set, applied (or applying in the background)", body = ChangeSetView),
        (status = 409, description = "The lockout guard refused it, or it conflicts with the current state"),
    ),
    security(("api_key" = ["admin"])),
    tag = "change-sets"
)]
pub async fn create_change_set(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let request: Request = parse(body.0)?;
    apply(&state, caller, request).await
}

/// `POST /change-sets/preview`: read-only.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/change-sets/preview",
    params(
        paths::Tenant,
    ),
    request_body = Request,
    responses(
        Refusals,
        (status = 200, description = "What applying would do; nothing changes", body = Preview),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "change-sets"
)]
pub async fn preview_change_set(
    state: web::Data<AppState>,
    caller: KeyCaller,
    body: ScimBody,
) -> Result<HttpResponse, ApiError> {
    let request: Request = parse(body.0)?;
    let limit = state.inline_limit;
    read(&state, caller, "roles:read", move |c, scope| {
        change_sets::preview(c, scope, &request.operations, limit)
    })
    .await
}

/// `POST /change-sets/{id}/revert/preview`: what reverting would do.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/change-sets/{id}/revert/preview",
    params(
        paths::TenantItem,
    ),
    responses(
        Refusals,
        (status = 200, description = "What reverting would do; nothing changes", body = Preview),
        (status = 409, description = "Already reverted"),
    ),
    security(("api_key" = ["roles:read"])),
    tag = "change-sets"
)]
pub async fn preview_revert(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let limit = state.inline_limit;
    read(&state, caller, "roles:read", move |c, scope| {
        let inverse = change_sets::inverse_of(c, &scope.tenant, &id)?;
        change_sets::preview(c, scope, &inverse, limit)
    })
    .await
}

/// `POST /change-sets/{id}/revert`: a new change-set that undoes `id`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/change-sets/{id}/revert",
    params(
        paths::TenantItem,
    ),
    responses(
        Refusals,
        (status = 201, description = "The reverting change-set", body = ChangeSetView),
        (status = 409, description = "Already reverted, or refused by the lockout guard"),
    ),
    security(("api_key" = ["admin"])),
    tag = "change-sets"
)]
pub async fn revert(
    state: web::Data<AppState>,
    caller: KeyCaller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner().1;
    let limit = state.inline_limit;
    let answer = respond(
        &state,
        caller,
        "admin",
        Access::Write,
        StatusCode::CREATED,
        move |c, scope| {
            let inverse = change_sets::inverse_of(c, &scope.tenant, &id)?;
            let request = Request {
                operations: inverse,
                description: format!("revert of {id}"),
            };
            change_sets::apply(c, scope, request, Some(&id), limit, &now())
        },
    )
    .await;
    state.change_sets.notify_one();
    answer
}
