//! The command line: `serve`, `migrate`, `backup`, `restore`, `tenant …`, `token …`,
//! `api-key …`, `admin …`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "roster", version, about = "SCIM 2.0 provisioning server")]
pub struct Cli {
    /// A TOML settings file; `ROSTER_*` environment variables override it.
    #[arg(long, global = true, env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first; creates tenant "default" on first start).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Copy the SQLite database to a new file, as one consistent snapshot, while roster
    /// serves. (PostgreSQL: pg_dump; see the README.)
    Backup { file: PathBuf },
    /// Put a backup in the SQLite database's place. Refused while any roster process
    /// uses the database; the replaced file is kept beside it.
    Restore { file: PathBuf },
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage application API keys (for /api/v1; not SCIM tokens).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Admin UI sign-in: OIDC settings and break-glass login links.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The key that encrypts stored secrets (webhook signing secrets, client secrets).
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Applications that sign the tenant's users in through roster (OpenID Connect).
    #[command(subcommand)]
    OauthClient(OauthClientCommand),
    /// How sign-ins through roster treat users: just-in-time provisioning, groups in
    /// tokens, and the tenant's token-signing keys.
    #[command(subcommand)]
    Sso(SsoCommand),
    /// Pull a tenant's directory from the JumpCloud API: the source, and runs.
    #[command(subcommand)]
    Directory(DirectoryCommand),
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Connect JumpCloud, or change the source's settings (unset options keep theirs).
    Connect {
        tenant_slug: String,
        /// A file holding the JumpCloud API key (`-`: standard input). Never an argument,
        /// which the shell history and `ps` would show. Needed the first time.
        #[arg(long)]
        api_key_file: Option<PathBuf>,
        /// JumpCloud's API host (`https://console.eu.jumpcloud.com` for EU tenants).
        #[arg(long)]
        base_url: Option<String>,
        /// `x-org-id`, for multi-tenant (MSP) administrators.
        #[arg(long)]
        org_id: Option<String>,
        /// Minutes between runs; 0 runs only when asked.
        #[arg(long)]
        interval_minutes: Option<i64>,
        /// Pull only this JumpCloud group and its members; repeat for several.
        #[arg(long = "scope-group")]
        scope_groups: Option<Vec<String>>,
        /// Which JumpCloud field becomes userName: email or username.
        #[arg(long)]
        user_name_from: Option<String>,
        /// What happens to users JumpCloud no longer has: deactivate or delete.
        #[arg(long)]
        missing_users: Option<String>,
        /// Apply each run without review: on or off.
        #[arg(long)]
        auto_apply: Option<Toggle>,
        /// With SCIM push too: report drift, or repair it.
        #[arg(long)]
        drift: Option<String>,
    },
    /// The source (never its key) and its latest runs, as JSON.
    Show { tenant_slug: String },
    /// Run a pull now, in this process, and print the run; `--apply` applies its diff.
    Run {
        tenant_slug: String,
        #[arg(long)]
        apply: bool,
    },
    /// Disconnect the source (its runs go; the users and groups it wrote stay).
    Remove { tenant_slug: String },
}

#[derive(Debug, Subcommand)]
pub enum OauthClientCommand {
    /// Register an application; its client secret is printed once, alone on the last line.
    Create {
        tenant_slug: String,
        #[arg(long)]
        name: String,
        /// An exact redirect URI (https, or http on localhost); repeat for several.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may return to; repeat for several.
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
    },
    /// List a tenant's applications (never their secrets).
    List { tenant_slug: String },
    /// Revoke an application: its codes and new token requests are refused.
    Revoke {
        tenant_slug: String,
        client_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SsoCommand {
    /// Show or change a tenant's sign-in settings.
    Settings {
        tenant_slug: String,
        /// Create users at their first sign-in when none matches: on or off.
        #[arg(long)]
        jit: Option<Toggle>,
        /// An e-mail domain JIT may create users for; repeat for several. Replaces the
        /// list; `--jit-domain ''` empties it (any domain).
        #[arg(long = "jit-domain")]
        jit_domains: Option<Vec<String>>,
        /// Put the user's groups in tokens and userinfo: on or off.
        #[arg(long)]
        groups_in_tokens: Option<Toggle>,
        /// Let the identity provider's groups set the memberships of users created at
        /// sign-in (by exact group name): on or off.
        #[arg(long)]
        sync_groups: Option<Toggle>,
        /// Which connection applications' users sign in with.
        #[arg(long)]
        connection: Option<ConnectionArg>,
    },
    /// Make a new token-signing key; the old one stays in the JWKS until its tokens expire.
    RotateKey { tenant_slug: String },
}

/// A tenant's connection to its identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConnectionArg {
    Oidc,
    Saml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Toggle {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key for `secrets_key` (32 bytes, base64), alone on a line.
    NewKey,
    /// Re-seal every stored secret under `secrets_key`. Run it once every roster process
    /// has this key as `secrets_key` (the old one in `secrets_old_keys`); afterwards the
    /// old keys can be removed from every process.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// OIDC sign-in settings of a tenant.
    #[command(subcommand)]
    Oidc(OidcCommand),
    /// Print a one-time owner login link, valid 10 minutes, alone on the last line.
    LoginLink { tenant_slug: String },
    /// Show a tenant's admin audit log, newest first.
    Audit { tenant_slug: String },
}

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Set (replace) the tenant's OIDC settings.
    Set {
        tenant_slug: String,
        /// Exactly as the provider states it (JumpCloud: https://oauth.id.jumpcloud.com/).
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// Omit for a public client (PKCE only). `ROSTER_OIDC_CLIENT_SECRET` keeps it out
        /// of the shell history.
        #[arg(long, env = "ROSTER_OIDC_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// The claim carrying groups; default: groups, then memberOf, then member_of.
        #[arg(long, default_value = "")]
        groups_claim: String,
        /// The JumpCloud organization id every ID token must carry in `jc_org`.
        #[arg(long)]
        expected_jc_org: Option<String>,
        /// IdP group NAME=ROLE (owner, admin or viewer); repeat for several.
        #[arg(long = "map-group", value_name = "NAME=ROLE")]
        map_group: Vec<String>,
        /// A scope to ask the provider for; repeat for several (default: openid email
        /// profile; openid is required).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Show the tenant's OIDC settings (never the client secret).
    Show { tenant_slug: String },
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key; it is printed once, alone on the last line.
    Create {
        tenant_slug: String,
        #[arg(long)]
        name: Option<String>,
        /// admin, events:read or roles:read; repeat for several (default: admin).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List a tenant's API keys (never their secrets).
    List { tenant_slug: String },
    /// Revoke a key by id.
    Revoke { tenant_slug: String, key_id: String },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; its SCIM base URL is /scim/v2/<slug>.
    Create {
        slug: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List tenants.
    List,
    /// Suspend a tenant: its SCIM requests get 403 until it is resumed. Audited.
    Suspend { slug: String },
    /// Resume a suspended tenant. Audited.
    Resume { slug: String },
    /// Write a tenant's directory as one JSON document (users, groups, memberships,
    /// roles, mappings, settings, grants; never secrets, never history). Audited.
    Export {
        slug: String,
        /// Where to write it; standard output without it.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Read an export into a tenant that holds no user, group or role yet. Audited.
    Import { slug: String, file: PathBuf },
    /// Delete a tenant and all its data; its tokens and keys stop working at once.
    Delete {
        slug: String,
        /// The slug again, to confirm: nothing of a deleted tenant can be recovered
        /// but from a backup.
        #[arg(long, value_name = "SLUG")]
        confirm: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed once, alone on the last line.
    Create {
        tenant_slug: String,
        #[arg(long)]
        name: Option<String>,
        /// The token reads SCIM resources; every write it sends gets 403.
        #[arg(long)]
        read_only: bool,
    },
    /// List a tenant's tokens (never their secrets).
    List { tenant_slug: String },
    /// Revoke a token by id.
    Revoke {
        tenant_slug: String,
        token_id: String,
    },
}
