//! flysim: a deterministic discrete-event simulator of the Fly.io Machines platform.
#![warn(missing_docs)]

pub mod cli;
pub mod engine;
pub mod metrics;
pub mod model;
pub mod output;
pub mod run;
pub mod scenario;
