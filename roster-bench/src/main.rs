//! roster-bench: identity-provider-shaped load against any SCIM 2.0 server, and the
//! machine's own limits (raw database commits) measured in the same run for ratios.
//!
//! It speaks HTTP only to the server under test and imports no roster code.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use serde_json::{json, Value};

mod admin;
mod metrics;
mod noisy;
mod query;
mod sso;

#[derive(Parser)]
#[command(about = "SCIM load phases and raw-database baselines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run SCIM phases against a server.
    Scim {
        /// SCIM base URL, e.g. http://127.0.0.1:8080/scim/v2/default
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        token: Option<String>,
        /// Users to create.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Look-ups of each kind, PUTs, deactivations, and add/remove pairs on the big
        /// group.
        #[arg(long, default_value_t = 2_000)]
        lookups: usize,
        /// Concurrent clients, each with its own keep-alive connection.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// A name for this target in the report.
        #[arg(long, default_value = "server")]
        label: String,
        /// Write the results as JSON here.
        #[arg(long)]
        json: Option<String>,
        /// A URL answered without touching the database (e.g. the server's /healthz),
        /// timed as the HTTP floor of this machine and client.
        #[arg(long)]
        floor_url: Option<String>,
        /// roster's Prometheus endpoint (e.g. http://127.0.0.1:8080/metrics): its
        /// `roster_write_batch_size` histogram is read around `create_user`.
        #[arg(long)]
        metrics_url: Option<String>,
        /// Add/remove pairs on the big group, if not `lookups`: a server that takes
        /// seconds per one-member PATCH would keep the run going for an hour.
        #[arg(long)]
        big_group_pairs: Option<usize>,
    },
    /// One-member add and remove on groups of several sizes (users made with /Bulk),
    /// from concurrent clients.
    Groups {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        token: Option<String>,
        /// Group sizes, comma-separated.
        #[arg(long, default_value = "100,10000,100000", value_delimiter = ',')]
        sizes: Vec<usize>,
        /// Timed adds (and as many removes) per group.
        #[arg(long, default_value_t = 300)]
        ops: usize,
        /// Concurrent clients, each with its own keep-alive connection.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value = "server")]
        label: String,
        #[arg(long)]
        json: Option<String>,
    },
    /// roster's role mapping: a membership PATCH on a mapped vs an unmapped group, and
    /// applying a new mapping to a big group (time and the server's peak memory).
    Roles {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        token: Option<String>,
        /// The tenant's application API base, e.g. http://127.0.0.1:8080/api/v1/tenants/bench
        #[arg(long)]
        api_url: String,
        /// An admin API key.
        #[arg(long)]
        key: String,
        /// Timed PATCHes per group.
        #[arg(long, default_value_t = 300)]
        ops: usize,
        /// Members of the group the big mapping is applied to.
        #[arg(long, default_value_t = 100_000)]
        big: usize,
        /// The server's pid, to read its memory from /proc.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long, default_value = "server")]
        label: String,
        #[arg(long)]
        json: Option<String>,
    },
    /// Look-ups, searches, sorting and paging at several directory sizes. Users are
    /// written straight into the database (`--database-url`, roster's own), then timed
    /// through the server.
    Query {
        #[arg(long)]
        base_url: String,
        #[arg(long)]
        token: Option<String>,
        /// roster's database: `sqlite://PATH` or `postgres://…`.
        #[arg(long)]
        database_url: String,
        /// The tenant `--base-url` names.
        #[arg(long, default_value = "bench")]
        tenant: String,
        /// Directory sizes, ascending, comma-separated.
        #[arg(long, default_value = "100000,1000000", value_delimiter = ',')]
        sizes: Vec<usize>,
        /// Timed look-ups per kind; each paging phase gets a fifteenth, the `co` search a
        /// fiftieth (at least 5).
        #[arg(long, default_value_t = 500)]
        lookups: usize,
        /// Page size of the paging phases.
        #[arg(long, default_value_t = 100)]
        page: usize,
        #[arg(long, default_value = "server")]
        label: String,
        #[arg(long)]
        json: Option<String>,
    },
    /// Every admin UI page on a loaded directory, timed by the server (`Server-Timing`)
    /// and by the client. Users, groups and sync-log rows go straight into the
    /// database; roles and mappings through the application API.
    Admin {
        /// roster's address, e.g. http://127.0.0.1:8080
        #[arg(long)]
        server: String,
        #[arg(long, default_value = "bench")]
        tenant: String,
        #[arg(long)]
        database_url: String,
        /// A break-glass link from `roster admin login-link`.
        #[arg(long)]
        login_link: String,
        /// An admin API key of the tenant.
        #[arg(long)]
        key: String,
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        #[arg(long, default_value_t = 1_000)]
        groups: usize,
        #[arg(long, default_value_t = 100_000)]
        log_rows: usize,
        /// Timed requests per page.
        #[arg(long, default_value_t = 50)]
        samples: usize,
        /// `load` (the data, roles and mappings), `measure`, or `all`.
        #[arg(long, default_value = "all")]
        stage: String,
        #[arg(long, default_value = "server")]
        label: String,
        #[arg(long)]
        json: Option<String>,
    },
    /// Serve an empty actix-web handler on 127.0.0.1:PORT until killed: the HTTP floor.
    FloorServer {
        #[arg(long)]
        port: u16,
    },
    /// A quiet tenant's look-ups at a steady rate, timed alone and then beside a noisy
    /// tenant sending `--noisy-rate` (ten times its limit): what one tenant's abuse
    /// costs the others.
    Noisy {
        /// The quiet tenant's SCIM base URL.
        #[arg(long)]
        quiet_url: String,
        #[arg(long)]
        quiet_token: String,
        /// The noisy tenant's SCIM base URL.
        #[arg(long)]
        noisy_url: String,
        #[arg(long)]
        noisy_token: String,
        #[arg(long, default_value_t = 20)]
        quiet_rate: u32,
        #[arg(long, default_value_t = 500)]
        noisy_rate: u32,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[arg(long, default_value_t = 16)]
        noisy_clients: usize,
        #[arg(long, default_value = "server")]
        label: String,
        #[arg(long)]
        json: Option<String>,
    },
    /// Sign-ins through an OpenID Provider (roster's, or a peer's): the round trip to
    /// a code, the code exchange, and userinfo, from concurrent clients.
    Sso {
        /// The provider's authorization endpoint.
        #[arg(long)]
        authorize: String,
        #[arg(long)]
        token_url: String,
        #[arg(long)]
        userinfo_url: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        client_secret: String,
        #[arg(long)]
        redirect_uri: String,
        /// The upstream account to sign in as (its login_hint).
        #[arg(long)]
        account: String,
        #[arg(long, default_value_t = 500)]
        sign_ins: usize,
        #[arg(long, default_value_t = 5_000)]
        lookups: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// A URL answered without work (e.g. /healthz), timed as the HTTP floor.
        #[arg(long)]
        floor_url: Option<String>,
        #[arg(long, default_value = "server")]
        label: String,
        #[arg(long)]
        json: Option<String>,
        /// The upstream is a SAML IdP: also time its own share (its sign-in form).
        #[arg(long)]
        saml_idp: bool,
    },
    /// Raw commits on the database itself: the ceiling any server on it can reach.
    Baseline {
        /// `sqlite://PATH` (WAL, synchronous=FULL, as roster) or `postgres://…`.
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        #[arg(long, default_value_t = 2_000)]
        lookups: usize,
        #[arg(long, default_value = "database")]
        label: String,
        #[arg(long)]
        json: Option<String>,
    },
}

/// One measured phase.
#[derive(Default)]
struct Phase {
    name: &'static str,
    ops: usize,
    errors: usize,
    /// Errors that were `503 Service Unavailable` (also counted in `errors`).
    status_503: usize,
    /// The text of the earliest error.
    first_error: Option<String>,
    elapsed: Duration,
    latencies: Vec<Duration>,
    /// More fields for this phase's JSON row.
    extra: serde_json::Map<String, Value>,
}

impl Phase {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[rank].as_secs_f64() * 1000.0
    }

    fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    fn to_json(&self, label: &str) -> Value {
        let mut row = json!({
            "target": label,
            "phase": self.name,
            "ops": self.ops,
            "errors": self.errors,
            "status_503": self.status_503,
            "first_error": self.first_error,
            "seconds": self.elapsed.as_secs_f64(),
            "ops_per_sec": self.throughput(),
            "p50_ms": self.percentile(50.0),
            "p99_ms": self.percentile(99.0),
            "max_ms": self.percentile(100.0),
        });
        if let Value::Object(fields) = &mut row {
            fields.extend(self.extra.clone());
        }
        row
    }
}

/// An empty actix-web handler with roster's worker count: what any request costs
/// before roster does anything.
fn floor_server(port: u16) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(
        actix_web::HttpServer::new(|| {
            actix_web::App::new().default_service(actix_web::web::to(|| async {
                actix_web::HttpResponse::Ok().finish()
            }))
        })
        .workers(2)
        .bind(("127.0.0.1", port))?
        .run(),
    )
}

fn main() {
    let cli = Cli::parse();
    let (label, json_out, phases) = match cli.command {
        Command::Scim {
            base_url,
            token,
            users,
            lookups,
            concurrency,
            label,
            json,
            floor_url,
            metrics_url,
            big_group_pairs,
        } => {
            if users == 0 {
                eprintln!("--users must be at least 1");
                std::process::exit(2);
            }
            let client = Client {
                base: base_url.trim_end_matches('/').to_owned(),
                token,
            };
            let mut phases = Vec::new();
            if let Some(url) = floor_url {
                let floor = Client {
                    base: url,
                    token: None,
                };
                phases.push(run_phase(
                    "http_floor",
                    lookups,
                    concurrency.max(1),
                    |agent, _| floor.send(agent, "GET", "", None).map(drop),
                ));
            }
            phases.extend(scim_phases(
                &client,
                users,
                lookups,
                big_group_pairs.unwrap_or(lookups),
                concurrency.max(1),
                metrics_url.as_deref(),
            ));
            (label, json, phases)
        }
        Command::Groups {
            base_url,
            token,
            sizes,
            ops,
            concurrency,
            label,
            json,
        } => {
            let client = Client {
                base: base_url.trim_end_matches('/').to_owned(),
                token,
            };
            let phases = group_phases(&client, &sizes, ops, concurrency.max(1));
            (label, json, phases)
        }
        Command::Roles {
            base_url,
            token,
            api_url,
            key,
            ops,
            big,
            server_pid,
            label,
            json,
        } => {
            let scim = Client {
                base: base_url.trim_end_matches('/').to_owned(),
                token,
            };
            let api = Client {
                base: api_url.trim_end_matches('/').to_owned(),
                token: Some(key),
            };
            (label, json, role_phases(&scim, &api, ops, big, server_pid))
        }
        Command::Query {
            base_url,
            token,
            database_url,
            tenant,
            sizes,
            lookups,
            page,
            label,
            json,
        } => {
            let client = Client {
                base: base_url.trim_end_matches('/').to_owned(),
                token,
            };
            let results = query::run(
                &client,
                &database_url,
                &tenant,
                &sizes,
                lookups,
                page,
                &label,
            );
            let mut all = Vec::new();
            let mut failed = false;
            for (target, phases) in &results {
                report(target, phases);
                all.extend(phases.iter().map(|p| p.to_json(target)));
                failed |= phases.iter().any(|p| p.errors > 0);
            }
            if let Some(path) = json {
                std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&all).unwrap_or_default(),
                )
                .expect("write JSON");
            }
            if failed {
                std::process::exit(1);
            }
            return;
        }
        Command::Admin {
            server,
            tenant,
            database_url,
            login_link,
            key,
            users,
            groups,
            log_rows,
            samples,
            stage,
            label,
            json,
        } => {
            let server = server.trim_end_matches('/').to_owned();
            let api = Client {
                base: format!("{server}/api/v1/tenants/{tenant}"),
                token: Some(key),
            };
            let phases = admin::run(&admin::Setup {
                server: &server,
                tenant: &tenant,
                database_url: &database_url,
                login_link: &login_link,
                api: &api,
                users,
                groups,
                log_rows,
                samples,
                load: stage != "measure",
                measure: stage != "load",
            });
            (label, json, phases)
        }
        Command::Noisy {
            quiet_url,
            quiet_token,
            noisy_url,
            noisy_token,
            quiet_rate,
            noisy_rate,
            seconds,
            noisy_clients,
            label,
            json,
        } => {
            let client = |base: String, token| Client {
                base: base.trim_end_matches('/').to_owned(),
                token: Some(token),
            };
            let run = noisy::Noisy {
                quiet: client(quiet_url, quiet_token),
                noisy: client(noisy_url, noisy_token),
                quiet_rate,
                noisy_rate,
                seconds,
                noisy_clients,
            };
            (label, json, run.run())
        }
        Command::Sso {
            authorize,
            token_url,
            userinfo_url,
            client_id,
            client_secret,
            redirect_uri,
            account,
            sign_ins,
            lookups,
            concurrency,
            floor_url,
            label,
            json,
            saml_idp,
        } => {
            let mut phases = Vec::new();
            if let Some(url) = floor_url {
                let floor = Client {
                    base: url,
                    token: None,
                };
                phases.push(run_phase("http_floor", lookups, concurrency, |agent, _| {
                    floor.send(agent, "GET", "", None).map(drop)
                }));
            }
            let op = sso::Op {
                label: label.clone(),
                authorize,
                token: token_url,
                userinfo: userinfo_url,
                client_id,
                client_secret,
                redirect_uri,
            };
            phases.extend(sso::run(&op, &account, sign_ins, lookups, concurrency));
            if saml_idp {
                phases.push(sso::saml_idp(&op, &account, sign_ins, concurrency));
            }
            (label, json, phases)
        }
        Command::FloorServer { port } => {
            floor_server(port).expect("floor server");
            return;
        }
        Command::Baseline {
            database_url,
            rows,
            lookups,
            label,
            json,
        } => (label, json, baseline(&database_url, rows, lookups)),
    };
    report(&label, &phases);
    if let Some(path) = json_out {
        let all: Vec<Value> = phases.iter().map(|p| p.to_json(&label)).collect();
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&all).unwrap_or_default(),
        )
        .expect("write JSON");
    }
    if phases.iter().any(|p| p.errors > 0) {
        std::process::exit(1);
    }
}

fn report(label: &str, phases: &[Phase]) {
    println!(
        "{:<12} {:<27} {:>8} {:>7} {:>5} {:>10} {:>9} {:>9}",
        "target", "phase", "ops", "errors", "503", "ops/s", "p50 ms", "p99 ms"
    );
    for p in phases {
        println!(
            "{:<12} {:<27} {:>8} {:>7} {:>5} {:>10.0} {:>9.2} {:>9.2}",
            label,
            p.name,
            p.ops,
            p.errors,
            p.status_503,
            p.throughput(),
            p.percentile(50.0),
            p.percentile(99.0)
        );
    }
}

struct Client {
    base: String,
    token: Option<String>,
}

impl Client {
    /// One request. Any answer outside 2xx is an error whose text starts with the status
    /// (`"503: …"`, see [`status_of`]). An empty body (`204 No Content`, or a 200 without
    /// one) is `Value::Null`.
    fn send(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let mut request = agent.request(method, &format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let result = match body {
            Some(b) => request
                .set("Content-Type", "application/scim+json")
                .send_string(&b.to_string()),
            None => request.call(),
        };
        match result {
            Ok(r) => {
                let status = r.status();
                let text = r.into_string().map_err(|e| format!("{status}: {e}"))?;
                if !(200..300).contains(&status) {
                    return Err(format!("{status}: {text}"));
                }
                if text.trim().is_empty() {
                    return Ok(Value::Null);
                }
                serde_json::from_str(&text).map_err(|e| format!("{status}: not JSON ({e}): {text}"))
            }
            Err(ureq::Error::Status(code, r)) => {
                Err(format!("{code}: {}", r.into_string().unwrap_or_default()))
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The HTTP status at the start of an error from [`Client::send`], if it has one.
fn status_of(error: &str) -> Option<u16> {
    let (code, _) = error.split_once(':')?;
    code.parse().ok().filter(|c| (100..600).contains(c))
}

/// What one client thread measured of one kind of request.
#[derive(Default)]
struct Kind {
    latencies: Vec<Duration>,
    errors: usize,
    status_503: usize,
    first_error: Option<(Instant, String)>,
}

/// What one client thread measured, by kind of request (the index into the phase names
/// given to [`run_phases`]).
struct Tally {
    kinds: Vec<Kind>,
}

impl Tally {
    /// Times one request of `kind`; its value, or `None` after counting the error.
    fn time<T>(&mut self, kind: usize, request: impl FnOnce() -> Result<T, String>) -> Option<T> {
        let started = Instant::now();
        let result = request();
        let k = &mut self.kinds[kind];
        k.latencies.push(started.elapsed());
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                k.errors += 1;
                if status_of(&e) == Some(503) {
                    k.status_503 += 1;
                }
                k.first_error.get_or_insert((started, e));
                None
            }
        }
    }
}

/// Runs `ops` operations over `concurrency` threads, each with its own keep-alive
/// connection and timing every operation as one request of phase `name`.
fn run_phase(
    name: &'static str,
    ops: usize,
    concurrency: usize,
    op: impl Fn(&ureq::Agent, usize) -> Result<(), String> + Sync,
) -> Phase {
    let mut phases = run_phases(
        &[name],
        ops,
        concurrency,
        |_| (),
        |agent, i, _, tally| {
            tally.time(0, || op(agent, i));
        },
    );
    phases.remove(0)
}

/// Runs operations `0..ops` over `concurrency` threads, each with its own keep-alive
/// connection and its own state (`init(thread)`). An operation times its requests with
/// [`Tally::time`], each as one of the phases `names`; every phase's elapsed time is the
/// wall time of the whole run.
fn run_phases<S>(
    names: &[&'static str],
    ops: usize,
    concurrency: usize,
    init: impl Fn(usize) -> S + Sync,
    op: impl Fn(&ureq::Agent, usize, &mut S, &mut Tally) + Sync,
) -> Vec<Phase> {
    let next = AtomicUsize::new(0);
    let tallies = Mutex::new(Vec::with_capacity(concurrency));
    let started = Instant::now();
    std::thread::scope(|s| {
        for thread in 0..concurrency.max(1) {
            let (next, tallies, init, op) = (&next, &tallies, &init, &op);
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(30))
                    .build();
                let mut state = init(thread);
                let mut tally = Tally {
                    kinds: names.iter().map(|_| Kind::default()).collect(),
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ops {
                        break;
                    }
                    op(&agent, i, &mut state, &mut tally);
                }
                tallies.lock().unwrap().push(tally);
            });
        }
    });
    let elapsed = started.elapsed();
    let tallies = tallies.into_inner().unwrap();
    names
        .iter()
        .enumerate()
        .map(|(k, &name)| {
            let mut phase = Phase {
                name,
                elapsed,
                ..Phase::default()
            };
            let mut first: Option<(Instant, String)> = None;
            for tally in &tallies {
                let kind = &tally.kinds[k];
                phase.latencies.extend(&kind.latencies);
                phase.errors += kind.errors;
                phase.status_503 += kind.status_503;
                if let Some((at, e)) = &kind.first_error {
                    if first.as_ref().is_none_or(|(f, _)| at < f) {
                        first = Some((*at, e.clone()));
                    }
                }
            }
            phase.ops = phase.latencies.len();
            if let Some((_, e)) = first {
                eprintln!("{name}: first error: {e}");
                phase.first_error = Some(e);
            }
            phase
        })
        .collect()
}

fn user_name(run: &str, i: usize) -> String {
    format!("bench.{run}.{i}@example.com")
}

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Members of each group of `patch_add_50_members`, added this many per PATCH.
const GROUP_SIZE: usize = 100;
const MEMBERS_PER_PATCH: usize = 50;
/// Members of the group of `patch_one_member_big_group`.
const BIG_GROUP: usize = 5_000;

/// The identity-provider workload, phase by phase (see `compare.sh`). With
/// `metrics_url`, roster's write batch sizes during `create_user` go into that phase.
fn scim_phases(
    client: &Client,
    users: usize,
    lookups: usize,
    big_group_pairs: usize,
    concurrency: usize,
    metrics_url: Option<&str>,
) -> Vec<Phase> {
    // A per-run prefix, so runs against one server never collide.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let run = format!("{:x}", since_epoch.as_micros());
    let ids = Mutex::new(vec![String::new(); users]);
    let batches_before = metrics_url.and_then(metrics::scrape);
    let mut create = run_phase("create_user", users, concurrency, |agent, i| {
        let body = json!({
            "schemas": [USER_SCHEMA],
            "userName": user_name(&run, i),
            "externalId": format!("{i:024x}"),
            "name": {"givenName": "Bench", "familyName": format!("User{i}")},
            "displayName": format!("Bench User {i}"),
            "emails": [{"value": user_name(&run, i), "type": "work", "primary": true}],
            "active": true,
        });
        let created = client.send(agent, "POST", "/Users", Some(&body))?;
        let id = created["id"]
            .as_str()
            .ok_or("no id in response")?
            .to_owned();
        ids.lock().unwrap()[i] = id;
        Ok(())
    });
    if let Some(url) = metrics_url {
        let batches = metrics::scrape(url).map(|after| after.since(batches_before.as_ref()));
        match &batches {
            Some(h) => println!("create_user batch sizes: {}", h.summary()),
            None => println!("create_user batch sizes: not reported"),
        }
        let row = batches.map_or(Value::Null, |h| h.to_json());
        create.extra.insert("write_batch_size".to_owned(), row);
    }
    // The later phases use the users that were created, so a failed create is counted
    // once, in create_user.
    let (numbers, ids): (Vec<usize>, Vec<String>) = ids
        .into_inner()
        .unwrap()
        .into_iter()
        .enumerate()
        .filter(|(_, id)| !id.is_empty())
        .unzip();
    if ids.is_empty() {
        eprintln!("no user was created: the other phases are skipped");
        return vec![create];
    }
    let created = ids.len();
    let lookup = run_phase("lookup_user_name_eq", lookups, concurrency, |agent, i| {
        // A stride through the users, so look-ups spread over the whole table.
        let target = numbers[(i * 7919) % created];
        let filter = format!("userName eq \"{}\"", user_name(&run, target));
        let found = client.send(
            agent,
            "GET",
            &format!("/Users?filter={}", encode(&filter)),
            None,
        )?;
        if found["totalResults"] != 1 {
            return Err(format!(
                "expected one result, got {}",
                found["totalResults"]
            ));
        }
        Ok(())
    });
    let get = run_phase("get_user_by_id", lookups, concurrency, |agent, i| {
        client
            .send(
                agent,
                "GET",
                &format!("/Users/{}", ids[(i * 7919) % created]),
                None,
            )
            .map(drop)
    });
    let ids = &ids;
    let groups = (created / GROUP_SIZE).clamp(1, 100);
    let group_ids = Mutex::new(vec![String::new(); groups]);
    let create_group = run_phase("create_group", groups, concurrency, |agent, g| {
        let body =
            json!({"schemas": [GROUP_SCHEMA], "displayName": format!("bench {run} group {g}")});
        let group = client.send(agent, "POST", "/Groups", Some(&body))?;
        let id = group["id"].as_str().ok_or("no group id in response")?;
        group_ids.lock().unwrap()[g] = id.to_owned();
        Ok(())
    });
    let group_ids: Vec<String> = group_ids
        .into_inner()
        .unwrap()
        .into_iter()
        .filter(|id| !id.is_empty())
        .collect();
    let groups = group_ids.len();
    // Request i adds the (i / groups)-th 50 of group (i % groups)'s 100 members, so
    // requests running together go to different groups while there are enough groups.
    let per_group = GROUP_SIZE.div_ceil(MEMBERS_PER_PATCH);
    let add_members = run_phase(
        "patch_add_50_members",
        groups * per_group,
        concurrency,
        |agent, i| {
            let (g, part) = (i % groups, i / groups);
            let first = g * GROUP_SIZE + part * MEMBERS_PER_PATCH;
            let members: Vec<&String> = (first..first + MEMBERS_PER_PATCH.min(created))
                .map(|u| &ids[u % created])
                .collect();
            let path = format!("/Groups/{}", group_ids[g]);
            client
                .send(agent, "PATCH", &path, Some(&member_patch("add", &members)))
                .map(drop)
        },
    );
    let big_group = big_group_phase(client, ids, big_group_pairs, concurrency, &run);
    let pages = created.div_ceil(100);
    let page = run_phase("page_all_users_100", pages, concurrency, |agent, p| {
        let got = client.send(
            agent,
            "GET",
            &format!("/Users?startIndex={}&count=100", p * 100 + 1),
            None,
        )?;
        if got["Resources"].as_array().is_none_or(Vec::is_empty) {
            return Err(format!("page {p} is empty"));
        }
        Ok(())
    });
    let put = run_phase("put_user", lookups, concurrency, |agent, i| {
        let k = (i * 7919) % created;
        let n = numbers[k];
        let body = json!({
            "schemas": [USER_SCHEMA],
            "id": ids[k],
            "userName": user_name(&run, n),
            "name": {"givenName": "Bench", "familyName": format!("User{n}")},
            "displayName": format!("Bench User {n}"),
            "title": format!("Title {i}"),
            "emails": [{"value": user_name(&run, n), "type": "work", "primary": true}],
            "active": true,
        });
        client
            .send(agent, "PUT", &format!("/Users/{}", ids[k]), Some(&body))
            .map(drop)
    });
    let deactivate = run_phase("deactivate_user_patch", lookups, concurrency, |agent, i| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "replace", "path": "active", "value": false}]});
        client
            .send(
                agent,
                "PATCH",
                &format!("/Users/{}", ids[(i * 7919) % created]),
                Some(&body),
            )
            .map(drop)
    });
    let delete = run_phase("delete_user", created, concurrency, |agent, i| {
        client
            .send(agent, "DELETE", &format!("/Users/{}", ids[i]), None)
            .map(drop)
    });
    vec![
        create,
        lookup,
        get,
        create_group,
        add_members,
        big_group,
        page,
        put,
        deactivate,
        delete,
    ]
}

/// `patch_one_member_big_group`: a group filled (untimed) with the first
/// min(5,000, users) users, 1000 per PATCH, then `pairs` pairs of one-member PATCHes on
/// it in JumpCloud's and Entra's shape, with no query parameters. A pair holds a user no
/// other pair holds: one outside the group is added then removed, a member is removed
/// then added back, so an add never names a member. Users outside the group go first.
fn big_group_phase(
    client: &Client,
    ids: &[String],
    pairs: usize,
    concurrency: usize,
    run: &str,
) -> Phase {
    const NAME: &str = "patch_one_member_big_group";
    let fill = ids.len().min(BIG_GROUP);
    let setup = || -> Result<String, String> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(300))
            .build();
        let body =
            json!({"schemas": [GROUP_SCHEMA], "displayName": format!("bench {run} big group")});
        let group = client.send(&agent, "POST", "/Groups", Some(&body))?;
        let id = group["id"].as_str().ok_or("no group id in response")?;
        let path = format!("/Groups/{id}?excludedAttributes=members");
        for chunk in ids[..fill].chunks(1000) {
            client.send(&agent, "PATCH", &path, Some(&member_patch("add", chunk)))?;
        }
        Ok(id.to_owned())
    };
    let group = match setup() {
        Ok(id) => id,
        Err(e) => {
            eprintln!("{NAME}: filling the group failed: {e}");
            return Phase {
                name: NAME,
                ops: 2 * pairs,
                errors: 2 * pairs,
                first_error: Some(format!("filling the group: {e}")),
                elapsed: Duration::from_secs(1),
                ..Phase::default()
            };
        }
    };
    let path = format!("/Groups/{group}");
    let free: Mutex<VecDeque<(usize, bool)>> = Mutex::new(
        (fill..ids.len())
            .map(|u| (u, false))
            .chain((0..fill).map(|u| (u, true)))
            .collect(),
    );
    let mut phases = run_phases(
        &[NAME],
        pairs,
        concurrency,
        |_| (),
        |agent, _, _, tally| {
            let (user, member) = loop {
                if let Some(taken) = free.lock().unwrap().pop_front() {
                    break taken;
                }
                std::thread::sleep(Duration::from_millis(1));
            };
            let one = std::slice::from_ref(&ids[user]);
            let ops = if member {
                ["remove", "add"]
            } else {
                ["add", "remove"]
            };
            for op in ops {
                // Removes name the member in the path (RFC 7644 §3.5.2.2, Okta's shape):
                // scim2-server refuses Entra's and JumpCloud's value-list remove with 400,
                // and the phase must be the same request for every target.
                let body = match op {
                    "remove" => member_remove_by_path(&ids[user]),
                    _ => member_patch(op, one),
                };
                tally.time(0, || client.send(agent, "PATCH", &path, Some(&body)));
            }
            free.lock().unwrap().push_back((user, member));
        },
    );
    phases.remove(0)
}

/// Creates `count` users through `/Bulk`, 1000 per request; returns their ids.
fn bulk_users(client: &Client, agent: &ureq::Agent, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    let numbers: Vec<usize> = (0..count).collect();
    for chunk in numbers.chunks(1000) {
        let operations: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": {"userName": format!("{prefix}.{i}@example.com")}}))
            .collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": operations});
        let response = client
            .send(agent, "POST", "/Bulk", Some(&body))
            .expect("bulk create");
        for op in response["Operations"].as_array().into_iter().flatten() {
            let id = op["location"]
                .as_str()
                .and_then(|l| l.rsplit('/').next())
                .expect("created user");
            ids.push(id.to_owned());
        }
    }
    ids
}

fn member_remove_by_path(id: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
           "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]})
}

fn member_patch(op: &str, ids: &[impl AsRef<str>]) -> Value {
    let value: Vec<Value> = ids.iter().map(|id| json!({"value": id.as_ref()})).collect();
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": op, "path": "members", "value": value}]})
}

/// For each size: a group of that many members, then `ops` timed single-member adds
/// and as many removes, as an IdP sends them one by one, from `concurrency` clients at
/// once. Operation i adds then removes the i-th user outside the group, so no two
/// operations name the same user and an add never names a member.
fn group_phases(client: &Client, sizes: &[usize], ops: usize, concurrency: usize) -> Vec<Phase> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(300))
        .build();
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let run = format!("g{:x}", since_epoch.as_micros());
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let members = bulk_users(client, &agent, &run, largest);
    let outsiders = bulk_users(client, &agent, &format!("{run}.out"), ops);
    let mut phases = Vec::new();
    for &size in sizes {
        let group = client
            .send(
                &agent,
                "POST",
                "/Groups",
                Some(&json!({"displayName": format!("{run} size {size}")})),
            )
            .expect("create group");
        let path = format!(
            "/Groups/{}?excludedAttributes=members",
            group["id"].as_str().expect("group id")
        );
        for chunk in members[..size].chunks(1000) {
            client
                .send(&agent, "PATCH", &path, Some(&member_patch("add", chunk)))
                .expect("fill group");
        }
        let name = |what: &str| -> &'static str {
            Box::leak(format!("{what}_member_of_{size}").into_boxed_str())
        };
        phases.extend(run_phases(
            &[name("add"), name("remove")],
            ops,
            concurrency,
            |_| (),
            |agent, i, _, tally| {
                let user = std::slice::from_ref(&outsiders[i]);
                for (kind, op) in ["add", "remove"].into_iter().enumerate() {
                    tally.time(kind, || {
                        client.send(agent, "PATCH", &path, Some(&member_patch(op, user)))
                    });
                }
            },
        ));
    }
    phases
}

fn empty_phase(name: &'static str) -> Phase {
    Phase {
        name,
        ..Phase::default()
    }
}

fn timed(phase: &mut Phase, op: impl FnOnce() -> Result<Value, String>) {
    let t = Instant::now();
    if let Err(e) = op() {
        eprintln!("{}: {e}", phase.name);
        phase.errors += 1;
        if status_of(&e) == Some(503) {
            phase.status_503 += 1;
        }
        phase.first_error.get_or_insert(e);
    }
    let took = t.elapsed();
    phase.elapsed += took;
    phase.latencies.push(took);
    phase.ops += 1;
}

/// A `/proc/PID/status` field in MiB (VmRSS, VmHWM).
fn proc_mib(pid: Option<u32>, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Interleaved one-member adds and removes on a group mapped to a role and on one that
/// is not (same size, same users), then one mapping applied to a `big`-member group.
fn role_phases(
    scim: &Client,
    api: &Client,
    ops: usize,
    big: usize,
    pid: Option<u32>,
) -> Vec<Phase> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(600))
        .build();
    let run = format!(
        "r{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros()
    );
    for slug in ["member", "viewer"] {
        let role = json!({"slug": format!("{run}-{slug}")});
        api.send(&agent, "POST", "/roles", Some(&role))
            .expect("create role");
    }
    let users = bulk_users(scim, &agent, &run, ops.max(big));
    let group = |name: &str| -> String {
        let g = scim
            .send(
                &agent,
                "POST",
                "/Groups",
                Some(&json!({"displayName": format!("{run} {name}")})),
            )
            .expect("create group");
        g["id"].as_str().expect("group id").to_owned()
    };
    let (plain, mapped) = (group("plain"), group("mapped"));
    let mapping = json!({"group": mapped, "role": format!("{run}-member")});
    api.send(&agent, "POST", "/mappings", Some(&mapping))
        .expect("map");
    let mut unmapped_add = empty_phase("patch_add_unmapped");
    let mut mapped_add = empty_phase("patch_add_mapped");
    let mut unmapped_remove = empty_phase("patch_remove_unmapped");
    let mut mapped_remove = empty_phase("patch_remove_mapped");
    for user in &users[..ops] {
        let one = std::slice::from_ref(user);
        for (group, add, remove) in [
            (&plain, &mut unmapped_add, &mut unmapped_remove),
            (&mapped, &mut mapped_add, &mut mapped_remove),
        ] {
            let path = format!("/Groups/{group}?excludedAttributes=members");
            timed(add, || {
                scim.send(&agent, "PATCH", &path, Some(&member_patch("add", one)))
            });
            timed(remove, || {
                scim.send(&agent, "PATCH", &path, Some(&member_patch("remove", one)))
            });
        }
    }
    let target = group("big");
    let path = format!("/Groups/{target}?excludedAttributes=members");
    for chunk in users[..big].chunks(1000) {
        scim.send(&agent, "PATCH", &path, Some(&member_patch("add", chunk)))
            .expect("fill big group");
    }
    let rss_before = proc_mib(pid, "VmRSS");
    let mut apply = empty_phase("apply_mapping_to_big_group");
    timed(&mut apply, || {
        let mapping = json!({"group": target, "role": format!("{run}-viewer")});
        let change_set = api.send(&agent, "POST", "/mappings", Some(&mapping))?;
        let id = change_set["id"].as_str().unwrap_or_default().to_owned();
        let mut state = change_set;
        while state["state"] != "applied" {
            std::thread::sleep(Duration::from_millis(100));
            state = api.send(&agent, "GET", &format!("/change-sets/{id}"), None)?;
        }
        let granted = state["impact"]["users_affected"].as_u64().unwrap_or(0);
        if granted as usize != big {
            return Err(format!("{granted} users affected, expected {big}"));
        }
        Ok(state)
    });
    println!(
        "server memory: RSS before apply {:.0} MiB, peak (VmHWM) after {:.0} MiB",
        rss_before.unwrap_or(f64::NAN),
        proc_mib(pid, "VmHWM").unwrap_or(f64::NAN)
    );
    vec![
        unmapped_add,
        mapped_add,
        unmapped_remove,
        mapped_remove,
        apply,
    ]
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(diesel::QueryableByName)]
struct Found {
    #[diesel(sql_type = Text)]
    #[allow(dead_code)]
    k: String,
}

/// One row of about the size roster stores for a user.
fn payload(i: usize) -> String {
    format!(
        "{{\"userName\":\"bench.{i}@example.com\",\"pad\":\"{}\"}}",
        "x".repeat(560)
    )
}

/// Raw single-row commits and indexed point reads, one connection, no server.
fn baseline(url: &str, rows: usize, lookups: usize) -> Vec<Phase> {
    macro_rules! measure {
        ($conn:expr, $insert:expr, $select:expr) => {{
            let conn = $conn;
            conn.batch_execute("DROP TABLE IF EXISTS bench_rows; CREATE TABLE bench_rows (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
                .expect("create table");
            let mut latencies = Vec::with_capacity(rows);
            let started = Instant::now();
            for i in 0..rows {
                let t = Instant::now();
                diesel::sql_query($insert)
                    .bind::<Text, _>(format!("k{i}"))
                    .bind::<Text, _>(payload(i))
                    .execute(conn)
                    .expect("insert");
                latencies.push(t.elapsed());
            }
            let insert = Phase { name: "raw_insert_commit", ops: rows, errors: 0, elapsed: started.elapsed(), latencies, ..Phase::default() };
            let mut latencies = Vec::with_capacity(lookups);
            let started = Instant::now();
            for i in 0..lookups {
                let t = Instant::now();
                let found: Vec<Found> = diesel::sql_query($select)
                    .bind::<Text, _>(format!("k{}", (i * 7919) % rows.max(1)))
                    .load(conn)
                    .expect("select");
                assert_eq!(found.len(), 1);
                latencies.push(t.elapsed());
            }
            let lookup = Phase { name: "raw_indexed_lookup", ops: lookups, errors: 0, elapsed: started.elapsed(), latencies, ..Phase::default() };
            conn.batch_execute("DROP TABLE bench_rows").expect("drop table");
            vec![insert, lookup]
        }};
    }
    if let Some(path) = url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(path).expect("open SQLite");
        // The same durability roster runs with.
        conn.batch_execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .expect("pragmas");
        measure!(
            &mut conn,
            "INSERT INTO bench_rows (k, v) VALUES (?, ?)",
            "SELECT k FROM bench_rows WHERE k = ?"
        )
    } else {
        let mut conn = PgConnection::establish(url).expect("connect to PostgreSQL");
        measure!(
            &mut conn,
            "INSERT INTO bench_rows (k, v) VALUES ($1, $2)",
            "SELECT k FROM bench_rows WHERE k = $1"
        )
    }
}
