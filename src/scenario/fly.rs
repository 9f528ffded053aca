//! The fly.toml part of an app: the keys that change simulated behaviour.
//!
//! Read leniently, as real fly.toml files carry many keys the simulator has no use for (build,
//! env, statics, checks...): those are listed once as "ignored", never errors. Values that
//! cannot be right (an unknown `auto_stop_machines`, a negative limit) are errors. Defaults
//! follow Fly's documentation: concurrency `connections` with soft limit 20 and no hard limit,
//! `auto_stop_machines = "off"`, `auto_start_machines = true`, `min_machines_running = 0`,
//! `kill_timeout = 5s`, size `shared-cpu-1x` (256 MB).

use super::doc::{Node, Origin, Value};
use super::reader::{Problems, TableReader};
use super::{Autostop, ConcurrencyKind, CpuKind, Service, VmSize};
use crate::engine::SimDuration;

/// What the simulator takes from one fly.toml.
#[derive(Clone, Debug)]
pub struct FlyApp {
    /// `app`, if given.
    pub app: Option<String>,
    /// `primary_region`, with where it was written.
    pub primary_region: Option<(String, Origin)>,
    /// The service requests go to (`[http_service]`, else the first `[[services]]`).
    pub service: Option<Service>,
    /// The Machine size.
    pub vm: VmSize,
    /// `swap_size_mb`.
    pub swap_mb: u64,
    /// `kill_timeout`.
    pub kill_timeout: SimDuration,
}

/// Fly's size presets: name → (cpu kind, vCPUs, base memory MB).
/// Source: fly-go `MachinePresets` (shared 256 MB per vCPU, performance 2048 MB per vCPU).
pub fn preset(name: &str) -> Option<VmSize> {
    let (kind, cpus) = match name {
        "shared-cpu-1x" => (CpuKind::Shared, 1),
        "shared-cpu-2x" => (CpuKind::Shared, 2),
        "shared-cpu-4x" => (CpuKind::Shared, 4),
        "shared-cpu-6x" => (CpuKind::Shared, 6),
        "shared-cpu-8x" => (CpuKind::Shared, 8),
        "performance-1x" => (CpuKind::Performance, 1),
        "performance-2x" => (CpuKind::Performance, 2),
        "performance-4x" => (CpuKind::Performance, 4),
        "performance-6x" => (CpuKind::Performance, 6),
        "performance-8x" => (CpuKind::Performance, 8),
        "performance-10x" => (CpuKind::Performance, 10),
        "performance-12x" => (CpuKind::Performance, 12),
        "performance-14x" => (CpuKind::Performance, 14),
        "performance-16x" => (CpuKind::Performance, 16),
        _ => return None,
    };
    let per_cpu = match kind {
        CpuKind::Shared => 256,
        CpuKind::Performance => 2048,
    };
    Some(VmSize {
        cpu_kind: kind,
        cpus,
        memory_mb: per_cpu * cpus as u64,
    })
}

const PRESETS: &str = "shared-cpu-1x/2x/4x/6x/8x or performance-1x/2x/4x/6x/8x/10x/12x/14x/16x";

/// Reads a fly.toml table (inline `[app.fly]` or a whole file) at key path `path`.
pub fn read(node: &Node, path: &str, p: &mut Problems) -> FlyApp {
    let mut t = TableReader::new(node, path, p);
    let app = t.opt_str(p, "app");
    let primary_region = t.take("primary_region").and_then(|n| match &n.value {
        Value::Str(s) => Some((s.clone(), n.origin.clone())),
        _ => {
            p.error(
                &n.origin,
                &t.key_path("primary_region"),
                format!("expected a region code such as \"ams\", got {}", n.value),
            );
            None
        }
    });
    let kill_timeout = match t.take("kill_timeout") {
        None => SimDuration::from_secs(5),
        Some(n) => kill_timeout(n, &t.key_path("kill_timeout"), p),
    };
    let swap_mb = t.opt_int(p, "swap_size_mb", 0, i64::MAX).unwrap_or(0) as u64;

    let mut services = Vec::new();
    if let Some(n) = t.take("http_service") {
        services.push(read_service(n, &t.key_path("http_service"), p));
    }
    for (spath, n) in t.opt_tables(p, "services") {
        services.push(read_service(n, &spath, p));
    }
    if services.len() > 1 {
        p.warning(
            t.origin(),
            path,
            format!(
                "{} services defined; flysim routes the app's traffic to the first ([http_service] if present)",
                services.len()
            ),
        );
    }
    let service = services.into_iter().next();

    let mut vms = Vec::new();
    for key in ["vm", "compute", "computes"] {
        for (vpath, n) in t.opt_tables(p, key) {
            vms.push(read_vm(n, &vpath, p));
        }
    }
    if vms.len() > 1 {
        p.warning(
            t.origin(),
            path,
            "several [[vm]] sections; flysim sizes every Machine by the first",
        );
    }
    let vm = vms.into_iter().next().unwrap_or(VmSize {
        cpu_kind: CpuKind::Shared,
        cpus: 1,
        memory_mb: 256,
    });
    t.finish_lenient(p);
    FlyApp {
        app,
        primary_region,
        service,
        vm,
        swap_mb,
        kill_timeout,
    }
}

/// `kill_timeout`: a duration string, or an integer of seconds (older files); at most 300 s.
fn kill_timeout(n: &Node, path: &str, p: &mut Problems) -> SimDuration {
    let d = match &n.value {
        Value::Int(s) if *s >= 0 => Some(SimDuration::from_secs(*s as u64)),
        Value::Str(s) => super::units::parse_duration(s),
        _ => None,
    };
    match d {
        Some(d) if d <= SimDuration::from_secs(300) => d,
        Some(_) => {
            p.warning(&n.origin, path, "Fly caps kill_timeout at 300s; using 300s");
            SimDuration::from_secs(300)
        }
        None => {
            p.error(
                &n.origin,
                path,
                format!(
                    "expected a duration such as \"30s\" or whole seconds, got {}",
                    n.value
                ),
            );
            SimDuration::from_secs(5)
        }
    }
}

fn read_service(node: &Node, path: &str, p: &mut Problems) -> Service {
    let mut t = TableReader::new(node, path, p);
    let autostop = match t.take("auto_stop_machines") {
        None => Autostop::Off,
        Some(n) => match &n.value {
            Value::Bool(false) => Autostop::Off,
            Value::Bool(true) => Autostop::Stop,
            Value::Str(s) if s == "off" => Autostop::Off,
            Value::Str(s) if s == "stop" => Autostop::Stop,
            Value::Str(s) if s == "suspend" => Autostop::Suspend,
            other => {
                p.error(
                    &n.origin,
                    &t.key_path("auto_stop_machines"),
                    format!("expected \"off\", \"stop\", \"suspend\", true or false, got {other}"),
                );
                Autostop::Off
            }
        },
    };
    let autostart = t.opt_bool(p, "auto_start_machines").unwrap_or(true);
    let min_machines_running = t
        .opt_int(p, "min_machines_running", 0, u32::MAX as i64)
        .unwrap_or(0) as u32;
    let (concurrency, mut soft_limit, hard_limit) = match t.take("concurrency") {
        None => (ConcurrencyKind::Connections, 20, u32::MAX),
        Some(n) => read_concurrency(n, &t.key_path("concurrency"), p),
    };
    if soft_limit > hard_limit {
        p.warning(
            t.origin(),
            &t.key_path("concurrency"),
            format!("soft_limit {soft_limit} is above hard_limit {hard_limit}; using {hard_limit} for both"),
        );
        soft_limit = hard_limit;
    }
    t.finish_lenient(p);
    Service {
        concurrency,
        soft_limit,
        hard_limit,
        autostop,
        autostart,
        min_machines_running,
    }
}

/// `concurrency`: a table `{ type, soft_limit, hard_limit }` or the legacy string
/// `"<soft>,<hard>"` (read as type `requests`, as flyctl does).
fn read_concurrency(n: &Node, path: &str, p: &mut Problems) -> (ConcurrencyKind, u32, u32) {
    if let Value::Str(s) = &n.value {
        let parts: Vec<Option<u32>> = s.split(',').map(|x| x.trim().parse().ok()).collect();
        if let [Some(soft), Some(hard)] = parts[..] {
            if soft >= 1 && hard >= 1 {
                return (ConcurrencyKind::Requests, soft, hard);
            }
        }
        p.error(
            &n.origin,
            path,
            format!("expected \"<soft>,<hard>\" with two positive integers, got {s:?}"),
        );
        return (ConcurrencyKind::Connections, 20, u32::MAX);
    }
    let mut t = TableReader::new(n, path, p);
    let kind = match t.opt_str(p, "type").as_deref() {
        None | Some("connections") => ConcurrencyKind::Connections,
        Some("requests") => ConcurrencyKind::Requests,
        Some(other) => {
            p.error(
                t.origin(),
                &t.key_path("type"),
                format!("expected \"connections\" or \"requests\", got {other:?}"),
            );
            ConcurrencyKind::Connections
        }
    };
    let soft = t
        .opt_int(p, "soft_limit", 1, u32::MAX as i64)
        .map(|x| x as u32);
    let hard = t
        .opt_int(p, "hard_limit", 1, u32::MAX as i64)
        .map(|x| x as u32);
    t.finish_lenient(p);
    (kind, soft.unwrap_or(20), hard.unwrap_or(u32::MAX))
}

fn read_vm(node: &Node, path: &str, p: &mut Problems) -> VmSize {
    let mut t = TableReader::new(node, path, p);
    let mut vm = VmSize {
        cpu_kind: CpuKind::Shared,
        cpus: 1,
        memory_mb: 256,
    };
    if let Some(size) = t.opt_str(p, "size") {
        match preset(&size) {
            Some(v) => vm = v,
            None => p.error(
                t.origin(),
                &t.key_path("size"),
                format!("unknown size preset {size:?}; expected {PRESETS}"),
            ),
        }
    }
    match t.opt_str(p, "cpu_kind").as_deref() {
        None => {}
        Some("shared") => vm.cpu_kind = CpuKind::Shared,
        Some("performance") => vm.cpu_kind = CpuKind::Performance,
        Some(other) => p.error(
            t.origin(),
            &t.key_path("cpu_kind"),
            format!("expected \"shared\" or \"performance\", got {other:?}"),
        ),
    }
    if let Some(c) = t.opt_int(p, "cpus", 1, 64) {
        vm.cpus = c as u32;
    }
    let memory = t.opt_memory_mb(p, "memory");
    let memory_mb = t.opt_int(p, "memory_mb", 1, i64::MAX).map(|m| m as u64);
    if let (Some(a), Some(b)) = (memory, memory_mb) {
        if a != b {
            p.warning(
                t.origin(),
                path,
                format!(
                    "memory ({a} MB) and memory_mb ({b} MB) disagree; memory_mb wins, as in flyctl"
                ),
            );
        }
    }
    if let Some(m) = memory_mb.or(memory) {
        if m == 0 {
            p.error(t.origin(), &t.key_path("memory"), "memory must be above 0");
        } else {
            vm.memory_mb = m;
        }
    }
    t.finish_lenient(p);
    vm
}

#[cfg(test)]
mod tests {
    use super::super::doc::parse;
    use super::*;

    fn read_str(text: &str) -> (FlyApp, Problems) {
        let root = parse(text).unwrap();
        let mut p = Problems::new("fly.toml");
        (read(&root, "", &mut p), p)
    }

    #[test]
    fn defaults_follow_fly_docs() {
        let (app, p) = read_str("[http_service]\ninternal_port = 8080\n");
        let s = app.service.unwrap();
        assert_eq!(s.soft_limit, 20);
        assert_eq!(s.hard_limit, u32::MAX);
        assert_eq!(s.autostop, Autostop::Off);
        assert!(s.autostart);
        assert_eq!(app.vm.memory_mb, 256);
        assert_eq!(app.kill_timeout, SimDuration::from_secs(5));
        assert!(!p.has_errors());
        // internal_port has no effect in the model: listed as ignored.
        assert_eq!(p.list.len(), 1);
    }

    #[test]
    fn autostop_spellings_and_legacy_concurrency() {
        let (a, _) = read_str("[http_service]\nauto_stop_machines = true\n");
        assert_eq!(a.service.unwrap().autostop, Autostop::Stop);
        let (a, _) = read_str("[http_service]\nauto_stop_machines = \"suspend\"\n");
        assert_eq!(a.service.unwrap().autostop, Autostop::Suspend);
        let (_, p) = read_str("[http_service]\nauto_stop_machines = \"on\"\n");
        assert!(p.has_errors());
        let (a, _) = read_str("[[services]]\nconcurrency = \"20,25\"\n");
        let s = a.service.unwrap();
        assert_eq!(
            (s.concurrency, s.soft_limit, s.hard_limit),
            (ConcurrencyKind::Requests, 20, 25)
        );
    }

    #[test]
    fn vm_sizes() {
        let (a, _) = read_str("[[vm]]\nsize = \"performance-2x\"\n");
        assert_eq!(
            a.vm,
            VmSize {
                cpu_kind: CpuKind::Performance,
                cpus: 2,
                memory_mb: 4096
            }
        );
        let (a, p) = read_str("[[vm]]\nmemory = '1gb'\nmemory_mb = 512\n");
        assert_eq!(a.vm.memory_mb, 512);
        assert!(p.list.iter().any(|x| x.message.contains("disagree")));
        let (a, _) = read_str("[[vm]]\nsize = \"shared-cpu-2x\"\nmemory = \"512m\"\n");
        assert_eq!((a.vm.cpus, a.vm.memory_mb), (2, 512));
    }
}
