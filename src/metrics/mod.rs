//! What a run measures: request counters, latency histograms, time integrals, time series.
//!
//! The model feeds a [`Recorder`] from its handlers; nothing here decides behaviour. Time
//! averages are exact integrals (value × time held), updated only when a value changes.
//! Latencies go into HDR histograms (3 significant digits, memory independent of the number of
//! requests); means and SLO shares are exact counts and sums.
//!
//! Depends on `engine` (time) only.

pub mod results;
pub mod stats;

use hdrhistogram::Histogram;

use crate::engine::{SimDuration, SimTime};

/// Why a request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FailReason {
    /// Every Machine was at its hard limit and the proxy queue was off or full (503).
    AtHardLimit = 0,
    /// Waited in the proxy queue for `max_queue_wait` without a Machine freeing up.
    QueueTimeout = 1,
    /// No Machine could take it: none running and none startable.
    NoMachine = 2,
    /// The Machine it waited for did not boot within the proxy's connect timeout.
    StartTimeout = 3,
    /// The Machine could not start (its host was full).
    StartFailed = 4,
    /// Still running when its Machine's drain reached `kill_timeout`.
    Killed = 5,
    /// In flight on a host that failed, or sent to one until every failover attempt was spent.
    HostFailure = 6,
    /// In flight on a Machine that crashed.
    Crashed = 7,
    /// Every Machine that runs was failing its health checks or had not passed them yet, and
    /// the proxy queue was off or full.
    Unhealthy = 8,
}

impl FailReason {
    /// Every reason, in report order.
    pub const ALL: [FailReason; 9] = [
        FailReason::AtHardLimit,
        FailReason::QueueTimeout,
        FailReason::NoMachine,
        FailReason::StartTimeout,
        FailReason::StartFailed,
        FailReason::Killed,
        FailReason::HostFailure,
        FailReason::Crashed,
        FailReason::Unhealthy,
    ];

    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            FailReason::AtHardLimit => "at_hard_limit",
            FailReason::QueueTimeout => "queue_timeout",
            FailReason::NoMachine => "no_machine",
            FailReason::StartTimeout => "start_timeout",
            FailReason::StartFailed => "start_failed",
            FailReason::Killed => "killed",
            FailReason::HostFailure => "host_failure",
            FailReason::Crashed => "crashed",
            FailReason::Unhealthy => "unhealthy",
        }
    }
}

/// Highest latency a histogram tracks exactly [µs]; larger values are clamped (≈ 11.6 days).
const HIST_MAX_US: u64 = 1_000_000_000_000;

/// A latency histogram in microseconds.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_MAX_US, 3).expect("valid histogram bounds")
}

/// Counters for one app (and, summed, for the run).
#[derive(Clone, Debug, Default)]
pub struct RequestCounters {
    /// Requests that arrived.
    pub offered: u64,
    /// Requests that arrived, by the clients' region (index: region).
    pub offered_by_region: Vec<u64>,
    /// Requests answered by a Machine.
    pub served: u64,
    /// Failed requests by reason (index: `FailReason as usize`).
    pub failed: [u64; 9],
    /// Served within the SLO latency.
    pub within_slo: u64,
    /// Requests that waited for a Machine to boot or resume.
    pub cold_starts: u64,
    /// Total time cold requests spent waiting for the boot [ns].
    pub cold_wait_ns: u128,
    /// Requests that waited in the proxy queue.
    pub queued: u64,
    /// Total time spent in the proxy queue, by requests that left it [ns].
    pub queue_wait_ns: u128,
    /// Longest time in the proxy queue [ns].
    pub queue_wait_max_ns: u64,
    /// Requests served from another region than the clients'.
    pub cross_region: u64,
    /// Requests that gave up on a booting Machine and were routed again.
    pub retried: u64,
    /// Served requests whose CPU time ran while their Machine was throttled.
    pub served_throttled: u64,
    /// Sum of arrival-to-answer times of served requests, network excluded [ns].
    pub response_ns: u128,
    /// Sum of latencies as the client sees them (network included) [ns].
    pub latency_ns: u128,
    /// Sum of times in the system of requests that left it, served or failed [ns].
    pub sojourn_ns: u128,
    /// Requests in the system now (queued, waiting for a boot, or in service).
    pub in_flight: u64,
    /// ∫ in_flight dt [request·ns].
    pub in_flight_area: u128,
    /// When `in_flight` last changed.
    pub in_flight_since: SimTime,
}

impl RequestCounters {
    /// All failures.
    pub fn failed_total(&self) -> u64 {
        self.failed.iter().sum()
    }

    /// Accounts the area under `in_flight` up to `now`.
    #[inline]
    fn settle(&mut self, now: SimTime) {
        self.in_flight_area += self.in_flight as u128 * (now.0 - self.in_flight_since.0) as u128;
        self.in_flight_since = now;
    }

    /// Closes the in-flight integral at `now`.
    pub fn close(&mut self, now: SimTime) {
        self.settle(now);
    }

    /// Adds another app's counters into these (for run totals).
    pub fn add(&mut self, o: &RequestCounters) {
        self.offered += o.offered;
        if self.offered_by_region.len() < o.offered_by_region.len() {
            self.offered_by_region.resize(o.offered_by_region.len(), 0);
        }
        for (a, b) in self.offered_by_region.iter_mut().zip(&o.offered_by_region) {
            *a += b;
        }
        self.served += o.served;
        for i in 0..self.failed.len() {
            self.failed[i] += o.failed[i];
        }
        self.within_slo += o.within_slo;
        self.cold_starts += o.cold_starts;
        self.cold_wait_ns += o.cold_wait_ns;
        self.queued += o.queued;
        self.queue_wait_ns += o.queue_wait_ns;
        self.queue_wait_max_ns = self.queue_wait_max_ns.max(o.queue_wait_max_ns);
        self.cross_region += o.cross_region;
        self.retried += o.retried;
        self.response_ns += o.response_ns;
        self.latency_ns += o.latency_ns;
        self.sojourn_ns += o.sojourn_ns;
        self.in_flight += o.in_flight;
        self.in_flight_area += o.in_flight_area;
    }
}

/// One row of `timeseries.csv`, accumulated over a bucket.
#[derive(Clone, Debug, Default)]
pub struct BucketRow {
    /// Bucket start [s].
    pub start_s: f64,
    /// Bucket width [s].
    pub width_s: f64,
    /// Requests that arrived in the bucket.
    pub offered: u64,
    /// Requests served in the bucket.
    pub served: u64,
    /// Requests failed in the bucket.
    pub failed: u64,
    /// Served requests that waited for a boot.
    pub cold_starts: u64,
    /// Latency percentiles of the bucket's served requests [ms] (p50, p90, p99, max).
    pub latency_ms: [f64; 4],
    /// Mean requests in the system over the bucket.
    pub mean_in_flight: f64,
    /// Time-averaged Machines per region and state (region-major, `STATE_COLUMNS` per region).
    pub machines: Vec<f64>,
    /// Cost accrued from the start of the run to the end of the bucket [USD].
    pub cost_usd: f64,
    /// CPU quotas per region, when the scenario models them (region-major, three per region):
    /// CPU used over the vCPU time of running Machines, their mean balance at the bucket's end
    /// [s], and the share of their running time spent throttled. Empty otherwise.
    pub cpu: Vec<f64>,
}

/// Feeds counters, histograms and the time series.
pub struct Recorder {
    /// Per-app counters.
    pub apps: Vec<RequestCounters>,
    /// Per-app latency histograms [µs].
    pub latency: Vec<Histogram<u64>>,
    /// Latency threshold that counts as within the SLO.
    slo_latency: SimDuration,
    /// The current bucket's latency histogram [µs].
    bucket_latency: Histogram<u64>,
    /// The current bucket's counts: offered, served, failed, cold.
    bucket_counts: [u64; 4],
    /// ∫ in_flight over the current bucket, all apps [request·ns], and when last settled.
    bucket_area: u128,
    /// Total in flight (all apps) and when it last changed.
    total_in_flight: u64,
    total_since: SimTime,
    /// Finished buckets.
    pub rows: Vec<BucketRow>,
    /// Per route (an app's service, `Scenario::route`): offered, served, failed. Offered and
    /// served are counted only for apps of several services (the platform counts them, off
    /// the path of one-service apps); failures always.
    pub routes: Vec<[u64; 3]>,
    /// Per app, the latencies served while a deploy of it runs [µs] (`None`: none runs).
    windows: Vec<Option<Box<Histogram<u64>>>>,
}

impl Recorder {
    /// A recorder for `apps` apps with `routes` services in all, and `regions` client regions.
    pub fn new(apps: usize, routes: usize, regions: usize, slo_latency: SimDuration) -> Self {
        let counters = RequestCounters {
            offered_by_region: vec![0; regions],
            ..RequestCounters::default()
        };
        Recorder {
            apps: vec![counters; apps],
            latency: (0..apps).map(|_| new_histogram()).collect(),
            slo_latency,
            // Per-bucket percentiles need less range and precision than the run's: latencies up
            // to an hour, 2 significant digits. Its counts array is 30× smaller, so resetting
            // it every bucket stays cheap.
            bucket_latency: Histogram::new_with_bounds(1, 3_600_000_000, 2)
                .expect("valid histogram bounds"),
            bucket_counts: [0; 4],
            bucket_area: 0,
            total_in_flight: 0,
            total_since: SimTime::ZERO,
            rows: Vec::new(),
            routes: vec![[0; 3]; routes],
            windows: vec![None; apps],
        }
    }

    /// A deploy of `app` begins: the latencies of its requests are kept apart until
    /// [`Recorder::close_window`].
    pub fn open_window(&mut self, app: usize) {
        self.windows[app] = Some(Box::new(new_histogram()));
    }

    /// The p99 latency served in `app`'s open window [ms] (0 when it served nothing).
    pub fn window_p99_ms(&self, app: usize) -> f64 {
        match &self.windows[app] {
            Some(h) if !h.is_empty() => h.value_at_quantile(0.99) as f64 / 1000.0,
            _ => 0.0,
        }
    }

    /// The deploy of `app` is over.
    pub fn close_window(&mut self, app: usize) {
        self.windows[app] = None;
    }

    #[inline]
    fn in_flight_change(&mut self, app: usize, now: SimTime, up: bool) {
        let c = &mut self.apps[app];
        c.settle(now);
        self.bucket_area += self.total_in_flight as u128 * (now.0 - self.total_since.0) as u128;
        self.total_since = now;
        if up {
            c.in_flight += 1;
            self.total_in_flight += 1;
        } else {
            c.in_flight -= 1;
            self.total_in_flight -= 1;
        }
    }

    /// A request arrived.
    #[inline]
    pub fn arrived(&mut self, app: usize, now: SimTime, client: u16) {
        let c = &mut self.apps[app];
        c.offered += 1;
        c.offered_by_region[client as usize] += 1;
        self.bucket_counts[0] += 1;
        self.in_flight_change(app, now, true);
    }

    /// A request was answered. `response` excludes the network, `rtt` is the client's round trip.
    #[inline]
    pub fn served(
        &mut self,
        app: usize,
        now: SimTime,
        arrived: SimTime,
        rtt: SimDuration,
        cold: bool,
        cross: bool,
    ) {
        let response = now.0 - arrived.0;
        let latency = response + rtt.0;
        let c = &mut self.apps[app];
        c.served += 1;
        c.response_ns += response as u128;
        c.latency_ns += latency as u128;
        c.sojourn_ns += response as u128;
        if latency <= self.slo_latency.0 {
            c.within_slo += 1;
        }
        if cold {
            self.bucket_counts[3] += 1;
        }
        if cross {
            c.cross_region += 1;
        }
        let us = (latency / 1000).clamp(1, HIST_MAX_US);
        self.latency[app].saturating_record(us);
        if let Some(h) = &mut self.windows[app] {
            h.saturating_record(us);
        }
        self.bucket_latency.saturating_record(us.min(3_600_000_000));
        self.bucket_counts[1] += 1;
        self.in_flight_change(app, now, false);
    }

    /// A request failed.
    #[inline]
    pub fn failed(
        &mut self,
        app: usize,
        route: usize,
        now: SimTime,
        arrived: SimTime,
        reason: FailReason,
    ) {
        self.routes[route][2] += 1;
        let c = &mut self.apps[app];
        c.failed[reason as usize] += 1;
        c.sojourn_ns += (now.0 - arrived.0) as u128;
        self.bucket_counts[2] += 1;
        self.in_flight_change(app, now, false);
    }

    /// A request started waiting for a Machine to boot (counted once per request).
    #[inline]
    pub fn cold_start(&mut self, app: usize) {
        self.apps[app].cold_starts += 1;
    }

    /// A cold request's wait for the boot ended after `wait`.
    #[inline]
    pub fn cold_wait(&mut self, app: usize, wait: SimDuration) {
        self.apps[app].cold_wait_ns += wait.0 as u128;
    }

    /// A request entered the proxy queue.
    #[inline]
    pub fn queued(&mut self, app: usize) {
        self.apps[app].queued += 1;
    }

    /// A request left the proxy queue after `wait` (served or timed out).
    #[inline]
    pub fn dequeued(&mut self, app: usize, wait: SimDuration) {
        let c = &mut self.apps[app];
        c.queue_wait_ns += wait.0 as u128;
        c.queue_wait_max_ns = c.queue_wait_max_ns.max(wait.0);
    }

    /// A request gave up on a booting Machine and is routed again.
    #[inline]
    pub fn retried(&mut self, app: usize) {
        self.apps[app].retried += 1;
    }

    /// Closes the current bucket at `now`, with per-region state averages and cost so far.
    pub fn close_bucket(
        &mut self,
        start: SimTime,
        now: SimTime,
        machines: Vec<f64>,
        cost_usd: f64,
    ) {
        self.bucket_area += self.total_in_flight as u128 * (now.0 - self.total_since.0) as u128;
        self.total_since = now;
        let width = now.0 - start.0;
        let h = &self.bucket_latency;
        let pct = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        self.rows.push(BucketRow {
            start_s: start.as_secs_f64(),
            width_s: width as f64 / 1e9,
            offered: self.bucket_counts[0],
            served: self.bucket_counts[1],
            failed: self.bucket_counts[2],
            cold_starts: self.bucket_counts[3],
            latency_ms: [
                pct(0.5),
                pct(0.9),
                pct(0.99),
                if h.is_empty() {
                    0.0
                } else {
                    h.max() as f64 / 1000.0
                },
            ],
            mean_in_flight: if width == 0 {
                0.0
            } else {
                self.bucket_area as f64 / width as f64
            },
            machines,
            cost_usd,
            cpu: Vec::new(),
        });
        if !self.bucket_latency.is_empty() {
            self.bucket_latency.reset();
        }
        self.bucket_counts = [0; 4];
        self.bucket_area = 0;
    }

    /// Closes every integral at the end of the run.
    pub fn finish(&mut self, now: SimTime) {
        for c in &mut self.apps {
            c.close(now);
        }
    }
}
