//! scim-conformance: checks any SCIM 2.0 server over HTTP against RFC 7643/7644 and the
//! request sequences of JumpCloud, Okta and Microsoft Entra.
//!
//! It imports no server code: what it knows of a server is what the server answers.

mod cases;
mod http;
mod launch;
mod runner;

use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use serde_json::json;

use runner::{Profile, Status};

#[derive(Parser)]
#[command(
    version,
    about = "Black-box SCIM 2.0 conformance checks (RFC 7643/7644, JumpCloud, Okta, Entra)"
)]
struct Cli {
    /// SCIM base URL, e.g. https://scim.example.com/scim/v2/acme. Without it, the suite
    /// starts roster itself on a temporary SQLite database.
    #[arg(long)]
    base_url: Option<String>,
    /// Bearer token for --base-url.
    #[arg(long, env = "SCIM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Which cases to run.
    #[arg(long, value_enum, default_value_t = ProfileArg::All)]
    profile: ProfileArg,
    /// Run only the cases whose name contains this text.
    #[arg(long)]
    only: Option<String>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<String>,
    /// List the cases and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProfileArg {
    Rfc,
    Jumpcloud,
    Okta,
    Entra,
    All,
}

impl ProfileArg {
    fn includes(self, profile: Profile) -> bool {
        match self {
            ProfileArg::All => true,
            ProfileArg::Rfc => profile == Profile::Rfc,
            ProfileArg::Jumpcloud => profile == Profile::JumpCloud,
            ProfileArg::Okta => profile == Profile::Okta,
            ProfileArg::Entra => profile == Profile::Entra,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cases: Vec<runner::Case> = cases::all()
        .into_iter()
        .filter(|c| cli.profile.includes(c.profile))
        .filter(|c| {
            cli.only
                .as_ref()
                .is_none_or(|o| c.name.contains(o.as_str()))
        })
        .collect();
    if cli.list {
        for c in &cases {
            println!("{:<16}  {}", c.section, c.name);
        }
        return ExitCode::SUCCESS;
    }

    // Keeps roster alive until the end of main; dropping it stops roster.
    let mut _roster = None;
    let (base_url, token) = match cli.base_url {
        Some(url) => (url, cli.token.unwrap_or_default()),
        None => match launch::Roster::start() {
            Ok(r) => {
                let target = (r.base_url.clone(), r.token.clone());
                _roster = Some(r);
                target
            }
            Err(e) => {
                eprintln!("scim-conformance: {e}");
                return ExitCode::from(2);
            }
        },
    };

    let client = http::Client::new(&base_url, &token);
    let caps = runner::capabilities(&client);
    if let Some(why) = &caps.unreadable {
        eprintln!("scim-conformance: {why}; running every case as if all were supported");
    }
    let mut ctx = runner::Ctx::new(client, caps);
    let outcomes = runner::run(&mut ctx, &cases);
    for problem in ctx.sweep() {
        eprintln!("scim-conformance: final sweep: {problem}");
    }

    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    let (passed, failed, skipped) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Skip),
    );
    if let Some(path) = &cli.json {
        let report = json!({
            "base_url": base_url,
            "cases": outcomes.iter().map(runner::Outcome::to_json).collect::<Vec<_>>(),
            "passed": passed,
            "failed": failed,
            "skipped": skipped,
        });
        let text = serde_json::to_string_pretty(&report).expect("JSON of plain values");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("scim-conformance: cannot write {path}: {e}");
            return ExitCode::from(2);
        }
    }
    drop(_roster);
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
