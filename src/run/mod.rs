//! Running scenarios: one replication, or all of them, into records ready to export, and
//! ([`summary`]) a finished run turned into `summary.json` and its tables.

pub mod summary;

use serde_json::{Map, Value};

use crate::metrics::results::RunSummary;
use crate::metrics::stats::mean_ci95;
use crate::platform::Sim;
use crate::scenario::Scenario;

/// What one replication produced.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// `summary.json`.
    pub summary: RunSummary,
    /// `machines.csv` header and rows.
    pub machines: (Vec<String>, Vec<Vec<String>>),
    /// `timeseries.csv`, as bytes.
    pub timeseries: Vec<u8>,
    /// `incidents.csv` header and rows.
    pub incidents: (Vec<String>, Vec<Vec<String>>),
    /// `states.csv`, `latency.csv`, `cost.csv`: the data behind the charts.
    pub states: (Vec<String>, Vec<Vec<String>>),
    /// Latency distribution.
    pub latency: (Vec<String>, Vec<Vec<String>>),
    /// Cost by app, region and component.
    pub cost: (Vec<String>, Vec<Vec<String>>),
    /// `actions.csv`: what each `[[action]]` did.
    pub actions: (Vec<String>, Vec<Vec<String>>),
    /// `deploys.csv`: what each `[[deploy]]` did.
    pub deploys: (Vec<String>, Vec<Vec<String>>),
    /// `autoscaler.csv`: each reconcile of fly-autoscaler.
    pub autoscaler: (Vec<String>, Vec<Vec<String>>),
}

/// Runs replication `replication` of `sc` to its end.
pub fn run_replication(sc: &Scenario, replication: u64) -> RunRecord {
    run_replication_with_progress(sc, replication, &mut |_| {})
}

/// Runs replication `replication`, calling `progress` with the share of simulated time done
/// (1,000 times over the run; for progress bars).
pub fn run_replication_with_progress(
    sc: &Scenario,
    replication: u64,
    progress: &mut dyn FnMut(f64),
) -> RunRecord {
    const STEPS: u64 = 1000;
    let mut sim = Sim::new(sc, replication).with_trace();
    for step in 1..STEPS {
        sim.run_until(crate::engine::SimTime(sc.duration.0 / STEPS * step));
        progress(step as f64 / STEPS as f64);
    }
    sim.run();
    progress(1.0);
    RunRecord {
        summary: summary::summary(&sim, replication),
        machines: summary::machines_csv(&sim),
        timeseries: summary::timeseries_csv(&sim),
        incidents: summary::incidents_csv(&sim),
        states: summary::states_csv(&sim),
        latency: summary::latency_csv(&sim),
        cost: summary::cost_csv(&sim),
        actions: summary::actions_csv(&sim),
        deploys: summary::deploys_csv(&sim),
        autoscaler: summary::autoscaler_csv(&sim),
    }
}

/// Runs replication `replication` and returns only its `summary.json`: no state trace is kept
/// and no table is built (what a sweep needs).
pub fn run_summary(sc: &Scenario, replication: u64) -> RunSummary {
    let mut sim = Sim::new(sc, replication);
    sim.run();
    summary::summary(&sim, replication)
}

/// Flattens a JSON document into `(dotted.key, value)` leaves, in document order.
pub fn flatten(v: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out);
                }
            }
            other => out.push((prefix.to_string(), other.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

/// Combines replications' summaries: numbers become their mean across replications (so the
/// document keeps the same keys), a `ci95` tree holds the 95 % confidence half-widths, and
/// booleans are true only if true in every replication.
pub fn aggregate(summaries: &[Value]) -> Value {
    fn merge(items: &[&Value], ci: &mut Map<String, Value>, key: &str) -> Value {
        match items[0] {
            Value::Object(first) => {
                let mut out = Map::new();
                let mut sub_ci = Map::new();
                for k in first.keys() {
                    let children: Vec<&Value> = items.iter().filter_map(|v| v.get(k)).collect();
                    if children.len() == items.len() {
                        out.insert(k.clone(), merge(&children, &mut sub_ci, k));
                    }
                }
                if !sub_ci.is_empty() {
                    ci.insert(key.to_string(), Value::Object(sub_ci));
                }
                Value::Object(out)
            }
            Value::Number(_) => {
                let xs: Vec<f64> = items.iter().filter_map(|v| v.as_f64()).collect();
                let (mean, half) = mean_ci95(&xs);
                ci.insert(key.to_string(), serde_json::json!(round_for(key, half)));
                serde_json::json!(round_for(key, mean))
            }
            Value::Bool(_) => Value::Bool(items.iter().all(|v| v.as_bool() == Some(true))),
            other => other.clone(),
        }
    }
    let refs: Vec<&Value> = summaries.iter().collect();
    let mut ci = Map::new();
    let mut doc = merge(&refs, &mut ci, "root");
    if let Value::Object(map) = &mut doc {
        map.insert("replications".into(), serde_json::json!(summaries.len()));
        // Identity fields are not averaged.
        map.insert("replication".into(), Value::Null);
        if let Some(Value::Object(mut c)) = ci.remove("root") {
            for k in ["schema_version", "seed", "replication", "duration_s"] {
                c.shift_remove(k);
            }
            map.insert("ci95".into(), Value::Object(c));
        }
        for k in ["schema_version", "seed"] {
            if let Some(v) = summaries[0].get(k) {
                map.insert(k.into(), v.clone());
            }
        }
    }
    doc
}

/// Rounds a mean or half-width for output: shares (`availability`, `*_share`) to 12 decimals,
/// like a single run's, so that rare failures never round into a share of 1; everything else
/// to 6.
pub fn round_for(key: &str, x: f64) -> f64 {
    if key == "availability" || key.ends_with("_share") {
        if x.is_finite() {
            (x * 1e12).round() / 1e12
        } else {
            0.0
        }
    } else {
        round6(x)
    }
}

fn round6(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    }
}

/// The files of one replication: `(relative path, bytes)`.
pub fn run_files(rec: &RunRecord, prefix: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            format!("{prefix}summary.json"),
            crate::output::json_bytes(&rec.summary.to_value()),
        ),
        (
            format!("{prefix}machines.csv"),
            crate::output::csv_bytes(&rec.machines.0, &rec.machines.1),
        ),
        (format!("{prefix}timeseries.csv"), rec.timeseries.clone()),
        (
            format!("{prefix}incidents.csv"),
            crate::output::csv_bytes(&rec.incidents.0, &rec.incidents.1),
        ),
        (
            format!("{prefix}states.csv"),
            crate::output::csv_bytes(&rec.states.0, &rec.states.1),
        ),
        (
            format!("{prefix}latency.csv"),
            crate::output::csv_bytes(&rec.latency.0, &rec.latency.1),
        ),
        (
            format!("{prefix}cost.csv"),
            crate::output::csv_bytes(&rec.cost.0, &rec.cost.1),
        ),
        (
            format!("{prefix}actions.csv"),
            crate::output::csv_bytes(&rec.actions.0, &rec.actions.1),
        ),
        (
            format!("{prefix}deploys.csv"),
            crate::output::csv_bytes(&rec.deploys.0, &rec.deploys.1),
        ),
        (
            format!("{prefix}autoscaler.csv"),
            crate::output::csv_bytes(&rec.autoscaler.0, &rec.autoscaler.1),
        ),
    ]
}
