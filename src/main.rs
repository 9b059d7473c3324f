use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use roster::cli::Cli;
use roster::config::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(settings) => settings,
        Err(e) => {
            report(&roster::error_chain(&e));
            return ExitCode::from(2);
        }
    };
    roster::telemetry::init(settings.log_format, &settings.log_level);
    let outcome = roster::commands::run(cli.command, &settings);
    roster::telemetry::flush(Duration::from_secs(1));
    let code = match outcome {
        Ok(()) => 0,
        Err(e) => {
            report(&roster::error_chain(e.as_ref()));
            1
        }
    };
    exit_now(code)
}

/// Ends the process without C `atexit` handlers. When `serve` returns, the HTTP workers'
/// threads may still be dropping their database pools; libpq then closes TLS sessions
/// while OpenSSL's exit handler frees its state, which crashed a PostgreSQL server on
/// SIGTERM. Everything roster acknowledged is committed by now and the log is flushed,
/// so nothing is left for those handlers to do.
fn exit_now(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` only ends the process; no Rust state is observed afterwards.
    unsafe { libc::_exit(code) }
}

/// `eprintln!` panics when stderr cannot be written; the exit code must still say why.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "roster: {message}");
}
