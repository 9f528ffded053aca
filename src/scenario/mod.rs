//! Scenario files in, a validated [`Scenario`] out.
//!
//! Reading happens in two stages, as the style guide asks: the TOML text becomes a tree of
//! nodes that remember their line and column ([`doc`]); [`validate`] walks that tree, collects
//! every problem at once, and builds the typed, immutable `Scenario` that the model runs. The
//! model never sees raw text, optional fields or unchecked values.
//!
//! Depends on `engine` (time types) only. The format is documented in `docs/scenario-format.md`.

pub mod actions;
pub mod doc;
pub mod fly;
pub mod reader;
pub mod regions;
pub mod trace;
pub mod units;
pub mod validate;

use std::fmt;
use std::path::Path;

use crate::engine::SimDuration;
pub use reader::{Problem, Severity};

/// The built-in quickstart scenario, also at `scenarios/quickstart.toml`.
pub const QUICKSTART: &str = include_str!("../../scenarios/quickstart.toml");
/// The name the built-in quickstart scenario goes by in messages.
pub const QUICKSTART_NAME: &str = "scenarios/quickstart.toml (built in)";

/// Index of a region in [`Scenario::regions`].
pub type RegionIdx = usize;

/// A scenario that passed validation: everything the model needs, typed and checked.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name; also the default output folder `output/<name>/`.
    pub name: String,
    /// Simulated span of one run.
    pub duration: SimDuration,
    /// Master seed of the random streams.
    pub seed: u64,
    /// Independent replications (seed streams differ by replication index).
    pub replications: u32,
    /// Width of a `timeseries.csv` bucket.
    pub bucket: SimDuration,
    /// Model parameters (the platform's unknowns).
    pub platform: Platform,
    /// Regions in play: declared ones first, then any referenced by apps or traffic.
    pub regions: Vec<Region>,
    /// Round-trip time between regions [`rtt[a][b]`].
    pub rtt: Vec<Vec<SimDuration>>,
    /// Apps, in file order.
    pub apps: Vec<App>,
    /// Service-level objective used for SLO shares and verdicts.
    pub slo: Slo,
    /// Host failures, outages and Machine crashes.
    pub faults: Vec<Fault>,
    /// What the operator does during the run, in time order (`[[action]]`).
    pub actions: Vec<Action>,
    /// Deploys, in time order (`[[deploy]]`).
    pub deploys: Vec<Deploy>,
    /// Price table.
    pub prices: Prices,
    /// FNV-1a hash of the scenario text and overrides, for the record.
    pub hash: String,
}

impl Scenario {
    /// Price of a started Machine of app `app`, process group `group`, in region `region`,
    /// at size `vm` [USD/s].
    pub fn started_price(&self, app: usize, group: usize, region: RegionIdx, vm: &VmSize) -> f64 {
        self.prices.started_per_sec(
            &self.apps[app].groups[group],
            vm,
            self.regions[region].price_multiplier,
        )
    }

    /// The route (an app's service, as the proxy routes to it) of service `service` of app
    /// `app`: routes number every app's services in order.
    #[inline]
    pub fn route(&self, app: usize, service: usize) -> usize {
        self.apps[app].first_route + service
    }

    /// How long a request of app `app` may wait in its proxy queue: the app's `jobs_wait`,
    /// else `platform.max_queue_wait` (0: requests never queue).
    pub fn queue_wait(&self, app: usize) -> SimDuration {
        self.apps[app]
            .jobs_wait
            .unwrap_or(self.platform.max_queue_wait)
    }

    /// Whether any app models CPU quotas (its requests give their CPU time).
    pub fn models_cpu(&self) -> bool {
        self.apps.iter().any(App::models_cpu)
    }

    /// Routes in all: every app's services.
    pub fn route_count(&self) -> usize {
        self.apps
            .last()
            .map_or(0, |a| a.first_route + a.services.len())
    }

    /// The most services any app has (at least 1): the stride of per-service tables.
    pub fn max_services(&self) -> usize {
        self.apps
            .iter()
            .map(|a| a.services.len())
            .max()
            .unwrap_or(0)
            .max(1)
    }
}

/// The platform's behaviours that Fly does not publish, as parameters with observed defaults
/// (`docs/scenario-format.md` lists each with its source and confidence).
#[derive(Clone, Debug)]
pub struct Platform {
    /// Time between autostop passes per region [default 150 s].
    pub autostop_interval: SimDuration,
    /// Whether each region's autostop passes start at a random phase [default true].
    pub autostop_random_phase: bool,
    /// A Machine is not autostopped before it has run this long [default 330 s].
    pub autostop_min_runtime: SimDuration,
    /// Which Machine an autostop pass stops.
    pub autostop_victim: AutostopVictim,
    /// A lone Machine is autostopped only after this long at zero load [default 120 s].
    pub autostop_idle_window: SimDuration,
    /// When traffic may leave the closest region.
    pub cross_region_spill: Spill,
    /// How the proxy picks among equally good Machines.
    pub tiebreak: TieBreak,
    /// How long a request may wait at the proxy when every Machine is at its hard limit
    /// [default 0: fail at once, as observed].
    pub max_queue_wait: SimDuration,
    /// VM boot time from stopped [default lognormal, median 1.3 s, p90 1.6 s].
    pub boot_time: Dist,
    /// Resume time from suspended to serving [default lognormal, median 0.4 s, p99 1.3 s].
    pub resume_time: Dist,
    /// Fixed part of writing a suspend snapshot [default 0.5 s].
    pub suspend_time: Dist,
    /// Time per GB of the Machine's memory to write its snapshot [default 2 s].
    pub suspend_per_gb: SimDuration,
    /// Whether a start that finds a stopped Machine's host full moves it to another host of
    /// its region with room, if it has no volume [default true, as Fly does].
    pub autostart_migrate: bool,
    /// What such a move adds to the start [default 4 s].
    pub migrate_time: SimDuration,
    /// Platform part of a stop after the app has drained [default 1 s].
    pub stop_overhead: SimDuration,
    /// The proxy gives up on a booting Machine after this long [default 8.5 s].
    pub connect_timeout: SimDuration,
    /// How many times a request that gave up on a booting Machine is routed again [default 1].
    pub connect_retries: u32,
    /// Machines with more memory than this cannot suspend; they stop instead [MB, default 2048].
    pub suspend_max_memory_mb: u64,
    /// Chance that a suspended Machine lost its snapshot and boots cold [default 0].
    pub snapshot_loss_probability: f64,
    /// Whether time in starting/stopping/suspending is billed as started [default false].
    pub bill_transient_states: bool,
    /// Round trip between a client and a Machine in the same region [default 0].
    pub same_region_rtt: SimDuration,
    /// Time for the platform to notice a failed host: until then the proxy still routes to its
    /// Machines, and standbys wait [default 60 s].
    pub failure_detection: SimDuration,
    /// Time a request sent to a Machine on a failed, undetected host takes to fail over
    /// to another Machine [default 1 s].
    pub dead_retry_delay: SimDuration,
    /// Attempts the proxy makes before it gives up on a request [default 40].
    pub failover_attempts: u32,
    /// What a standby does when its watched Machine's host returns.
    pub standby_on_host_return: StandbyReturn,
    /// Chance that a host failure destroys each volume on it [default 0.02].
    pub volume_loss_probability: f64,
    /// Time a Machine create takes before the Machine boots (reserve a host, prepare the
    /// rootfs; a cached image) [default 4 s, `spec/fly-calibration.md`].
    pub create_time: SimDuration,
    /// How often flyd runs a Machine's health checks just after it starts, until they pass or
    /// two intervals have gone by (community.fly.io: "much shorter interval"; the value is
    /// not published) [default 1 s].
    pub checks_startup_interval: SimDuration,
    /// How often Fly's Prometheus scrapes an app's metrics (Fly docs, metrics: "a few times
    /// per minute") [default 15 s].
    pub metrics_scrape_interval: SimDuration,
    /// How far behind the present a query sees: Fly's Prometheus is VictoriaMetrics, whose
    /// `-search.latencyOffset` (default 30 s) evaluates a query at "now" that long ago, so
    /// that samples still in flight do not show as gaps [default 30 s].
    pub metrics_query_lag: SimDuration,
    /// CPU quotas, for apps whose requests model CPU time.
    pub cpu: CpuQuotas,
}

/// Fly's CPU quotas (Fly docs, machines/cpu-performance): each vCPU may run a baseline share
/// of every 80 ms period; unused baseline accrues as a balance, spent running at up to 100 %.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuQuotas {
    /// Baseline share of a shared vCPU [default 5 ms per 80 ms = 1/16].
    pub shared_baseline: f64,
    /// Baseline share of a performance vCPU [default 50 ms per 80 ms = 10/16].
    pub performance_baseline: f64,
    /// Largest balance of a shared vCPU [default 500 s].
    pub shared_max_balance: SimDuration,
    /// Largest balance of a performance vCPU [default 5000 s].
    pub performance_max_balance: SimDuration,
    /// Balance of a new Machine, per vCPU [default 5 s].
    pub initial_balance: SimDuration,
    /// Whether the largest and the initial balance are per vCPU (× the Machine's vCPUs) or per
    /// Machine [default per vCPU: Fly's dashboard shows "s/vCPU"].
    pub balance_per_vcpu: bool,
    /// Whether a start (boot from stopped) resets the balance to `initial_balance`; else the
    /// Machine keeps what it had when it stopped [default keep].
    pub reset_on_start: bool,
}

/// What a standby does when the host of the Machine it watches comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StandbyReturn {
    /// Both keep running (Fly does not stop standbys: the documented risk).
    BothRun,
    /// The standby stops once the watched Machine runs again.
    StandbyStops,
}

/// One `[[action]]`, resolved into the Machines it acts on (see [`actions`]).
#[derive(Clone, Debug)]
pub struct Action {
    /// When it happens.
    pub at: SimDuration,
    /// The app it acts on.
    pub app: usize,
    /// What it does.
    pub kind: ActionKind,
    /// The flyctl command it stands for, for `actions.csv`.
    pub command: String,
    /// Where it is written.
    pub origin: doc::Origin,
}

/// What an action does, with the Machines (by ordinal within the app) it acts on.
#[derive(Clone, Debug)]
pub enum ActionKind {
    /// `fly scale count`: destroy these Machines at once, then create these, in this order.
    Scale {
        /// The process group.
        group: usize,
        /// Machines to create, in creation order.
        create: Vec<NewMachine>,
        /// Machines to destroy.
        destroy: Vec<u32>,
    },
    /// `fly scale vm`: update these Machines one at a time to `vm`.
    ScaleVm {
        /// The process group.
        group: usize,
        /// The new size.
        vm: VmSize,
        /// The group's Machines, in creation order.
        machines: Vec<u32>,
    },
    /// `fly machine clone`: a new started Machine like `source`.
    Clone {
        /// The Machine cloned.
        source: u32,
        /// The clone.
        new: NewMachine,
    },
    /// `fly machine destroy --force`.
    Destroy(u32),
    /// `fly machine stop`.
    Stop(u32),
    /// `fly machine start`.
    Start(u32),
}

impl ActionKind {
    /// The `kind` it is written as.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Scale { .. } => "scale_count",
            ActionKind::ScaleVm { .. } => "scale_vm",
            ActionKind::Clone { .. } => "machine_clone",
            ActionKind::Destroy(_) => "machine_destroy",
            ActionKind::Stop(_) => "machine_stop",
            ActionKind::Start(_) => "machine_start",
        }
    }
}

/// A Machine an action creates.
#[derive(Clone, Debug, PartialEq)]
pub struct NewMachine {
    /// Its number within its app (`web:7`); never reused.
    pub ordinal: u32,
    /// Its process group.
    pub group: usize,
    /// Its region.
    pub region: RegionIdx,
    /// Its size.
    pub vm: VmSize,
}

/// When a host fails next: exponential (memoryless) or Weibull with a shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeToFailure {
    /// Exponential with this mean.
    Exponential(SimDuration),
    /// Weibull with this shape and this scale [s].
    Weibull {
        /// Shape k (1: exponential; above 1: wear-out; below 1: infant mortality).
        shape: f64,
        /// Scale λ [s], set so the mean equals the given MTBF.
        scale_s: f64,
    },
}

/// What a scheduled outage takes down.
#[derive(Clone, Debug, PartialEq)]
pub enum OutageTarget {
    /// One host: region and index within it.
    Host(RegionIdx, usize),
    /// The host of an app's Machine: app and Machine ordinal.
    MachineHost(usize, u32),
    /// Every host of a region.
    Region(RegionIdx),
}

/// A fault in the scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Every host in scope fails at random and is repaired.
    HostFailures {
        /// Regions in scope (all when empty).
        regions: Vec<RegionIdx>,
        /// Time between a repair and the next failure.
        ttf: TimeToFailure,
        /// Repair time.
        repair: Dist,
    },
    /// A scheduled outage.
    Outage {
        /// What goes down.
        target: OutageTarget,
        /// When.
        at: SimDuration,
        /// For how long.
        duration: SimDuration,
    },
    /// Running Machines crash at random; their restart policy decides what follows.
    MachineCrashes {
        /// The app in scope (all when `None`).
        app: Option<usize>,
        /// Mean running time between crashes of one Machine.
        mtbf: SimDuration,
    },
}

/// Which Machine an autostop pass stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutostopVictim {
    /// The one with the fewest requests in flight; ties → the most recently started.
    LeastLoaded,
    /// The most recently started.
    Newest,
    /// The longest running.
    Oldest,
}

/// When requests may leave the closest region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spill {
    /// Only when every local Machine is at its hard limit or down (Fly's rule since 2025).
    Hard,
    /// As soon as every local Machine is over its soft limit (the older rule).
    Soft,
}

/// How the proxy chooses among Machines in the same band and region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TieBreak {
    /// Uniformly at random (Fly's documented behaviour).
    Random,
    /// The Machine started most recently.
    MostRecentlyStarted,
    /// The Machine that has waited longest since it last received a request.
    LeastRecentlyUsed,
    /// Each Machine in turn.
    RoundRobin,
    /// The closest Machine to the client's edge: a stable preference order per edge (client
    /// region), so load fills one Machine before the next gets any (community.fly.io "Fly
    /// proxy is not respecting soft limit").
    Closest,
}

/// A random duration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dist {
    /// Always the same.
    Constant(SimDuration),
    /// Exponential with this mean.
    Exponential(SimDuration),
    /// Lognormal: `ln X ~ N(mu, sigma²)`, X in seconds.
    LogNormal {
        /// Mean of ln X (X in seconds).
        mu: f64,
        /// Standard deviation of ln X.
        sigma: f64,
    },
    /// Uniform between two bounds.
    Uniform(SimDuration, SimDuration),
    /// A long-tailed distribution conditioned on being at most `max` (truncated: draws above
    /// it are drawn again, so the shape below `max` is kept and the mean drops).
    Capped {
        /// The distribution before truncation.
        tail: Tail,
        /// The largest value.
        max: SimDuration,
    },
}

/// A distribution with an unbounded tail, which `max` may truncate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tail {
    /// Exponential with this mean.
    Exponential(SimDuration),
    /// Lognormal: `ln X ~ N(mu, sigma²)`, X in seconds.
    LogNormal {
        /// Mean of ln X.
        mu: f64,
        /// Standard deviation of ln X.
        sigma: f64,
    },
}

impl Tail {
    /// The untruncated distribution.
    pub fn dist(self) -> Dist {
        match self {
            Tail::Exponential(m) => Dist::Exponential(m),
            Tail::LogNormal { mu, sigma } => Dist::LogNormal { mu, sigma },
        }
    }

    /// P(X ≤ x), x in seconds.
    pub fn cdf(self, x: f64) -> f64 {
        match self {
            Tail::Exponential(m) => 1.0 - (-x / m.as_secs_f64()).exp(),
            Tail::LogNormal { mu, sigma } => normal_cdf((x.ln() - mu) / sigma),
        }
    }
}

/// Φ, the standard normal distribution function.
fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + libm::erf(z / std::f64::consts::SQRT_2))
}

impl Dist {
    /// The mean [s].
    pub fn mean_secs(&self) -> f64 {
        match *self {
            Dist::Constant(d) | Dist::Exponential(d) => d.as_secs_f64(),
            Dist::LogNormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Dist::Uniform(a, b) => (a.as_secs_f64() + b.as_secs_f64()) / 2.0,
            // E[X | X ≤ m]: exponential μ − m e^(−m/μ) / (1 − e^(−m/μ)); lognormal
            // e^(μ + σ²/2) Φ((ln m − μ − σ²) / σ) / Φ((ln m − μ) / σ).
            Dist::Capped { tail, max } => {
                let m = max.as_secs_f64();
                match tail {
                    Tail::Exponential(mean) => {
                        let mu = mean.as_secs_f64();
                        let e = (-m / mu).exp();
                        mu - m * e / (1.0 - e)
                    }
                    Tail::LogNormal { mu, sigma } => {
                        let z = (m.ln() - mu) / sigma;
                        (mu + sigma * sigma / 2.0).exp() * normal_cdf(z - sigma) / normal_cdf(z)
                    }
                }
            }
        }
    }
}

/// A region in play.
#[derive(Clone, Debug)]
pub struct Region {
    /// Fly's code.
    pub code: String,
    /// Hosts in this region.
    pub hosts: Vec<HostSpec>,
    /// Price multiplier over the iad price.
    pub price_multiplier: f64,
}

/// A host's capacity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HostSpec {
    /// vCPUs that Machines may reserve.
    pub cpus: u32,
    /// Memory that Machines may reserve [MB].
    pub memory_mb: u64,
}

/// How requests share a Machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceModel {
    /// Each request takes its own service time whatever else runs.
    Independent,
    /// Requests share the Machine's vCPUs equally (processor sharing over `cpus` servers).
    ProcessorSharing,
}

/// What `auto_stop_machines` asks for, ordered most restrictive first (as fly-go's
/// `MachineAutostop`): a group reached by several services takes the least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Autostop {
    /// Never autostop.
    Off,
    /// Stop idle excess Machines.
    Stop,
    /// Suspend them (falls back to stop when not eligible).
    Suspend,
}

/// What the concurrency limits count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConcurrencyKind {
    /// TCP connections (one per request through the proxy).
    Connections,
    /// Concurrent HTTP requests.
    Requests,
}

/// An app's service (`[http_service]` or one `[[services]]`): the process groups it reaches,
/// its routing limits and its autostop/autostart settings. Fly's limits count per Machine and
/// per service (Fly docs, "Guidelines for concurrency settings").
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// How scenarios and messages name it: `http_service`, or `services[i]` (the i-th
    /// `[[services]]`, from 0).
    pub name: String,
    /// `internal_port`, if given.
    pub internal_port: Option<u32>,
    /// Indices of the process groups it reaches.
    pub groups: Vec<usize>,
    /// What the limits count (both behave alike in the model: one unit per request).
    pub concurrency: ConcurrencyKind,
    /// Load at which a Machine stops being preferred.
    pub soft_limit: u32,
    /// Load at which a Machine takes no new request (`u32::MAX`: no hard limit).
    pub hard_limit: u32,
    /// Autostop mode.
    pub autostop: Autostop,
    /// Whether the proxy starts stopped Machines.
    pub autostart: bool,
    /// Machines kept running in the primary region by autostop.
    pub min_machines_running: u32,
    /// Its health checks, if it has any: only these gate traffic (top-level `[checks]` do
    /// not).
    pub checks: Option<Checks>,
}

/// A service's health checks, or a process group's (over every service that reaches it), as
/// flyd runs them: the shortest grace period and interval of its checks, the ones flyctl waits
/// on (`GetMinIntervalAndMinGracePeriod`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// Time after the VM starts before the first check.
    pub grace_period: SimDuration,
    /// Time between checks.
    pub interval: SimDuration,
    /// How long a check may take.
    pub timeout: SimDuration,
}

impl Checks {
    /// Both sets of checks at once: the shorter grace period and interval.
    pub fn with(self, o: Checks) -> Checks {
        Checks {
            grace_period: self.grace_period.min(o.grace_period),
            interval: self.interval.min(o.interval),
            timeout: self.timeout.min(o.timeout),
        }
    }
}

/// `fly deploy`'s strategy (`[deploy] strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Machines updated in place, a pool of `max_unavailable` at a time (the default).
    Rolling,
    /// Every Machine updated at once, without waiting for any.
    Immediate,
    /// One new Machine per group first, destroyed once healthy, then rolling.
    Canary,
    /// A new Machine beside each old one; traffic switches when all pass their checks.
    Bluegreen,
}

impl Strategy {
    /// The name in fly.toml and in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::Immediate => "immediate",
            Strategy::Canary => "canary",
            Strategy::Bluegreen => "bluegreen",
        }
    }

    /// The strategy named `s`.
    pub fn parse(s: &str) -> Option<Strategy> {
        Some(match s {
            "rolling" => Strategy::Rolling,
            "immediate" => Strategy::Immediate,
            "canary" => Strategy::Canary,
            "bluegreen" => Strategy::Bluegreen,
            _ => return None,
        })
    }
}

/// fly.toml's `[deploy]`: how `fly deploy` rolls a release out.
#[derive(Clone, Debug, PartialEq)]
pub struct DeployConfig {
    /// `strategy` (default `rolling`).
    pub strategy: Strategy,
    /// `max_unavailable`: a count when at least 1, else a fraction of a group's Machines,
    /// rounded up (default 0.33).
    pub max_unavailable: f64,
    /// `wait_timeout`: how long flyctl waits for a Machine to start, and then for its checks
    /// to pass (default 5 minutes).
    pub wait_timeout: SimDuration,
    /// Whether `release_command` is set.
    pub release_command: bool,
    /// `release_command_timeout` (default 5 minutes).
    pub release_command_timeout: SimDuration,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            strategy: Strategy::Rolling,
            max_unavailable: 0.33,
            wait_timeout: SimDuration::from_secs(300),
            release_command: false,
            release_command_timeout: SimDuration::from_secs(300),
        }
    }
}

/// What a deploy ships: the new version of the app's code.
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// Its app start-up after the VM boots (`None`: as before).
    pub app_boot: Option<Dist>,
    /// Its requests take this many times as long as before.
    pub service_time_factor: f64,
    /// Time after its app has booted before its health checks can pass.
    pub healthy_after: SimDuration,
    /// The probability that this release never passes its health checks.
    pub fail_probability: f64,
    /// Mean running time between crashes of one of its Machines (`None`: as before).
    pub crash_mtbf: Option<SimDuration>,
}

/// A scenario `[[deploy]]`: `fly deploy` of a new version at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct Deploy {
    /// When it begins.
    pub at: SimDuration,
    /// The app (index).
    pub app: usize,
    /// The fly.toml's `[deploy]`, with the scenario's overrides.
    pub config: DeployConfig,
    /// What it ships.
    pub version: Version,
    /// The release command's run time (from its temporary Machine's start to its exit), when
    /// the fly.toml sets `release_command`.
    pub release_time: Option<Dist>,
    /// The probability that the release command fails (which aborts the deploy).
    pub release_fail_probability: f64,
    /// The Machines it creates, resolved against the Machines that exist at its time (see
    /// [`actions`]): a canary per process group (`None`), or for bluegreen a green Machine
    /// beside each blue one (the blue one's ordinal).
    pub creates: Vec<(Option<u32>, NewMachine)>,
}

/// CPU class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuKind {
    /// Shared vCPUs.
    Shared,
    /// Dedicated (performance) vCPUs.
    Performance,
}

impl fmt::Display for CpuKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CpuKind::Shared => "shared",
            CpuKind::Performance => "performance",
        })
    }
}

/// A Machine size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VmSize {
    /// CPU class.
    pub cpu_kind: CpuKind,
    /// vCPUs.
    pub cpus: u32,
    /// Memory [MB].
    pub memory_mb: u64,
}

/// A process group of an app (`[processes]` in fly.toml; `app` when there is none).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Name.
    pub name: String,
    /// Machine size.
    pub vm: VmSize,
    /// GPUs per Machine and their kind.
    pub gpus: Option<(u32, String)>,
    /// Size of the volume each Machine mounts [GB], if the group has `[[mounts]]`.
    pub volume_gb: Option<f64>,
    /// Restart policy from `[[restart]]`, if any.
    pub restart: Option<fly::Restart>,
    /// Indices of the app's services that reach it (empty: a worker group).
    pub services: Vec<u8>,
    /// Its autostop setting: the most restrictive of its services' (off before stop before
    /// suspend), as Fly's proxy applies it (flyctl `machines_deploymachinesapp.go`).
    pub autostop: Autostop,
    /// The health checks of the services that reach it, if any has checks.
    pub checks: Option<Checks>,
}

/// A set of Machines created together, like `fly scale count N --region a,b`.
#[derive(Clone, Debug)]
pub struct MachineGroup {
    /// The process group they run (index into [`App::groups`]).
    pub group: usize,
    /// Machines per region, as `(region, count)`.
    pub per_region: Vec<(RegionIdx, u32)>,
    /// Whether they start in `started` (true) or `stopped`.
    pub started: bool,
    /// Ordinals (`<app>:<n>`) of the Machines these stand by for: stopped, on another host,
    /// started when a watched Machine's host fails. Empty: not standbys.
    pub standby_for: Vec<u32>,
    /// Where the group is declared (the app's table for the default layout), for messages.
    pub origin: doc::Origin,
}

/// An app: its fly.toml-derived service and size, its Machines and its traffic.
#[derive(Clone, Debug)]
pub struct App {
    /// Name.
    pub name: String,
    /// `primary_region`: scope of `min_machines_running`.
    pub primary_region: RegionIdx,
    /// Its services (`[http_service]` first), each taking its own traffic.
    pub services: Vec<Service>,
    /// The route of its first service (see [`Scenario::route`]).
    pub first_route: usize,
    /// Process groups some service reaches; empty for an app of workers only.
    pub served_groups: Vec<usize>,
    /// Process groups.
    pub groups: Vec<Group>,
    /// Swap [MB]; any swap makes Machines ineligible for suspend.
    pub swap_mb: u64,
    /// fly.toml's `[deploy]`.
    pub deploy: DeployConfig,
    /// Longest drain before a stop is forced.
    pub kill_timeout: SimDuration,
    /// Machines to create.
    pub machines: Vec<MachineGroup>,
    /// Service time of one request.
    pub service_time: Dist,
    /// How concurrent requests share a Machine.
    pub service_model: ServiceModel,
    /// How a request's work splits into CPU time and waiting, when the app models CPU
    /// quotas (its requests then share the Machine's CPU under its quota).
    pub cpu: Option<CpuWork>,
    /// App start-up after the VM has booted.
    pub app_boot: Dist,
    /// The share of `app_boot` that is CPU time on one vCPU [0..1]: under a CPU quota, a boot
    /// on an empty balance takes longer (0: the boot does not model CPU).
    pub app_boot_cpu: f64,
    /// The app exits after this long without a request (its Machine stops).
    pub idle_exit: Option<SimDuration>,
    /// Root filesystem size billed while stopped or suspended [GB].
    pub rootfs_gb: f64,
    /// Traffic sources.
    pub traffic: Vec<Traffic>,
    /// Requests are jobs a worker pulls from a queue: they wait this long for a Machine even
    /// when none runs, instead of failing as `no_machine` (`jobs_wait`).
    pub jobs_wait: Option<SimDuration>,
    /// Gauges the app exports to Prometheus (`[[app.gauge]]`).
    pub gauges: Vec<Gauge>,
    /// fly-autoscaler watching the app (`[app.autoscaler]`).
    pub autoscaler: Option<Autoscaler>,
    /// Ordinals the scenario's Machines, actions and deploys take (`web:0`..): Machines
    /// created during the run by fly-autoscaler are numbered from here.
    pub reserved: u32,
}

/// A gauge an app exports (a custom metric), one series per app.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    /// Metric name.
    pub name: String,
    /// What it measures.
    pub value: GaugeValue,
}

/// What an app's gauge measures, at each scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GaugeValue {
    /// Requests (jobs) waiting for a Machine: the queue depth.
    Queued,
    /// Requests being served or waiting on a Machine's boot.
    InService,
    /// Both: every request that arrived and is not done.
    InFlight,
}

/// fly-autoscaler for one app, from its own configuration names (`FAS_*`,
/// `cmd/fly-autoscaler/main.go`).
#[derive(Clone, Debug)]
pub struct Autoscaler {
    /// `FAS_INTERVAL`: time between reconciles [default 15 s].
    pub interval: SimDuration,
    /// `FAS_TIMEOUT`: how long one reconcile may take [default 30 s].
    pub timeout: SimDuration,
    /// `FAS_PROCESS_GROUP` (default "app"): the group it counts and scales.
    pub group: usize,
    /// `FAS_REGIONS`: where clones go, round robin; empty: the cloned Machine's region.
    pub regions: Vec<RegionIdx>,
    /// `FAS_INITIAL_MACHINE_STATE = "stopped"`: clones are created without starting.
    pub create_stopped: bool,
    /// `FAS_MIN_CREATED_MACHINE_COUNT` (or `FAS_CREATED_MACHINE_COUNT`).
    pub min_created: Option<crate::query::expr::Expr>,
    /// `FAS_MAX_CREATED_MACHINE_COUNT` (or `FAS_CREATED_MACHINE_COUNT`).
    pub max_created: Option<crate::query::expr::Expr>,
    /// `FAS_MIN_STARTED_MACHINE_COUNT` (or `FAS_STARTED_MACHINE_COUNT`).
    pub min_started: Option<crate::query::expr::Expr>,
    /// `FAS_MAX_STARTED_MACHINE_COUNT` (or `FAS_STARTED_MACHINE_COUNT`).
    pub max_started: Option<crate::query::expr::Expr>,
    /// Its metric collectors, in order; the expressions' names.
    pub collectors: Vec<Collector>,
    /// The app's Machines autostop by suspending, which fly-autoscaler 0.3 cannot list
    /// (fly-autoscaler issue #41): every reconcile fails.
    pub cannot_list: bool,
}

/// The metrics Fly's Prometheus holds for every app (Fly docs, metrics: "Built-in metrics")
/// that flysim simulates (`platform::autoscaler` says what each measures, in this order).
pub const FLY_METRICS: &[&str] = &[
    "fly_instance_up",
    "fly_app_concurrency",
    "fly_app_http_responses_count",
    "fly_app_http_response_time_seconds_bucket",
    "fly_app_http_response_time_seconds_sum",
    "fly_app_http_response_time_seconds_count",
    "fly_edge_http_responses_count",
    "fly_instance_cpu",
];

/// One metric collector: a name for the expressions and the Prometheus query behind it.
#[derive(Clone, Debug)]
pub struct Collector {
    /// `metric-name` / `FAS_PROMETHEUS_METRIC_NAME`.
    pub name: String,
    /// `query` / `FAS_PROMETHEUS_QUERY`, with `$APP_NAME` expanded.
    pub query: crate::query::promql::Query,
}

/// A request's CPU time and waiting (I/O, a database), for apps that model CPU quotas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CpuWork {
    /// This share of `service_time` is CPU time [0..1], the rest waiting.
    Share(f64),
    /// CPU time and waiting drawn apart.
    Split {
        /// CPU time at the speed of one vCPU.
        cpu: Dist,
        /// Waiting after it.
        wait: Dist,
    },
}

impl App {
    /// Whether its Machines keep a CPU quota account: its requests or its boot use CPU.
    pub fn models_cpu(&self) -> bool {
        self.cpu.is_some() || self.app_boot_cpu > 0.0
    }
}

/// How a traffic source's rate varies.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Evenly spaced arrivals at this rate [1/s].
    Constant(f64),
    /// Poisson arrivals at this rate [1/s].
    Poisson(f64),
    /// Poisson arrivals whose rate follows a daily cosine from `2·mean − peak` to `peak`,
    /// peaking at `peak_at` after midnight.
    Diurnal {
        /// Daily mean rate [1/s].
        mean: f64,
        /// Peak rate [1/s].
        peak: f64,
        /// Time of day of the peak.
        peak_at: SimDuration,
    },
    /// Replay of recorded counts per interval.
    Trace(std::sync::Arc<Replay>),
}

/// A trace ready to replay: the counts of one series, already scaled.
#[derive(Clone, Debug, PartialEq)]
pub struct Replay {
    /// Interval length [ns].
    pub interval_ns: u64,
    /// Requests per interval (fractions become an extra request with that probability).
    pub counts: trace::Counts,
    /// Intervals of the trace skipped before the replay starts.
    pub offset: u64,
    /// Whether the trace starts over when it ends.
    pub looped: bool,
}

/// One source of requests.
#[derive(Clone, Debug)]
pub struct Traffic {
    /// The clients' region, or several with weights (each request draws one).
    pub from: Vec<(RegionIdx, f64)>,
    /// Rate over time.
    pub shape: Shape,
    /// When the source starts sending.
    pub start: SimDuration,
    /// When it stops (`None`: end of run).
    pub end: Option<SimDuration>,
    /// Name of its random streams (`<app>/<index>`, plus `.k` for the k-th series of a trace).
    pub stream: String,
    /// The app's service it sends to (index into [`App::services`]).
    pub service: usize,
    /// Its requests' service time, when not the app's (`request.service_time`).
    pub service_time: Option<Dist>,
}

/// Service-level objective.
#[derive(Clone, Copy, Debug)]
pub struct Slo {
    /// Target share of requests served [0..1].
    pub availability: f64,
    /// Latency threshold: a request served within it counts as within the SLO.
    pub latency_p99: SimDuration,
}

/// Prices, in Fly's own shape (superfly/docs `snippets/RegionPricingSelector.jsx`): a started
/// Machine costs its vCPUs, each including some RAM (256 MB shared, 2 GB performance), plus
/// the RAM beyond that, per second, times its region's markup.
#[derive(Clone, Debug)]
pub struct Prices {
    /// Per shared vCPU while started, with 256 MB of RAM [USD/s, iad].
    pub shared_vcpu_second: f64,
    /// Per performance vCPU while started, with 2 GB of RAM [USD/s, iad].
    pub performance_vcpu_second: f64,
    /// Per GB of RAM beyond what the vCPUs include, while started [USD/s, iad].
    pub ram_gb_second: f64,
    /// Overrides of a preset's price with the RAM it includes [USD/s, iad], by CPU kind and
    /// count (`performance-2x` is performance × 2).
    pub presets: Vec<(CpuKind, u32, f64)>,
    /// Per GB of root filesystem while stopped or suspended [USD per 30 days].
    pub rootfs_gb_month: f64,
    /// Per GB of volume, in any state [USD per 30 days].
    pub volume_gb_month: f64,
    /// Per GPU hour while started, by GPU kind [USD/h]; kinds not listed cost nothing.
    pub gpu_hour: Vec<(String, f64)>,
}

/// Seconds in Fly's billing month (30 days).
pub const SECONDS_PER_BILLING_MONTH: f64 = 30.0 * 86400.0;

impl Prices {
    /// Price of a started Machine of size `vm` in `group` (which gives its GPUs) in a region with
    /// `multiplier` [USD/s]. GPU time is not multiplied by the region's markup (none is
    /// published for GPUs).
    pub fn started_per_sec(&self, group: &Group, vm: &VmSize, multiplier: f64) -> f64 {
        let gpu = group.gpus.as_ref().map_or(0.0, |(n, kind)| {
            let hourly = self
                .gpu_hour
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(0.0, |(_, p)| *p);
            *n as f64 * hourly / 3600.0
        });
        self.vm_per_sec(vm) * multiplier + gpu
    }

    /// Price of a started Machine of size `vm` in iad, without GPUs [USD/s]: its preset (the
    /// vCPUs with the RAM they include) plus the RAM beyond.
    pub fn vm_per_sec(&self, vm: &VmSize) -> f64 {
        let (per_vcpu, included_gb) = match vm.cpu_kind {
            CpuKind::Shared => (self.shared_vcpu_second, 0.25),
            CpuKind::Performance => (self.performance_vcpu_second, 2.0),
        };
        let preset = self
            .presets
            .iter()
            .find(|(kind, cpus, _)| *kind == vm.cpu_kind && *cpus == vm.cpus)
            .map_or(per_vcpu * vm.cpus as f64, |(_, _, p)| *p);
        let extra_gb = (vm.memory_mb as f64 / 1024.0 - included_gb * vm.cpus as f64).max(0.0);
        preset + extra_gb * self.ram_gb_second
    }

    /// Price of a volume of `gb` [USD/s], whatever its Machine's state.
    pub fn volume_per_sec(&self, gb: f64) -> f64 {
        self.volume_gb_month * gb / SECONDS_PER_BILLING_MONTH
    }

    /// Price of a stopped or suspended Machine's rootfs [USD/s].
    pub fn rootfs_per_sec(&self, rootfs_gb: f64) -> f64 {
        self.rootfs_gb_month * rootfs_gb / SECONDS_PER_BILLING_MONTH
    }
}

/// A scenario plus the warnings and ignored keys met while reading it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The validated scenario.
    pub scenario: Scenario,
    /// Warnings and ignored keys (no errors).
    pub notes: Vec<Problem>,
    /// The scenario file's text as read, followed by the overrides applied to it as comments:
    /// what a run's folder keeps as `scenario.toml`.
    pub text: String,
}

/// A file that did not validate: every problem found, errors and warnings.
#[derive(Clone, Debug, thiserror::Error)]
pub struct ScenarioError {
    /// Everything found, in reading order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<&Problem> = self
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .collect();
        for (i, p) in errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        write!(
            f,
            "\n{} error{} found; nothing was run",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        )
    }
}

/// Why `name` cannot name an output folder, if it cannot: empty, too long, a path rather than
/// a name, hidden, or holding control characters. Checked before anything runs.
pub fn folder_name_problem(name: &str) -> Option<String> {
    let shown: String = name.chars().take(40).collect();
    let shown = if shown.len() < name.len() {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    };
    if name.is_empty() {
        Some("expected a name usable as a folder name, got \"\"".into())
    } else if name.len() > MAX_NAME_BYTES {
        Some(format!(
            "{shown} is {} bytes long; a name may have at most {MAX_NAME_BYTES} bytes (it becomes the folder output/NAME)",
            name.len()
        ))
    } else if name.contains(['/', '\\']) || name == "." || name == ".." || name.starts_with('.') {
        Some(format!(
            "expected a name usable as a folder name (no `/` or `\\`, not starting with `.`), got {shown}"
        ))
    } else if name.chars().any(char::is_control) {
        Some(format!(
            "{shown} holds control characters; expected a name usable as a folder name"
        ))
    } else {
        None
    }
}

/// Longest scenario or sweep name, in bytes.
pub const MAX_NAME_BYTES: usize = 100;

/// Reads and validates a scenario file, applying `--set` overrides first.
pub fn load(path: &Path, sets: &[String]) -> Result<Loaded, ScenarioError> {
    let name = path.display().to_string();
    let text =
        doc::read_text(path, doc::MAX_TEXT_BYTES).map_err(|(origin, message)| ScenarioError {
            problems: vec![Problem {
                severity: Severity::Error,
                file: name.clone(),
                origin,
                path: String::new(),
                message,
            }],
        })?;
    validate::from_text(&text, &name, &cli_sets(sets))
}

/// `--set` arguments labelled for messages.
fn cli_sets(sets: &[String]) -> Vec<(String, String)> {
    sets.iter()
        .map(|s| (s.clone(), format!("--set {s}")))
        .collect()
}

/// Reads and validates scenario text; `file` names it in messages.
pub fn from_str(text: &str, file: &str, sets: &[String]) -> Result<Loaded, ScenarioError> {
    validate::from_text(text, file, &cli_sets(sets))
}
