//! `[platform]`: the behaviours Fly does not publish, each a parameter with its default.

use super::*;

const PLATFORM_KEYS: &[&str] = &[
    "autostop_interval",
    "autostop_random_phase",
    "autostop_min_runtime",
    "autostop_victim",
    "autostop_idle_window",
    "failure_detection",
    "dead_retry_delay",
    "failover_attempts",
    "standby_on_host_return",
    "volume_loss_probability",
    "cross_region_spill",
    "tiebreak",
    "max_queue_wait",
    "boot_time",
    "resume_time",
    "suspend_time",
    "suspend_per_gb",
    "autostart_migrate",
    "migrate_time",
    "stop_overhead",
    "connect_timeout",
    "connect_retries",
    "suspend_max_memory",
    "snapshot_loss_probability",
    "bill_transient_states",
    "same_region_rtt",
    "latency_stretch",
    "latency_base",
    "default_hosts",
    "default_host",
    "create_time",
    "checks_startup_interval",
    "metrics_scrape_interval",
    "metrics_query_lag",
    "cpu_shared_baseline",
    "cpu_performance_baseline",
    "cpu_shared_max_balance",
    "cpu_performance_max_balance",
    "cpu_initial_balance",
    "cpu_balance_per_vcpu",
    "cpu_balance_on_start",
];

impl Builder<'_> {
    pub(super) fn platform(&mut self, n: &Node) -> (Platform, f64, f64) {
        let p = &mut *self.p;
        let mut t = TableReader::new(n, "platform", p);
        let mut d = |t: &mut TableReader, key: &str, default: SimDuration| {
            t.opt_duration(p, key).unwrap_or(default)
        };
        let autostop_interval = d(&mut t, "autostop_interval", SimDuration::from_secs(150));
        let autostop_min_runtime = d(&mut t, "autostop_min_runtime", SimDuration::from_secs(330));
        let max_queue_wait = d(&mut t, "max_queue_wait", SimDuration::ZERO);
        let autostop_idle_window = d(&mut t, "autostop_idle_window", SimDuration::from_secs(120));
        let stop_overhead = d(&mut t, "stop_overhead", SimDuration::from_secs(1));
        let suspend_per_gb = d(&mut t, "suspend_per_gb", SimDuration::from_secs(2));
        let migrate_time = d(&mut t, "migrate_time", SimDuration::from_secs(4));
        let connect_timeout = d(&mut t, "connect_timeout", SimDuration::from_millis(8500));
        let same_region_rtt = d(&mut t, "same_region_rtt", SimDuration::ZERO);
        let failure_detection = d(&mut t, "failure_detection", SimDuration::from_secs(60));
        let dead_retry_delay = d(&mut t, "dead_retry_delay", SimDuration::from_secs(1));
        let latency_base = d(&mut t, "latency_base", SimDuration(3_900_000));
        let create_time = d(&mut t, "create_time", SimDuration::from_secs(4));
        let checks_startup_interval =
            d(&mut t, "checks_startup_interval", SimDuration::from_secs(1));
        let metrics_scrape_interval = d(
            &mut t,
            "metrics_scrape_interval",
            SimDuration::from_secs(15),
        );
        let metrics_query_lag = d(&mut t, "metrics_query_lag", SimDuration::from_secs(30));
        let shared_max_balance = d(
            &mut t,
            "cpu_shared_max_balance",
            SimDuration::from_secs(500),
        );
        let performance_max_balance = d(
            &mut t,
            "cpu_performance_max_balance",
            SimDuration::from_secs(5000),
        );
        let initial_balance = d(&mut t, "cpu_initial_balance", SimDuration::from_secs(5));
        if autostop_interval < SimDuration::from_secs(1) {
            self.p.error(
                &t.origin_of("autostop_interval"),
                "platform.autostop_interval",
                format!("{autostop_interval}: expected at least 1s (Fly's proxy checks every few minutes)"),
            );
        }
        if metrics_scrape_interval < SimDuration::from_secs(1) {
            self.p.error(
                &t.origin_of("metrics_scrape_interval"),
                "platform.metrics_scrape_interval",
                format!("{metrics_scrape_interval}: expected at least 1s (Fly scrapes a few times per minute)"),
            );
        }
        let p = &mut *self.p;
        let autostop_random_phase = t.opt_bool(p, "autostop_random_phase").unwrap_or(true);
        let autostop_victim = choice(
            p,
            &mut t,
            "autostop_victim",
            AutostopVictim::LeastLoaded,
            &[
                ("least_loaded", AutostopVictim::LeastLoaded),
                ("newest", AutostopVictim::Newest),
                ("oldest", AutostopVictim::Oldest),
            ],
        );
        let cross_region_spill = choice(
            p,
            &mut t,
            "cross_region_spill",
            Spill::Hard,
            &[("hard", Spill::Hard), ("soft", Spill::Soft)],
        );
        let tiebreak = choice(
            p,
            &mut t,
            "tiebreak",
            TieBreak::Random,
            &[
                ("random", TieBreak::Random),
                ("most_recently_started", TieBreak::MostRecentlyStarted),
                ("least_recently_used", TieBreak::LeastRecentlyUsed),
                ("round_robin", TieBreak::RoundRobin),
                ("closest", TieBreak::Closest),
            ],
        );
        let boot_time = t
            .take("boot_time")
            .and_then(|n| dist(p, "platform.boot_time", n));
        let resume_time = t
            .take("resume_time")
            .and_then(|n| dist(p, "platform.resume_time", n));
        let suspend_time = t
            .take("suspend_time")
            .and_then(|n| dist(p, "platform.suspend_time", n));
        let connect_retries = t.opt_int(p, "connect_retries", 0, 100).unwrap_or(1) as u32;
        let suspend_max_memory_mb = t.opt_memory_mb(p, "suspend_max_memory").unwrap_or(2048);
        let snapshot_loss_probability = t
            .opt_num(p, "snapshot_loss_probability", 0.0, 1.0)
            .unwrap_or(0.0);
        let bill_transient_states = t.opt_bool(p, "bill_transient_states").unwrap_or(false);
        let autostart_migrate = t.opt_bool(p, "autostart_migrate").unwrap_or(true);
        let failover_attempts = t.opt_int(p, "failover_attempts", 1, 1000).unwrap_or(40) as u32;
        let volume_loss_probability = t
            .opt_num(p, "volume_loss_probability", 0.0, 1.0)
            .unwrap_or(0.02);
        let standby_on_host_return = choice(
            p,
            &mut t,
            "standby_on_host_return",
            StandbyReturn::BothRun,
            &[
                ("both_run", StandbyReturn::BothRun),
                ("standby_stops", StandbyReturn::StandbyStops),
            ],
        );
        let cpu = CpuQuotas {
            shared_baseline: t
                .opt_num(p, "cpu_shared_baseline", 0.001, 1.0)
                .unwrap_or(5.0 / 80.0),
            performance_baseline: t
                .opt_num(p, "cpu_performance_baseline", 0.001, 1.0)
                .unwrap_or(50.0 / 80.0),
            shared_max_balance,
            performance_max_balance,
            initial_balance,
            balance_per_vcpu: t.opt_bool(p, "cpu_balance_per_vcpu").unwrap_or(true),
            reset_on_start: choice(
                p,
                &mut t,
                "cpu_balance_on_start",
                false,
                &[("keep", false), ("reset", true)],
            ),
        };
        let stretch = t.opt_num(p, "latency_stretch", 0.0, 100.0).unwrap_or(1.36);
        if let Some(h) = t.opt_int(p, "default_hosts", 1, 100_000) {
            self.default_hosts = h as u32;
        }
        if let Some(n) = t.take("default_host") {
            self.default_host = host_spec(self.p, n, "platform.default_host");
        }
        t.finish_strict(self.p, PLATFORM_KEYS);
        let platform = Platform {
            autostop_interval,
            autostop_random_phase,
            autostop_min_runtime,
            autostop_victim,
            autostop_idle_window,
            cross_region_spill,
            tiebreak,
            max_queue_wait,
            boot_time: boot_time.unwrap_or_else(|| lognormal(1.3, 1.6, Z90)),
            resume_time: resume_time.unwrap_or_else(|| lognormal(0.4, 1.3, Z99)),
            suspend_time: suspend_time.unwrap_or(Dist::Constant(SimDuration::from_millis(500))),
            suspend_per_gb,
            autostart_migrate,
            migrate_time,
            stop_overhead,
            connect_timeout,
            connect_retries,
            suspend_max_memory_mb,
            snapshot_loss_probability,
            bill_transient_states,
            same_region_rtt,
            failure_detection,
            dead_retry_delay,
            failover_attempts,
            standby_on_host_return,
            volume_loss_probability,
            create_time,
            checks_startup_interval,
            metrics_scrape_interval,
            metrics_query_lag,
            cpu,
        };
        (platform, stretch, latency_base.as_millis_f64())
    }
}
