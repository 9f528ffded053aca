//! fly-autoscaler (superfly/fly-autoscaler) beside the proxy: Prometheus scrapes what the apps
//! expose, and each autoscaled app's reconciler acts on what its queries read.
//!
//! **Metrics.** Every `platform.metrics_scrape_interval` (from time 0) a scrape records, for
//! each selector of every collector's query, the series it matches and their values. Series
//! are what Fly's managed Prometheus holds (labels `app`, `region`, `host`, `instance`):
//! - proxy series, for every Machine that exists (0 while it does not run):
//!   `fly_app_concurrency` (its load), `fly_app_http_responses_count{status="200"}`,
//!   `fly_app_http_response_time_seconds_{bucket,sum,count}` (response time at the proxy,
//!   Prometheus' default buckets);
//! - instance series, while the Machine is started (scraped from its VM): `fly_instance_up`
//!   and, for apps that model CPU, `fly_instance_cpu{mode="user"|"idle"}` [centiseconds];
//! - per app: `fly_edge_http_responses_count{status}` (200 served; 502 for requests lost
//!   with their Machine, 503 for the rest) and the app's own gauges (`[[app.gauge]]`).
//!
//! A query runs at `now - platform.metrics_query_lag`, as VictoriaMetrics' latency offset
//! does: an autoscaler acts on numbers at least that old.
//!
//! **Reconciles** (`reconciler_pool.go`, `reconciler.go`): a ticker every `FAS_INTERVAL`,
//! first one interval after the start; a tick while a reconcile still runs waits for it (Go's
//! ticker keeps one), further ones are dropped. A reconcile is skipped while a deploy of the
//! app runs ("release in progress") or when a collector fails (an empty result); then it
//! computes the created and started bounds (rounded, negatives as 0, created ones at least
//! 1), lists the group's Machines on reachable hosts, and does one thing: creates clones of
//! the first Machine (regions round robin over `FAS_REGIONS`, else its region; one Launch
//! after another, each `platform.create_time`, until `FAS_TIMEOUT`), destroys (stopped
//! Machines first, then started; `Kill: true`), starts stopped ones or stops started ones
//! (in id order). Clones are placed like any new Machine and billed from their create;
//! the proxy's autostop and autostart go on working on the same fleet.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};

use super::machine::{DrainTo, MState, Machine};
use super::{Event, MachineId, Sim};
use crate::engine::{SimDuration, SimTime};
use crate::query::promql::{Labels, MatchOp, RangeSeries, Samples, Selector, Value};
use crate::scenario::{FLY_METRICS, GaugeValue, NewMachine, Scenario};

/// The steps of a reconciler, carried by `Event::Autoscale`.
pub mod step {
    /// The ticker fired.
    pub const TICK: u8 = 0;
    /// A create finished (they finish in launch order).
    pub const CREATED: u8 = 1;
}

/// Prometheus client libraries' default histogram buckets [s] (and `+Inf`).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BUCKET_LABELS: [&str; 12] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
];
/// Creates one reconcile launches at most (fly-autoscaler would go on while its timeout
/// allows; a simulation bounds its work).
const MAX_CREATES_PER_RECONCILE: u32 = 1000;
/// Clones of one app over a run, at most.
const MAX_CLONES: u32 = 100_000;
const STATUS: [&str; 3] = ["200", "502", "503"];
const MODES: [&str; 2] = ["user", "idle"];

/// Which series a selector reads.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Family {
    InstanceUp,
    Concurrency,
    Responses,
    Bucket,
    Sum,
    Count,
    Edge,
    Cpu,
    /// An app's gauge, by name (its index in [`Store::gauge_names`]).
    Gauge(usize),
}

/// The family of each of `FLY_METRICS`, in its order.
const BUILT_IN: [Family; FLY_METRICS.len()] = [
    Family::InstanceUp,
    Family::Concurrency,
    Family::Responses,
    Family::Bucket,
    Family::Sum,
    Family::Count,
    Family::Edge,
    Family::Cpu,
];

/// One series: of a Machine, or of an app; `extra` is its bucket, status, mode or gauge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Machine { id: u32, extra: u8 },
    App { app: u16, extra: u8 },
}

struct Scrapes {
    family: Family,
    selector: Selector,
    /// (time [ns], the series matched then, in key order), oldest first.
    ring: VecDeque<(i64, Vec<(Key, f64)>)>,
}

/// Response-time histograms of every Machine, kept only when a query reads them.
#[derive(Default)]
struct Histograms {
    buckets: Vec<[u64; 12]>,
    sum: Vec<f64>,
}

/// What a reconcile did (`autoscaler.csv`'s `action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing was needed.
    None,
    /// Launched clones.
    Create,
    /// Destroyed Machines.
    Destroy,
    /// Started stopped Machines.
    Start,
    /// Stopped started Machines.
    Stop,
    /// A deploy of the app ran ("release in progress").
    Skipped,
    /// A collector failed (an empty result, a scalar).
    CollectFailed,
    /// An expression gave NaN or Inf, nothing could be cloned, or the Machines could not be
    /// listed.
    Failed,
}

impl Action {
    /// The name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Create => "create",
            Action::Destroy => "destroy",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Skipped => "skipped",
            Action::CollectFailed => "collect_failed",
            Action::Failed => "failed",
        }
    }
}

/// What one reconcile saw and did, for `autoscaler.csv`.
#[derive(Clone, Debug)]
pub struct Reconcile {
    /// When it ran.
    pub at: SimTime,
    /// Each collector's value (NaN where it failed).
    pub values: Vec<f64>,
    /// The bounds it computed: created min and max, started min and max (`None`: unset).
    pub bounds: [Option<u32>; 4],
    /// Machines of the group on reachable hosts.
    pub created: u32,
    /// Started Machines among them.
    pub started: u32,
    /// What it did, or why it did nothing.
    pub action: Action,
    /// How many Machines it acted on (for creates: how many it launched).
    pub count: u32,
    /// Details: errors, failures.
    pub note: String,
}

/// An autoscaled app's reconciler over the run.
#[derive(Clone, Debug, Default)]
pub struct AppScaler {
    /// Every reconcile.
    pub reconciles: Vec<Reconcile>,
    /// Machines it created.
    pub created: u32,
    /// Machines destroyed.
    pub destroyed: u32,
    /// Machines started.
    pub started: u32,
    /// Machines stopped.
    pub stopped: u32,
    /// Creates or starts that found no room.
    pub failed: u32,
    region_seq: u64,
    busy_until: SimTime,
    deferred: bool,
    /// The clone's source: group, size and region.
    source: Option<(usize, crate::scenario::VmSize, usize)>,
    /// The reconcile its creates belong to.
    creating_row: usize,
}

/// The scrapes of every query, and each autoscaled app's reconciler.
pub struct Store {
    scrapes: Vec<Scrapes>,
    /// For each app with an autoscaler, per collector: where its query's selectors begin in
    /// `scrapes`.
    first: Vec<Vec<usize>>,
    gauge_names: Vec<String>,
    hist: Option<Histograms>,
    /// How much history the queries need [ns].
    keep: i64,
    /// Per app (empty for apps without an autoscaler).
    pub apps: Vec<Option<AppScaler>>,
}

impl Store {
    /// The store for `sc`: nothing to scrape when no app has an autoscaler.
    pub fn new(sc: &Scenario) -> Store {
        let mut gauge_names: Vec<String> = Vec::new();
        for a in &sc.apps {
            for g in &a.gauges {
                if !gauge_names.contains(&g.name) {
                    gauge_names.push(g.name.clone());
                }
            }
        }
        let mut scrapes = Vec::new();
        let mut first = Vec::new();
        let mut longest = 0u64;
        for a in &sc.apps {
            let mut per = Vec::new();
            if let Some(fas) = &a.autoscaler {
                for c in &fas.collectors {
                    per.push(scrapes.len());
                    longest = longest.max(c.query.longest_range());
                    for s in &c.query.selectors {
                        let family = match FLY_METRICS.iter().position(|m| *m == s.metric) {
                            Some(i) => BUILT_IN[i],
                            None => Family::Gauge(
                                gauge_names.iter().position(|g| *g == s.metric).unwrap_or(0),
                            ),
                        };
                        scrapes.push(Scrapes {
                            family,
                            selector: s.clone(),
                            ring: VecDeque::new(),
                        });
                    }
                }
            }
            first.push(per);
        }
        let hist = scrapes
            .iter()
            .any(|s| matches!(s.family, Family::Bucket | Family::Sum | Family::Count))
            .then(Histograms::default);
        let interval = sc.platform.metrics_scrape_interval.0 as i64;
        let keep = sc.platform.metrics_query_lag.0 as i64 + longest as i64 + 2 * interval;
        let apps = sc
            .apps
            .iter()
            .map(|a| a.autoscaler.as_ref().map(|_| AppScaler::default()))
            .collect();
        Store {
            scrapes,
            first,
            gauge_names,
            hist,
            keep,
            apps,
        }
    }

    /// Whether anything is scraped.
    pub fn active(&self) -> bool {
        !self.scrapes.is_empty()
    }

    /// A response of Machine `id` took `took` (kept only when a query reads the histogram).
    #[inline]
    pub fn response(&mut self, id: MachineId, took: SimDuration) {
        if let Some(h) = &mut self.hist {
            let secs = took.as_secs_f64();
            let i = id.index();
            if h.buckets.len() <= i {
                h.buckets.resize(i + 1, [0; 12]);
                h.sum.resize(i + 1, 0.0);
            }
            let b = BUCKETS.iter().position(|&le| secs <= le).unwrap_or(11);
            for c in &mut h.buckets[i][b..] {
                *c += 1;
            }
            h.sum[i] += secs;
        }
    }
}

/// The label a family adds to `app`, `region`, `host` and `instance`, and its values by a
/// series' `extra`.
fn extra_label(family: Family) -> Option<(&'static str, &'static [&'static str])> {
    match family {
        Family::Bucket => Some(("le", &BUCKET_LABELS)),
        Family::Responses | Family::Edge => Some(("status", &STATUS)),
        Family::Cpu => Some(("mode", &MODES)),
        _ => None,
    }
}

/// Label `name` of a series of `family` ("" when it has none).
fn label<'a>(
    sc: &'a Scenario,
    machines: &'a [Machine],
    family: Family,
    key: Key,
    name: &str,
) -> Cow<'a, str> {
    let (app, extra) = match key {
        Key::Machine { id, extra } => {
            let m = &machines[id as usize];
            match name {
                "region" => return Cow::Borrowed(&sc.regions[m.region as usize].code),
                "instance" => {
                    return Cow::Owned(format!("{}:{}", sc.apps[m.app.index()].name, m.ordinal));
                }
                "host" => return Cow::Owned(format!("{:04x}", m.host.index())),
                _ => (m.app.index(), extra),
            }
        }
        Key::App { app, extra } => (app as usize, extra),
    };
    if name == "app" {
        return Cow::Borrowed(&sc.apps[app].name);
    }
    match extra_label(family) {
        Some((label, values)) if label == name => Cow::Borrowed(values[extra as usize]),
        _ => Cow::Borrowed(""),
    }
}

fn labels_of(
    sc: &Scenario,
    machines: &[Machine],
    selector: &Selector,
    family: Family,
    key: Key,
) -> Labels {
    let mut names: Vec<&str> = match key {
        Key::Machine { .. } => vec!["app", "host", "instance", "region"],
        Key::App { .. } => vec!["app"],
    };
    if let Some((l, _)) = extra_label(family) {
        names.push(l);
    }
    let mut out: Labels = names
        .into_iter()
        .map(|n| {
            (
                n.to_string(),
                label(sc, machines, family, key, n).into_owned(),
            )
        })
        .collect();
    out.push(("__name__".into(), selector.metric.clone()));
    out.sort();
    out
}

/// The store as a query reads it: one app's collector, at one time.
struct View<'a> {
    sc: &'a Scenario,
    machines: &'a [Machine],
    scrapes: &'a [Scrapes],
}

impl Samples for View<'_> {
    fn instant(&self, sel: usize, at: i64) -> Vec<(Labels, f64)> {
        let s = &self.scrapes[sel];
        let Some((_, series)) = s.ring.iter().rev().find(|(t, _)| *t <= at) else {
            return Vec::new();
        };
        series
            .iter()
            .map(|&(k, v)| {
                (
                    labels_of(self.sc, self.machines, &s.selector, s.family, k),
                    v,
                )
            })
            .collect()
    }

    fn range(&self, sel: usize, at: i64) -> Vec<RangeSeries> {
        let s = &self.scrapes[sel];
        let range = s.selector.range.unwrap_or(0) as i64;
        let from = at - range;
        let before = s.ring.iter().rev().find(|(t, _)| *t <= from);
        let mut out: BTreeMap<Key, RangeSeries> = BTreeMap::new();
        for (t, series) in s.ring.iter().filter(|(t, _)| *t > from && *t <= at) {
            for &(k, v) in series {
                out.entry(k)
                    .or_insert_with(|| RangeSeries {
                        labels: labels_of(self.sc, self.machines, &s.selector, s.family, k),
                        window: Vec::new(),
                        // Each scrape holds its series in key order.
                        before: before.and_then(|(bt, b)| {
                            b.binary_search_by(|x| x.0.cmp(&k))
                                .ok()
                                .map(|i| (*bt, b[i].1))
                        }),
                    })
                    .window
                    .push((*t, v));
            }
        }
        out.into_values().collect()
    }
}

impl Sim<'_> {
    /// Each app's fly-autoscaler over the run (`None` for apps without one).
    pub fn autoscalers(&self) -> &[Option<AppScaler>] {
        &self.autoscale.apps
    }

    /// The first scrape and each autoscaled app's first tick.
    pub(super) fn seed_autoscalers(&mut self) {
        if self.autoscale.active() {
            self.engine.schedule_at(SimTime::ZERO, Event::Scrape);
        }
        for (ai, a) in self.sc.apps.iter().enumerate() {
            if let Some(fas) = &a.autoscaler {
                self.engine.schedule_at(
                    SimTime(fas.interval.0),
                    Event::Autoscale {
                        app: ai as u16,
                        step: step::TICK,
                    },
                );
            }
        }
    }

    /// Prometheus scrapes: each selector records the series it matches now.
    pub(super) fn on_scrape(&mut self) {
        let now = self.now();
        let t = now.0 as i64;
        let keep = self.autoscale.keep;
        for si in 0..self.autoscale.scrapes.len() {
            let series = self.scrape_one(&self.autoscale.scrapes[si], self.fleet.as_slice());
            let s = &mut self.autoscale.scrapes[si];
            s.ring.push_back((t, series));
            // Keep one scrape older than any query reaches (the sample before a window).
            while s.ring.len() > 2 && s.ring[1].0 < t - keep {
                s.ring.pop_front();
            }
        }
        self.engine.schedule_at(
            now + self.sc.platform.metrics_scrape_interval,
            Event::Scrape,
        );
    }

    /// The series selector `s` matches now, in key order.
    fn scrape_one(&self, s: &Scrapes, machines: &[Machine]) -> Vec<(Key, f64)> {
        let sc = self.sc;
        let now = self.now();
        let mut out = Vec::new();
        let mut push = |key: Key, v: f64| {
            if s.selector
                .matches(|n| label(sc, machines, s.family, key, n))
            {
                out.push((key, v));
            }
        };
        match s.family {
            Family::Edge => {
                for (ai, c) in self.rec.apps.iter().enumerate() {
                    let f = &c.failed;
                    use crate::metrics::FailReason as R;
                    let lost = [R::Killed, R::HostFailure, R::Crashed, R::StartFailed]
                        .iter()
                        .map(|&r| f[r as usize])
                        .sum::<u64>();
                    let all: u64 = f.iter().sum();
                    for (extra, v) in [(0u8, c.served), (1, lost), (2, all - lost)] {
                        push(
                            Key::App {
                                app: ai as u16,
                                extra,
                            },
                            v as f64,
                        );
                    }
                }
            }
            Family::Gauge(g) => {
                let name = &self.autoscale.gauge_names[g];
                for (ai, a) in sc.apps.iter().enumerate() {
                    for (gi, gauge) in a.gauges.iter().enumerate() {
                        if gauge.name != *name {
                            continue;
                        }
                        let routes = sc.route(ai, 0)..sc.route(ai, a.services.len());
                        let queued: usize = routes.map(|r| self.proxy.queue_len(r)).sum();
                        let in_flight = self.rec.apps[ai].in_flight as f64;
                        let v = match gauge.value {
                            GaugeValue::Queued => queued as f64,
                            GaugeValue::InFlight => in_flight,
                            GaugeValue::InService => in_flight - queued as f64,
                        };
                        push(
                            Key::App {
                                app: ai as u16,
                                extra: gi as u8,
                            },
                            v,
                        );
                    }
                }
            }
            family => {
                // A selector naming its app reads only that app's Machines.
                let app = s
                    .selector
                    .matchers
                    .iter()
                    .find(|m| m.label == "app" && m.op == MatchOp::Eq)
                    .map(|m| sc.apps.iter().position(|a| a.name == m.value));
                let ids: Vec<MachineId> = match app {
                    Some(Some(a)) => self.fleet.of_app(a).collect(),
                    Some(None) => Vec::new(),
                    None => self.fleet.ids().collect(),
                };
                for id in ids {
                    let m = &self.fleet[id];
                    if m.state == MState::Destroyed {
                        continue;
                    }
                    let started = m.state == MState::Started;
                    let i = id.index() as u32;
                    let key = |extra: u8| Key::Machine { id: i, extra };
                    match family {
                        Family::InstanceUp if started => push(key(0), 1.0),
                        Family::Concurrency => push(key(0), f64::from(m.load())),
                        Family::Responses => push(key(0), m.served as f64),
                        Family::Bucket | Family::Sum | Family::Count => {
                            let h = self.autoscale.hist.as_ref();
                            let b = h
                                .and_then(|h| h.buckets.get(id.index()))
                                .copied()
                                .unwrap_or([0; 12]);
                            match family {
                                Family::Bucket => {
                                    for (extra, &n) in b.iter().enumerate() {
                                        push(key(extra as u8), n as f64);
                                    }
                                }
                                Family::Count => push(key(0), b[11] as f64),
                                _ => push(
                                    key(0),
                                    h.and_then(|h| h.sum.get(id.index()))
                                        .copied()
                                        .unwrap_or(0.0),
                                ),
                            }
                        }
                        Family::Cpu if started => {
                            if let Some(q) = self.quota_at(id, now) {
                                push(key(0), q.used / 1e7);
                                push(key(1), (q.vcpu_ns - q.used).max(0.0) / 1e7);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        // Ordinal order (an app's Machines) is not id order once planned and unplanned
        // Machines interleave; a window's lookups need key order.
        out.sort_unstable_by_key(|&(k, _)| k);
        out
    }

    /// A reconciler's ticker fired, or one of its creates finished.
    pub(super) fn on_autoscale(&mut self, app: usize, step: u8) {
        let now = self.now();
        let Some(fas) = &self.sc.apps[app].autoscaler else {
            return;
        };
        match step {
            step::TICK => {
                self.engine.schedule_at(
                    now + fas.interval,
                    Event::Autoscale {
                        app: app as u16,
                        step: step::TICK,
                    },
                );
                let run = self.scaler(app);
                if now < run.busy_until {
                    run.deferred = true;
                } else {
                    self.reconcile(app);
                }
            }
            _ => {
                self.clone_created(app);
                let run = self.scaler(app);
                if now >= run.busy_until && run.deferred {
                    run.deferred = false;
                    self.reconcile(app);
                }
            }
        }
    }

    fn scaler(&mut self, app: usize) -> &mut AppScaler {
        self.autoscale.apps[app]
            .as_mut()
            .expect("an autoscaled app has a reconciler")
    }

    fn record(&mut self, app: usize, row: Reconcile) {
        self.scaler(app).reconciles.push(row);
    }

    /// One reconcile of `app` (`Reconciler.Reconcile`, after `CollectMetrics`).
    fn reconcile(&mut self, app: usize) {
        let now = self.now();
        let sc = self.sc;
        let fas = sc.apps[app].autoscaler.as_ref().expect("autoscaled");
        let mut row = Reconcile {
            at: now,
            values: vec![f64::NAN; fas.collectors.len()],
            bounds: [None; 4],
            created: 0,
            started: 0,
            action: Action::None,
            count: 0,
            note: String::new(),
        };
        if self.deploy_running(app) {
            row.action = Action::Skipped;
            row.note = "release in progress, skipping reconciliation".into();
            return self.record(app, row);
        }
        // Collect every metric; one that fails skips the reconcile.
        let at = now.0 as i64 - sc.platform.metrics_query_lag.0 as i64;
        for (ci, c) in fas.collectors.iter().enumerate() {
            let first = self.autoscale.first[app][ci];
            let n = c.query.selectors.len();
            let view = View {
                sc,
                machines: self.fleet.as_slice(),
                scrapes: &self.autoscale.scrapes[first..first + n],
            };
            match c.query.eval(&view, at) {
                Value::Vector(v) if !v.is_empty() => row.values[ci] = v[0].1,
                Value::Vector(_) => {
                    row.action = Action::CollectFailed;
                    row.note = format!("collect metric ({:?}): empty prometheus result", c.name);
                    return self.record(app, row);
                }
                Value::Scalar(_) => {
                    row.action = Action::CollectFailed;
                    row.note = format!(
                        "collect metric ({:?}): unexpected prometheus result type: scalar",
                        c.name
                    );
                    return self.record(app, row);
                }
            }
        }
        let exprs = [
            &fas.min_created,
            &fas.max_created,
            &fas.min_started,
            &fas.max_started,
        ];
        for (i, e) in exprs.iter().enumerate() {
            let Some(e) = e else { continue };
            let f = e.eval(&row.values).round();
            if f.is_nan() || f.is_infinite() {
                row.action = Action::Failed;
                row.note = format!(
                    "compute {} machine count: expression returned {}",
                    if i < 2 { "created" } else { "started" },
                    if f.is_nan() { "NaN" } else { "Inf" }
                );
                return self.record(app, row);
            }
            let mut v = f.max(0.0).min(f64::from(u32::MAX)) as u32;
            if i < 2 {
                // "We cannot scale to zero as we will not have a machine available to clone."
                v = v.max(1);
            }
            row.bounds[i] = Some(v);
        }
        if fas.cannot_list {
            row.action = Action::Failed;
            row.note =
                "list machines: cannot unmarshal autostop \"suspend\" (fly-autoscaler issue #41)"
                    .into();
            return self.record(app, row);
        }
        // The group's Machines on reachable hosts, in id order.
        let listed: Vec<MachineId> = self
            .fleet
            .of_app(app)
            .filter(|&id| {
                let m = &self.fleet[id];
                m.state != MState::Destroyed
                    && m.group as usize == fas.group
                    && self.hosts[m.host].outages == 0
            })
            .collect();
        let in_state = |s: MState| -> Vec<MachineId> {
            listed
                .iter()
                .copied()
                .filter(|&id| self.fleet[id].state == s)
                .collect()
        };
        let stopped = in_state(MState::Stopped);
        let started = in_state(MState::Started);
        row.created = listed.len() as u32;
        row.started = started.len() as u32;
        let [min_c, max_c, min_s, max_s] = row.bounds;
        let created_n = row.created;
        if let Some(min) = min_c
            && created_n < min
        {
            let Some(&source) = listed.first() else {
                row.action = Action::Failed;
                row.note = "no machine available to clone for scale up".into();
                return self.record(app, row);
            };
            let n = min - created_n;
            let m = &self.fleet[source];
            let src = (m.group as usize, m.vm, m.region as usize);
            let create = sc.platform.create_time;
            // One Launch after another, while the reconcile's timeout allows.
            let room = MAX_CLONES.saturating_sub(self.scaler(app).created);
            let fit = fas
                .timeout
                .0
                .checked_div(create.0)
                .map_or(n, |k| k.min(u64::from(n)) as u32)
                .min(MAX_CREATES_PER_RECONCILE)
                .min(room);
            row.action = Action::Create;
            row.count = fit;
            if fit < n {
                row.note = format!(
                    "{} creates beyond FAS_TIMEOUT ({}) not launched",
                    n - fit,
                    fas.timeout
                );
                if room < n || fit == MAX_CREATES_PER_RECONCILE {
                    row.note = format!(
                        "{} creates not launched: flysim launches at most {MAX_CREATES_PER_RECONCILE} per reconcile and {MAX_CLONES} per run",
                        n - fit
                    );
                }
            }
            let rows = self.scaler(app).reconciles.len();
            let run = self.scaler(app);
            run.source = Some(src);
            run.creating_row = rows;
            run.busy_until = now + SimDuration(create.0 * u64::from(fit));
            for k in 1..=fit {
                self.engine.schedule_at(
                    now + SimDuration(create.0 * u64::from(k)),
                    Event::Autoscale {
                        app: app as u16,
                        step: step::CREATED,
                    },
                );
            }
            return self.record(app, row);
        }
        if let Some(max) = max_c
            && created_n > max
        {
            // Stopped Machines first, then started ones, each from the front of its list.
            let mut n = created_n - max;
            row.action = Action::Destroy;
            for id in stopped.iter().chain(started.iter()).copied() {
                if n == 0 {
                    break;
                }
                self.destroy(id);
                n -= 1;
                row.count += 1;
            }
            self.scaler(app).destroyed += row.count;
            return self.record(app, row);
        }
        let started_n = row.started;
        if let Some(min) = min_s
            && started_n < min
        {
            let want = min - started_n;
            row.action = Action::Start;
            if (stopped.len() as u32) < want {
                row.note = "not enough stopped machines available to reach target".into();
            }
            let mut failed = 0;
            for id in stopped {
                if row.count == want {
                    break;
                }
                if self.begin_start(id, false) {
                    row.count += 1;
                } else {
                    failed += 1;
                }
            }
            if failed > 0 {
                row.note = format!("{failed} could not start (no room on their host)");
            }
            let run = self.scaler(app);
            run.started += row.count;
            run.failed += failed;
            return self.record(app, row);
        }
        if let Some(max) = max_s
            && started_n > max
        {
            let n = started_n - max;
            row.action = Action::Stop;
            for &id in started.iter().take(n as usize) {
                self.begin_drain(id, DrainTo::Stop);
                row.count += 1;
            }
            self.scaler(app).stopped += row.count;
            return self.record(app, row);
        }
        self.record(app, row);
    }

    /// The current reconcile's next create finished: the clone is placed and, unless
    /// `FAS_INITIAL_MACHINE_STATE` is "stopped", started.
    fn clone_created(&mut self, app: usize) {
        let fas = self.sc.apps[app].autoscaler.as_ref().expect("autoscaled");
        let run = self.scaler(app);
        let Some((group, vm, source_region)) = run.source else {
            return;
        };
        let region = if fas.regions.is_empty() {
            source_region
        } else {
            let r = fas.regions[(run.region_seq % fas.regions.len() as u64) as usize];
            run.region_seq += 1;
            r
        };
        let mut new = NewMachine {
            ordinal: 0,
            group,
            region,
            vm,
        };
        let row = run.creating_row;
        match self.host_for_new(app, &new) {
            Some(h) => {
                new.ordinal = self.fleet.unplanned_ordinal(app);
                let id = self.spawn(app, &new, h);
                if !fas.create_stopped {
                    let ok = self.begin_start(id, false);
                    debug_assert!(ok, "the host was chosen for its room");
                }
                self.scaler(app).created += 1;
            }
            None => {
                let code = &self.sc.regions[region].code;
                let run = self.scaler(app);
                run.failed += 1;
                let r = &mut run.reconciles[row];
                if !r.note.is_empty() {
                    r.note.push_str("; ");
                }
                r.note
                    .push_str(&format!("a create found no host in {code} with room"));
            }
        }
    }
}
