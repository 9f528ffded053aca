//! A finished run turned into records: `summary.json`, `machines.csv` and `timeseries.csv` rows.
//!
//! `summary.json` is a stable interface that scripts read; keys are only ever added. The
//! layout is documented in `docs/outputs.md`.

use crate::engine::SimTime;
use crate::metrics::results::{
    AppSummary, AutoscalerTotals, Cost, CpuTotals, DeployTotals, Incidents, Latency, MachineTotals,
    QueueWait, Requests, RunSummary, ServiceRequests, SloVerdict, Volumes, Worker,
};
use crate::metrics::{FailReason, RequestCounters};
use crate::platform::autoscaler::Action;
use crate::platform::deploys::Outcome;
use crate::platform::ids::HostId;
use crate::platform::machine::{MState, STATES};
use crate::platform::{CostSplit, STATE_COLUMNS, Sim};
use crate::scenario::SECONDS_PER_BILLING_MONTH;

/// Rounds for output: 6 significant decimals is plenty and keeps files readable.
fn r6(x: f64) -> f64 {
    let v = if x.is_finite() {
        (x * 1e6).round() / 1e6
    } else {
        0.0
    };
    // An empty float sum is −0.0, and rounding keeps the sign: outputs never show "-0".
    if v == 0.0 { 0.0 } else { v }
}

/// Rounds a share [0..1] to 12 decimals: six would turn 3 failures in 10 million requests
/// into an availability of exactly 1.
fn share(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e12).round() / 1e12
    } else {
        0.0
    }
}

/// A decimal column's cell: rounded to 6 decimals, always with a decimal point (`0.0`, `5.0`,
/// `0.042111`), so that a column never changes type between rows for CSV readers.
pub fn dec(x: f64) -> String {
    let v = r6(x);
    let v = if v == 0.0 { 0.0 } else { v }; // no "-0"
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// A host's name as scenarios write it: region code and index within the region (`ams:1`).
pub fn host_name(sim: &Sim, host: HostId) -> String {
    let region = sim.hosts()[host.index()].region;
    let index = sim.hosts()[..host.index()]
        .iter()
        .filter(|h| h.region == region)
        .count();
    format!("{}:{index}", sim.scenario().regions[region as usize].code)
}

fn ms(ns: f64) -> f64 {
    r6(ns / 1e6)
}

fn requests_block(
    c: &RequestCounters,
    duration_s: f64,
    regions: &[crate::scenario::Region],
) -> Requests {
    let failed = c.failed_total();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    // Requests still in flight when the run ends have no outcome yet: they count neither as
    // served nor as failed, so a run without failures has an availability of exactly 1.
    let decided = c.served + failed;
    Requests {
        offered: c.offered,
        served: c.served,
        failed,
        failed_by_reason: FailReason::ALL
            .iter()
            .map(|&r| (r.name().to_string(), c.failed[r as usize]))
            .collect(),
        in_flight_at_end: c.in_flight,
        availability: share(ratio(c.served, decided)),
        slo_share: share(ratio(c.within_slo, decided)),
        cold_starts: c.cold_starts,
        cold_start_wait_ms_mean: if c.cold_starts == 0 {
            0.0
        } else {
            ms(c.cold_wait_ns as f64 / c.cold_starts as f64)
        },
        queued: c.queued,
        retried: c.retried,
        mean_in_flight: r6(c.in_flight_area as f64 / (duration_s * 1e9)),
        cross_region_share: share(if c.served == 0 {
            0.0
        } else {
            c.cross_region as f64 / c.served as f64
        }),
        throughput_rps: r6(c.served as f64 / duration_s),
        mean_response_ms: if c.served == 0 {
            0.0
        } else {
            ms(c.response_ns as f64 / c.served as f64)
        },
        mean_sojourn_ms: if decided == 0 {
            0.0
        } else {
            ms(c.sojourn_ns as f64 / decided as f64)
        },
        offered_by_region: regions
            .iter()
            .zip(&c.offered_by_region)
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (r.code.clone(), *n))
            .collect(),
    }
}

fn queue_block(c: &RequestCounters) -> QueueWait {
    QueueWait {
        mean: if c.queued == 0 {
            0.0
        } else {
            ms(c.queue_wait_ns as f64 / c.queued as f64)
        },
        max: ms(c.queue_wait_max_ns as f64),
    }
}

fn latency_block(h: &hdrhistogram::Histogram<u64>, c: &RequestCounters) -> Latency {
    let q = |x: f64| {
        if h.is_empty() {
            0.0
        } else {
            r6(h.value_at_quantile(x) as f64 / 1000.0)
        }
    };
    Latency {
        mean: if c.served == 0 {
            0.0
        } else {
            ms(c.latency_ns as f64 / c.served as f64)
        },
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: if h.is_empty() {
            0.0
        } else {
            r6(h.max() as f64 / 1000.0)
        },
    }
}

/// Machine totals over a set of Machines.
fn machines_block<'m>(
    sim: &Sim,
    machines: impl Iterator<Item = &'m crate::platform::machine::Machine>,
    duration_ns: f64,
) -> MachineTotals {
    let end = sim.end();
    let mut time = [0u64; STATES];
    let mut t = MachineTotals::default();
    for m in machines {
        for (a, x) in time.iter_mut().zip(m.time_in_until(end)) {
            *a += x;
        }
        t.count += 1;
        t.starts += u64::from(m.starts);
        t.autostarts += u64::from(m.autostarts);
        t.resumes += u64::from(m.resumes);
        t.stops += u64::from(m.stops);
        t.suspends += u64::from(m.suspends);
        t.failed_starts += u64::from(m.failed_starts);
        t.migrations += u64::from(m.book.migrations);
        t.snapshots_lost += u64::from(m.book.snapshots_lost);
    }
    t.time_avg = MState::ALL
        .iter()
        .map(|&s| {
            (
                s.name().to_string(),
                r6(time[s as usize] as f64 / duration_ns),
            )
        })
        .collect();
    t
}

fn cost_block(
    cost: CostSplit,
    served: u64,
    duration_s: f64,
    by_region: Option<indexmap::IndexMap<String, f64>>,
) -> Cost {
    Cost {
        total: r6(cost.total()),
        compute: r6(cost.compute),
        rootfs: r6(cost.rootfs),
        volumes: r6(cost.volumes),
        per_30_days: r6(cost.total() * SECONDS_PER_BILLING_MONTH / duration_s),
        per_million_requests: r6(if served == 0 {
            0.0
        } else {
            cost.total() / served as f64 * 1e6
        }),
        by_region,
    }
}

/// The run's `summary.json` document.
pub fn summary(sim: &Sim, replication: u64) -> RunSummary {
    let sc = sim.scenario();
    let end = sim.end();
    let duration_s = sc.duration.as_secs_f64();
    let duration_ns = sc.duration.0 as f64;
    let mut total = RequestCounters::default();
    for c in &sim.rec.apps {
        total.add(c);
    }
    let mut all_latency = crate::metrics::new_histogram();
    for h in &sim.rec.latency {
        all_latency.add(h).expect("histograms share bounds");
    }
    let mut region_costs = vec![CostSplit::default(); sc.regions.len()];
    let mut app_costs = vec![CostSplit::default(); sc.apps.len()];
    for m in sim.machines() {
        let c = sim.machine_cost(m, end);
        region_costs[m.region as usize].add(&c);
        app_costs[m.app.index()].add(&c);
    }
    for (app, region, usd) in sim.release_costs() {
        region_costs[region].compute += usd;
        app_costs[app].compute += usd;
    }
    let mut total_cost = CostSplit::default();
    for c in &app_costs {
        total_cost.add(c);
    }
    let by_region = sc
        .regions
        .iter()
        .zip(&region_costs)
        .map(|(r, c)| (r.code.clone(), r6(c.total())))
        .collect();
    let apps = sc
        .apps
        .iter()
        .enumerate()
        .map(|(ai, app)| {
            let c = &sim.rec.apps[ai];
            let mine = sim.machines().iter().filter(|m| m.app.index() == ai);
            let summary = AppSummary {
                requests: requests_block(c, duration_s, &sc.regions),
                queue_wait_ms: queue_block(c),
                latency_ms: latency_block(&sim.rec.latency[ai], c),
                machines: machines_block(sim, mine, duration_ns),
                cost_usd: cost_block(app_costs[ai], c.served, duration_s, None),
                services: if app.services.len() > 1 {
                    app.services
                        .iter()
                        .enumerate()
                        .map(|(si, s)| {
                            let [offered, served, failed] = sim.rec.routes[sc.route(ai, si)];
                            let decided = served + failed;
                            let availability = if decided == 0 {
                                1.0
                            } else {
                                share(served as f64 / decided as f64)
                            };
                            let r = ServiceRequests {
                                offered,
                                served,
                                failed,
                                availability,
                            };
                            (s.name.clone(), r)
                        })
                        .collect()
                } else {
                    indexmap::IndexMap::new()
                },
            };
            (app.name.clone(), summary)
        })
        .collect();
    let decided = total.served + total.failed_total();
    let availability = if decided == 0 {
        1.0
    } else {
        total.served as f64 / decided as f64
    };
    let p99_ms = if all_latency.is_empty() {
        0.0
    } else {
        all_latency.value_at_quantile(0.99) as f64 / 1000.0
    };
    RunSummary {
        schema_version: crate::metrics::results::SCHEMA_VERSION,
        flysim_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: sc.name.clone(),
        scenario_hash: sc.hash.clone(),
        seed: sc.seed,
        replication: Some(replication),
        duration_s: r6(duration_s),
        events: sim.events,
        requests: requests_block(&total, duration_s, &sc.regions),
        queue_wait_ms: queue_block(&total),
        latency_ms: latency_block(&all_latency, &total),
        machines: machines_block(sim, sim.machines().iter(), duration_ns),
        cost_usd: cost_block(total_cost, total.served, duration_s, Some(by_region)),
        slo: SloVerdict {
            availability_target: sc.slo.availability,
            latency_p99_target_ms: sc.slo.latency_p99.as_millis_f64(),
            availability_met: availability >= sc.slo.availability,
            latency_p99_met: p99_ms <= sc.slo.latency_p99.as_millis_f64(),
        },
        apps,
        workers: workers(sim),
        incidents: incidents_block(sim),
        volumes: Volumes {
            lost: sim
                .incidents()
                .iter()
                .map(|i| u64::from(i.volumes_lost))
                .sum(),
            data_lost_hours: r6(sim
                .incidents()
                .iter()
                .map(|i| i.data_lost_hours)
                .sum::<f64>()),
        },
        cpu: cpu_block(sim),
        deploys: deploys_block(sim),
        autoscaler: autoscaler_block(sim),
        replications: None,
        ci95: None,
    }
}

/// The deploys block of `summary.json`, when the scenario has deploys.
fn deploys_block(sim: &Sim) -> Option<DeployTotals> {
    let sc = sim.scenario();
    if sc.deploys.is_empty() {
        return None;
    }
    let mut t = DeployTotals::default();
    let (mut served, mut failed) = (0u64, 0u64);
    let (mut secs, mut cost) = (0.0, 0.0);
    for (k, r) in sim.deploys().iter().enumerate() {
        let Some(start) = r.started else { continue };
        t.count += 1;
        if r.outcome == Outcome::Complete {
            t.complete += 1;
        } else if r.outcome != Outcome::Running {
            t.failed += 1;
        }
        let end = r.ended.unwrap_or(sim.end());
        t.time_s += end.since(start).as_secs_f64();
        t.requests_failed += r.during[0];
        t.cold_starts += r.during[1];
        failed += r.during[0];
        served += r.during[2];
        t.latency_p99_ms_worst = t.latency_p99_ms_worst.max(r.p99_ms);
        let (s, c) = sim.deploy_extra(k);
        secs += s;
        cost += c;
    }
    t.time_s = r6(t.time_s);
    t.availability = share(if served + failed == 0 {
        1.0
    } else {
        served as f64 / (served + failed) as f64
    });
    t.created_machine_s = r6(secs);
    t.extra_cost_usd = r6(cost);
    Some(t)
}

/// The autoscaler block of `summary.json`, when an app has fly-autoscaler.
fn autoscaler_block(sim: &Sim) -> Option<AutoscalerTotals> {
    let mut t: Option<AutoscalerTotals> = None;
    for a in sim.autoscalers().iter().flatten() {
        let t = t.get_or_insert_with(AutoscalerTotals::default);
        t.reconciles += a.reconciles.len() as u64;
        for r in &a.reconciles {
            match r.action {
                Action::Skipped => t.skipped += 1,
                Action::Failed | Action::CollectFailed => t.failed += 1,
                Action::None => {}
                Action::Create | Action::Destroy | Action::Start | Action::Stop => t.scaled += 1,
            }
        }
        t.created += u64::from(a.created);
        t.destroyed += u64::from(a.destroyed);
        t.started += u64::from(a.started);
        t.stopped += u64::from(a.stopped);
        t.no_room += u64::from(a.failed);
    }
    t
}

/// `autoscaler.csv`: one row per reconcile of each autoscaled app.
pub fn autoscaler_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let header = [
        "app",
        "time_s",
        "metrics",
        "min_created",
        "max_created",
        "min_started",
        "max_started",
        "created",
        "started",
        "action",
        "count",
        "note",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut rows = Vec::new();
    for (ai, a) in sim.autoscalers().iter().enumerate() {
        let (Some(a), Some(fas)) = (a, &sc.apps[ai].autoscaler) else {
            continue;
        };
        for r in &a.reconciles {
            let metrics: Vec<String> = fas
                .collectors
                .iter()
                .zip(&r.values)
                .map(|(c, v)| {
                    if v.is_nan() {
                        format!("{}=", c.name)
                    } else {
                        format!("{}={}", c.name, dec(*v))
                    }
                })
                .collect();
            let bound = |b: Option<u32>| b.map_or(String::new(), |v| v.to_string());
            rows.push(vec![
                sc.apps[ai].name.clone(),
                dec(r.at.as_secs_f64()),
                metrics.join(";"),
                bound(r.bounds[0]),
                bound(r.bounds[1]),
                bound(r.bounds[2]),
                bound(r.bounds[3]),
                r.created.to_string(),
                r.started.to_string(),
                r.action.name().to_string(),
                r.count.to_string(),
                r.note.clone(),
            ]);
        }
    }
    (header, rows)
}

/// `deploys.csv`: one row per `[[deploy]]`, with what it did and what it cost.
pub fn deploys_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let header = [
        "deploy",
        "app",
        "strategy",
        "max_unavailable",
        "start_s",
        "end_s",
        "duration_s",
        "outcome",
        "why",
        "machines_replaced",
        "machines_created",
        "requests_failed",
        "cold_starts",
        "served",
        "latency_p99_ms",
        "created_machine_s",
        "release_s",
        "extra_cost_usd",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows = sc
        .deploys
        .iter()
        .zip(sim.deploys())
        .enumerate()
        .map(|(k, (d, r))| {
            let (secs, cost) = sim.deploy_extra(k);
            let end = r.ended.or(r.started.map(|_| sim.end()));
            vec![
                k.to_string(),
                sc.apps[d.app].name.clone(),
                d.config.strategy.name().to_string(),
                dec(d.config.max_unavailable),
                r.started.map_or(String::new(), |t| dec(t.as_secs_f64())),
                r.ended.map_or(String::new(), |t| dec(t.as_secs_f64())),
                match (r.started, end) {
                    (Some(s), Some(e)) => dec(e.since(s).as_secs_f64()),
                    _ => String::new(),
                },
                if r.started.is_some() {
                    r.outcome.name().to_string()
                } else {
                    "not_reached".to_string()
                },
                r.why.clone(),
                r.replaced.to_string(),
                r.created.len().to_string(),
                r.during[0].to_string(),
                r.during[1].to_string(),
                r.during[2].to_string(),
                dec(r.p99_ms),
                dec(secs),
                dec(r.release_s),
                dec(cost),
            ]
        })
        .collect();
    (header, rows)
}

/// The CPU block of `summary.json`, when the scenario models CPU quotas.
fn cpu_block(sim: &Sim) -> Option<CpuTotals> {
    let sc = sim.scenario();
    if !sc.models_cpu() {
        return None;
    }
    let end = sim.end();
    let (mut machines, mut used, mut throttled, mut running, mut vcpu) = (0u64, 0.0, 0.0, 0.0, 0.0);
    let (mut balance, mut running_now) = (0.0, 0u32);
    for id in 0..sim.machines().len() {
        let Some(q) = sim.quota_at(crate::platform::ids::MachineId::at(id), end) else {
            continue;
        };
        machines += 1;
        used += q.used;
        throttled += q.throttled_ns;
        running += q.running_ns;
        vcpu += q.vcpu_ns;
        if q.running {
            balance += q.balance;
            running_now += 1;
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let (mut served, mut served_throttled) = (0, 0);
    for (a, c) in sc.apps.iter().zip(&sim.rec.apps) {
        if a.cpu.is_some() {
            served += c.served;
            served_throttled += c.served_throttled;
        }
    }
    Some(CpuTotals {
        machines,
        used_s: r6(used / 1e9),
        utilisation: share(ratio(used, vcpu)),
        throttled_share: share(ratio(throttled, running)),
        served_throttled,
        served_throttled_share: share(ratio(served_throttled as f64, served as f64)),
        balance_s_mean_at_end: r6(ratio(balance, f64::from(running_now)) / 1e9),
    })
}

/// Availability of every process group that takes no requests: the share of the run with at
/// least one of its Machines started. Keyed by group name (`<app>.<group>` when two apps share
/// a group name).
fn workers(sim: &Sim) -> indexmap::IndexMap<String, Worker> {
    let sc = sim.scenario();
    let mut out = indexmap::IndexMap::new();
    for (ai, app) in sc.apps.iter().enumerate() {
        for (gi, g) in app.groups.iter().enumerate() {
            if app.served_groups.contains(&gi) {
                continue;
            }
            let clash = sc
                .apps
                .iter()
                .enumerate()
                .any(|(aj, other)| aj != ai && other.groups.iter().any(|x| x.name == g.name));
            let key = if clash {
                format!("{}.{}", app.name, g.name)
            } else {
                g.name.clone()
            };
            out.insert(
                key,
                Worker {
                    app: app.name.clone(),
                    availability: share(sim.group_availability(ai, gi)),
                },
            );
        }
    }
    out
}

fn incidents_block(sim: &Sim) -> Incidents {
    let end = sim.end();
    let recovery: Vec<f64> = sim
        .incidents()
        .iter()
        .filter_map(|i| i.recovered.map(|r| (r - i.start).as_secs_f64()))
        .collect();
    let takeovers: Vec<f64> = sim
        .incidents()
        .iter()
        .filter_map(|i| i.takeover.map(|t| (t - i.start).as_secs_f64()))
        .collect();
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            r6(v.iter().sum::<f64>() / v.len() as f64)
        }
    };
    Incidents {
        count: sim.incidents().len() as u64,
        host_down_s_total: r6(sim
            .incidents()
            .iter()
            .map(|i| (i.host_back.unwrap_or(end) - i.start).as_secs_f64())
            .sum::<f64>()),
        recovery_s_mean: mean(&recovery),
        takeovers: takeovers.len() as u64,
        takeover_s_mean: mean(&takeovers),
        requests_failed_on_host: sim
            .incidents()
            .iter()
            .map(|i| i.requests_failed_on_host)
            .sum(),
    }
}

/// `incidents.csv`: one row per host failure.
pub fn incidents_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let header: Vec<String> = [
        "start_s",
        "host",
        "region",
        "machines",
        "detected_s",
        "takeover_s",
        "host_back_s",
        "recovered_s",
        "recovery_duration_s",
        "requests_failed_on_host",
        "requests_failed_during",
        "volumes_lost",
        "data_lost_hours",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let secs = |t: Option<SimTime>| t.map_or(String::new(), |t| dec(t.as_secs_f64()));
    let rows = sim
        .incidents()
        .iter()
        .map(|i| {
            let names: Vec<String> = i
                .machines
                .iter()
                .map(|&m| {
                    let m = sim.machine(m);
                    format!("{}:{}", sc.apps[m.app.index()].name, m.ordinal)
                })
                .collect();
            vec![
                secs(Some(i.start)),
                host_name(sim, i.host),
                sc.regions[i.region as usize].code.clone(),
                names.join(" "),
                secs(i.detected),
                secs(i.takeover),
                secs(i.host_back),
                secs(i.recovered),
                i.recovered
                    .map_or(String::new(), |r| dec((r - i.start).as_secs_f64())),
                i.requests_failed_on_host.to_string(),
                i.requests_failed_during.to_string(),
                i.volumes_lost.to_string(),
                dec(i.data_lost_hours),
            ]
        })
        .collect();
    (header, rows)
}

/// `states.csv`: each Machine's state intervals (for the state timeline chart). Needs a Sim
/// run with tracing on.
pub fn states_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let header = ["machine", "start_s", "end_s", "state"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let trace = sim.trace().unwrap_or(&[]);
    let mut per_machine: Vec<Vec<&crate::platform::Transition>> =
        vec![Vec::new(); sim.machines().len()];
    for t in trace {
        per_machine[t.machine.index()].push(t);
    }
    let mut rows = Vec::new();
    for (id, m) in sim.machines().iter().enumerate() {
        let name = format!("{}:{}", sc.apps[m.app.index()].name, m.ordinal);
        let ts = &per_machine[id];
        let mut state = ts.first().map_or(m.state, |t| t.from);
        let mut since = m.book.created_at;
        let mut push = |from: SimTime, to: SimTime, s: MState| {
            if to > from {
                rows.push(vec![
                    name.clone(),
                    dec(from.as_secs_f64()),
                    dec(to.as_secs_f64()),
                    s.name().to_string(),
                ]);
            }
        };
        for t in ts {
            push(since, t.at, state);
            state = t.to;
            since = t.at;
        }
        if state != MState::Destroyed {
            push(since, sim.end(), state);
        }
    }
    (header, rows)
}

/// `latency.csv`: the latency distribution of all served requests as (latency, share served
/// within it) steps, from the HDR histogram.
pub fn latency_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let mut all = crate::metrics::new_histogram();
    for h in &sim.rec.latency {
        all.add(h).expect("histograms share bounds");
    }
    let header = vec!["latency_ms".to_string(), "share".to_string()];
    let total = all.len().max(1) as f64;
    let mut rows = Vec::new();
    let mut cumulative = 0u64;
    let mut last = -1.0;
    for v in all.iter_recorded() {
        cumulative += v.count_at_value();
        // Thin the body of the curve to steps of 0.05 %; keep every point of the last 1 %.
        let share = cumulative as f64 / total;
        if share - last < 0.0005 && share < 0.99 && cumulative < all.len() {
            continue;
        }
        last = share;
        rows.push(vec![
            dec(all.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0),
            dec(cumulative as f64 / total),
        ]);
    }
    (header, rows)
}

/// `cost.csv`: cost by app, region and component.
pub fn cost_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let header = ["app", "region", "compute_usd", "rootfs_usd", "volumes_usd"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut split = vec![vec![CostSplit::default(); sc.regions.len()]; sc.apps.len()];
    for m in sim.machines() {
        split[m.app.index()][m.region as usize].add(&sim.machine_cost(m, sim.end()));
    }
    for (app, region, usd) in sim.release_costs() {
        split[app][region].compute += usd;
    }
    let mut rows = Vec::new();
    for (ai, app) in sc.apps.iter().enumerate() {
        for (ri, region) in sc.regions.iter().enumerate() {
            let c = split[ai][ri];
            if c.total() > 0.0 {
                rows.push(vec![
                    app.name.clone(),
                    region.code.clone(),
                    dec(c.compute),
                    dec(c.rootfs),
                    dec(c.volumes),
                ]);
            }
        }
    }
    (header, rows)
}

/// `machines.csv`: header and one row per Machine.
pub fn machines_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let end: SimTime = sim.end();
    let mut header: Vec<String> = [
        "machine",
        "app",
        "group",
        "region",
        "host",
        "cpu_kind",
        "cpus",
        "memory_mb",
        "final_state",
        "created_s",
        "destroyed_s",
        "sizes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for s in MState::ALL {
        header.push(format!("seconds_{}", s.name()));
    }
    for h in [
        "starts",
        "autostarts",
        "resumes",
        "stops",
        "suspends",
        "failed_starts",
        "migrations",
        "served",
        "cost_compute_usd",
        "cost_rootfs_usd",
        "cost_volume_usd",
    ] {
        header.push(h.into());
    }
    let cpu = sc.models_cpu();
    if cpu {
        for h in ["cpu_s", "cpu_throttled_s", "cpu_balance_s"] {
            header.push(h.into());
        }
    }
    let rows = sim
        .machines()
        .iter()
        .enumerate()
        .map(|(id, m)| {
            let app = &sc.apps[m.app.index()];
            let vm = m.vm;
            let mut row = vec![
                format!("{}:{}", app.name, m.ordinal),
                app.name.clone(),
                app.groups[m.group as usize].name.clone(),
                sc.regions[m.region as usize].code.clone(),
                host_name(sim, m.host),
                vm.cpu_kind.to_string(),
                vm.cpus.to_string(),
                vm.memory_mb.to_string(),
                m.state.name().to_string(),
                dec(m.book.created_at.as_secs_f64()),
                if m.state == MState::Destroyed {
                    dec(m.since.as_secs_f64())
                } else {
                    String::new()
                },
                size_history(m),
            ];
            let t = m.time_in_until(end);
            for s in MState::ALL {
                row.push(dec(t[s as usize] as f64 / 1e9));
            }
            let c = sim.machine_cost(m, end);
            for v in [
                m.starts,
                m.autostarts,
                m.resumes,
                m.stops,
                m.suspends,
                m.failed_starts,
                m.book.migrations,
            ] {
                row.push(v.to_string());
            }
            row.push(m.served.to_string());
            row.push(dec(c.compute));
            row.push(dec(c.rootfs));
            row.push(dec(c.volumes));
            if cpu {
                match sim.quota_at(crate::platform::ids::MachineId::at(id), end) {
                    Some(q) => {
                        row.push(dec(q.used / 1e9));
                        row.push(dec(q.throttled_ns / 1e9));
                        row.push(dec(q.balance / 1e9));
                    }
                    None => row.extend([String::new(), String::new(), String::new()]),
                }
            }
            row
        })
        .collect();
    (header, rows)
}

/// A Machine's sizes over its life: `<from_s>=<cpu_kind>/<cpus>/<memory_mb>`, space separated
/// (`0.0=shared/1/256 64800.0=performance/1/2048`).
fn size_history(m: &crate::platform::machine::Machine) -> String {
    let size = |at: SimTime, vm: &crate::scenario::VmSize| {
        format!(
            "{}={}/{}/{}",
            dec(at.as_secs_f64()),
            vm.cpu_kind,
            vm.cpus,
            vm.memory_mb
        )
    };
    let mut out = size(m.book.created_at, &m.book.first_vm);
    for (at, vm) in &m.book.resized {
        out.push(' ');
        out.push_str(&size(*at, vm));
    }
    out
}

/// `actions.csv`: one row per `[[action]]`, with what it did.
pub fn actions_csv(sim: &Sim) -> (Vec<String>, Vec<Vec<String>>) {
    let sc = sim.scenario();
    let header = [
        "at_s",
        "app",
        "kind",
        "command",
        "created",
        "destroyed",
        "changed",
        "failed",
        "done_s",
        "notes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows = sc
        .actions
        .iter()
        .zip(sim.actions())
        .map(|(a, run)| {
            vec![
                dec(a.at.as_secs_f64()),
                sc.apps[a.app].name.clone(),
                a.kind.name().to_string(),
                a.command.clone(),
                run.created.to_string(),
                run.destroyed.to_string(),
                run.changed.to_string(),
                run.failed.to_string(),
                run.done_at.map_or(String::new(), |t| dec(t.as_secs_f64())),
                run.notes.join("; "),
            ]
        })
        .collect();
    (header, rows)
}

/// `timeseries.csv`, one row per bucket, as CSV bytes: rows are formatted one at a time, so a
/// month of buckets never sits in memory as strings.
pub fn timeseries_csv(sim: &Sim) -> Vec<u8> {
    let sc = sim.scenario();
    let mut header: Vec<String> = [
        "t_start_s",
        "offered",
        "served",
        "failed",
        "cold_starts",
        "offered_rps",
        "served_rps",
        "latency_p50_ms",
        "latency_p90_ms",
        "latency_p99_ms",
        "latency_max_ms",
        "mean_in_flight",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in &sc.regions {
        for s in STATE_COLUMNS {
            header.push(format!("{}_{}", s.name(), r.code));
        }
    }
    header.push("cost_usd".into());
    if sc.models_cpu() {
        for r in &sc.regions {
            for c in ["cpu_util", "cpu_balance_s", "cpu_throttled"] {
                header.push(format!("{c}_{}", r.code));
            }
        }
    }
    let rows = sim.rec.rows.iter().map(|b| {
        let mut row = vec![
            dec(b.start_s),
            b.offered.to_string(),
            b.served.to_string(),
            b.failed.to_string(),
            b.cold_starts.to_string(),
            dec(b.offered as f64 / b.width_s),
            dec(b.served as f64 / b.width_s),
        ];
        row.extend(b.latency_ms.iter().map(|x| dec(*x)));
        row.push(dec(b.mean_in_flight));
        row.extend(b.machines.iter().map(|x| dec(*x)));
        row.push(dec(b.cost_usd));
        row.extend(b.cpu.iter().map(|x| dec(*x)));
        row
    });
    crate::output::csv_from_rows(&header, rows)
}

/// `inputs.json`: what the scenario gives a run, in a planner's words (the report's inputs).
pub fn inputs(sc: &crate::scenario::Scenario) -> crate::metrics::results::InputsDoc {
    use crate::metrics::results::{InputApp, InputMachines, InputRegion, InputService, InputsDoc};
    use crate::output::figures::{duration_ms, short};
    use crate::scenario::{Autostop, Dist, Fault, Shape, Tail};
    let region = |r: usize| sc.regions[r].code.clone();
    let secs = |d: crate::engine::SimDuration| duration_ms(d.as_millis_f64());
    let dist = |d: &Dist| -> String {
        let tail = |t: &Tail| match t {
            Tail::Exponential(m) => format!("exponential, mean {}", secs(*m)),
            Tail::LogNormal { mu, sigma } => format!(
                "lognormal, median {}, p99 {}",
                duration_ms(mu.exp() * 1000.0),
                duration_ms((mu + 2.326_348 * sigma).exp() * 1000.0)
            ),
        };
        match d {
            Dist::Constant(x) => format!("constant {}", secs(*x)),
            Dist::Exponential(m) => tail(&Tail::Exponential(*m)),
            Dist::LogNormal { mu, sigma } => tail(&Tail::LogNormal {
                mu: *mu,
                sigma: *sigma,
            }),
            Dist::Uniform(a, b) => format!("uniform {} to {}", secs(*a), secs(*b)),
            Dist::Capped { tail: t, max } => format!("{}, at most {}", tail(t), secs(*max)),
        }
    };
    let apps = sc
        .apps
        .iter()
        .map(|app| InputApp {
            name: app.name.clone(),
            services: app
                .services
                .iter()
                .map(|s| InputService {
                    name: s.name.clone(),
                    concurrency: format!("{:?}", s.concurrency).to_lowercase(),
                    soft_limit: s.soft_limit,
                    hard_limit: (s.hard_limit != u32::MAX).then_some(s.hard_limit),
                    auto_stop_machines: match s.autostop {
                        Autostop::Off => "off",
                        Autostop::Stop => "stop",
                        Autostop::Suspend => "suspend",
                    }
                    .to_string(),
                    auto_start_machines: s.autostart,
                    min_machines_running: s.min_machines_running,
                })
                .collect(),
            machines: app
                .machines
                .iter()
                .map(|m| {
                    let g = &app.groups[m.group];
                    InputMachines {
                        group: g.name.clone(),
                        regions: m.per_region.iter().map(|&(r, n)| (region(r), n)).collect(),
                        size: format!(
                            "{} {} vCPU, {} MB",
                            g.vm.cpu_kind, g.vm.cpus, g.vm.memory_mb
                        ),
                        state: if !m.standby_for.is_empty() {
                            "standby"
                        } else if m.started {
                            "started"
                        } else {
                            "stopped"
                        }
                        .to_string(),
                    }
                })
                .collect(),
            traffic: app
                .traffic
                .iter()
                .map(|t| {
                    let from: Vec<String> = t
                        .from
                        .iter()
                        .map(|(r, share)| {
                            if t.from.len() == 1 {
                                region(*r)
                            } else {
                                format!("{} {} %", region(*r), short(share * 100.0))
                            }
                        })
                        .collect();
                    let shape = match &t.shape {
                        Shape::Constant(r) => format!("constant {} requests/s", short(*r)),
                        Shape::Poisson(r) => format!("Poisson {} requests/s", short(*r)),
                        Shape::Diurnal {
                            mean,
                            peak,
                            peak_at,
                        } => format!(
                            "diurnal, mean {} requests/s, peak {} at {}",
                            short(*mean),
                            short(*peak),
                            secs(*peak_at)
                        ),
                        Shape::Trace(_) => "a replayed trace".to_string(),
                    };
                    let service = &app.services[t.service.min(app.services.len() - 1)].name;
                    format!("{shape} from {} to {service}", from.join(", "))
                })
                .collect(),
            request: format!(
                "service time {}; app boot {}",
                dist(&app.service_time),
                dist(&app.app_boot)
            ),
        })
        .collect();
    let faults = sc
        .faults
        .iter()
        .map(|f| match f {
            Fault::HostFailures { regions, .. } if regions.is_empty() => {
                "host failures in every region".to_string()
            }
            Fault::HostFailures { regions, .. } => format!(
                "host failures in {}",
                regions
                    .iter()
                    .map(|&r| region(r))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Fault::Outage { .. } => "a scheduled outage".to_string(),
            Fault::MachineCrashes { .. } => "Machine crashes".to_string(),
        })
        .collect();
    InputsDoc {
        duration_s: sc.duration.as_secs_f64(),
        replications: sc.replications,
        slo_availability: sc.slo.availability,
        slo_latency_p99_ms: sc.slo.latency_p99.as_millis_f64(),
        regions: sc
            .regions
            .iter()
            .map(|r| InputRegion {
                code: r.code.clone(),
                hosts: r.hosts.len() as u64,
            })
            .collect(),
        apps,
        faults,
        actions: sc
            .actions
            .iter()
            .map(|a| format!("at {}: {}", secs(a.at), a.command))
            .collect(),
        deploys: sc
            .deploys
            .iter()
            .map(|d| {
                format!(
                    "at {}: fly deploy of {} ({})",
                    secs(d.at),
                    sc.apps[d.app].name,
                    d.config.strategy.name()
                )
            })
            .collect(),
    }
}
