//! flysim's integration tests: one binary, one module per concern.

mod actions;
mod autoscaler;
mod bad_input;
mod browser;
mod charts;
mod cli;
mod closed_form;
mod cluster;
mod common;
mod deploys;
mod determinism;
mod fuzz_corpus;
mod micro;
mod plan;
mod prices;
mod properties;
mod real_inputs;
mod regression;
mod resilience;
mod scenarios;
mod snapshots;
mod sweep;
