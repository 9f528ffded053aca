//! `[[app]]`: an app's fly.toml, its Machines (or Fly's default layout), requests, and checks
//! that its Machines fit and its standbys watch real Machines.

use super::*;

const APP_KEYS: &[&str] = &[
    "name",
    "fly",
    "fly_toml",
    "machines",
    "request",
    "app_boot",
    "app_boot_cpu",
    "idle_exit",
    "rootfs",
    "traffic",
    "jobs_wait",
    "gauge",
    "autoscaler",
];
const MACHINES_KEYS: &[&str] = &["count", "regions", "state", "group", "standby_for"];
const REQUEST_KEYS: &[&str] = &["service_time", "model", "cpu", "wait", "cpu_share"];

impl Builder<'_> {
    pub(super) fn app(&mut self, n: &Node, path: &str) -> Option<App> {
        let mut t = TableReader::new(n, path, self.p);
        let name = t.req_str(self.p, "name").unwrap_or_default();
        self.current_app = name.clone();
        let mut fly_file_name: Option<String> = None;
        let fly = match (t.take("fly"), t.take("fly_toml")) {
            (Some(_), Some(f)) => {
                self.p.error(
                    &f.origin,
                    &t.key_path("fly_toml"),
                    "give either fly_toml or an inline [app.fly], not both",
                );
                None
            }
            (Some(inline), None) => {
                let first = self.p.list.len();
                let fly = fly::read(inline, &t.key_path("fly"), self.p);
                self.misplaced_app_keys(first);
                Some(fly)
            }
            (None, Some(f)) => {
                fly_file_name = match &f.value {
                    Value::Str(rel) => Some(self.base_dir.join(rel).display().to_string()),
                    _ => None,
                };
                self.fly_file(f, &t.key_path("fly_toml"))
            }
            (None, None) => {
                self.p.error(
                    t.origin(),
                    &t.key_path("fly"),
                    "missing; give the app's fly.toml inline as [app.fly] or as fly_toml = \"path/to/fly.toml\"",
                );
                None
            }
        };
        let fly = fly.unwrap_or_else(|| FlyApp {
            app: None,
            primary_region: None,
            groups: vec![fly::FlyGroup {
                name: "app".into(),
                vm: fly::preset("shared-cpu-1x").expect("built-in preset"),
                gpus: None,
                mount: None,
                restart: None,
            }],
            services: Vec::new(),
            swap_mb: 0,
            kill_timeout: SimDuration::from_secs(5),
            deploy: DeployConfig::default(),
        });
        // Each service takes its own traffic; a group reached by several takes the most
        // restrictive autostop among them, a service without the key counting as off
        // (flyctl `deployCreateMachinesForGroups`).
        let services = fly.services.clone();
        let mut served_groups: Vec<usize> = Vec::new();
        for svc in &services {
            for &g in &svc.groups {
                if !served_groups.contains(&g) {
                    served_groups.push(g);
                }
            }
        }
        served_groups.sort_unstable();
        let groups: Vec<Group> = fly
            .groups
            .iter()
            .enumerate()
            .map(|(gi, g)| {
                let reaching: Vec<u8> = (0..services.len())
                    .filter(|&si| services[si].groups.contains(&gi))
                    .map(|si| si as u8)
                    .collect();
                let autostop = reaching
                    .iter()
                    .map(|&si| services[si as usize].autostop)
                    .min()
                    .unwrap_or(Autostop::Off);
                let checks = reaching
                    .iter()
                    .filter_map(|&si| services[si as usize].checks)
                    .reduce(Checks::with);
                Group {
                    name: g.name.clone(),
                    vm: g.vm,
                    gpus: g.gpus.clone(),
                    volume_gb: g.mount.as_ref().map(|m| m.size_gb),
                    restart: g.restart,
                    services: reaching,
                    autostop,
                    checks,
                }
            })
            .collect();
        if services.len() > u8::MAX as usize {
            self.p.error(
                t.origin(),
                &t.key_path("fly"),
                format!(
                    "{} services; flysim takes at most 255 per app",
                    services.len()
                ),
            );
        }
        for g in &groups {
            if let Some((n, kind)) = &g.gpus {
                self.p.warning(
                    t.origin(),
                    &format!("{path}.fly.vm"),
                    format!(
                        "group {:?} asks for {n} {kind} GPU(s): Fly has deprecated GPU Machines (its docs: \"GPUs are deprecated and will be unavailable after August 1\"); flysim still simulates them, but a plan built on them may not be deployable",
                        g.name
                    ),
                );
            }
        }
        let primary = fly.primary_region.as_ref().and_then(|(code, origin)| {
            // A position in a referenced fly.toml names that file, not the scenario.
            let fly_path = match &fly_file_name {
                Some(_) => "primary_region".to_string(),
                None => format!("{path}.fly.primary_region"),
            };
            let warn = |p: &mut Problems, msg: String| match &fly_file_name {
                Some(f) => p.push_in(f, Severity::Warning, origin, &fly_path, msg),
                None => p.warning(origin, &fly_path, msg),
            };
            if fly::is_placeholder(code) {
                warn(self.p, format!(
                    "{code:?} looks like a template placeholder, not a region; give the Machines' regions in `machines`"));
                None
            } else if regions::lookup(code).is_none() && t.has("machines") {
                warn(self.p, format!(
                    "{code:?} is not a Fly region; flysim takes the Machines' first region as the primary region"));
                None
            } else if let (Some(f), None) = (&fly_file_name, regions::lookup(code)) {
                self.p.push_in(f, Severity::Error, origin, &fly_path, format!(
                    "unknown region {code:?}; fix primary_region, or say where the Machines run in the scenario's `machines`"));
                None
            } else {
                self.region(code, origin, &format!("{path}.fly.primary_region"))
            }
        });
        let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        let default_group = served_groups.first().copied().unwrap_or(0);
        let mut machines = Vec::new();
        for (mpath, m) in t.opt_tables(self.p, "machines") {
            if let Some(g) = self.machine_group(m, &mpath, primary, &group_names, default_group) {
                machines.push(g);
            }
        }
        if !t.has("machines") {
            // As `fly deploy` creates them (`fly::deploy_layout`), in the primary region; a
            // standby right after the Machine it watches.
            if let Some(r) = primary {
                let mut ordinal = 0;
                for (gi, g) in groups.iter().enumerate() {
                    let serves = served_groups.contains(&gi);
                    let (count, standby) = super::fly::deploy_layout(g.volume_gb.is_some(), serves);
                    machines.push(MachineGroup {
                        group: gi,
                        per_region: vec![(r, count)],
                        started: true,
                        standby_for: Vec::new(),
                        origin: t.origin().clone(),
                    });
                    ordinal += count;
                    if standby {
                        for watched in ordinal - count..ordinal {
                            machines.push(MachineGroup {
                                group: gi,
                                per_region: vec![(r, 1)],
                                started: false,
                                standby_for: vec![watched],
                                origin: t.origin().clone(),
                            });
                        }
                        ordinal += count;
                    }
                }
            }
        }
        let primary_region = match primary.or_else(|| {
            machines
                .first()
                .and_then(|g| g.per_region.first().map(|x| x.0))
        }) {
            Some(r) => r,
            None => {
                if fly.primary_region.is_none() {
                    self.p.error(
                        t.origin(),
                        &format!("{path}.fly.primary_region"),
                        "missing; set primary_region in the app's fly.toml or list regions in machines",
                    );
                } else if !t.has("machines") {
                    self.p.error(t.origin(), &t.key_path("machines"), "missing; primary_region is not usable, so say where the Machines run, e.g. machines = [{ count = 2, regions = [\"ams\"] }]");
                }
                0
            }
        };

        let (service_time, service_model, cpu) = match t.take("request") {
            Some(r) => self.request(r, &t.key_path("request")),
            None => (
                Dist::Constant(SimDuration::from_millis(50)),
                ServiceModel::Independent,
                None,
            ),
        };
        let app_boot = t
            .take("app_boot")
            .and_then(|b| dist(self.p, &t.key_path("app_boot"), b))
            .unwrap_or(Dist::Constant(SimDuration::from_secs(3)));
        let app_boot_cpu = t.opt_num(self.p, "app_boot_cpu", 0.0, 1.0).unwrap_or(0.0);
        let idle_exit = t.opt_duration(self.p, "idle_exit");
        if idle_exit == Some(SimDuration::ZERO) {
            self.p.error(
                t.origin(),
                &t.key_path("idle_exit"),
                "must be longer than 0s (leave it out for apps that never exit)",
            );
        }
        let rootfs_gb = match t.take("rootfs") {
            None => 1.0,
            Some(r) => match &r.value {
                Value::Str(s) => units::parse_disk_gb(s),
                _ => None,
            }
            .unwrap_or_else(|| {
                self.p.error(
                    &r.origin,
                    &t.key_path("rootfs"),
                    format!("expected a size such as \"1.2GB\", got {}", r.value),
                );
                1.0
            }),
        };
        let traffic: Vec<Traffic> = t
            .opt_tables(self.p, "traffic")
            .into_iter()
            .enumerate()
            .flat_map(|(i, (tp, tn))| {
                let split = matches!(cpu, Some(CpuWork::Split { .. }));
                self.traffic(tn, &tp, &name, i, &services, split)
            })
            .collect();
        if !traffic.is_empty() && served_groups.is_empty() {
            self.p.error(
                t.origin(),
                &t.key_path("traffic"),
                "the app has traffic but its fly.toml has no [http_service] or [[services]] to receive it",
            );
        }
        let jobs_wait = t.opt_duration(self.p, "jobs_wait");
        if jobs_wait == Some(SimDuration::ZERO) {
            self.p.error(
                &t.origin_of("jobs_wait"),
                &t.key_path("jobs_wait"),
                "must be longer than 0s (leave it out for requests that fail when no Machine runs)",
            );
        }
        let gauges = t
            .opt_tables(self.p, "gauge")
            .into_iter()
            .filter_map(|(gp, gn)| self.gauge(gn, &gp))
            .collect();
        // Read once every app is known (its queries may name any app's gauges).
        t.take("autoscaler");
        let name_path = t.key_path("name");
        let app_origin = t.origin().clone();
        t.finish_strict(self.p, APP_KEYS);
        if !name.is_empty()
            && !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            self.p.error(
                &app_origin,
                &name_path,
                format!("expected letters, digits, '-' or '_', got {name:?}"),
            );
        }
        // The scenario's app name wins; fly.toml's `app` only documents where it came from.
        Some(App {
            name,
            primary_region,
            services,
            first_route: 0,
            served_groups,
            groups,
            swap_mb: fly.swap_mb,
            deploy: fly.deploy.clone(),
            kill_timeout: fly.kill_timeout,
            machines,
            service_time,
            service_model,
            cpu,
            app_boot,
            app_boot_cpu,
            idle_exit,
            rootfs_gb,
            traffic,
            jobs_wait,
            gauges,
            autoscaler: None,
            reserved: 0,
        })
    }

    /// In TOML, keys written after an `[app.fly...]` header belong to that table. A flysim app
    /// key found there (`machines`, `traffic`...) was meant for `[[app]]`: say so, as an error.
    pub(super) fn misplaced_app_keys(&mut self, first: usize) {
        for problem in &mut self.p.list[first..] {
            let key = problem.path.rsplit('.').next().unwrap_or("");
            if problem.severity == Severity::Ignored && APP_KEYS.contains(&key) && key != "fly" {
                problem.severity = Severity::Error;
                problem.message = format!(
                    "`{key}` is a key of [[app]], but it sits inside a fly.toml table: TOML puts keys after a [app.fly...] header into that table; move it above [app.fly]"
                );
            }
        }
    }

    /// Reads a fly.toml file named by `fly_toml`, relative to the scenario's folder.
    pub(super) fn fly_file(&mut self, n: &Node, path: &str) -> Option<FlyApp> {
        let Value::Str(rel) = &n.value else {
            self.p.error(
                &n.origin,
                path,
                format!("expected a path to a fly.toml file, got {}", n.value),
            );
            return None;
        };
        let full = self.base_dir.join(rel);
        let file = full.display().to_string();
        let text = match doc::read_text(&full, doc::MAX_TEXT_BYTES) {
            Ok(t) => t,
            Err((Origin::Implied, message)) => {
                self.p
                    .error(&n.origin, path, format!("{}: {message}", full.display()));
                return None;
            }
            Err((origin, message)) => {
                self.p.push_in(&file, Severity::Error, &origin, "", message);
                return None;
            }
        };
        let mut fp = Problems::new(&file);
        let fly = match doc::parse(&text) {
            Ok(mut root) => {
                for (app, arg, label) in &self.fly_sets {
                    if *app == self.current_app
                        && let Err(msg) = doc::apply_set(&mut root, arg, label)
                    {
                        fp.error(&Origin::Set(label.clone()), "", msg);
                    }
                }
                Some(fly::read(&root, "", &mut fp))
            }
            Err(e) => {
                fp.error(&e.origin, "", format!("not valid TOML: {}", e.message));
                None
            }
        };
        self.p.list.append(&mut fp.list);
        fly
    }

    pub(super) fn machine_group(
        &mut self,
        n: &Node,
        path: &str,
        primary: Option<RegionIdx>,
        group_names: &[String],
        default_group: usize,
    ) -> Option<MachineGroup> {
        let mut t = TableReader::new(n, path, self.p);
        let group = match t.opt_str(self.p, "group") {
            None => default_group,
            Some(g) => match group_names.iter().position(|x| *x == g) {
                Some(i) => i,
                None => {
                    self.p.error(
                        t.origin(),
                        &t.key_path("group"),
                        format!(
                            "no process group {g:?} in the app's fly.toml (groups: {})",
                            group_names.join(", ")
                        ),
                    );
                    default_group
                }
            },
        };
        let count = t.opt_int(self.p, "count", 0, 100_000);
        if count.is_none() && !t.has("count") {
            self.p.error(
                t.origin(),
                &t.key_path("count"),
                "missing; expected how many Machines, e.g. count = 2",
            );
        }
        let regions: Vec<RegionIdx> = match t.take("regions") {
            None => primary.into_iter().collect(),
            Some(r) => {
                let Value::Array(items) = &r.value else {
                    self.p.error(
                        &r.origin,
                        &t.key_path("regions"),
                        format!("expected an array of region codes, got {}", r.value),
                    );
                    return None;
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ipath = format!("{}[{i}]", t.key_path("regions"));
                    match &item.value {
                        Value::Str(code) => out.extend(self.region(code, &item.origin, &ipath)),
                        other => self.p.error(
                            &item.origin,
                            &ipath,
                            format!("expected a region code, got {other}"),
                        ),
                    }
                }
                if out.is_empty() && items.is_empty() {
                    self.p.error(
                        &r.origin,
                        &t.key_path("regions"),
                        "expected at least one region code",
                    );
                }
                out
            }
        };
        let started = match t.opt_str(self.p, "state").as_deref() {
            None | Some("started") => true,
            Some("stopped") => false,
            Some(other) => {
                self.p.error(
                    t.origin(),
                    &t.key_path("state"),
                    format!("expected \"started\" or \"stopped\", got {other:?}"),
                );
                true
            }
        };
        let app_name = self.current_app.clone();
        let standby_for: Vec<u32> = match t.take("standby_for") {
            None => Vec::new(),
            Some(sf) => {
                let refs: Vec<String> = match &sf.value {
                    Value::Str(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .filter_map(|i| {
                            if let Value::Str(s) = &i.value {
                                Some(s.clone())
                            } else {
                                None
                            }
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let mut out = Vec::new();
                if refs.is_empty() {
                    self.p.error(
                        &sf.origin,
                        &t.key_path("standby_for"),
                        format!(
                            "expected a Machine such as \"{app_name}:0\" or a list of them, got {}",
                            sf.value
                        ),
                    );
                }
                for r in refs {
                    match r
                        .split_once(':')
                        .filter(|(a, _)| *a == app_name)
                        .and_then(|(_, i)| i.parse::<u32>().ok())
                    {
                        Some(i) => out.push(i),
                        None => self.p.error(
                            &sf.origin,
                            &t.key_path("standby_for"),
                            format!(
                                "expected a Machine of this app such as \"{app_name}:0\", got {r:?}"
                            ),
                        ),
                    }
                }
                out
            }
        };
        t.finish_strict(self.p, MACHINES_KEYS);
        if regions.is_empty() {
            if n.get("regions").is_none() {
                self.p.error(
                    &n.origin,
                    &format!("{path}.regions"),
                    "missing, and the app has no primary_region to default to",
                );
            }
            return None;
        }
        // Like `fly scale count N --region a,b`: one Machine at a time, round robin in the
        // order the regions are listed.
        let count = count? as u32;
        let mut per_region: Vec<(RegionIdx, u32)> = Vec::new();
        for i in 0..count {
            let r = regions[i as usize % regions.len()];
            match per_region.iter_mut().find(|(x, _)| *x == r) {
                Some(e) => e.1 += 1,
                None => per_region.push((r, 1)),
            }
        }
        Some(MachineGroup {
            group,
            per_region,
            started: started && standby_for.is_empty(),
            standby_for,
            origin: n
                .get("standby_for")
                .map_or_else(|| n.origin.clone(), |s| s.origin.clone()),
        })
    }

    /// `request`: the service time and model, and optionally the CPU part of the work
    /// (`cpu` and `wait`, or `cpu_share` of `service_time`), which makes the requests share
    /// the Machine's CPU under its quota.
    pub(super) fn request(
        &mut self,
        n: &Node,
        path: &str,
    ) -> (Dist, ServiceModel, Option<CpuWork>) {
        let mut t = TableReader::new(n, path, self.p);
        let has_service_time = t.has("service_time");
        let st = t
            .take("service_time")
            .and_then(|s| dist(self.p, &t.key_path("service_time"), s))
            .unwrap_or(Dist::Constant(SimDuration::from_millis(50)));
        let has_model = t.has("model");
        let model = choice(
            self.p,
            &mut t,
            "model",
            ServiceModel::Independent,
            &[
                ("independent", ServiceModel::Independent),
                ("processor_sharing", ServiceModel::ProcessorSharing),
            ],
        );
        let share = t.opt_num(self.p, "cpu_share", 0.0, 1.0);
        let cpu = t
            .take("cpu")
            .map(|c| (c.origin.clone(), dist(self.p, &t.key_path("cpu"), c)));
        let wait = t
            .take("wait")
            .map(|w| (w.origin.clone(), dist(self.p, &t.key_path("wait"), w)));
        let work = match (share, cpu, wait) {
            (None, None, None) => None,
            (Some(s), None, None) => Some(CpuWork::Share(s)),
            (None, Some((_, c)), w) if !has_service_time => {
                let wait = match w {
                    Some((_, w)) => w,
                    None => Some(Dist::Constant(SimDuration::ZERO)),
                };
                match (c, wait) {
                    (Some(cpu), Some(wait)) => Some(CpuWork::Split { cpu, wait }),
                    _ => None, // reported by `dist`
                }
            }
            (None, None, Some((origin, _))) => {
                self.p.error(
                    &origin,
                    &t.key_path("wait"),
                    "needs `cpu`: give a request's CPU time and waiting as cpu = DIST, wait = DIST",
                );
                None
            }
            _ => {
                self.p.error(t.origin(), path, "give either service_time with an optional cpu_share (the CPU part of it), or cpu and wait, not both");
                None
            }
        };
        if work.is_some() && has_model && model == ServiceModel::Independent {
            self.p.error(&t.origin_of("model"), &t.key_path("model"), "requests that give their CPU time share the Machine's CPU under its quota; leave out model or say \"processor_sharing\"");
        }
        t.finish_strict(self.p, REQUEST_KEYS);
        let model = if work.is_some() {
            ServiceModel::ProcessorSharing
        } else {
            model
        };
        (st, model, work)
    }

    /// The clients' region(s): a code, or a list of codes with optional `weights`.
    pub(super) fn client_regions(
        &mut self,
        t: &mut TableReader,
        required: bool,
    ) -> Option<Vec<(RegionIdx, f64)>> {
        let Some(f) = t.take("from") else {
            if required {
                self.p.error(
                    t.origin(),
                    &t.key_path("from"),
                    "missing; expected the clients' region code, e.g. from = \"ams\"",
                );
            }
            return None;
        };
        let path = t.key_path("from");
        let codes: Vec<(String, Origin)> = match &f.value {
            Value::Str(code) => vec![(code.clone(), f.origin.clone())],
            Value::Array(items) if !items.is_empty() => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::Str(c) => out.push((c.clone(), item.origin.clone())),
                        other => self.p.error(
                            &item.origin,
                            &format!("{path}[{i}]"),
                            format!("expected a region code, got {other}"),
                        ),
                    }
                }
                out
            }
            other => {
                self.p.error(
                    &f.origin,
                    &path,
                    format!("expected a region code or a list of codes, got {other}"),
                );
                return None;
            }
        };
        let regions: Vec<Option<RegionIdx>> = codes
            .iter()
            .map(|(c, o)| self.region(c, o, &path))
            .collect();
        let weights = match t.take("weights") {
            None => vec![1.0; regions.len()],
            Some(w) => match &w.value {
                Value::Array(items) if items.len() == regions.len() => {
                    let ws: Vec<Option<f64>> = items
                        .iter()
                        .map(|x| match x.value {
                            Value::Int(i) if i >= 0 => Some(i as f64),
                            Value::Float(v) if v >= 0.0 && v.is_finite() => Some(v),
                            _ => None,
                        })
                        .collect();
                    if ws.iter().any(|x| x.is_none()) || ws.iter().flatten().sum::<f64>() <= 0.0 {
                        self.p.error(
                            &w.origin,
                            &t.key_path("weights"),
                            "expected non-negative numbers that are not all zero",
                        );
                        return None;
                    }
                    ws.into_iter().flatten().collect()
                }
                other => {
                    self.p.error(
                        &w.origin,
                        &t.key_path("weights"),
                        format!(
                            "expected one number per region in `from` ({}), got {other}",
                            regions.len()
                        ),
                    );
                    return None;
                }
            },
        };
        if regions.iter().any(|r| r.is_none()) {
            return None;
        }
        let total: f64 = weights.iter().sum();
        Some(
            regions
                .into_iter()
                .flatten()
                .zip(weights.iter().map(|w| w / total))
                .collect(),
        )
    }

    /// Standbys must watch existing Machines that are not standbys themselves.
    /// Warns where `auto_stop_machines = "suspend"` will stop instead: Fly suspends only
    /// Machines with at most `suspend_max_memory`, no swap and no GPU (Fly docs,
    /// suspend-resume).
    pub(super) fn check_suspend(&mut self, apps: &[App], platform: &Platform) {
        for (ai, app) in apps.iter().enumerate() {
            for (mi, g) in app.machines.iter().enumerate() {
                let group = &app.groups[g.group];
                if group.autostop != Autostop::Suspend {
                    continue;
                }
                let why = if app.swap_mb > 0 {
                    Some("it has swap (swap_size_mb)".to_string())
                } else if group.gpus.is_some() {
                    Some("it has a GPU".to_string())
                } else if group.vm.memory_mb > platform.suspend_max_memory_mb {
                    Some(format!(
                        "its {} MB is over the {} MB Fly suspends (platform.suspend_max_memory)",
                        group.vm.memory_mb, platform.suspend_max_memory_mb
                    ))
                } else {
                    None
                };
                if let Some(why) = why {
                    self.p.warning(
                        &g.origin,
                        &format!("app[{ai}].machines[{mi}]"),
                        format!(
                            "auto_stop_machines = \"suspend\" stops these Machines instead: {why}"
                        ),
                    );
                }
            }
        }
    }

    pub(super) fn check_standbys(&mut self, apps: &[App]) {
        for (ai, app) in apps.iter().enumerate() {
            let total: u32 = app
                .machines
                .iter()
                .map(|g| g.per_region.iter().map(|x| x.1).sum::<u32>())
                .sum();
            let mut ordinal = 0u32;
            let mut standby_ordinals = Vec::new();
            for g in &app.machines {
                let n: u32 = g.per_region.iter().map(|x| x.1).sum();
                if !g.standby_for.is_empty() {
                    standby_ordinals.extend(ordinal..ordinal + n);
                }
                ordinal += n;
            }
            for (mi, g) in app.machines.iter().enumerate() {
                if !g.standby_for.is_empty() && app.served_groups.contains(&g.group) {
                    self.p.warning(
                        &g.origin,
                        &format!("app[{ai}].machines[{mi}].standby_for"),
                        format!(
                            "{}'s group {:?} has services: `fly deploy` clears standbys on Machines with services (flyctl deploy/machines_launchinput.go), so the next deploy makes these ordinary Machines that autostart; standbys are for Machines without services (workers, cron)",
                            app.name, app.groups[g.group].name
                        ),
                    );
                }
                for &w in &g.standby_for {
                    let path = format!("app[{ai}].machines[{mi}].standby_for");
                    if w >= total {
                        self.p.error(
                            &g.origin,
                            &path,
                            format!(
                                "{}:{w} does not exist; the app has {total} Machines ({}:0..{})",
                                app.name,
                                app.name,
                                total.saturating_sub(1)
                            ),
                        );
                    } else if standby_ordinals.contains(&w) {
                        self.p.error(
                            &g.origin,
                            &path,
                            format!("{}:{w} is itself a standby", app.name),
                        );
                    }
                }
            }
        }
    }

    /// Every Machine must fit on one host of its region.
    /// Why a Machine of size `vm` in group `group` cannot exist in region `r`: no host there
    /// is big enough for it.
    pub(in crate::scenario) fn fits_no_host(
        &self,
        r: RegionIdx,
        vm: &VmSize,
        group: &str,
    ) -> Option<String> {
        let region = self.regions.get(r)?;
        let fits = region
            .hosts
            .iter()
            .any(|h| h.cpus >= vm.cpus && h.memory_mb >= vm.memory_mb);
        (!fits).then(|| format!(
            "a {} {}-vCPU {} MB Machine (group {group:?}) fits on no host of region {:?}; give the region bigger hosts ([[region]] host = {{ cpus = .., memory = \"..\" }})",
            vm.cpu_kind, vm.cpus, vm.memory_mb, region.code))
    }

    pub(super) fn check_capacity(&mut self, apps: &[App]) {
        for (ai, app) in apps.iter().enumerate() {
            for (mi, g) in app.machines.iter().enumerate() {
                let group = &app.groups[g.group];
                for &(r, _) in &g.per_region {
                    if let Some(msg) = self.fits_no_host(r, &group.vm, &group.name) {
                        self.p
                            .error(&g.origin, &format!("app[{ai}].machines[{mi}]"), msg);
                    }
                }
            }
        }
    }
}
