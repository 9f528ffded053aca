//! Fuzzes flysim's `plan` reader: any bytes must give a result or an error, never a panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flysim::fuzz_targets::plan(data));
