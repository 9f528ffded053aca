//! The `flysim` binary: parse arguments, run, map errors to messages and exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = flysim::cli::Cli::parse();
    match flysim::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`flysim run | head`) is not an error worth reporting.
            if let Some(io) = e.root_cause().downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            match e.downcast_ref::<flysim::Error>() {
                Some(known) => {
                    eprintln!("{known}");
                    ExitCode::from(known.exit_code())
                }
                None => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
