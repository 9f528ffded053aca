//! `[app.autoscaler]` (fly-autoscaler's settings, by their own `FAS_*` names, and its
//! `metric-collectors`) and `[[app.gauge]]` (what an app exports to Prometheus).
//!
//! The rules are fly-autoscaler's (`Config.Validate` in `cmd/fly-autoscaler/main.go`): a
//! created or a started count is required; `FAS_CREATED_MACHINE_COUNT` sets both bounds
//! and excludes its `MIN_`/`MAX_` forms, which come as a pair; the initial state is `started`
//! or `stopped`. Expressions are parsed against the collectors' names, queries against the
//! metrics the simulated apps expose, each problem at its line, column and character.

use super::*;
use crate::query::expr::Expr;
use crate::query::promql::{self, Query};
use crate::scenario::{Autoscaler, Collector, FLY_METRICS, Gauge, GaugeValue};

const KEYS: &[&str] = &[
    "FAS_CREATED_MACHINE_COUNT",
    "FAS_MIN_CREATED_MACHINE_COUNT",
    "FAS_MAX_CREATED_MACHINE_COUNT",
    "FAS_STARTED_MACHINE_COUNT",
    "FAS_MIN_STARTED_MACHINE_COUNT",
    "FAS_MAX_STARTED_MACHINE_COUNT",
    "FAS_INITIAL_MACHINE_STATE",
    "FAS_INTERVAL",
    "FAS_TIMEOUT",
    "FAS_REGIONS",
    "FAS_PROCESS_GROUP",
    "FAS_PROMETHEUS_METRIC_NAME",
    "FAS_PROMETHEUS_QUERY",
    "FAS_PROMETHEUS_ADDRESS",
    "FAS_PROMETHEUS_TOKEN",
    "FAS_APP_NAME",
    "FAS_ORG",
    "FAS_API_TOKEN",
    "FAS_CONCURRENCY",
    "metric-collectors",
];
/// Reconciles one app's autoscaler may run (each lists the group's Machines).
const MAX_RECONCILES: u64 = 2_000_000;
const COLLECTOR_KEYS: &[&str] = &["type", "metric-name", "query", "address", "token"];
const GAUGE_KEYS: &[&str] = &["name", "value"];

/// Where character `at` of a string value written at `origin` sits (a one-line string; the
/// column is the opening quote's).
fn inside(origin: &Origin, at: usize) -> Origin {
    match origin {
        Origin::File { line, column } => Origin::File {
            line: *line,
            column: column + 1 + at as u32,
        },
        other => other.clone(),
    }
}

impl Builder<'_> {
    /// One `[[app.gauge]]`.
    pub(super) fn gauge(&mut self, n: &Node, path: &str) -> Option<Gauge> {
        let mut t = TableReader::new(n, path, self.p);
        let name = t.req_str(self.p, "name");
        let value = choice(
            self.p,
            &mut t,
            "value",
            GaugeValue::Queued,
            &[
                ("queued", GaugeValue::Queued),
                ("in_service", GaugeValue::InService),
                ("in_flight", GaugeValue::InFlight),
            ],
        );
        t.finish_strict(self.p, GAUGE_KEYS);
        let name = name?;
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        if !valid || FLY_METRICS.contains(&name.as_str()) {
            let why = if valid {
                "is a metric Fly exposes itself; choose another name"
            } else {
                "is not a Prometheus metric name (letters, digits, '_' and ':', not starting with a digit)"
            };
            self.p.error(
                &t.origin_of("name"),
                &t.key_path("name"),
                format!("{name:?} {why}"),
            );
            return None;
        }
        Some(Gauge { name, value })
    }

    /// `[app.autoscaler]` of app `index`, read once every app is known.
    pub(super) fn autoscaler(
        &mut self,
        n: &Node,
        path: &str,
        apps: &[App],
        index: usize,
        duration: SimDuration,
    ) -> Option<Autoscaler> {
        let app = &apps[index];
        let mut t = TableReader::new(n, path, self.p);
        let text = |b: &mut Self, t: &mut TableReader, key: &str| -> Option<(String, Origin)> {
            let node = t.take(key)?;
            match &node.value {
                Value::Str(s) if s.trim().is_empty() => None,
                Value::Str(s) => Some((s.clone(), node.origin.clone())),
                Value::Int(i) => Some((i.to_string(), node.origin.clone())),
                Value::Float(x) => Some((x.to_string(), node.origin.clone())),
                other => {
                    b.p.error(
                        &node.origin,
                        &t.key_path(key),
                        format!("expected an expression in a string, e.g. \"ceil(queue_depth / 10)\", got {other}"),
                    );
                    None
                }
            }
        };
        if let Some(name) = t.opt_str(self.p, "FAS_APP_NAME")
            && name != app.name
        {
            self.p.error(
                &t.origin_of("FAS_APP_NAME"),
                &t.key_path("FAS_APP_NAME"),
                format!("{name:?}: an [app.autoscaler] scales its own app, {:?}; leave FAS_APP_NAME out or make it match", app.name),
            );
        }
        for key in [
            "FAS_ORG",
            "FAS_API_TOKEN",
            "FAS_PROMETHEUS_ADDRESS",
            "FAS_PROMETHEUS_TOKEN",
            "FAS_CONCURRENCY",
        ] {
            // Accepted so that a configuration pastes as it is; a simulation needs none.
            t.take(key);
        }

        // Collectors: the FAS_PROMETHEUS_* pair, then `metric-collectors`.
        let mut raw: Vec<(String, String, Origin, String)> = Vec::new();
        let env_name = t.opt_str(self.p, "FAS_PROMETHEUS_METRIC_NAME");
        let env_query = text(self, &mut t, "FAS_PROMETHEUS_QUERY");
        match (env_name, env_query) {
            (Some(name), Some((q, o))) => raw.push((name, q, o, t.key_path("FAS_PROMETHEUS_QUERY"))),
            (Some(_), None) => self.p.error(
                t.origin(),
                &t.key_path("FAS_PROMETHEUS_QUERY"),
                "missing; FAS_PROMETHEUS_METRIC_NAME names the value of a query, e.g. FAS_PROMETHEUS_QUERY = \"sum(fly_app_concurrency{app='$APP_NAME'})\"",
            ),
            (None, Some((_, o))) => self.p.error(
                &o,
                &t.key_path("FAS_PROMETHEUS_METRIC_NAME"),
                "missing; the query's value needs a name for the expressions, e.g. FAS_PROMETHEUS_METRIC_NAME = \"concurrency\"",
            ),
            (None, None) => {}
        }
        for (cp, cn) in t.opt_tables(self.p, "metric-collectors") {
            let mut c = TableReader::new(cn, &cp, self.p);
            match c.req_str(self.p, "type").as_deref() {
                Some("prometheus") | None => {}
                Some(other) => self.p.error(
                    &c.origin_of("type"),
                    &c.key_path("type"),
                    format!("{other:?}: flysim simulates the \"prometheus\" collector (Temporal workflows are not modelled)"),
                ),
            }
            let name = c.req_str(self.p, "metric-name");
            let query = text(self, &mut c, "query");
            if query.is_none() && !c.has("query") {
                self.p.error(
                    c.origin(),
                    &c.key_path("query"),
                    "missing; expected the Prometheus query whose value the metric takes",
                );
            }
            c.take("address");
            c.take("token");
            c.finish_strict(self.p, COLLECTOR_KEYS);
            if let (Some(name), Some((q, o))) = (name, query) {
                raw.push((name, q, o, c.key_path("query")));
            }
        }
        let mut names: Vec<String> = Vec::new();
        for (name, _, origin, qpath) in &raw {
            if names.contains(name) {
                self.p.error(
                    origin,
                    qpath,
                    format!("a second collector named {name:?}; each metric-name must be unique"),
                );
            }
            names.push(name.clone());
        }
        let mut metrics: Vec<&str> = FLY_METRICS.to_vec();
        for a in apps {
            for g in &a.gauges {
                if !metrics.contains(&g.name.as_str()) {
                    metrics.push(&g.name);
                }
            }
        }
        let mut collectors = Vec::new();
        for (name, q, origin, qpath) in raw {
            let expanded = promql::expand(&q, &app.name);
            let shift = |at: usize| if expanded == q { at } else { 0 };
            match Query::parse(&expanded, &metrics) {
                Ok(query) => collectors.push(Collector { name, query }),
                Err(e) => {
                    self.p
                        .error(&inside(&origin, shift(e.at)), &qpath, format!("{q:?}: {e}"))
                }
            }
        }

        // The machine counts.
        let expr = |b: &mut Self, t: &mut TableReader, key: &str| -> (bool, Option<Expr>) {
            let Some((s, origin)) = text(b, t, key) else {
                return (false, None);
            };
            match Expr::parse(&s, &names) {
                Ok(e) => (true, Some(e)),
                Err(e) => {
                    b.p.error(
                        &inside(&origin, e.at),
                        &t.key_path(key),
                        format!("{s:?}: {e}"),
                    );
                    (true, None)
                }
            }
        };
        let (has_created, created) = expr(self, &mut t, "FAS_CREATED_MACHINE_COUNT");
        let (has_min_c, min_c) = expr(self, &mut t, "FAS_MIN_CREATED_MACHINE_COUNT");
        let (has_max_c, max_c) = expr(self, &mut t, "FAS_MAX_CREATED_MACHINE_COUNT");
        let (has_started, started) = expr(self, &mut t, "FAS_STARTED_MACHINE_COUNT");
        let (has_min_s, min_s) = expr(self, &mut t, "FAS_MIN_STARTED_MACHINE_COUNT");
        let (has_max_s, max_s) = expr(self, &mut t, "FAS_MAX_STARTED_MACHINE_COUNT");
        let pair = |b: &mut Self, t: &TableReader, what: &str, one: bool, min: bool, max: bool| {
            let upper = what.to_uppercase();
            if one && (min || max) {
                b.p.error(
                    &t.origin_of(&format!("FAS_{upper}_MACHINE_COUNT")),
                    &t.key_path(&format!("FAS_{upper}_MACHINE_COUNT")),
                    format!("give FAS_{upper}_MACHINE_COUNT or its MIN_/MAX_ pair, not both (fly-autoscaler: \"cannot define {what} machine count and min/max {what} machine count\")"),
                );
            } else if min != max {
                let (have, need) = if min { ("MIN", "MAX") } else { ("MAX", "MIN") };
                b.p.error(
                    &t.origin_of(&format!("FAS_{have}_{upper}_MACHINE_COUNT")),
                    &t.key_path(&format!("FAS_{need}_{upper}_MACHINE_COUNT")),
                    format!("missing; fly-autoscaler requires FAS_{need}_{upper}_MACHINE_COUNT when FAS_{have}_{upper}_MACHINE_COUNT is set"),
                );
            }
        };
        pair(self, &t, "created", has_created, has_min_c, has_max_c);
        pair(self, &t, "started", has_started, has_min_s, has_max_s);
        // A misspelt key is reported as unknown (below); a missing count would only repeat it.
        let misspelt = n.entries().iter().any(|(k, _)| !KEYS.contains(&k.as_str()));
        let any_count =
            has_created || has_min_c || has_max_c || has_started || has_min_s || has_max_s;
        if !any_count && !misspelt {
            self.p.error(
                t.origin(),
                &t.key_path("FAS_STARTED_MACHINE_COUNT"),
                "missing; fly-autoscaler needs a created or a started machine count, e.g. FAS_STARTED_MACHINE_COUNT = \"ceil(queue_depth / 10)\"",
            );
        }

        let run = duration;
        let duration = |b: &mut Self, t: &mut TableReader, key: &str, default: u64| {
            let d = t
                .opt_duration(b.p, key)
                .unwrap_or(SimDuration::from_secs(default));
            if d == SimDuration::ZERO {
                b.p.error(
                    &t.origin_of(key),
                    &t.key_path(key),
                    "must be longer than 0s (Go's time.NewTicker refuses a zero interval)",
                );
            }
            d
        };
        let interval = duration(self, &mut t, "FAS_INTERVAL", 15);
        let timeout = duration(self, &mut t, "FAS_TIMEOUT", 30);
        let reconciles = run.0 / interval.0.max(1);
        if reconciles > MAX_RECONCILES {
            self.p.error(
                &t.origin_of("FAS_INTERVAL"),
                &t.key_path("FAS_INTERVAL"),
                format!("{interval} over {run} makes {reconciles} reconciles; flysim takes at most {MAX_RECONCILES} (an interval of {} or more)", SimDuration(run.0.div_ceil(MAX_RECONCILES))),
            );
        }
        let create_stopped = match t.opt_str(self.p, "FAS_INITIAL_MACHINE_STATE").as_deref() {
            None | Some("started") => false,
            Some("stopped") => true,
            Some(other) => {
                self.p.error(
                    &t.origin_of("FAS_INITIAL_MACHINE_STATE"),
                    &t.key_path("FAS_INITIAL_MACHINE_STATE"),
                    format!("expected \"started\" or \"stopped\", got {other:?}"),
                );
                false
            }
        };
        let mut regions = Vec::new();
        if let Some(r) = t.take("FAS_REGIONS") {
            let codes: Vec<String> = match &r.value {
                Value::Str(s) => s.split(',').map(|c| c.trim().to_string()).collect(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(|i| match &i.value {
                        Value::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if codes.is_empty() || codes.iter().any(|c| c.is_empty()) {
                self.p.error(
                    &r.origin,
                    &t.key_path("FAS_REGIONS"),
                    format!(
                        "expected region codes separated by commas, e.g. \"iad,ord\", got {}",
                        r.value
                    ),
                );
            }
            for c in codes.iter().filter(|c| !c.is_empty()) {
                if let Some(i) = self.region(c, &r.origin, &t.key_path("FAS_REGIONS")) {
                    regions.push(i);
                }
            }
        }
        let group_name = t
            .opt_str(self.p, "FAS_PROCESS_GROUP")
            .unwrap_or_else(|| "app".to_string());
        let group = app.groups.iter().position(|g| g.name == group_name);
        if group.is_none() {
            let names: Vec<&str> = app.groups.iter().map(|g| g.name.as_str()).collect();
            self.p.error(
                &t.origin_of("FAS_PROCESS_GROUP"),
                &t.key_path("FAS_PROCESS_GROUP"),
                format!(
                    "the app has no process group {group_name:?} (fly-autoscaler's default is \"app\"); its groups: {}",
                    names.join(", ")
                ),
            );
        }
        let cannot_list = group.is_some_and(|g| app.groups[g].autostop == Autostop::Suspend);
        if cannot_list {
            self.p.warning(
                t.origin(),
                path,
                "the group autostops by suspending: fly-autoscaler 0.3 cannot list such Machines (\"json: cannot unmarshal string into Go struct field MachineService.config.services.autostop of type bool\", fly-autoscaler issue #41), so every reconcile fails",
            );
        }
        t.finish_strict(self.p, KEYS);
        let (min_created, max_created) = if has_created {
            (created.clone(), created)
        } else {
            (min_c, max_c)
        };
        let (min_started, max_started) = if has_started {
            (started.clone(), started)
        } else {
            (min_s, max_s)
        };
        Some(Autoscaler {
            interval,
            timeout,
            group: group?,
            regions,
            create_stopped,
            min_created,
            max_created,
            min_started,
            max_started,
            collectors,
            cannot_list,
        })
    }
}
