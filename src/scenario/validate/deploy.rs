//! `[[deploy]]`: `fly deploy` of a new version at a time, with what the version changes and
//! what may go wrong; the strategy and its limits come from the app's fly.toml `[deploy]`,
//! which a deploy may override (for sweeps).

use super::*;

const DEPLOY_KEYS: &[&str] = &[
    "at",
    "app",
    "strategy",
    "max_unavailable",
    "wait_timeout",
    "app_boot",
    "service_time_factor",
    "healthy_after",
    "fail",
    "fail_probability",
    "crash_mtbf",
    "release_time",
    "release_fail_probability",
];

impl Builder<'_> {
    /// The scenario's deploys, in time order (a stable sort: equal times keep file order).
    pub(super) fn deploys(
        &mut self,
        nodes: Vec<(String, &Node)>,
        apps: &[App],
        duration: SimDuration,
    ) -> Vec<Deploy> {
        let mut out: Vec<Deploy> = nodes
            .into_iter()
            .filter_map(|(path, n)| self.deploy(n, &path, apps, duration))
            .collect();
        out.sort_by_key(|d| d.at);
        out
    }

    fn deploy(
        &mut self,
        n: &Node,
        path: &str,
        apps: &[App],
        duration: SimDuration,
    ) -> Option<Deploy> {
        let mut t = TableReader::new(n, path, self.p);
        let p = &mut *self.p;
        let at = t.opt_duration(p, "at");
        if at.is_none() && !t.has("at") {
            p.error(
                &t.origin_of("at"),
                &t.key_path("at"),
                "missing; expected when `fly deploy` runs, e.g. at = \"10h\"",
            );
        }
        if let Some(a) = at
            && a >= duration
        {
            p.warning(
                &t.origin_of("at"),
                &t.key_path("at"),
                format!(
                    "{a} is not before the end of the run ({duration}); the deploy never happens"
                ),
            );
            t.finish_lenient(p, &[]);
            return None;
        }
        let app = match t.req_str(p, "app") {
            None => None,
            Some(name) => match apps.iter().position(|a| a.name == name) {
                Some(i) => Some(i),
                None => {
                    let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
                    p.error(
                        &t.origin_of("app"),
                        &t.key_path("app"),
                        format!("no app named {name:?} (apps: {})", names.join(", ")),
                    );
                    None
                }
            },
        };
        let mut config = app.map(|a| apps[a].deploy.clone()).unwrap_or_default();
        if let Some(s) = t.opt_str(p, "strategy") {
            match Strategy::parse(&s) {
                Some(x) => config.strategy = x,
                None => p.error(
                &t.origin_of("strategy"),
                &t.key_path("strategy"),
                    format!(
                        "expected \"rolling\", \"immediate\", \"canary\" or \"bluegreen\", got {s:?}"
                    ),
                ),
            }
        }
        if let Some(m) = t.opt_num(p, "max_unavailable", f64::MIN_POSITIVE, 1e6) {
            if m >= 1.0 && m.fract() != 0.0 {
                p.error(
                    &t.origin_of("max_unavailable"),
                    &t.key_path("max_unavailable"),
                    format!("expected a whole count of Machines or a fraction below 1, got {m}"),
                );
            }
            config.max_unavailable = m;
        }
        if let Some(w) = t.opt_duration(p, "wait_timeout") {
            config.wait_timeout = w;
        }
        let app_boot = t
            .take("app_boot")
            .and_then(|b| dist(p, &t.key_path("app_boot"), b));
        let service_time_factor = t.opt_num(p, "service_time_factor", 0.0, 1e6).unwrap_or(1.0);
        let healthy_after = t
            .opt_duration(p, "healthy_after")
            .unwrap_or(SimDuration::ZERO);
        let fail = t.opt_str(p, "fail");
        let fails = match fail.as_deref() {
            None => false,
            Some("health") => true,
            Some(other) => {
                p.error(
                &t.origin_of("fail"),
                &t.key_path("fail"),
                    format!("expected \"health\" (the new version never passes its checks), got {other:?}"),
                );
                false
            }
        };
        let probability = t.opt_num(p, "fail_probability", 0.0, 1.0);
        if probability.is_some() && !fails {
            p.error(
                &t.origin_of("fail_probability"),
                &t.key_path("fail_probability"),
                "set fail = \"health\" to say what fails with this probability",
            );
        }
        let fail_probability = if fails {
            probability.unwrap_or(1.0)
        } else {
            0.0
        };
        let crash_mtbf = t.opt_duration(p, "crash_mtbf");
        if crash_mtbf == Some(SimDuration::ZERO) {
            p.error(
                &t.origin_of("crash_mtbf"),
                &t.key_path("crash_mtbf"),
                "must be longer than 0s",
            );
        }
        let release_time = t
            .take("release_time")
            .and_then(|r| dist(p, &t.key_path("release_time"), r));
        let release_fail_probability = t
            .opt_num(p, "release_fail_probability", 0.0, 1.0)
            .unwrap_or(0.0);
        let has_release = app.is_some_and(|a| apps[a].deploy.release_command);
        if !has_release && (t.has("release_time") || t.has("release_fail_probability")) {
            let key = if t.has("release_time") {
                "release_time"
            } else {
                "release_fail_probability"
            };
            p.error(
                &t.origin_of(key),
                &t.key_path(key),
                "the app's fly.toml sets no [deploy] release_command",
            );
        }
        if config.strategy == Strategy::Bluegreen
            && let Some(a) = app
            && apps[a].groups.iter().any(|g| g.volume_gb.is_some())
        {
            p.error(
                &t.origin_of("strategy"),
                &t.key_path("strategy"),
                "Fly does not allow bluegreen for an app whose Machines mount volumes",
            );
        }
        t.finish_strict(p, DEPLOY_KEYS);
        // A release command with no run time given takes flysim's assumption.
        let release_time = match (has_release, release_time) {
            (true, None) => Some(Dist::Constant(SimDuration::from_secs(30))),
            (true, r) => r,
            (false, _) => None,
        };
        Some(Deploy {
            at: at?,
            app: app?,
            config,
            version: Version {
                app_boot,
                service_time_factor,
                healthy_after,
                fail_probability,
                crash_mtbf,
            },
            release_time,
            release_fail_probability,
            creates: Vec::new(),
        })
    }
}
