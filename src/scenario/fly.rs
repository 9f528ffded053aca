//! The fly.toml part of an app: the keys that change simulated behaviour.
//!
//! Read leniently, as real fly.toml files carry many keys the simulator has no use for (build,
//! env, statics, checks...): those are listed once as "ignored", never errors. Values that
//! cannot be right (an unknown `auto_stop_machines`, a negative limit) are errors; values that
//! are odd but that real files carry (a `processes` entry naming no group, `internal_port = 0`,
//! a template placeholder such as `"{REGION}"`) are warnings that say why.
//!
//! Defaults follow Fly's documentation: one process group `app` when `[processes]` is absent;
//! concurrency `connections` with soft limit 20 and no hard limit; `auto_stop_machines =
//! "off"`, `auto_start_machines = true`, `min_machines_running = 0`; `kill_timeout = 5s`;
//! size `shared-cpu-1x` (256 MB). Size keys resolve as flyctl's `toMachineGuest` does: the
//! `size` preset first, then `memory`, then `cpus`, `cpu_kind`, `memory_mb`, `gpus`, `gpu_kind`
//! (so `memory_mb` wins over `memory`).

use super::doc::{Node, Origin, Value};
use super::reader::{Problems, TableReader, join};
use super::{Autostop, Checks, ConcurrencyKind, CpuKind, DeployConfig, Service, Strategy, VmSize};
use crate::engine::SimDuration;

// The keys of each fly.toml table in flyctl's schema (`internal/appconfig`: `Config`,
// `Deploy`, `Service`, `HTTPService`, `Compute` with fly-go's `MachineGuest`, `Mount`,
// `Restart`, the check types), modelled or not: a key close to one of them but not one is
// reported as a likely typo.
const TOP_KEYS: &[&str] = &[
    "app",
    "primary_region",
    "kill_signal",
    "kill_timeout",
    "swap_size_mb",
    "console_command",
    "experimental",
    "build",
    "deploy",
    "env",
    "processes",
    "mounts",
    "http_service",
    "services",
    "checks",
    "files",
    "host_dedication_id",
    "machine_config",
    "container",
    "machine_checks",
    "restart",
    "vm",
    "compute",
    "statics",
    "metrics",
];
const DEPLOY_KEYS: &[&str] = &[
    "strategy",
    "max_unavailable",
    "wait_timeout",
    "release_command",
    "release_command_timeout",
    "release_command_vm",
    "seed_command",
];
const CHECK_KEYS: &[&str] = &[
    "type",
    "port",
    "interval",
    "timeout",
    "grace_period",
    "restart_limit",
    "method",
    "path",
    "protocol",
    "tls_skip_verify",
    "tls_server_name",
    "headers",
    "processes",
];
const SERVICE_KEYS: &[&str] = &[
    "protocol",
    "internal_port",
    "force_https",
    "auto_stop_machines",
    "auto_start_machines",
    "min_machines_running",
    "ports",
    "concurrency",
    "tcp_checks",
    "http_checks",
    "checks",
    "machine_checks",
    "processes",
    "tls_options",
    "http_options",
];
const CONCURRENCY_KEYS: &[&str] = &["type", "soft_limit", "hard_limit"];
const VM_KEYS: &[&str] = &[
    "size",
    "memory",
    "cpus",
    "cpu_kind",
    "memory_mb",
    "gpus",
    "gpu_kind",
    "host_dedication_id",
    "kernel_args",
    "persist_rootfs",
    "processes",
];
const MOUNT_KEYS: &[&str] = &[
    "source",
    "destination",
    "initial_size",
    "snapshot_retention",
    "scheduled_snapshots",
    "auto_extend_size_threshold",
    "auto_extend_size_increment",
    "auto_extend_size_limit",
    "processes",
];
const RESTART_KEYS: &[&str] = &["policy", "retries", "processes"];

/// What the simulator takes from one fly.toml.
#[derive(Clone, Debug)]
pub struct FlyApp {
    /// `app`, if given.
    pub app: Option<String>,
    /// `primary_region`, with where it was written.
    pub primary_region: Option<(String, Origin)>,
    /// Process groups, in `[processes]` order (`app` when there is none).
    pub groups: Vec<FlyGroup>,
    /// Services, with the groups they cover; `[http_service]` first.
    pub services: Vec<Service>,
    /// `swap_size_mb`.
    pub swap_mb: u64,
    /// `kill_timeout`.
    pub kill_timeout: SimDuration,
    /// `[deploy]`.
    pub deploy: DeployConfig,
}

/// One process group as the fly.toml defines it.
#[derive(Clone, Debug, PartialEq)]
pub struct FlyGroup {
    /// Group name.
    pub name: String,
    /// Machine size.
    pub vm: VmSize,
    /// GPUs per Machine, and their kind.
    pub gpus: Option<(u32, String)>,
    /// The volume each Machine mounts, if any.
    pub mount: Option<Mount>,
    /// Restart policy, if set.
    pub restart: Option<Restart>,
}

/// A `[[mounts]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    /// Volume name.
    pub source: String,
    /// Size of each Machine's volume [GB] (`initial_size`, default 1).
    pub size_gb: f64,
    /// Daily snapshots kept [days] (`snapshot_retention`, default 5).
    pub snapshot_retention_days: u32,
}

/// A `[[restart]]` policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Always restart.
    Always,
    /// Never restart.
    Never,
    /// Restart after a failure, at most this many times.
    OnFailure(u32),
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

/// How `fly deploy` creates a process group's Machines in a region (with `--ha`, its default;
/// flyctl `deployCreateMachinesForGroups`, `spec/fly-platform.md` §5.1): one Machine if the
/// group mounts a volume; else two for a group with services, and one for a group without,
/// which also gets a standby watching it. Returns Machines per region and whether each gets a
/// standby. The one place both validation (an app without `machines`) and `flysim import` take
/// Fly's default layout from.
pub fn deploy_layout(mounts_volume: bool, serves: bool) -> (u32, bool) {
    match (mounts_volume, serves) {
        (true, _) => (1, false),
        (false, true) => (2, false),
        (false, false) => (1, true),
    }
}

/// A Machine size with its GPUs (count and kind).
type Sized = (VmSize, Option<(u32, String)>);

/// GPU size names Fly accepts. Their CPU and memory are flysim's assumption (performance,
/// 8 vCPUs, 32 GB) unless `cpus` and `memory` say otherwise; GPU time is priced by
/// `[prices] gpu_hour`.
pub const GPU_SIZES: &[&str] = &["a10", "l40s", "a100-40gb", "a100-80gb"];

const PRESETS: &str = "shared-cpu-1x/2x/4x/6x/8x, performance-1x/2x/4x/6x/8x/10x/12x/14x/16x, or a GPU size (a10, l40s, a100-40gb, a100-80gb)";

/// A string that is a template placeholder rather than a value (`"{REGION}"`, `"${APP}"`).
pub fn is_placeholder(s: &str) -> bool {
    s.contains('{') && s.contains('}')
}

/// Reads a fly.toml table (inline `[app.fly]` or a whole file) at key path `path`.
pub fn read(node: &Node, path: &str, p: &mut Problems) -> FlyApp {
    let mut t = TableReader::new(node, path, p);
    let app_origin = node
        .get("app")
        .map_or(node.origin.clone(), |n| n.origin.clone());
    let app = t.opt_str(p, "app");
    if let Some(a) = &app {
        if is_placeholder(a) {
            p.warning(
                &app_origin,
                &t.key_path("app"),
                format!("{a:?} looks like a template placeholder, not an app name"),
            );
        } else if a.is_empty() {
            p.warning(&app_origin, &t.key_path("app"), "empty app name");
        }
    }
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
    let deploy = match t.take("deploy") {
        None => DeployConfig::default(),
        Some(n) => read_deploy(n, &t.key_path("deploy"), p),
    };

    // Process groups.
    let mut names: Vec<String> = Vec::new();
    if let Some(n) = t.take("processes") {
        match &n.value {
            Value::Table(entries) => names.extend(entries.iter().map(|(k, _)| k.clone())),
            Value::Array(items) if items.is_empty() => {} // legacy `processes = []`: none
            other => p.error(
                &n.origin,
                &t.key_path("processes"),
                format!("expected a [processes] table of group = command, got {other}"),
            ),
        }
    }
    let declared = !names.is_empty();
    if !declared {
        names.push("app".into());
    }
    let groups_of =
        |list: Option<Vec<String>>, origin: &Origin, at: &str, p: &mut Problems| -> Vec<usize> {
            match list {
                None => (0..names.len()).collect(),
                Some(list) if list.is_empty() => (0..names.len()).collect(),
                Some(list) => {
                    let mut out = Vec::new();
                    for raw in list {
                        let name = raw.trim();
                        match names.iter().position(|g| g == name) {
                            Some(i) => out.push(i),
                            None => p.warning(
                                origin,
                                &join(at, "processes"),
                                format!(
                                    "{name:?} names no process group (groups: {}); ignored",
                                    names.join(", ")
                                ),
                            ),
                        }
                    }
                    out
                }
            }
        };

    let mut services = Vec::new();
    let mut service_nodes: Vec<(String, &Node)> = Vec::new();
    if let Some(n) = t.take("http_service") {
        service_nodes.push((t.key_path("http_service"), n));
    }
    let has_http = !service_nodes.is_empty();
    service_nodes.extend(t.opt_tables(p, "services"));
    for (i, (spath, n)) in service_nodes.into_iter().enumerate() {
        let (mut service, processes) = read_service(n, &spath, p);
        if declared && processes.is_none() {
            p.warning(&n.origin, &spath, format!(
                "no `processes` although [processes] defines groups; flyctl rejects this; flysim applies it to every group ({})", names.join(", ")));
        }
        service.groups = groups_of(processes, &n.origin, &spath, p);
        service.name = match (has_http, i) {
            (true, 0) => "http_service".to_string(),
            (true, i) => format!("services[{}]", i - 1),
            (false, i) => format!("services[{i}]"),
        };
        services.push(service);
    }

    let default_vm = VmSize {
        cpu_kind: CpuKind::Shared,
        cpus: 1,
        memory_mb: 256,
    };
    let mut vm_of: Vec<Option<Sized>> = vec![None; names.len()];
    let mut vm_tables = Vec::new();
    for key in ["vm", "compute", "computes"] {
        vm_tables.extend(t.opt_tables(p, key));
    }
    let mut catch_all: Option<Sized> = None;
    for (vpath, n) in &vm_tables {
        let (vm, gpus, processes) = read_vm(n, vpath, p);
        match processes {
            None => {
                if catch_all.is_some() {
                    p.warning(
                        &n.origin,
                        vpath,
                        "a second [[vm]] without `processes`; the first one applies",
                    );
                } else {
                    catch_all = Some((vm, gpus));
                }
            }
            Some(list) => {
                for g in groups_of(Some(list), &n.origin, vpath, p) {
                    if vm_of[g].is_some() {
                        p.warning(
                            &n.origin,
                            vpath,
                            format!(
                                "group {:?} already has a [[vm]]; the first one applies",
                                names[g]
                            ),
                        );
                    } else {
                        vm_of[g] = Some((vm, gpus.clone()));
                    }
                }
            }
        }
    }

    let mut mount_of: Vec<Option<Mount>> = vec![None; names.len()];
    for (mpath, n) in t.opt_tables(p, "mounts") {
        let (mount, processes) = read_mount(n, &mpath, p);
        for g in groups_of(processes, &n.origin, &mpath, p) {
            if mount_of[g].is_some() {
                p.warning(
                    &n.origin,
                    &mpath,
                    format!(
                        "group {:?} already mounts a volume; Fly allows one mount per group",
                        names[g]
                    ),
                );
            } else {
                mount_of[g] = Some(mount.clone());
            }
        }
    }
    let mut restart_of: Vec<Option<Restart>> = vec![None; names.len()];
    for (rpath, n) in t.opt_tables(p, "restart") {
        let (restart, processes) = read_restart(n, &rpath, p);
        if let Some(r) = restart {
            for g in groups_of(processes, &n.origin, &rpath, p) {
                restart_of[g] = Some(r);
            }
        }
    }
    t.finish_lenient(p, TOP_KEYS);
    let groups = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let (vm, gpus) = vm_of[i]
                .clone()
                .or_else(|| catch_all.clone())
                .unwrap_or((default_vm, None));
            FlyGroup {
                name,
                vm,
                gpus,
                mount: mount_of[i].clone(),
                restart: restart_of[i],
            }
        })
        .collect();
    FlyApp {
        app,
        primary_region,
        groups,
        services,
        swap_mb,
        kill_timeout,
        deploy,
    }
}

/// `[deploy]`: the strategy and its limits (flyctl `internal/command/deploy`); `release_command`
/// counts only as set or not, its run being a scenario input.
fn read_deploy(n: &Node, path: &str, p: &mut Problems) -> DeployConfig {
    let mut d = DeployConfig::default();
    let mut t = TableReader::new(n, path, p);
    if let Some(s) = t.opt_str(p, "strategy") {
        match Strategy::parse(&s) {
            Some(x) => d.strategy = x,
            None => p.error(
                &t.origin_of("strategy"),
                &t.key_path("strategy"),
                format!(
                    "expected \"rolling\", \"immediate\", \"canary\" or \"bluegreen\", got {s:?}"
                ),
            ),
        }
    }
    if let Some(x) = t.take("max_unavailable") {
        match x.value {
            Value::Int(i) if i >= 1 => d.max_unavailable = i as f64,
            Value::Float(f) if f > 0.0 && (f < 1.0 || f.fract() == 0.0) => d.max_unavailable = f,
            _ => p.error(
                &x.origin,
                &t.key_path("max_unavailable"),
                format!(
                    "expected a count of Machines (1 or more) or a fraction of them (above 0, below 1), got {}",
                    x.value
                ),
            ),
        }
    }
    if let Some(w) = t.opt_duration(p, "wait_timeout") {
        d.wait_timeout = w;
    }
    if let Some(c) = t.opt_str(p, "release_command") {
        d.release_command = !c.trim().is_empty();
    }
    if let Some(w) = t.opt_duration(p, "release_command_timeout") {
        d.release_command_timeout = w;
    }
    t.finish_lenient(p, DEPLOY_KEYS);
    d
}

/// Fly's check defaults where the fly.toml leaves a key out. Neither flyctl nor the docs give
/// them (flyctl sends only what the file has); these are flysim's assumptions, named in
/// `docs/model.md`.
const CHECK_GRACE: SimDuration = SimDuration::from_secs(1);
const CHECK_INTERVAL: SimDuration = SimDuration::from_secs(15);
const CHECK_TIMEOUT: SimDuration = SimDuration::from_secs(2);

/// A check's duration: a string such as `"10s"`, or an integer of milliseconds (Fly's docs).
fn check_duration(t: &mut TableReader, p: &mut Problems, key: &str) -> Option<SimDuration> {
    let n = t.take(key)?;
    let d = match &n.value {
        Value::Int(ms) if *ms >= 0 => Some(SimDuration::from_millis(*ms as u64)),
        Value::Str(s) => super::units::parse_duration(s),
        _ => None,
    };
    if d.is_none() {
        p.error(
            &n.origin,
            &t.key_path(key),
            format!(
                "expected a duration such as \"10s\" or whole milliseconds, got {}",
                n.value
            ),
        );
    }
    d
}

/// A service's checks: `[[http_service.checks]]`, or `[[services.tcp_checks]]` and
/// `[[services.http_checks]]`; `None` when it has none.
fn read_checks(t: &mut TableReader, p: &mut Problems) -> Option<Checks> {
    let mut all: Option<Checks> = None;
    for key in ["checks", "tcp_checks", "http_checks"] {
        for (cpath, n) in t.opt_tables(p, key) {
            let mut c = TableReader::new(n, &cpath, p);
            let one = Checks {
                grace_period: check_duration(&mut c, p, "grace_period").unwrap_or(CHECK_GRACE),
                interval: check_duration(&mut c, p, "interval").unwrap_or(CHECK_INTERVAL),
                timeout: check_duration(&mut c, p, "timeout").unwrap_or(CHECK_TIMEOUT),
            };
            if one.interval == SimDuration::ZERO {
                p.error(
                    c.origin(),
                    &c.key_path("interval"),
                    "must be longer than 0s",
                );
            }
            c.finish_lenient(p, CHECK_KEYS);
            all = Some(all.map_or(one, |a| a.with(one)));
        }
    }
    all
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

/// A service's settings and its `processes` list.
fn read_service(node: &Node, path: &str, p: &mut Problems) -> (Service, Option<Vec<String>>) {
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
        p.warning(t.origin(), &t.key_path("concurrency"), format!(
            "soft_limit {soft_limit} is above hard_limit {hard_limit}; using {hard_limit} for both"));
        soft_limit = hard_limit;
    }
    let mut internal_port = None;
    if let Some(n) = t.take("internal_port") {
        match n.value {
            Value::Int(0) => p.warning(
                &n.origin,
                &t.key_path("internal_port"),
                "internal_port 0 cannot receive traffic; flysim routes to the service anyway",
            ),
            Value::Int(x) if (1..=65535).contains(&x) => internal_port = Some(x as u32),
            _ => p.warning(
                &n.origin,
                &t.key_path("internal_port"),
                format!("expected a port from 1 to 65535, got {}", n.value),
            ),
        }
    }
    if let Some(n) = t.take("protocol") {
        match &n.value {
            Value::Str(s) if s == "tcp" || s == "udp" => {}
            other => p.warning(
                &n.origin,
                &t.key_path("protocol"),
                format!("expected \"tcp\" or \"udp\", got {other}; read as tcp"),
            ),
        }
    }
    let processes = t.opt_str_list(p, "processes");
    let checks = read_checks(&mut t, p);
    t.finish_lenient(p, SERVICE_KEYS);
    (
        Service {
            name: String::new(),
            internal_port,
            groups: Vec::new(),
            concurrency,
            soft_limit,
            hard_limit,
            autostop,
            autostart,
            min_machines_running,
            checks,
        },
        processes,
    )
}

/// `concurrency`: a table `{ type, soft_limit, hard_limit }` or the legacy string
/// `"<soft>,<hard>"` (read as type `requests`, as flyctl does).
fn read_concurrency(n: &Node, path: &str, p: &mut Problems) -> (ConcurrencyKind, u32, u32) {
    if let Value::Str(s) = &n.value {
        let parts: Vec<Option<u32>> = s.split(',').map(|x| x.trim().parse().ok()).collect();
        if let [Some(soft), Some(hard)] = parts[..]
            && soft >= 1
            && hard >= 1
        {
            return (ConcurrencyKind::Requests, soft, hard);
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
    t.finish_lenient(p, CONCURRENCY_KEYS);
    (kind, soft.unwrap_or(20), hard.unwrap_or(u32::MAX))
}

/// A `[[vm]]` table: size, GPUs and its `processes` list.
fn read_vm(
    node: &Node,
    path: &str,
    p: &mut Problems,
) -> (VmSize, Option<(u32, String)>, Option<Vec<String>>) {
    let mut t = TableReader::new(node, path, p);
    let mut vm = VmSize {
        cpu_kind: CpuKind::Shared,
        cpus: 1,
        memory_mb: 256,
    };
    let mut gpus: Option<(u32, String)> = None;
    if let Some(size) = t.opt_str(p, "size") {
        if let Some(v) = preset(&size) {
            vm = v;
        } else if GPU_SIZES.contains(&size.as_str()) {
            vm = VmSize {
                cpu_kind: CpuKind::Performance,
                cpus: 8,
                memory_mb: 32 * 1024,
            };
            gpus = Some((1, size.clone()));
        } else {
            p.error(
                t.origin(),
                &t.key_path("size"),
                format!("unknown size preset {size:?}; expected {PRESETS}"),
            );
        }
    }
    let memory = t.opt_memory_mb(p, "memory");
    if let Some(m) = memory {
        vm.memory_mb = m;
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
    let memory_mb = t.opt_int(p, "memory_mb", 1, i64::MAX).map(|m| m as u64);
    if let (Some(a), Some(b)) = (memory, memory_mb)
        && a != b
    {
        p.warning(
            t.origin(),
            path,
            format!(
                "memory ({a} MB) and memory_mb ({b} MB) disagree; memory_mb wins, as in flyctl"
            ),
        );
    }
    if let Some(m) = memory_mb {
        vm.memory_mb = m;
    }
    if vm.memory_mb == 0 {
        p.error(t.origin(), &t.key_path("memory"), "memory cannot be zero");
        vm.memory_mb = 256;
    }
    let count = t.opt_int(p, "gpus", 0, 64).map(|g| g as u32);
    let kind = t.opt_str(p, "gpu_kind");
    match (count, kind) {
        (Some(0), _) => gpus = None,
        (Some(n), Some(k)) => gpus = Some((n, k)),
        (Some(n), None) => gpus = Some((n, gpus.map_or_else(|| "a100-40gb".to_string(), |g| g.1))),
        (None, Some(k)) => gpus = Some((gpus.map_or(1, |g| g.0), k)),
        (None, None) => {}
    }
    let processes = t.opt_str_list(p, "processes");
    t.finish_lenient(p, VM_KEYS);
    (vm, gpus, processes)
}

/// A `[[mounts]]` table and its `processes` list.
fn read_mount(node: &Node, path: &str, p: &mut Problems) -> (Mount, Option<Vec<String>>) {
    let mut t = TableReader::new(node, path, p);
    let source = t.opt_str(p, "source").unwrap_or_default();
    if source.is_empty() {
        p.warning(
            t.origin(),
            &t.key_path("source"),
            "a mount needs a volume name (`source`)",
        );
    }
    let destination = t.opt_str(p, "destination");
    if destination.as_deref() == Some("/") {
        p.warning(
            t.origin(),
            &t.key_path("destination"),
            "Fly does not allow mounting a volume at /",
        );
    }
    let size_gb = match t.take("initial_size") {
        None => 1.0,
        Some(n) => {
            let v = match &n.value {
                Value::Int(i) if *i >= 0 => Some(*i as f64),
                Value::Str(s) => super::units::parse_disk_gb(s),
                _ => None,
            };
            match v {
                Some(gb) if gb > 0.0 => gb,
                _ => {
                    p.error(
                        &n.origin,
                        &t.key_path("initial_size"),
                        format!(
                            "expected a size such as \"10gb\" or a number of GB, got {}",
                            n.value
                        ),
                    );
                    1.0
                }
            }
        }
    };
    let snapshot_retention_days = t.opt_int(p, "snapshot_retention", 1, 60).unwrap_or(5) as u32;
    let processes = t.opt_str_list(p, "processes");
    t.finish_lenient(p, MOUNT_KEYS);
    (
        Mount {
            source,
            size_gb,
            snapshot_retention_days,
        },
        processes,
    )
}

/// A `[[restart]]` table and its `processes` list.
fn read_restart(
    node: &Node,
    path: &str,
    p: &mut Problems,
) -> (Option<Restart>, Option<Vec<String>>) {
    let mut t = TableReader::new(node, path, p);
    let retries = t
        .opt_int(p, "retries", 0, 1000)
        .or_else(|| t.opt_int(p, "max_retries", 0, 1000));
    let policy = match t.opt_str(p, "policy").as_deref() {
        Some("always") => Some(Restart::Always),
        Some("never") | Some("no") => Some(Restart::Never),
        Some("on-failure") | Some("on_failure") => {
            Some(Restart::OnFailure(retries.unwrap_or(10) as u32))
        }
        Some(other) => {
            p.error(
                t.origin(),
                &t.key_path("policy"),
                format!("expected \"always\", \"never\" or \"on-failure\", got {other:?}"),
            );
            None
        }
        None => {
            p.error(
                t.origin(),
                &t.key_path("policy"),
                "missing; expected \"always\", \"never\" or \"on-failure\"",
            );
            None
        }
    };
    let processes = t.opt_str_list(p, "processes");
    t.finish_lenient(p, RESTART_KEYS);
    (policy, processes)
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

    fn service(a: &FlyApp) -> &Service {
        &a.services[0]
    }

    #[test]
    fn defaults_follow_fly_docs() {
        let (app, p) = read_str("[http_service]\ninternal_port = 8080\n");
        let s = service(&app);
        assert_eq!(
            (s.soft_limit, s.hard_limit, s.autostop, s.autostart),
            (20, u32::MAX, Autostop::Off, true)
        );
        assert_eq!(app.groups.len(), 1);
        assert_eq!(app.groups[0].name, "app");
        assert_eq!(app.groups[0].vm.memory_mb, 256);
        assert_eq!(app.kill_timeout, SimDuration::from_secs(5));
        assert!(!p.has_errors() && p.list.is_empty(), "{:?}", p.list);
    }

    #[test]
    fn autostop_spellings_and_legacy_concurrency() {
        let (a, _) = read_str("[http_service]\nauto_stop_machines = true\n");
        assert_eq!(service(&a).autostop, Autostop::Stop);
        let (a, _) = read_str("[http_service]\nauto_stop_machines = \"suspend\"\n");
        assert_eq!(service(&a).autostop, Autostop::Suspend);
        let (_, p) = read_str("[http_service]\nauto_stop_machines = \"on\"\n");
        assert!(p.has_errors());
        let (a, _) = read_str("[[services]]\nconcurrency = \"20,25\"\n");
        let s = service(&a);
        assert_eq!(
            (s.concurrency, s.soft_limit, s.hard_limit),
            (ConcurrencyKind::Requests, 20, 25)
        );
    }

    #[test]
    fn vm_sizes_resolve_as_flyctl_does() {
        let (a, _) = read_str("[[vm]]\nsize = \"performance-2x\"\n");
        assert_eq!(
            a.groups[0].vm,
            VmSize {
                cpu_kind: CpuKind::Performance,
                cpus: 2,
                memory_mb: 4096
            }
        );
        let (a, p) = read_str("[[vm]]\nmemory = '1gb'\nmemory_mb = 512\n");
        assert_eq!(a.groups[0].vm.memory_mb, 512);
        assert!(p.list.iter().any(|x| x.message.contains("disagree")));
        let (a, _) = read_str("[[vm]]\nsize = \"shared-cpu-2x\"\nmemory = \"512m\"\n");
        assert_eq!((a.groups[0].vm.cpus, a.groups[0].vm.memory_mb), (2, 512));
        let (a, _) =
            read_str("[[vm]]\nsize = 'a100-80gb'\nmemory = '416gb'\ncpus = 16\ngpus = 8\n");
        assert_eq!(
            a.groups[0].vm,
            VmSize {
                cpu_kind: CpuKind::Performance,
                cpus: 16,
                memory_mb: 416 * 1024
            }
        );
        assert_eq!(a.groups[0].gpus, Some((8, "a100-80gb".to_string())));
    }

    #[test]
    fn process_groups_scope_services_sizes_and_mounts() {
        let text = "[processes]\nweb = 'a'\nworker = 'b'\n[http_service]\nprocesses = ['web ']\n[[vm]]\nsize = 'shared-cpu-2x'\nprocesses = ['worker']\n[[vm]]\nmemory = '1g'\n[mounts]\nsource = 'data'\ninitial_size = '3gb'\nprocesses = ['app', 'worker']\n";
        let (a, p) = read_str(text);
        let names: Vec<&str> = a.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["web", "worker"]);
        assert_eq!(a.services[0].groups, vec![0]);
        assert_eq!(a.groups[0].vm.memory_mb, 1024);
        assert_eq!(a.groups[1].vm.cpus, 2);
        assert!(a.groups[0].mount.is_none());
        assert_eq!(a.groups[1].mount.as_ref().unwrap().size_gb, 3.0);
        // `app` names no group: a warning, not an error.
        assert!(!p.has_errors());
        assert!(
            p.list
                .iter()
                .any(|x| x.message.contains("\"app\" names no process group")),
            "{:?}",
            p.list
        );
    }

    #[test]
    fn odd_values_are_warnings_that_say_why() {
        let (_, p) =
            read_str("app = '{APP_NAME}'\n[[services]]\nprotocol = ''\ninternal_port = 0\n");
        assert!(!p.has_errors());
        let text: Vec<String> = p.list.iter().map(|x| x.to_string()).collect();
        assert!(
            text.iter().any(|t| t.contains("template placeholder")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("internal_port 0 cannot receive traffic"))
        );
        assert!(
            text.iter()
                .any(|t| t.contains("expected \"tcp\" or \"udp\""))
        );
        let (a, _) = read_str("[[restart]]\npolicy = 'on-failure'\nretries = 3\n");
        assert_eq!(a.groups[0].restart, Some(Restart::OnFailure(3)));
    }
}
