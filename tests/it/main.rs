//! flysim's integration tests: one binary, one module per concern.

mod bad_input;
mod charts;
mod closed_form;
mod common;
mod determinism;
mod micro;
mod properties;
mod real_inputs;
mod resilience;
mod scenarios;
mod sweep;
