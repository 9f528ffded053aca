//! The library's errors: one enum whose kinds say what went wrong and whose messages say where
//! (file, line:column, key, expected value), ready to print as they are.
//!
//! Every kind is the user's to fix (or, for [`Error::SloMissed`], the answer the user asked to
//! be told about); the `flysim` binary prints it and exits with [`Error::exit_code`]. Anything
//! else that fails (a broken pipe, a bug) is not a [`Error`].

use crate::output::OutputError;
use crate::scenario::{Problem, ScenarioError};
use crate::sweep::SweepError;
use crate::sweep::exec::SweepRunError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario, fly.toml or trace did not validate: every problem, each with its place.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// A sweep file (or a `--set` with several values) did not validate.
    #[error("{0}")]
    Sweep(#[from] SweepError),
    /// A plan file did not validate.
    #[error("{0}")]
    Plan(#[from] crate::plan::PlanError),
    /// A sweep could not run, resume or merge (its journal, shards, lock).
    #[error("error: {0}")]
    SweepRun(#[from] SweepRunError),
    /// A folder flysim may not write, or a write that failed.
    #[error("error: {0}")]
    Output(#[from] OutputError),
    /// Files given to `chart` or `merge` that cannot be drawn (names the file and line).
    #[error("error: {0}")]
    Input(String),
    /// Arguments that do not go together (names the argument).
    #[error("error: {0}")]
    Usage(String),
    /// Problems found in a file, already formatted with their places.
    #[error("{}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Problems(Vec<Problem>),
    /// `import` made a starter scenario that does not validate: its problems, and why.
    #[error(
        "{problems}\nerror: the starter scenario for {fly_toml} would not run (above); fix the fly.toml, or give --regions"
    )]
    Import {
        /// The starter scenario's problems.
        problems: ScenarioError,
        /// The fly.toml it was made from.
        fly_toml: String,
    },
    /// The SLO was missed: a run or sweep under `--fail-on-slo`, or a plan none of whose
    /// candidates meets its constraints (its files say why).
    #[error("error: {0}")]
    SloMissed(String),
    /// Problems already printed (by `validate`): only their count.
    #[error("error: {0} error{s} found", s = if *.0 == 1 { "" } else { "s" })]
    Counted(usize),
}

impl Error {
    /// The exit code the `flysim` binary ends with: 3 for a missed SLO, 1 for everything
    /// else (clap's own usage errors exit with 2 before anything runs).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::SloMissed(_) => 3,
            _ => 1,
        }
    }
}

/// The library's results.
pub type Result<T> = std::result::Result<T, Error>;
