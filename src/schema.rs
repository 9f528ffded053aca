//! The JSON Schemas of the result documents, generated from their Rust types: `summary.json`
//! (`RunSummary`; a single run's counts are integers, a mean's are decimals, both numbers),
//! `sweep.json` (`SweepDoc`) and `plan.json` (`PlanDoc`). `docs/schema/` ships them; a test
//! checks that they are current and that real outputs validate against them. Each document
//! carries `schema_version` ([`SCHEMA_VERSION`]).
//!
//! Depends on `metrics` and `plan` (the document types) only.

use crate::metrics::results::{RunSummary, SweepDoc};
use crate::plan::outcome::PlanDoc;

pub use crate::metrics::results::SCHEMA_VERSION;

/// Every schema as `(file name, pretty JSON text with a final newline)`.
pub fn schemas() -> Vec<(&'static str, String)> {
    let text = |mut s: schemars::Schema, title: &str| {
        s.insert("title".into(), title.into());
        let mut t = serde_json::to_string_pretty(&s).expect("a schema serialises");
        t.push('\n');
        t
    };
    vec![
        (
            "summary.schema.json",
            text(
                schemars::schema_for!(RunSummary<f64>),
                "flysim summary.json",
            ),
        ),
        (
            "sweep.schema.json",
            text(schemars::schema_for!(SweepDoc), "flysim sweep.json"),
        ),
        (
            "plan.schema.json",
            text(schemars::schema_for!(PlanDoc), "flysim plan.json"),
        ),
    ]
}
