use std::process::ExitCode;

use clap::Parser;
use roster::cli::Cli;
use roster::config::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref(), std::env::vars()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("roster: {}", roster::error_chain(&e));
            return ExitCode::from(2);
        }
    };
    roster::telemetry::init(settings.log_format, &settings.log_level);
    match roster::commands::run(cli.command, &settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roster: {}", roster::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}
