//! flysim: a deterministic discrete-event simulator of the Fly.io Machines platform.
//!
//! A capacity planner describes a world (regions and their hosts), apps (their own fly.toml,
//! how many Machines where, how long a request takes, how the app boots) and traffic; flysim
//! plays it forward and reports availability, latency, cold starts and cost.
//!
//! # Concepts
//! - **Host**: a server in a region with vCPUs and memory. Started and suspended Machines hold
//!   their share; stopped ones do not. An app's Machines are spread over a region's hosts.
//! - **Machine**: Fly's VM, with a lifecycle (see [`platform::machine`]):
//!   `stopped → starting → started → stopping → stopped`, or `started → suspending →
//!   suspended → starting`. A cold start is VM boot plus the app's own boot; a resume skips
//!   the app boot.
//! - **Proxy**: routes each request from its clients' region to the closest Machine under its
//!   soft limit, starts stopped Machines when all running ones are over it (autostart), leaves
//!   the region only at the hard limit, and queues or fails (503) when everything is full
//!   ([`platform::proxy`]).
//! - **Services**: each `[http_service]` or `[[services]]` of an app takes its own traffic and
//!   counts its own load on a Machine against its own limits; a process group reached by
//!   several takes their most restrictive autostop.
//! - **Autostop**: a periodic pass per region stops or suspends excess idle Machines
//!   ([`platform::autostop`]); an app may also exit on its own after an idle time (`idle_exit`).
//! - **CPU quotas**: when requests give their CPU time, a Machine runs its vCPUs at up to
//!   100 % while its balance of unused baseline lasts and at its baseline after (1/16 of a
//!   shared vCPU), exactly, without a step per 80 ms period ([`platform::cpu`]).
//!
//! # Time, order and randomness
//! Time is an integer number of nanoseconds ([`engine::SimTime`]); no float ever drives the
//! clock. Events at the same instant are handled in the order they were scheduled
//! ([`engine::queue`]). Every source of randomness draws from its own named ChaCha8 stream
//! derived from the master seed ([`engine::rng`]), so the same scenario and seed give
//! byte-identical outputs, and adding one traffic source does not move another's arrivals.
//!
//! # Cost
//! Cost is integrated exactly over the time each Machine spends in each state: started time at
//! Fly's per-second price of its size in its region, stopped and suspended time at the rootfs
//! price
//! ([`scenario::Prices`]). Nothing is sampled.
//!
//! # Where to start
//! [`scenario`] reads and validates scenario, fly.toml and trace files (and resolves the
//! operator's `[[action]]`s); [`platform::Sim`] runs one replication, owning the platform's
//! components (hosts, fleet, proxy, billing, census, faults, actions, deploys, fly-autoscaler)
//! and dispatching events to their handlers, with traffic from [`workload`] and
//! measures it in [`metrics`]; [`run`] runs replications and ([`run::summary`]) turns a run into
//! `summary.json` and the CSV files; [`sweep`] expands and runs grids; [`chart`] draws charts
//! and the HTML report from the files; [`output`] holds the bytes of output files and
//! ([`output::place`]) decides which folders flysim may write; [`query`] parses and evaluates
//! fly-autoscaler's Expr expressions and PromQL queries; [`progress`] draws progress bars;
//! [`cli`] is the `flysim` command. Module dependencies point one way: `engine` ← `scenario` ←
//! `metrics` ← `workload`, `platform` ← `run` ← `sweep`, `chart`, `import` ← `cli`; `output`
//! and `query` depend on nothing; `fuzz_targets` (for `fuzz/`) sits beside `cli`. `docs/architecture.md`
//! has the tree.
//!
//! Failures: hosts fail at random or on schedule; their Machines go `down`, the proxy fails
//! over once the failure is detected, standbys take over, volumes may be lost. Every number
//! that Fly does not publish is a `[platform]` parameter with a documented default.
#![warn(missing_docs, unreachable_pub)]
// Units are written in brackets, e.g. `[ns]`, as the style guide asks; they are not links.
#![allow(rustdoc::broken_intra_doc_links)]

pub mod chart;
pub mod cli;
pub mod engine;
pub mod error;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod import;
pub mod metrics;
pub mod output;
pub mod plan;
pub mod platform;
pub mod progress;
pub mod query;
pub mod run;
pub mod scenario;
pub mod schema;
pub mod sweep;
pub mod workload;

pub use error::{Error, Result};
