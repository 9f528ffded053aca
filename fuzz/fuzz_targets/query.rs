//! Fuzzes fly-autoscaler's Expr and PromQL parsers and evaluators: never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flysim::fuzz_targets::query(data));
