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
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&roster::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// `eprintln!` panics when stderr cannot be written; the exit code must still say why.
fn report(message: &str) {
    let _ = writeln!(std::io::stderr(), "roster: {message}");
}
