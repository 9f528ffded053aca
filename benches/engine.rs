//! Engine and model throughput (criterion).
//!
//! - `hold/flysim_engine` vs `hold/bare_binary_heap`: the classic hold model, 1,000 pending
//!   events, each pop rescheduling itself at now + Exp(1) [µs], through flysim's `Engine` and
//!   through a bare `std::collections::BinaryHeap` loop, in the same run. Target: the engine
//!   at ≥ 0.7× the bare loop.
//! - `model/quickstart_13h_requests`: the full model (routing, autostop, histograms, cost) on
//!   13 hours of the quickstart scenario (the lunchtime burst included); simulated requests.
//! - `model/mm4_customers`: M/M/4 at load 0.8 through the full model (`benches/peers/mm4.toml`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use flysim::engine::{Engine, RngStreams, SimDuration, SimTime};
use rand::RngExt;
use rand_distr::Exp1;

const PENDING: u64 = 1_000;
const EVENTS: u64 = 1_000_000;

#[derive(Clone, Copy)]
enum HoldEvent {
    Tick(u32),
}

fn exp_us(rng: &mut flysim::engine::StreamRng) -> u64 {
    let e: f64 = rng.sample(Exp1);
    (e * 1_000_000.0) as u64
}

fn hold_engine() -> u64 {
    let mut rng = RngStreams::new(1, 0).stream("hold");
    let mut engine: Engine<HoldEvent> = Engine::with_capacity(PENDING as usize);
    for i in 0..PENDING {
        engine.schedule_at(SimTime(exp_us(&mut rng)), HoldEvent::Tick(i as u32));
    }
    let mut sum = 0u64;
    for _ in 0..EVENTS {
        let Some(HoldEvent::Tick(id)) = engine.next_until(SimTime::NEVER) else {
            break;
        };
        sum = sum.wrapping_add(id as u64);
        engine.schedule_in(SimDuration(exp_us(&mut rng)), HoldEvent::Tick(id));
    }
    sum ^ engine.now().0
}

fn hold_bare() -> u64 {
    let mut rng = RngStreams::new(1, 0).stream("hold");
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::with_capacity(PENDING as usize);
    for i in 0..PENDING {
        heap.push(Reverse((exp_us(&mut rng), i as u32)));
    }
    let mut sum = 0u64;
    let mut now = 0;
    for _ in 0..EVENTS {
        let Some(Reverse((t, id))) = heap.pop() else {
            break;
        };
        now = t;
        sum = sum.wrapping_add(id as u64);
        heap.push(Reverse((t + exp_us(&mut rng), id)));
    }
    sum ^ now
}

fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    g.throughput(Throughput::Elements(EVENTS));
    g.sample_size(20);
    g.bench_function("flysim_engine", |b| b.iter(|| black_box(hold_engine())));
    g.bench_function("bare_binary_heap", |b| b.iter(|| black_box(hold_bare())));
    g.finish();
}

/// Benchmarks a whole run of `sc`, counting its offered requests as the throughput unit.
fn bench_run(c: &mut Criterion, name: &str, sc: &flysim::scenario::Scenario) {
    let requests = {
        let mut sim = flysim::platform::Sim::new(sc, 0);
        sim.run();
        sim.rec.apps[0].offered
    };
    let mut g = c.benchmark_group("model");
    g.throughput(Throughput::Elements(requests));
    g.sample_size(10);
    g.bench_function(name, |b| {
        b.iter_batched(
            || flysim::platform::Sim::new(sc, 0),
            |mut sim| {
                sim.run();
                black_box(sim.rec.apps[0].served)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn model(c: &mut Criterion) {
    let sc = flysim::scenario::from_str(
        flysim::scenario::QUICKSTART,
        "quickstart.toml",
        &["duration=13h".into()],
    )
    .expect("quickstart validates")
    .scenario;
    bench_run(c, "quickstart_13h_requests", &sc);
}

/// M/M/4 at load 0.8 through the full model (one Machine, soft = hard = 4, proxy queue):
/// customers per second.
fn mm4(c: &mut Criterion) {
    let text = std::fs::read_to_string("benches/peers/mm4.toml").expect("benches/peers/mm4.toml");
    let sc = flysim::scenario::from_str(&text, "mm4.toml", &["duration=312500s".into()])
        .expect("mm4 validates")
        .scenario;
    bench_run(c, "mm4_customers", &sc);
}

criterion_group!(benches, hold, model, mm4);
criterion_main!(benches);
