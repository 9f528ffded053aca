//! The typed results of a run: what `summary.json` holds, as serde types.
//!
//! Every reader of results (the printed table, the sweep's verdict, the charts' report) goes
//! through these types, so a renamed field is a compile error, not a figure silently read as 0.
//! Counts are a type parameter: a single run's are integers (`RunSummary<u64>`, what
//! `summary.json` holds); a mean over replications is read back as `RunSummary<f64>`, whose
//! `ci95` holds the 95 % half-widths in the same shape. The field order is the file's key
//! order. Every struct defaults field by field, so the `ci95` tree, which holds only numbers,
//! reads into the same types.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The version of the result documents' schemas (`summary.json`, `sweep.json`, `plan.json`,
/// in `docs/schema/`): raised when a key is removed or changes its meaning, never for an
/// added key.
pub const SCHEMA_VERSION: u32 = 1;

/// `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct RunSummary<C = u64> {
    /// The schema's version ([`SCHEMA_VERSION`]; `docs/schema/summary.schema.json`).
    pub schema_version: u32,
    /// flysim's version.
    pub flysim_version: String,
    /// Scenario name.
    pub scenario: String,
    /// Hash of the scenario text and its overrides.
    pub scenario_hash: String,
    /// Master seed.
    pub seed: u64,
    /// Replication index (`null` in a mean over replications).
    pub replication: Option<u64>,
    /// Simulated span [s].
    pub duration_s: f64,
    /// Events handled.
    pub events: C,
    /// Requests of every app.
    pub requests: Requests<C>,
    /// Time in the proxy queue [ms].
    pub queue_wait_ms: QueueWait,
    /// Latency of served requests [ms].
    pub latency_ms: Latency,
    /// Machine totals.
    pub machines: MachineTotals<C>,
    /// Cost [USD].
    pub cost_usd: Cost,
    /// The SLO and whether it was met.
    pub slo: SloVerdict,
    /// Per app, by name.
    pub apps: IndexMap<String, AppSummary<C>>,
    /// Process groups without a service, by name.
    pub workers: IndexMap<String, Worker>,
    /// Host failures.
    pub incidents: Incidents<C>,
    /// Volumes lost with their hosts.
    pub volumes: Volumes<C>,
    /// CPU quotas, when the scenario models them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuTotals<C>>,
    /// Deploys, when the scenario has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploys: Option<DeployTotals<C>>,
    /// fly-autoscaler, when an app has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<AutoscalerTotals<C>>,
    /// Replications averaged (a mean over replications only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replications: Option<u64>,
    /// 95 % half-widths over replications (a mean over replications only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<Box<RunSummary<f64>>>,
}

/// CPU quotas over the Machines whose apps model CPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct CpuTotals<C = u64> {
    /// Machines that model CPU.
    pub machines: C,
    /// CPU time used [s].
    pub used_s: f64,
    /// CPU used over the vCPU time of the running Machines [0..1].
    pub utilisation: f64,
    /// Share of the Machines' running time spent throttled (balance empty, demand above the
    /// baseline) [0..1].
    pub throttled_share: f64,
    /// Served requests whose CPU time ran while their Machine was throttled.
    pub served_throttled: C,
    /// Their share of the served requests of apps that model CPU [0..1].
    pub served_throttled_share: f64,
    /// Mean balance at the end of the run, over the Machines running then [s].
    pub balance_s_mean_at_end: f64,
}

/// Request outcomes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct Requests<C = u64> {
    /// Arrived at the proxy.
    pub offered: C,
    /// Served.
    pub served: C,
    /// Failed.
    pub failed: C,
    /// Failed, by reason.
    pub failed_by_reason: IndexMap<String, C>,
    /// Neither served nor failed when the run ended.
    pub in_flight_at_end: C,
    /// served / (served + failed).
    pub availability: f64,
    /// Served within the SLO's latency, over served + failed.
    pub slo_share: f64,
    /// Requests that waited for a boot or resume.
    pub cold_starts: C,
    /// Their mean wait [ms].
    pub cold_start_wait_ms_mean: f64,
    /// Requests that waited in the proxy queue.
    pub queued: C,
    /// Connect give-ups retried elsewhere.
    pub retried: C,
    /// Mean requests in the system.
    pub mean_in_flight: f64,
    /// Share served outside the clients' region.
    pub cross_region_share: f64,
    /// Served per second.
    pub throughput_rps: f64,
    /// Mean time from arrival to response, served requests [ms].
    pub mean_response_ms: f64,
    /// Mean time in the system, served and failed [ms].
    pub mean_sojourn_ms: f64,
    /// Offered, by the clients' region.
    pub offered_by_region: IndexMap<String, C>,
}

/// Proxy queue waits [ms].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct QueueWait {
    /// Mean.
    pub mean: f64,
    /// Longest.
    pub max: f64,
}

/// Latency quantiles [ms].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

/// Machines and their lifecycle counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct MachineTotals<C = u64> {
    /// Machines that ever existed.
    pub count: C,
    /// Mean number of Machines in each state, by state name.
    pub time_avg: IndexMap<String, f64>,
    /// Starts (boots and resumes).
    pub starts: C,
    /// Starts by the proxy.
    pub autostarts: C,
    /// Resumes.
    pub resumes: C,
    /// Stops.
    pub stops: C,
    /// Suspends.
    pub suspends: C,
    /// Starts that found their host full.
    pub failed_starts: C,
    /// Starts that moved a stopped Machine to another host of its region (its own was full).
    pub migrations: C,
    /// Suspend snapshots lost (updates, or at a resume): those starts boot cold.
    pub snapshots_lost: C,
}

/// Cost [USD].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Cost {
    /// Everything.
    pub total: f64,
    /// Started Machines' CPU and RAM.
    pub compute: f64,
    /// Stopped and suspended Machines' root filesystems.
    pub rootfs: f64,
    /// Volumes.
    pub volumes: f64,
    /// The run's cost scaled to 30 days.
    pub per_30_days: f64,
    /// Per million served requests.
    pub per_million_requests: f64,
    /// By region (the whole run only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_region: Option<IndexMap<String, f64>>,
}

/// The SLO and the verdict.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct SloVerdict {
    /// Target availability.
    pub availability_target: f64,
    /// Target p99 [ms].
    pub latency_p99_target_ms: f64,
    /// Availability met.
    pub availability_met: bool,
    /// p99 met.
    pub latency_p99_met: bool,
}

/// One app.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct AppSummary<C = u64> {
    /// Its requests.
    pub requests: Requests<C>,
    /// Its proxy queue.
    pub queue_wait_ms: QueueWait,
    /// Its latency.
    pub latency_ms: Latency,
    /// Its Machines.
    pub machines: MachineTotals<C>,
    /// Its cost.
    pub cost_usd: Cost,
    /// Its services' own requests, by name (`http_service`, `services[0]`, ...), when it has
    /// several.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub services: IndexMap<String, ServiceRequests<C>>,
}

/// One service's requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct ServiceRequests<C = u64> {
    /// Requests that arrived.
    pub offered: C,
    /// Requests answered.
    pub served: C,
    /// Requests failed.
    pub failed: C,
    /// served / (served + failed) [0..1].
    pub availability: f64,
}

/// A process group without a service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct Worker {
    /// Its app.
    pub app: String,
    /// Share of the run with at least one of its Machines started.
    pub availability: f64,
}

/// Host failures over the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct Incidents<C = u64> {
    /// Host failures.
    pub count: C,
    /// Hosts' down time, summed [s].
    pub host_down_s_total: f64,
    /// Mean time until the failed host's Machines run again [s].
    pub recovery_s_mean: f64,
    /// Standby takeovers.
    pub takeovers: C,
    /// Mean time to a takeover [s].
    pub takeover_s_mean: f64,
    /// Requests that failed on the failed hosts.
    pub requests_failed_on_host: C,
}

/// Deploys over the run (`deploys.csv` has each one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct DeployTotals<C = u64> {
    /// Deploys that began.
    pub count: C,
    /// Of them, those flyctl reported as complete.
    pub complete: C,
    /// Those that failed, rolled back, or never changed a Machine (release command, busy,
    /// no checks for bluegreen).
    pub failed: C,
    /// Time from a deploy's start until flyctl returned, summed [s].
    pub time_s: f64,
    /// Requests that failed while a deploy of their app ran.
    pub requests_failed: C,
    /// Requests that waited for a boot while a deploy of their app ran.
    pub cold_starts: C,
    /// Served over served and failed while deploys ran [0..1] (1 when nothing arrived).
    pub availability: f64,
    /// The worst p99 latency of the requests served during one deploy [ms].
    pub latency_p99_ms_worst: f64,
    /// Time that the Machines deploys created (canaries, green Machines) were billed as
    /// started, until the end of the run [s].
    pub created_machine_s: f64,
    /// What deploys added to the bill: release command Machines, and created Machines until
    /// their blue ones were destroyed (or, if they were not, to the end of the run) [USD].
    pub extra_cost_usd: f64,
}

/// fly-autoscaler's reconciles over the run, summed over the apps it scales
/// (`autoscaler.csv` has each one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct AutoscalerTotals<C = u64> {
    /// Reconciles that ran (ticks, less those dropped while one was running).
    pub reconciles: C,
    /// Of them, skipped because a deploy ran ("release in progress").
    pub skipped: C,
    /// Of them, failed: a collector's empty result, an expression's NaN or Inf, no Machine
    /// to clone, Machines it cannot list.
    pub failed: C,
    /// Of them, those that created, destroyed, started or stopped Machines.
    pub scaled: C,
    /// Machines it created (clones).
    pub created: C,
    /// Machines it destroyed.
    pub destroyed: C,
    /// Machines it started.
    pub started: C,
    /// Machines it stopped.
    pub stopped: C,
    /// Creates and starts that found no room on a host.
    pub no_room: C,
}

/// Volumes lost with their hosts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, bound(deserialize = "C: Deserialize<'de> + Default"))]
#[schemars(bound = "C: JsonSchema + Default + Serialize")]
pub struct Volumes<C = u64> {
    /// Volumes destroyed.
    pub lost: C,
    /// Hours of writes lost since the last daily snapshot.
    pub data_lost_hours: f64,
}

impl RunSummary {
    /// As a JSON document (what `summary.json` holds).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a summary serialises")
    }
}

impl RunSummary<f64> {
    /// Reads a `summary.json` document: one run's or a mean over replications.
    pub fn from_value(v: &serde_json::Value) -> Result<RunSummary<f64>, String> {
        serde_json::from_value(v.clone()).map_err(|e| format!("summary.json: {e}"))
    }

    /// Reads the bytes of a `summary.json` file.
    pub fn from_slice(bytes: &[u8]) -> Result<RunSummary<f64>, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("summary.json: {e}"))
    }
}

/// `inputs.json`: what a run was given, as a planner reads it (the report's inputs section).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct InputsDoc {
    /// Simulated span [s].
    pub duration_s: f64,
    /// Replications.
    pub replications: u32,
    /// The SLO: availability target.
    pub slo_availability: f64,
    /// The SLO: p99 latency target [ms].
    pub slo_latency_p99_ms: f64,
    /// Regions and their hosts.
    pub regions: Vec<InputRegion>,
    /// Apps.
    pub apps: Vec<InputApp>,
    /// Faults, one line each.
    pub faults: Vec<String>,
    /// Operator actions, one line each.
    pub actions: Vec<String>,
    /// Deploys, one line each.
    pub deploys: Vec<String>,
}

/// A region of the scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputRegion {
    /// Region code.
    pub code: String,
    /// Hosts.
    pub hosts: u64,
}

/// An app of the scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputApp {
    /// App name.
    pub name: String,
    /// Its services.
    pub services: Vec<InputService>,
    /// Its Machines at the start, by group and regions.
    pub machines: Vec<InputMachines>,
    /// Its traffic sources, one line each.
    pub traffic: Vec<String>,
    /// Its request's work, in words.
    pub request: String,
}

/// A service's routing settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputService {
    /// `http_service` or `services[i]`.
    pub name: String,
    /// `connections` or `requests`.
    pub concurrency: String,
    /// Soft limit.
    pub soft_limit: u32,
    /// Hard limit (`null`: none).
    pub hard_limit: Option<u32>,
    /// `off`, `stop` or `suspend`.
    pub auto_stop_machines: String,
    /// Whether the proxy starts stopped Machines.
    pub auto_start_machines: bool,
    /// Machines autostop keeps running in the primary region.
    pub min_machines_running: u32,
}

/// Machines of one `machines` entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct InputMachines {
    /// Process group.
    pub group: String,
    /// Count per region (`ams: 2`).
    pub regions: IndexMap<String, u32>,
    /// Size: `shared`/`performance`, vCPUs, memory.
    pub size: String,
    /// `started` or `stopped` at the start; `standby` for standbys.
    pub state: String,
}

/// `sweep.json`: a sweep's verdict per point. Written by `sweep`, read by its charts and report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepDoc {
    /// The schema's version ([`SCHEMA_VERSION`]; `docs/schema/sweep.schema.json`).
    #[serde(default)]
    pub schema_version: u32,
    /// Sweep name.
    pub name: String,
    /// Hash of everything that determines the results.
    pub hash: String,
    /// Replications per point.
    pub replications: u64,
    /// The axes, in declared order, with their values typed.
    pub axes: Vec<SweepAxis>,
    /// Every point's figures and verdict, by point.
    pub points: Vec<PointDoc>,
    /// The cheapest point meeting the SLO with confidence, if any.
    pub cheapest_meeting_slo: Option<u64>,
}

/// One axis of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AxisDoc {
    /// The value's path, as for `--set`.
    pub path: String,
    /// Its values, as TOML text.
    pub values: Vec<String>,
}

/// One axis of a sweep as `sweep.json` gives it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SweepAxis {
    /// The value's path, as for `--set`.
    pub path: String,
    /// Its values, typed.
    pub values: Vec<ParamValue>,
}

impl From<&AxisDoc> for SweepAxis {
    fn from(a: &AxisDoc) -> Self {
        SweepAxis {
            path: a.path.clone(),
            values: a.values.iter().map(|v| ParamValue::from_toml(v)).collect(),
        }
    }
}

/// A sweep's or plan's axis value, typed as its TOML text reads: numbers as JSON numbers,
/// booleans as booleans, strings as strings without their quotes. Arrays and tables keep
/// their TOML text as a string.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ParamValue {
    /// `true` or `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A number with a fraction (or an exponent).
    Float(f64),
    /// A string, or the TOML text of an array or table.
    Text(String),
}

impl ParamValue {
    /// The value of TOML text such as `3`, `0.25`, `"off"`, `true` or `[1, 2]`.
    pub fn from_toml(text: &str) -> ParamValue {
        match text.trim().parse::<toml_edit::Value>() {
            Ok(toml_edit::Value::Boolean(b)) => ParamValue::Bool(*b.value()),
            Ok(toml_edit::Value::Integer(i)) => ParamValue::Int(*i.value()),
            Ok(toml_edit::Value::Float(f)) if f.value().is_finite() => {
                ParamValue::Float(*f.value())
            }
            Ok(toml_edit::Value::String(s)) => ParamValue::Text(s.value().clone()),
            _ => ParamValue::Text(text.trim().to_string()),
        }
    }

    /// The CSV cell of TOML text: strings without their quotes, everything else as written
    /// (so `0.10` stays `0.10` and `1.0` a float).
    pub fn csv_cell(text: &str) -> String {
        match ParamValue::from_toml(text) {
            ParamValue::Text(s) => s,
            _ => text.trim().to_string(),
        }
    }
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => f.write_str(s),
        }
    }
}

/// One point of a sweep.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PointDoc {
    /// Grid index.
    pub point: u64,
    /// Axis path → value.
    pub params: IndexMap<String, ParamValue>,
    /// Share of requests served.
    pub availability: MeanCi,
    /// p99 latency [ms].
    pub latency_p99_ms: MeanCi,
    /// Cost per 30 days [USD].
    pub cost_usd_per_30_days: MeanCi,
    /// Whether the SLO is met with confidence.
    pub meets_slo: bool,
}

/// A mean over replications and its 95 % Student-t half-width.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MeanCi {
    /// Mean.
    pub mean: f64,
    /// 95 % half-width (0 with one replication).
    pub ci95: f64,
}

impl SweepDoc {
    /// Reads a `sweep.json` document.
    pub fn from_slice(bytes: &[u8]) -> Result<SweepDoc, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("sweep.json: {e}"))
    }

    /// As a JSON document.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a sweep document serialises")
    }
}
