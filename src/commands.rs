//! What each CLI command does. Output meant for scripts goes to stdout (a created token
//! alone on the last line); logs go to stderr.

use std::error::Error;
use std::io::Write;
use std::sync::Arc;

use crate::cli::{
    AdminCommand, ApiKeyCommand, Command, ConnectionArg, DirectoryCommand, OauthClientCommand,
    OidcCommand, SecretsCommand, SsoCommand, TenantCommand, Toggle, TokenCommand,
};
use crate::config::Settings;
use crate::service::events::Actor;
use crate::service::{api_keys, tenants, ServiceError};
use crate::startup::{open_store, Application};
use crate::store::{backup, migrate, DbConnection, Store, Target};

type CommandResult = Result<(), Box<dyn Error + Send + Sync>>;

pub fn run(command: Command, settings: &Settings) -> CommandResult {
    match command {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let store = open_store(settings)?;
            let mut conn = store.connection()?;
            let applied = migrate::run_pending(&mut conn)?;
            println!("{applied} migration(s) applied");
            Ok(())
        }
        Command::Backup { file } => {
            let store = open_store(settings)?;
            backup::backup(&mut *store.connection()?, &file)?;
            println!("backed up to {}", file.display());
            Ok(())
        }
        Command::Restore { file } => {
            let Target::Sqlite(path) = Target::parse(&settings.database_url)? else {
                return Err(backup::BackupError::Postgres.into());
            };
            let replaced = backup::restore(std::path::Path::new(&path), &file)?;
            if let Some(old) = replaced {
                println!("the replaced database is kept as {}", old.display());
            }
            println!("restored {} from {}", path, file.display());
            Ok(())
        }
        Command::Tenant(command) => tenant(command, &migrated_store(settings)?),
        Command::Token(command) => token(command, &migrated_store(settings)?),
        Command::ApiKey(command) => api_key(command, &migrated_store(settings)?),
        Command::Admin(command) => {
            let (store, keys) = store_with_keys(settings)?;
            admin_command(command, settings, &store, &keys)
        }
        Command::OauthClient(command) => oauth_client(command, &migrated_store(settings)?),
        Command::Sso(command) => {
            let (store, keys) = store_with_keys(settings)?;
            sso(command, &store, &keys)
        }
        Command::Directory(command) => {
            let (store, keys) = store_with_keys(settings)?;
            directory(command, settings, store, keys)
        }
        Command::Secrets(SecretsCommand::NewKey) => {
            println!("{}", crate::secrets::new_key());
            Ok(())
        }
        Command::Secrets(SecretsCommand::Rotate) => {
            let (store, keys) = store_with_keys(settings)?;
            let done = crate::service::secrets::rotate(&mut *store.connection()?, &keys)?;
            println!(
                "{} secret(s) re-sealed and {} sealed for the first time under key {}; once every process runs with this key alone, the old keys are no longer needed",
                done.rotated,
                done.plain,
                keys.current_id()
            );
            Ok(())
        }
    }
}

/// A migrated store and the secrets keys, checked against the database (as `serve`
/// checks them) before any command reads or writes a secret.
fn store_with_keys(
    settings: &Settings,
) -> Result<(Store, crate::secrets::KeyRing), Box<dyn Error + Send + Sync>> {
    let store = migrated_store(settings)?;
    let keys = crate::secrets::KeyRing::from_settings(settings)?;
    crate::service::secrets::prepare(&mut *store.connection()?, &keys)?;
    Ok((store, keys))
}

fn oauth_client(command: OauthClientCommand, store: &Store) -> CommandResult {
    use crate::service::provider::{self, NewClient};
    let mut conn = store.connection()?;
    match command {
        OauthClientCommand::Create {
            tenant_slug,
            name,
            redirect_uris,
            post_logout_redirect_uris,
        } => {
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            let input = NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
            };
            let created = provider::create_client(&mut conn, &tenant, input)?;
            cli_audit(&mut conn, &tenant, "oauth_client.created", &created.client)?;
            eprintln!(
                "registered application {:?} for tenant {tenant_slug}",
                created.client.name
            );
            eprintln!("client_id: {}", created.client.id);
            eprintln!("issuer:    {{public_url}}/oauth/{tenant_slug}");
            eprintln!("the client secret is shown once:");
            println!("{}", created.client_secret);
        }
        OauthClientCommand::List { tenant_slug } => {
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            println!(
                "{:<36} {:<24} {:<24} {:<20} REDIRECT URIS",
                "CLIENT ID", "CREATED", "REVOKED", "NAME"
            );
            for c in provider::clients(&mut conn, &tenant)? {
                println!(
                    "{:<36} {:<24} {:<24} {:<20} {}",
                    c.id,
                    c.created_at,
                    c.revoked_at.as_deref().unwrap_or("-"),
                    c.name,
                    c.redirect_uris.join(" ")
                );
            }
        }
        OauthClientCommand::Revoke {
            tenant_slug,
            client_id,
        } => {
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            provider::revoke_client(&mut conn, &tenant, &client_id)?;
            let revoked = serde_json::json!({ "client_id": client_id });
            cli_audit(&mut conn, &tenant, "oauth_client.revoked", &revoked)?;
            println!("revoked application {client_id}");
        }
    }
    Ok(())
}

fn sso(command: SsoCommand, store: &Store, keys: &crate::secrets::KeyRing) -> CommandResult {
    use crate::service::provider;
    let mut conn = store.connection()?;
    match command {
        SsoCommand::Settings {
            tenant_slug,
            jit,
            jit_domains,
            groups_in_tokens,
            sync_groups,
            connection,
        } => {
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            let mut settings = provider::sign_in_settings(&mut conn, &tenant)?;
            let changing = jit.is_some()
                || jit_domains.is_some()
                || groups_in_tokens.is_some()
                || sync_groups.is_some()
                || connection.is_some();
            if let Some(jit) = jit {
                settings.jit_enabled = jit == Toggle::On;
            }
            if let Some(domains) = jit_domains {
                settings.jit_domains = domains;
            }
            if let Some(groups) = groups_in_tokens {
                settings.groups_in_tokens = groups == Toggle::On;
            }
            if let Some(sync) = sync_groups {
                settings.sync_groups = sync == Toggle::On;
            }
            if let Some(connection) = connection {
                settings.connection = match connection {
                    ConnectionArg::Oidc => provider::Connection::Oidc,
                    ConnectionArg::Saml => provider::Connection::Saml,
                };
            }
            if changing {
                let done = provider::set_sign_in_settings(&mut conn, &tenant, settings)?;
                crate::service::audit::audit(
                    &mut conn,
                    &tenant,
                    "cli",
                    "sso.settings_changed",
                    done.before,
                    done.after,
                    &Default::default(),
                )?;
                settings = done.value;
            }
            let domains = if settings.jit_domains.is_empty() {
                "(any)".to_owned()
            } else {
                settings.jit_domains.join(", ")
            };
            let on = |b: bool| if b { "on" } else { "off" };
            println!("just-in-time provisioning: {}", on(settings.jit_enabled));
            println!("JIT e-mail domains:        {domains}");
            println!(
                "groups in tokens:          {}",
                on(settings.groups_in_tokens)
            );
            println!("groups set JIT memberships: {}", on(settings.sync_groups));
            println!(
                "sign in with:              {}",
                settings.connection.as_str()
            );
        }
        SsoCommand::RotateKey { tenant_slug } => {
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            let key = provider::rotate_signing_key(&mut conn, &tenant, keys)?;
            let rotated = serde_json::json!({ "kid": key.id });
            cli_audit(&mut conn, &tenant, "sso.signing_key_rotated", &rotated)?;
            println!(
                "tenant {tenant_slug} now signs with key {}; the previous key stays in the JWKS until its tokens expire",
                key.id
            );
        }
    }
    Ok(())
}

/// An audit row of a CLI change, with `after` as it stands.
fn cli_audit(
    conn: &mut DbConnection,
    tenant: &crate::store::TenantId,
    action: &str,
    after: &impl serde::Serialize,
) -> Result<(), ServiceError> {
    let after = serde_json::to_value(after).ok();
    let ctx = Default::default();
    Ok(crate::service::audit::audit(
        conn, tenant, "cli", action, None, after, &ctx,
    )?)
}

fn directory(
    command: DirectoryCommand,
    settings: &Settings,
    store: Store,
    keys: crate::secrets::KeyRing,
) -> CommandResult {
    use crate::service::pull;
    let print = |value: &dyn erased::Json| -> CommandResult {
        println!("{}", value.json()?);
        Ok(())
    };
    match command {
        DirectoryCommand::Connect {
            tenant_slug,
            api_key_file,
            base_url,
            org_id,
            interval_minutes,
            scope_groups,
            user_name_from,
            missing_users,
            auto_apply,
            drift,
        } => {
            let mut conn = store.connection()?;
            let api_key = api_key_file.map(read_secret).transpose()?;
            // Unset options keep what the source has.
            let current = pull::source(&mut conn, &tenant_slug)?;
            let keep = |now: Option<String>, had: Option<String>| now.or(had);
            let input = pull::SourceInput {
                kind: None,
                base_url: keep(base_url, current.as_ref().map(|c| c.base_url.clone())),
                api_key,
                org_id: keep(org_id, current.as_ref().and_then(|c| c.org_id.clone())),
                interval_minutes: interval_minutes.or(current.as_ref().map(|c| c.interval_minutes)),
                scope_groups: scope_groups.or(current.as_ref().map(|c| c.scope_groups.clone())),
                user_name_from: keep(
                    user_name_from,
                    current.as_ref().map(|c| c.user_name_from.clone()),
                ),
                missing_users: keep(
                    missing_users,
                    current.as_ref().map(|c| c.missing_users.clone()),
                ),
                auto_apply: auto_apply
                    .map(|t| t == Toggle::On)
                    .or(current.as_ref().map(|c| c.auto_apply)),
                drift: keep(drift, current.as_ref().map(|c| c.drift.clone())),
            };
            let done = pull::configure(&mut conn, &tenant_slug, &input, &keys)?;
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            crate::service::audit::audit(
                &mut conn,
                &tenant,
                "cli",
                "directory.source_configured",
                done.before,
                done.after,
                &Default::default(),
            )?;
            print(&done.value)
        }
        DirectoryCommand::Show { tenant_slug } => {
            let mut conn = store.connection()?;
            let source = pull::source(&mut conn, &tenant_slug)?;
            let runs = pull::runs(&mut conn, &tenant_slug, 5)?;
            print(&serde_json::json!({"source": source, "runs": runs}))
        }
        DirectoryCommand::Remove { tenant_slug } => {
            let mut conn = store.connection()?;
            let done = pull::remove(&mut conn, &tenant_slug)?;
            let tenant = tenant_id(&mut conn, &tenant_slug)?;
            crate::service::audit::audit(
                &mut conn,
                &tenant,
                "cli",
                "directory.source_removed",
                done.before,
                None,
                &Default::default(),
            )?;
            println!("disconnected");
            Ok(())
        }
        DirectoryCommand::Run { tenant_slug, apply } => {
            let ctx = pull::PullContext {
                public_url: settings
                    .public_url
                    .clone()
                    .unwrap_or_else(|| format!("http://{}", settings.listen))
                    .trim_end_matches('/')
                    .to_owned(),
                allow_private: settings.allow_private_webhook_urls,
                backoff: Default::default(),
                owner: uuid::Uuid::new_v4().to_string(),
            };
            let runtime = actix_web::rt::System::new();
            let view = runtime.block_on(pull::run_now(
                crate::service::run::Runner::new(store),
                Arc::new(keys),
                ctx,
                tenant_slug,
                apply,
            ))?;
            print(&view)
        }
    }
}

/// A secret read from a file, or from standard input for `-`, without its line end.
fn read_secret(path: std::path::PathBuf) -> Result<String, Box<dyn Error + Send + Sync>> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(&path)?
    };
    Ok(text.trim().to_owned())
}

/// Pretty JSON of any view, behind a trait object so one closure prints them all.
mod erased {
    pub trait Json {
        fn json(&self) -> serde_json::Result<String>;
    }

    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Result<String> {
            serde_json::to_string_pretty(self)
        }
    }
}

fn tenant_id(conn: &mut DbConnection, slug: &str) -> Result<crate::store::TenantId, ServiceError> {
    Ok(crate::store::TenantId(tenants::tenant(conn, slug)?.id))
}

fn migrated_store(settings: &Settings) -> Result<Store, Box<dyn Error + Send + Sync>> {
    let store = open_store(settings)?;
    let mut conn = store.connection()?;
    migrate::run_pending(&mut conn)?;
    Ok(store)
}

fn serve(settings: &Settings) -> CommandResult {
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async {
        let app = Application::build_with(settings, Arc::new(bootstrap_default_tenant)).await?;
        tracing::info!(url = %app.public_url(), backend = app.store().backend_name(), "roster is serving");
        app.run_until_stopped().await?;
        Ok(())
    })
}

/// On the very first start, makes tenant `default` with a token and prints what a
/// newcomer needs to point an identity provider (or curl) at roster.
fn bootstrap_default_tenant(conn: &mut DbConnection, public_url: &str) -> Result<(), ServiceError> {
    if tenants::has_tenants(conn)? {
        return Ok(());
    }
    match tenants::create_tenant(conn, "default", Some("Default tenant")) {
        // Another roster process starting beside this one got there first.
        Err(ServiceError::TenantExists(_)) => return Ok(()),
        other => other?,
    };
    let token = tenants::create_token(conn, "default", Some("initial token"), &Actor::cli())?;
    // A closed stdout must not stop the server (`println!` would panic).
    let _ = write!(
        std::io::stdout(),
        "roster: first start, created tenant \"default\".\n\
         SCIM Base URL: {public_url}/scim/v2/default\n\
         Bearer token (shown once, store it now): {}\n\
         Admin UI: `roster admin login-link default` prints a one-time sign-in link;\n\
         {public_url}/admin/ signs in once the tenant's OIDC sign-in is set up.\n",
        token.secret
    );
    let _ = std::io::stdout().flush();
    Ok(())
}

fn tenant(command: TenantCommand, store: &Store) -> CommandResult {
    let mut conn = store.connection()?;
    match command {
        TenantCommand::Create { slug, name } => {
            let row = tenants::create_tenant(&mut conn, &slug, name.as_deref())?;
            println!("created tenant {} ({})", row.slug, row.id);
        }
        TenantCommand::List => {
            println!("{:<24} {:<36} {:<24} NAME", "SLUG", "ID", "CREATED");
            for t in tenants::list_tenants(&mut conn)? {
                println!(
                    "{:<24} {:<36} {:<24} {}",
                    t.slug, t.id, t.created_at, t.name
                );
            }
        }
        TenantCommand::Suspend { slug } => {
            tenants::set_suspended(&mut conn, &slug, true, OPERATOR)?;
            println!("suspended tenant {slug}: its SCIM requests get 403 until it is resumed");
        }
        TenantCommand::Resume { slug } => {
            tenants::set_suspended(&mut conn, &slug, false, OPERATOR)?;
            println!("resumed tenant {slug}");
        }
        TenantCommand::Export { slug, output } => {
            let export = tenants::export(&mut conn, &slug, OPERATOR)?;
            let text = serde_json::to_string_pretty(&export)?;
            match output {
                Some(path) => {
                    std::fs::write(&path, text)?;
                    println!(
                        "exported tenant {slug} ({} users, {} groups) to {}",
                        export.directory.users.len(),
                        export.directory.groups.len(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
        }
        TenantCommand::Import { slug, file } => {
            let export: tenants::TenantExport = serde_json::from_slice(&std::fs::read(&file)?)?;
            let (users, groups) = (export.directory.users.len(), export.directory.groups.len());
            tenants::import(&mut conn, &slug, export, OPERATOR)?;
            println!("imported {users} users and {groups} groups into tenant {slug}");
        }
        TenantCommand::Delete { slug, confirm } => {
            if confirm != slug {
                return Err(format!("not deleted: --confirm must repeat the slug '{slug}'").into());
            }
            let row = tenants::delete_tenant(&mut conn, &slug)?;
            // The tenant's audit log went with it: this line (and the log) is the record.
            tracing::warn!(tenant = %row.slug, id = %row.id, "tenant deleted");
            println!("deleted tenant {} ({}) and all its data", row.slug, row.id);
        }
    }
    Ok(())
}

/// Who the CLI's audited changes name: whoever runs it on the server.
const OPERATOR: &str = "operator (roster CLI)";

fn token(command: TokenCommand, store: &Store) -> CommandResult {
    let mut conn = store.connection()?;
    match command {
        TokenCommand::Create {
            tenant_slug,
            name,
            read_only,
        } => {
            let access = if read_only {
                tenants::TokenAccess::ReadOnly
            } else {
                tenants::TokenAccess::ReadWrite
            };
            let token = tenants::create_token_with(
                &mut conn,
                &tenant_slug,
                name.as_deref(),
                access,
                &Actor::cli(),
            )?;
            eprintln!(
                "created token {} for tenant {tenant_slug}; it is shown once:",
                token.view.id
            );
            println!("{}", token.secret);
        }
        TokenCommand::List { tenant_slug } => {
            println!(
                "{:<36} {:<24} {:<24} {:<24} {:<14} {:<10} NAME",
                "ID", "CREATED", "LAST USED", "REVOKED", "HINT", "ACCESS"
            );
            for t in tenants::list_tokens(&mut conn, &tenant_slug)? {
                println!(
                    "{:<36} {:<24} {:<24} {:<24} {:<14} {:<10} {}",
                    t.id,
                    t.created_at,
                    t.last_used_at.as_deref().unwrap_or("never"),
                    t.revoked_at.as_deref().unwrap_or("-"),
                    t.hint,
                    if t.read_only {
                        "read-only"
                    } else {
                        "read-write"
                    },
                    t.name
                );
            }
        }
        TokenCommand::Revoke {
            tenant_slug,
            token_id,
        } => {
            tenants::revoke_token(&mut conn, &tenant_slug, &token_id, &Actor::cli())?;
            println!("revoked token {token_id}");
        }
    }
    Ok(())
}

fn api_key(command: ApiKeyCommand, store: &Store) -> CommandResult {
    let mut conn = store.connection()?;
    match command {
        ApiKeyCommand::Create {
            tenant_slug,
            name,
            scopes,
        } => {
            let key = api_keys::create(&mut conn, &tenant_slug, name.as_deref(), &scopes)?;
            eprintln!(
                "created API key {} ({}) for tenant {tenant_slug}; it is shown once:",
                key.view.id,
                scopes_text(&key.view.scopes)
            );
            println!("{}", key.secret);
        }
        ApiKeyCommand::List { tenant_slug } => {
            println!(
                "{:<36} {:<24} {:<24} {:<24} {:<14} {:<28} NAME",
                "ID", "CREATED", "LAST USED", "REVOKED", "HINT", "SCOPES"
            );
            for k in api_keys::list(&mut conn, &tenant_slug)? {
                println!(
                    "{:<36} {:<24} {:<24} {:<24} {:<14} {:<28} {}",
                    k.id,
                    k.created_at,
                    k.last_used_at.as_deref().unwrap_or("never"),
                    k.revoked_at.as_deref().unwrap_or("-"),
                    k.hint,
                    scopes_text(&k.scopes),
                    k.name
                );
            }
        }
        ApiKeyCommand::Revoke {
            tenant_slug,
            key_id,
        } => {
            api_keys::revoke(&mut conn, &tenant_slug, &key_id)?;
            println!("revoked API key {key_id}");
        }
    }
    Ok(())
}

fn admin_command(
    command: AdminCommand,
    settings: &Settings,
    store: &Store,
    keys: &crate::secrets::KeyRing,
) -> CommandResult {
    use crate::service::admin::{self, AdminRole, OidcSettings};
    let mut conn = store.connection()?;
    match command {
        AdminCommand::Oidc(OidcCommand::Set {
            tenant_slug,
            issuer,
            client_id,
            client_secret,
            groups_claim,
            expected_jc_org,
            map_group,
            scopes,
        }) => {
            let mut group_roles = std::collections::BTreeMap::new();
            for mapping in &map_group {
                let (name, role) = mapping
                    .rsplit_once('=')
                    .and_then(|(n, r)| Some((n.trim(), AdminRole::parse(r.trim())?)))
                    .filter(|(n, _)| !n.is_empty())
                    .ok_or_else(|| {
                        format!("--map-group {mapping:?}: use NAME=ROLE, ROLE one of owner, admin, viewer")
                    })?;
                group_roles.insert(name.to_owned(), role);
            }
            let oidc = OidcSettings {
                issuer,
                client_id,
                client_secret: client_secret.filter(|s| !s.is_empty()),
                groups_claim,
                expected_jc_org: expected_jc_org.filter(|s| !s.is_empty()),
                group_roles,
                scopes: admin::parse_scopes(&scopes.join(" "))?,
            };
            admin::set_oidc(&mut conn, &tenant_slug, &oidc, "cli", keys)?;
            println!("OIDC sign-in set for tenant {tenant_slug}.");
            println!(
                "Redirect URI to register at the identity provider: {}/admin/{tenant_slug}/callback",
                public_url(settings)
            );
        }
        AdminCommand::Oidc(OidcCommand::Show { tenant_slug }) => {
            match admin::oidc_settings(&mut conn, &tenant_slug, keys)?.1 {
                None => println!("tenant {tenant_slug} has no OIDC sign-in configured"),
                Some(oidc) => {
                    println!("issuer:          {}", oidc.issuer);
                    println!("client id:       {}", oidc.client_id);
                    let secret = if oidc.client_secret.is_some() {
                        "(set)"
                    } else {
                        "(none: public client)"
                    };
                    println!("client secret:   {secret}");
                    let claim = if oidc.groups_claim.is_empty() {
                        "(auto: groups, memberOf, member_of)"
                    } else {
                        &oidc.groups_claim
                    };
                    println!("groups claim:    {claim}");
                    println!("scopes:          {}", oidc.scopes.join(" "));
                    println!(
                        "expected jc_org: {}",
                        oidc.expected_jc_org.as_deref().unwrap_or("(any)")
                    );
                    println!(
                        "redirect URI:    {}/admin/{tenant_slug}/callback",
                        public_url(settings)
                    );
                    println!("group roles:");
                    if oidc.group_roles.is_empty() {
                        println!("  (none: nobody can sign in through OIDC)");
                    }
                    for (group, role) in &oidc.group_roles {
                        println!("  {group} = {}", role.as_str());
                    }
                }
            }
        }
        AdminCommand::LoginLink { tenant_slug } => {
            let token = admin::create_login_link(&mut conn, &tenant_slug)?;
            eprintln!("one-time owner login link for tenant {tenant_slug}, valid 10 minutes:");
            println!(
                "{}/admin/{tenant_slug}/login-link/{token}",
                public_url(settings)
            );
        }
        AdminCommand::Audit { tenant_slug } => {
            for row in admin::audit_log(&mut conn, &tenant_slug)? {
                println!(
                    "{}  {:<28} {}  ip={} after={}",
                    row.at,
                    row.action,
                    row.actor,
                    row.ip.as_deref().unwrap_or("-"),
                    row.after_json.as_deref().unwrap_or("-")
                );
            }
        }
    }
    Ok(())
}

/// Scopes as stored and typed: space-separated.
fn scopes_text(scopes: &[api_keys::KeyScope]) -> String {
    scopes
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The public URL as `serve` would compute it (without binding).
/// The server's address for links the CLI prints: `public_url`, or the listen address,
/// with a wildcard host (`0.0.0.0`, `[::]`) replaced by loopback, which a browser on the
/// same machine can open.
fn public_url(settings: &Settings) -> String {
    let listen = settings.listen.as_str();
    let reachable = match listen.rsplit_once(':') {
        Some(("0.0.0.0", port)) => format!("127.0.0.1:{port}"),
        Some(("[::]", port)) => format!("[::1]:{port}"),
        _ => listen.to_owned(),
    };
    settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{reachable}"))
        .trim_end_matches('/')
        .to_owned()
}
