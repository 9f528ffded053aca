//! `[[action]]`: what the operator does during a run, in flyctl's own terms, read, checked and
//! resolved into concrete Machines before the run starts.
//!
//! Which Machines an action creates, destroys or changes depends only on the scenario (no
//! Machine is ever created or destroyed by chance), so every action is resolved here against a
//! ledger of the Machines that exist at its time: `scale_count` becomes the list of Machines to
//! create (with their ids, regions and sizes) and to destroy, following flyctl's
//! `convergeGroupCounts` (`internal/command/scale/count_machines.go`):
//! - the count is the group's total over the listed regions only (other regions are left as
//!   they are); without `regions`, the regions where the app has Machines, in the order its
//!   Machines were created, else its primary region;
//! - Machines above `max_per_region` go first; a deficit is added round robin from the first
//!   listed region; a surplus is removed round robin starting at the *second* listed region
//!   (flyctl's comment says "in reverse order"; its loop starts at index 1 and goes forward);
//! - in a region, the Machines destroyed are the first the Machines API lists; flysim lists
//!   them in creation order, so the oldest go first;
//! - new Machines copy the group's first Machine (its size at that time), standbys cleared.
//!
//! A reference to a Machine that does not exist at the action's time is an error here, with
//! the action's line.

use super::doc::{Node, Origin, Value};
use super::fly::preset;
use super::reader::TableReader;
use super::validate::Builder;
use super::{Action, ActionKind, App, Deploy, NewMachine, RegionIdx, Strategy, VmSize};
use crate::engine::SimDuration;

const KINDS: &str = "\"scale_count\", \"scale_vm\", \"machine_destroy\", \"machine_clone\", \"machine_stop\" or \"machine_start\"";

/// A Machine as the ledger knows it.
#[derive(Clone, Debug)]
struct Known {
    ordinal: u32,
    group: usize,
    region: RegionIdx,
    vm: VmSize,
    /// The action that destroyed it, if one did: its key path and time.
    destroyed_by: Option<(String, SimDuration)>,
}

/// The Machines of every app, in creation order, as the actions change them.
struct Ledger {
    apps: Vec<Vec<Known>>,
}

impl Ledger {
    /// The Machines the scenario creates at time 0, in the order the run creates them.
    fn new(apps: &[App]) -> Ledger {
        let apps = apps
            .iter()
            .map(|a| {
                let mut out = Vec::new();
                for g in &a.machines {
                    for &(region, count) in &g.per_region {
                        for _ in 0..count {
                            out.push(Known {
                                ordinal: out.len() as u32,
                                group: g.group,
                                region,
                                vm: a.groups[g.group].vm,
                                destroyed_by: None,
                            });
                        }
                    }
                }
                out
            })
            .collect();
        Ledger { apps }
    }

    fn live(&self, app: usize) -> impl Iterator<Item = &Known> {
        self.apps[app].iter().filter(|m| m.destroyed_by.is_none())
    }

    fn add(&mut self, app: usize, group: usize, region: RegionIdx, vm: VmSize) -> NewMachine {
        let ordinal = self.apps[app].len() as u32;
        self.apps[app].push(Known {
            ordinal,
            group,
            region,
            vm,
            destroyed_by: None,
        });
        NewMachine {
            ordinal,
            group,
            region,
            vm,
        }
    }
}

impl Ledger {
    /// The Machines deploy `d` creates, as flyctl creates them: for `canary`, one per process
    /// group that has Machines, in the primary region at the size of the group's Machines
    /// (`inferCanaryGuest`), destroyed once healthy; for `bluegreen`, a green Machine beside
    /// each blue one (same group, region and size), the blue ones destroyed. The ledger
    /// assumes the deploy succeeds; a Machine an action names that a failed deploy left out
    /// is reported by the run.
    fn deploy(&mut self, d: &mut Deploy, apps: &[App]) {
        let app = d.app;
        match d.config.strategy {
            Strategy::Canary => {
                let mut groups: Vec<(usize, VmSize)> = Vec::new();
                for m in self.live(app) {
                    if !groups.iter().any(|&(g, _)| g == m.group) {
                        groups.push((m.group, m.vm));
                    }
                }
                for (group, vm) in groups {
                    let new = self.add(app, group, apps[app].primary_region, vm);
                    self.apps[app][new.ordinal as usize].destroyed_by =
                        Some(("a canary".to_string(), d.at));
                    d.creates.push((None, new));
                }
            }
            Strategy::Bluegreen => {
                let blue: Vec<(u32, usize, RegionIdx, VmSize)> = self
                    .live(app)
                    .map(|m| (m.ordinal, m.group, m.region, m.vm))
                    .collect();
                for (ordinal, group, region, vm) in blue {
                    let new = self.add(app, group, region, vm);
                    self.apps[app][ordinal as usize].destroyed_by =
                        Some(("a bluegreen deploy".to_string(), d.at));
                    d.creates.push((Some(ordinal), new));
                }
            }
            Strategy::Rolling | Strategy::Immediate => {}
        }
    }
}

/// One action as read, before it is resolved.
struct Read<'n> {
    at: SimDuration,
    kind: String,
    app: usize,
    table: TableReader<'n>,
    path: String,
    origin: Origin,
}

impl Builder<'_> {
    /// Reads every `[[action]]`, in time order (file order at equal times), and resolves it;
    /// also gives, per app, how many ordinals the scenario's Machines take.
    pub(super) fn actions(
        &mut self,
        nodes: Vec<(String, &Node)>,
        apps: &[App],
        duration: SimDuration,
        deploys: &mut [Deploy],
    ) -> (Vec<Action>, Vec<u32>) {
        let mut read = Vec::new();
        for (path, n) in nodes {
            let mut t = TableReader::new(n, &path, self.p);
            let at = match t.opt_duration(self.p, "at") {
                Some(at) if at < duration => Some(at),
                Some(at) => {
                    self.p.warning(
                        &t.origin_of("at"),
                        &t.key_path("at"),
                        format!("{at} is not before the end of the run ({duration}); the action never happens"),
                    );
                    continue;
                }
                None => {
                    if !t.has("at") {
                        self.p.error(
                            t.origin(),
                            &t.key_path("at"),
                            "missing; expected when the action happens, e.g. at = \"11h30m\"",
                        );
                    }
                    None
                }
            };
            let kind = t.req_str(self.p, "kind");
            let app = self.action_app(&mut t, apps);
            if let (Some(at), Some(kind), Some(app)) = (at, kind, app) {
                let origin = n.origin.clone();
                read.push(Read {
                    at,
                    kind,
                    app,
                    table: t,
                    path,
                    origin,
                });
            }
        }
        // A stable sort keeps file order among actions at the same time.
        read.sort_by_key(|r| r.at);
        let mut ledger = Ledger::new(apps);
        let mut out = Vec::new();
        let mut next_deploy = 0;
        for r in read {
            // Deploys before the action change the Machines it finds (at equal times the
            // action goes first).
            while let Some(d) = deploys.get_mut(next_deploy)
                && d.at < r.at
            {
                ledger.deploy(d, apps);
                next_deploy += 1;
            }
            if let Some(a) = self.resolve(r, apps, &mut ledger) {
                out.push(a);
            }
        }
        for d in &mut deploys[next_deploy..] {
            ledger.deploy(d, apps);
        }
        let reserved = ledger.apps.iter().map(|m| m.len() as u32).collect();
        (out, reserved)
    }

    /// The `app` key: required when the scenario has several apps.
    fn action_app(&mut self, t: &mut TableReader, apps: &[App]) -> Option<usize> {
        match t.opt_str(self.p, "app") {
            Some(name) => {
                let found = apps.iter().position(|a| a.name == name);
                if found.is_none() {
                    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
                    self.p.error(
                        &t.origin_of("app"),
                        &t.key_path("app"),
                        format!("no app named {name:?}; apps: {}", names.join(", ")),
                    );
                }
                found
            }
            None if apps.len() == 1 => Some(0),
            None => {
                if !t.has("app") {
                    self.p.error(
                        t.origin(),
                        &t.key_path("app"),
                        "missing; the scenario has several apps, so say which, e.g. app = \"web\"",
                    );
                }
                None
            }
        }
    }

    fn resolve(&mut self, r: Read, apps: &[App], ledger: &mut Ledger) -> Option<Action> {
        let Read {
            at,
            kind,
            app,
            mut table,
            path,
            origin,
        } = r;
        let t = &mut table;
        let name = &apps[app].name;
        let (kind, command) = match kind.as_str() {
            "scale_count" => {
                let group = self.group_of(t, &apps[app])?;
                let count = self.count(t, ledger, app, group)?;
                let regions = self.scale_regions(t, ledger, &apps[app], app)?;
                let max = t.opt_int(self.p, "max_per_region", 0, 100_000);
                t.finish_strict(
                    self.p,
                    &[
                        "at",
                        "kind",
                        "app",
                        "count",
                        "regions",
                        "group",
                        "max_per_region",
                    ],
                );
                let diffs = match converge(count.1, &current(ledger, app, group, &regions), max) {
                    Ok(d) => d,
                    Err(msg) => {
                        self.p.error(&origin, &path, msg);
                        return None;
                    }
                };
                let template = ledger
                    .live(app)
                    .find(|m| m.group == group)
                    .map_or(apps[app].groups[group].vm, |m| m.vm);
                let mut destroy = Vec::new();
                for (ri, &d) in diffs.iter().enumerate() {
                    if d < 0 {
                        let victims: Vec<u32> = ledger
                            .live(app)
                            .filter(|m| m.group == group && m.region == regions[ri])
                            .take((-d) as usize)
                            .map(|m| m.ordinal)
                            .collect();
                        for &v in &victims {
                            ledger.apps[app][v as usize].destroyed_by = Some((path.clone(), at));
                        }
                        destroy.extend(victims);
                    }
                }
                // Created one at a time, round robin over the regions that grow, in order.
                let mut left: Vec<i64> = diffs.iter().map(|&d| d.max(0)).collect();
                let mut create = Vec::new();
                while left.iter().any(|&l| l > 0) {
                    for (ri, l) in left.iter_mut().enumerate() {
                        if *l > 0 {
                            *l -= 1;
                            create.push(ledger.add(app, group, regions[ri], template));
                        }
                    }
                }
                self.check_fits(&origin, &path, &apps[app], &create);
                let codes: Vec<&str> = regions
                    .iter()
                    .map(|&r| self.regions[r].code.as_str())
                    .collect();
                let command = format!(
                    "fly scale count {} --region {} --process-group {}{}",
                    count.0,
                    codes.join(","),
                    apps[app].groups[group].name,
                    max.map_or(String::new(), |m| format!(" --max-per-region {m}"))
                );
                (
                    ActionKind::Scale {
                        group,
                        create,
                        destroy,
                    },
                    command,
                )
            }
            "scale_vm" => {
                let group = self.group_of(t, &apps[app])?;
                let size = t.req_str(self.p, "size");
                let memory = t.opt_memory_mb(self.p, "memory");
                t.finish_strict(self.p, &["at", "kind", "app", "size", "group", "memory"]);
                let size_name = size?;
                let Some(mut vm) = preset(&size_name) else {
                    self.p.error(
                        &t.origin_of("size"),
                        &t.key_path("size"),
                        format!("unknown size {size_name:?}; expected a preset such as shared-cpu-1x, shared-cpu-2x, performance-1x, performance-2x"),
                    );
                    return None;
                };
                if let Some(mb) = memory {
                    if mb == 0 || mb % 256 != 0 {
                        self.p.error(
                            &t.origin_of("memory"),
                            &t.key_path("memory"),
                            format!(
                                "{mb} MB: expected a positive multiple of 256 MB, as Fly requires"
                            ),
                        );
                        return None;
                    }
                    vm.memory_mb = mb;
                }
                let machines: Vec<u32> = ledger
                    .live(app)
                    .filter(|m| m.group == group)
                    .map(|m| m.ordinal)
                    .collect();
                if machines.is_empty() {
                    self.p.error(
                        &origin,
                        &path,
                        format!(
                            "group {:?} of {name} has no Machine at {at} (flyctl: \"No active machines in process group\")",
                            apps[app].groups[group].name
                        ),
                    );
                    return None;
                }
                for &o in &machines {
                    ledger.apps[app][o as usize].vm = vm;
                }
                let news: Vec<NewMachine> = machines
                    .iter()
                    .map(|&o| {
                        let k = &ledger.apps[app][o as usize];
                        NewMachine {
                            ordinal: o,
                            group,
                            region: k.region,
                            vm,
                        }
                    })
                    .collect();
                self.check_fits(&origin, &path, &apps[app], &news);
                let command = format!(
                    "fly scale vm {size_name}{} --process-group {}",
                    memory.map_or(String::new(), |m| format!(" --memory {m}")),
                    apps[app].groups[group].name
                );
                (
                    ActionKind::ScaleVm {
                        group,
                        vm,
                        machines,
                    },
                    command,
                )
            }
            "machine_destroy" | "machine_stop" | "machine_start" | "machine_clone" => {
                let machine = self.machine(t, ledger, app, apps, at)?;
                let region = if kind == "machine_clone" {
                    match t.opt_str(self.p, "region") {
                        Some(code) => {
                            let origin = t.origin_of("region");
                            Some(self.region(&code, &origin, &t.key_path("region"))?)
                        }
                        None => None,
                    }
                } else {
                    None
                };
                let known: &[&str] = if kind == "machine_clone" {
                    &["at", "kind", "app", "machine", "region"]
                } else {
                    &["at", "kind", "app", "machine"]
                };
                t.finish_strict(self.p, known);
                let id = format!("{name}:{machine}");
                match kind.as_str() {
                    "machine_destroy" => {
                        ledger.apps[app][machine as usize].destroyed_by = Some((path.clone(), at));
                        (
                            ActionKind::Destroy(machine),
                            format!("fly machine destroy --force {id}"),
                        )
                    }
                    "machine_stop" => (ActionKind::Stop(machine), format!("fly machine stop {id}")),
                    "machine_start" => (
                        ActionKind::Start(machine),
                        format!("fly machine start {id}"),
                    ),
                    _ => {
                        let src = ledger.apps[app][machine as usize].clone();
                        let region = region.unwrap_or(src.region);
                        let new = ledger.add(app, src.group, region, src.vm);
                        self.check_fits(&origin, &path, &apps[app], std::slice::from_ref(&new));
                        let to = region_suffix(self, region, src.region);
                        (
                            ActionKind::Clone {
                                source: machine,
                                new,
                            },
                            format!("fly machine clone {id}{to}"),
                        )
                    }
                }
            }
            other => {
                self.p.error(
                    &t.origin_of("kind"),
                    &t.key_path("kind"),
                    format!("unknown action {other:?}; expected {KINDS}"),
                );
                return None;
            }
        };
        Some(Action {
            at,
            app,
            kind,
            command,
            origin,
        })
    }

    /// The process group an action applies to: `group`, or the app's only one.
    fn group_of(&mut self, t: &mut TableReader, app: &App) -> Option<usize> {
        match t.opt_str(self.p, "group") {
            Some(g) => {
                let found = app.groups.iter().position(|x| x.name == g);
                if found.is_none() {
                    let names: Vec<&str> = app.groups.iter().map(|x| x.name.as_str()).collect();
                    self.p.error(
                        &t.origin_of("group"),
                        &t.key_path("group"),
                        format!(
                            "{} has no process group {g:?}; its groups: {}",
                            app.name,
                            names.join(", ")
                        ),
                    );
                }
                found
            }
            None if app.groups.len() == 1 => Some(0),
            None => {
                let names: Vec<&str> = app.groups.iter().map(|x| x.name.as_str()).collect();
                self.p.error(
                    t.origin(),
                    &t.key_path("group"),
                    format!(
                        "missing; {} has several process groups ({}), so say which, as flyctl asks",
                        app.name,
                        names.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// `count`: the group's new total, as an integer, or relative as "+2" / "-1" (flyctl's
    /// `fly scale count +2`). Returns what was written and the absolute target.
    fn count(
        &mut self,
        t: &mut TableReader,
        ledger: &Ledger,
        app: usize,
        group: usize,
    ) -> Option<(String, i64)> {
        const HELP: &str =
            "expected the group's new total, e.g. count = 6, or a change, e.g. count = \"+2\"";
        let Some(n) = t.take("count") else {
            self.p
                .error(t.origin(), &t.key_path("count"), format!("missing; {HELP}"));
            return None;
        };
        let now = ledger.live(app).filter(|m| m.group == group).count() as i64;
        let parsed = match &n.value {
            Value::Int(i) if (0..=100_000).contains(i) => Some((i.to_string(), *i)),
            Value::Str(s) if s.starts_with(['+', '-']) => s[1..]
                .parse::<i64>()
                .ok()
                .filter(|d| *d <= 100_000)
                .map(|d| {
                    let d = if s.starts_with('-') { -d } else { d };
                    (s.clone(), (now + d).max(0))
                }),
            _ => None,
        };
        if parsed.is_none() {
            self.p.error(
                &n.origin,
                &t.key_path("count"),
                format!("{}: {HELP} (at most 100000)", n.value),
            );
        }
        parsed
    }

    /// `regions`, or the regions where the app has Machines (in creation order), or its
    /// primary region (flyctl's defaults).
    fn scale_regions(
        &mut self,
        t: &mut TableReader,
        ledger: &Ledger,
        app: &App,
        ai: usize,
    ) -> Option<Vec<RegionIdx>> {
        let path = t.key_path("regions");
        let origin = t.origin_of("regions");
        match t.opt_str_list(self.p, "regions") {
            Some(codes) if codes.is_empty() => {
                self.p.error(
                    &origin,
                    &path,
                    "expected at least one region, e.g. [\"ams\"]",
                );
                None
            }
            Some(codes) => {
                let mut out = Vec::new();
                for c in codes {
                    let r = self.region(&c, &origin, &path)?;
                    if out.contains(&r) {
                        self.p
                            .error(&origin, &path, format!("region {c:?} is listed twice"));
                        return None;
                    }
                    out.push(r);
                }
                Some(out)
            }
            None if t.has("regions") => None,
            None => {
                let mut out: Vec<RegionIdx> = Vec::new();
                for m in ledger.live(ai) {
                    if !out.contains(&m.region) {
                        out.push(m.region);
                    }
                }
                if out.is_empty() {
                    out.push(app.primary_region);
                }
                Some(out)
            }
        }
    }

    /// `machine = "web:3"`: a Machine of the action's app that exists at the action's time.
    fn machine(
        &mut self,
        t: &mut TableReader,
        ledger: &Ledger,
        app: usize,
        apps: &[App],
        at: SimDuration,
    ) -> Option<u32> {
        let text = t.req_str(self.p, "machine")?;
        let origin = t.origin_of("machine");
        let path = t.key_path("machine");
        let name = &apps[app].name;
        let ordinal = text
            .strip_prefix(name.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|n| n.parse::<u32>().ok());
        let Some(o) = ordinal.filter(|&o| (o as usize) < ledger.apps[app].len()) else {
            let n = ledger.apps[app].len();
            self.p.error(
                &origin,
                &path,
                format!(
                    "{text:?}: expected one of {name}'s Machines at {at}, {name}:0 to {name}:{}",
                    n.saturating_sub(1)
                ),
            );
            return None;
        };
        if let Some((by, when)) = &ledger.apps[app][o as usize].destroyed_by {
            self.p.error(
                &origin,
                &path,
                format!("{text} is destroyed by an earlier action ({by}, at {when}), so it does not exist at {at}"),
            );
            return None;
        }
        Some(o)
    }

    /// Every new or resized Machine must fit on some host of its region.
    fn check_fits(&mut self, origin: &Origin, path: &str, app: &App, machines: &[NewMachine]) {
        let found = machines
            .iter()
            .find_map(|m| self.fits_no_host(m.region, &m.vm, &app.groups[m.group].name));
        if let Some(msg) = found {
            self.p.error(origin, path, msg);
        }
    }
}

fn region_suffix(b: &Builder, region: RegionIdx, from: RegionIdx) -> String {
    if region == from {
        String::new()
    } else {
        format!(" --region {}", b.regions[region].code)
    }
}

/// The group's Machines now in each listed region.
fn current(ledger: &Ledger, app: usize, group: usize, regions: &[RegionIdx]) -> Vec<i64> {
    regions
        .iter()
        .map(|&r| {
            ledger
                .live(app)
                .filter(|m| m.group == group && m.region == r)
                .count() as i64
        })
        .collect()
}

/// flyctl's `convergeGroupCounts`: the change in each listed region that brings the total
/// over the listed regions to `total`.
pub(crate) fn converge(total: i64, current: &[i64], max: Option<i64>) -> Result<Vec<i64>, String> {
    let n = current.len();
    let mut diffs = vec![0i64; n];
    if let Some(max) = max {
        if (n as i64) * max < total {
            return Err(format!(
                "{n} region(s) × max_per_region {max} hold fewer than {total} Machines (flyctl: \"the number of regions by the maximum machines per region is fewer than the expected total\")"
            ));
        }
        for (d, &c) in diffs.iter_mut().zip(current) {
            if c > max {
                *d = max - c;
            }
        }
    }
    let mut diff = total - current.iter().zip(&diffs).map(|(c, d)| c + d).sum::<i64>();
    let mut idx = 0;
    while diff > 0 {
        let r = idx % n;
        if max.is_none_or(|m| current[r] + diffs[r] < m) {
            diffs[r] += 1;
            diff -= 1;
        }
        idx += 1;
    }
    let mut idx = 1;
    while diff < 0 {
        let r = idx % n;
        if current[r] + diffs[r] > 0 {
            diffs[r] -= 1;
            diff += 1;
        }
        idx += 1;
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::converge;

    /// The cases of flyctl's own tests of `convergeGroupCounts`.
    #[test]
    fn converges_like_flyctl() {
        // Adding goes round robin from the first region, whatever the imbalance.
        assert_eq!(converge(3, &[1, 1], None).unwrap(), vec![1, 0]);
        assert_eq!(converge(6, &[0, 0, 0], None).unwrap(), vec![2, 2, 2]);
        // Removing starts at the second region.
        assert_eq!(converge(1, &[1, 1], None).unwrap(), vec![0, -1]);
        assert_eq!(converge(0, &[2, 1, 1], None).unwrap(), vec![-2, -1, -1]);
        assert_eq!(converge(2, &[3, 0], None).unwrap(), vec![-1, 0]);
        // The excess over the maximum goes first.
        assert_eq!(converge(4, &[4, 0], Some(2)).unwrap(), vec![-2, 2]);
        assert!(converge(5, &[0, 0], Some(2)).is_err());
        assert_eq!(converge(2, &[2, 2], None).unwrap(), vec![-1, -1]);
    }
}
