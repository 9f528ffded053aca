//! `flysim import`: a starter scenario around a real fly.toml.
//!
//! Machines are created as `fly deploy` would create them (`fly::deploy_layout`, the same rule
//! an app without `machines` gets): per process group, one if the group mounts a volume, two
//! for a group with services, one and a standby watching it for a group without. They go to
//! `primary_region`, or to each region given with `--regions`. Traffic: a diurnal day
//! averaging `--rps` requests per second to the first service, split evenly over those
//! regions; every other service gets a commented-out source to fill in. The scenario refers to
//! the fly.toml by path, so the user's own file stays the input; the path is written relative
//! to where the scenario will live ([`relative_to_file`]), or the fly.toml is embedded as
//! `[app.fly]` ([`FlyReference::Inline`]).

use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

use crate::scenario::doc;
use crate::scenario::fly::{self, FlyApp};
use crate::scenario::reader::{Problem, Problems};
use crate::scenario::regions;

/// The starter scenario's TOML text and the notes met while reading the fly.toml.
pub struct Imported {
    /// Scenario text.
    pub text: String,
    /// Warnings and ignored keys.
    pub notes: Vec<Problem>,
}

/// How the starter scenario names its fly.toml.
#[derive(Clone, Debug)]
pub enum FlyReference {
    /// `fly_toml = "<path>"`, the path as the scenario's folder sees it.
    Path(PathBuf),
    /// The fly.toml's text embedded as `[app.fly]`, comments and all.
    Inline,
}

/// The path of `target` as seen from the folder of `file` (which need not exist yet; its
/// folder must): what `fly_toml` must say in a scenario written to `file`.
pub fn relative_to_file(target: &Path, file: &Path) -> Result<PathBuf, String> {
    let folder = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let folder = std::fs::canonicalize(folder)
        .map_err(|e| format!("{}: its folder cannot be read: {e}", file.display()))?;
    let target = std::fs::canonicalize(target)
        .map_err(|e| format!("{}: cannot be read: {e}", target.display()))?;
    let from: Vec<Component> = folder.components().collect();
    let to: Vec<Component> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c.as_os_str());
    }
    Ok(rel)
}

/// The fly.toml's text as the `[app.fly]` tables of the scenario's (last) `[[app]]`: every
/// table header moved under `app.fly`, keys, values and comments kept.
fn inline_fly(text: &str) -> Result<String, String> {
    use toml_edit::{ArrayOfTables, DocumentMut, Item, Table};
    let fly: DocumentMut = text.parse().map_err(|e| format!("not valid TOML: {e}"))?;
    let mut fly_table = fly.as_table().clone();
    fly_table.set_implicit(false);
    fly_table.decor_mut().clear();
    let mut app = Table::new();
    app.insert("fly", Item::Table(fly_table));
    let mut apps = ArrayOfTables::new();
    apps.push(app);
    let mut wrapper = DocumentMut::new();
    wrapper.insert("app", Item::ArrayOfTables(apps));
    let rendered = wrapper.to_string();
    // The wrapper's own `[[app]]` header: the scenario already opened that table.
    let body = rendered
        .trim_start()
        .strip_prefix("[[app]]")
        .unwrap_or(&rendered)
        .trim_start_matches('\n');
    Ok(body.to_string())
}

fn toml_str(s: &str) -> String {
    doc::to_toml(&doc::Value::Str(s.to_string()))
}

/// Builds a starter scenario for the fly.toml read from `fly_toml`, naming it as `reference`
/// says.
pub fn import(
    fly_toml: &Path,
    region_codes: Option<&[String]>,
    rps: f64,
    reference: &FlyReference,
) -> Result<Imported, Vec<Problem>> {
    let file = fly_toml.display().to_string();
    let mut p = Problems::new(&file);
    let text = doc::read_text(fly_toml, doc::MAX_TEXT_BYTES).map_err(|(origin, message)| {
        p.error(&origin, "", message);
        p.list.clone()
    })?;
    let root = doc::parse(&text).map_err(|e| {
        let mut p = Problems::new(&file);
        p.error(&e.origin, "", format!("not valid TOML: {}", e.message));
        p.list
    })?;
    let fly = fly::read(&root, "", &mut p);
    if p.has_errors() {
        return Err(p.list);
    }
    let regions: Vec<String> = match region_codes {
        Some(list) if !list.is_empty() => {
            for code in list {
                if regions::lookup(code).is_none() {
                    p.error(
                        &doc::Origin::Implied,
                        "--regions",
                        format!("unknown region {code:?}"),
                    );
                }
            }
            if p.has_errors() {
                return Err(p.list);
            }
            list.to_vec()
        }
        _ => match &fly.primary_region {
            Some((code, _)) if regions::lookup(code).is_some() => vec![code.clone()],
            Some((code, origin)) => {
                p.warning(origin, "primary_region", format!("{code:?} is not a Fly region; the starter scenario uses iad (change it, or give --regions)"));
                vec!["iad".into()]
            }
            None => {
                p.warning(
                    &doc::Origin::Implied,
                    "primary_region",
                    "missing; the starter scenario uses iad (change it, or give --regions)",
                );
                vec!["iad".into()]
            }
        },
    };
    Ok(Imported {
        text: render(&fly, fly_toml, &text, reference, &regions, rps).map_err(|message| {
            p.error(&doc::Origin::Implied, "", message);
            p.list.clone()
        })?,
        notes: p.list,
    })
}

fn render(
    fly: &FlyApp,
    fly_toml: &Path,
    fly_text: &str,
    reference: &FlyReference,
    regions: &[String],
    rps: f64,
) -> Result<String, String> {
    let name = fly
        .app
        .as_deref()
        .filter(|a| {
            !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(String::from)
        .or_else(|| {
            fly_toml.file_stem().map(|s| {
                s.to_string_lossy()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect()
            })
        })
        .filter(|s: &String| !s.is_empty())
        .unwrap_or_else(|| "app".into());
    // A group any service reaches gets a service's layout (flyctl counts every service).
    let served: Vec<usize> = (0..fly.groups.len())
        .filter(|g| fly.services.iter().any(|s| s.groups.contains(g)))
        .collect();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Starter scenario for {}, made by `flysim import`.",
        fly_toml.display()
    );
    let _ = writeln!(
        o,
        "# Machines are laid out as `fly deploy` creates them; adjust counts, regions, request"
    );
    let _ = writeln!(
        o,
        "# times and traffic to your app, then `flysim run` this file."
    );
    let _ = writeln!(o, "name = {}", toml_str(&name));
    let _ = writeln!(o, "duration = \"24h\"\nseed = 1\n");
    let _ = writeln!(o, "[slo]\navailability = 0.999\nlatency_p99 = \"1s\"\n");
    // Hosts big enough for the largest Machine (GPU apps need big ones).
    let cpus = fly
        .groups
        .iter()
        .map(|g| g.vm.cpus)
        .max()
        .unwrap_or(1)
        .max(32);
    let mem_gb = fly
        .groups
        .iter()
        .map(|g| g.vm.memory_mb.div_ceil(1024))
        .max()
        .unwrap_or(1)
        .max(128);
    for r in regions {
        let _ = writeln!(
            o,
            "[[region]]\ncode = {}\nhosts = 4\nhost = {{ cpus = {cpus}, memory = \"{mem_gb}gb\" }}\n",
            toml_str(r)
        );
    }
    let _ = writeln!(o, "[[app]]\nname = {}", toml_str(&name));
    if let FlyReference::Path(path) = reference {
        let _ = writeln!(
            o,
            "fly_toml = {}   # relative to this file's folder",
            toml_str(&path.display().to_string())
        );
    }
    let region_list = regions
        .iter()
        .map(|r| toml_str(r))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(o, "machines = [");
    let mut ordinal = 0u32;
    for (gi, g) in fly.groups.iter().enumerate() {
        let serves = served.contains(&gi);
        let (per_region, standby) = crate::scenario::fly::deploy_layout(g.mount.is_some(), serves);
        let why = match (g.mount.is_some(), serves) {
            (true, _) => "mounts a volume: one Machine",
            (false, true) => "serves requests: two Machines",
            (false, false) => "a worker: one Machine and a standby watching it",
        };
        let count = per_region * regions.len() as u32;
        let _ = writeln!(
            o,
            "  {{ group = {}, count = {count}, regions = [{region_list}] }},   # {why} per region",
            toml_str(&g.name)
        );
        if standby {
            // One standby per Machine of the group, in that Machine's region (round robin
            // order), right after the group, as an app without `machines` gets them.
            for i in 0..count {
                let region = &regions[i as usize % regions.len()];
                let _ = writeln!(
                    o,
                    "  {{ group = {}, count = 1, regions = [{}], standby_for = {} }},",
                    toml_str(&g.name),
                    toml_str(region),
                    toml_str(&format!("{name}:{}", ordinal + i))
                );
            }
            ordinal += count;
        }
        ordinal += count;
    }
    let _ = writeln!(o, "]");
    let _ = writeln!(
        o,
        "request = {{ service_time = {{ dist = \"lognormal\", median = \"50ms\", p99 = \"500ms\" }} }}   # measure yours"
    );
    let _ = writeln!(
        o,
        "app_boot = \"3s\"   # time from VM boot to your app accepting requests\n"
    );
    if let FlyReference::Inline = reference {
        let _ = writeln!(
            o,
            "# {}, embedded: its tables sit under [app.fly]",
            fly_toml.display()
        );
        o.push_str(&inline_fly(fly_text)?);
        if !o.ends_with("\n\n") {
            o.push('\n');
        }
    }
    if !served.is_empty() {
        let share = rps / regions.len() as f64;
        for r in regions {
            let _ = writeln!(
                o,
                "[[app.traffic]]\nfrom = {}\nshape = \"diurnal\"\nmean_rps = {share}\npeak_rps = {}\n",
                toml_str(r),
                share * 1.6
            );
        }
    }
    for svc in fly.services.iter().skip(1) {
        let by = match svc.internal_port {
            Some(port) => port.to_string(),
            None => toml_str(&svc.name),
        };
        let _ = writeln!(
            o,
            "# {} takes its own traffic: give it a source with `service = {by}`, e.g.\n# [[app.traffic]]\n# service = {by}\n# from = {}\n# shape = \"poisson\"\n# rps = 1\n",
            svc.name,
            regions
                .first()
                .map_or("\"iad\"".to_string(), |r| toml_str(r))
        );
    }
    if let Some(svc) = fly.services.first() {
        // fly-autoscaler's default process group is "app".
        let group = svc
            .groups
            .first()
            .map(|&g| fly.groups[g].name.as_str())
            .filter(|&g| g != "app")
            .map(|g| format!("# FAS_PROCESS_GROUP = {}\n", toml_str(g)))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "# fly-autoscaler against this app, with its own FAS_* settings (docs/scenario-format.md):\n# [app.autoscaler]\n# FAS_PROMETHEUS_METRIC_NAME = \"concurrency\"\n# FAS_PROMETHEUS_QUERY = \"sum(fly_app_concurrency{{app='$APP_NAME'}}) or vector(0)\"\n# FAS_CREATED_MACHINE_COUNT = \"ceil(concurrency / {})\"\n{group}",
            svc.soft_limit.max(1)
        );
    }
    let _ = writeln!(
        o,
        "# A release during the run, rolled out as the fly.toml's [deploy] says ({}):\n# [[deploy]]\n# at = \"12h\"\n# app = {}\n# app_boot = \"5s\"          # the new version's start-up\n# fail = \"health\"         # try a version that never passes its checks",
        fly.deploy.strategy.name(),
        toml_str(&name)
    );
    Ok(o)
}
