//! `[[app.traffic]]`: traffic sources, from rates or from traces.

use super::*;

/// Keys of a constant or Poisson source.
const RATE_KEYS: &[&str] = &[
    "from",
    "weights",
    "shape",
    "rps",
    "start",
    "end",
    "service",
    "service_time",
];

impl Builder<'_> {
    pub(super) fn traffic(
        &mut self,
        n: &Node,
        path: &str,
        app: &str,
        index: usize,
        services: &[Service],
        split: bool,
    ) -> Vec<Traffic> {
        let mut t = TableReader::new(n, path, self.p);
        let service = self.service_ref(&mut t, services);
        if split && t.has("service_time") {
            self.p.error(&t.origin_of("service_time"), &t.key_path("service_time"), "the app's requests give cpu and wait; a source's own service_time needs the app's request to use service_time and cpu_share");
        }
        let service_time = t
            .take("service_time")
            .and_then(|s| dist(self.p, &t.key_path("service_time"), s));
        let shape_name = t.req_str(self.p, "shape");
        if shape_name.as_deref() == Some("trace") {
            let mut out = self.trace_traffic(t, app, index);
            for tr in &mut out {
                tr.service = service;
                tr.service_time = service_time;
            }
            return out;
        }
        let from = self.client_regions(&mut t, true);
        let p = &mut *self.p;
        let rate = |t: &mut TableReader, p: &mut Problems, key: &str| -> Option<f64> {
            let r = t.opt_num(p, key, 0.0, 1e9);
            if r.is_none() && !t.has(key) {
                p.error(
                    t.origin(),
                    &t.key_path(key),
                    "missing; expected a rate in requests per second",
                );
            }
            r
        };
        let mut start = t.opt_duration(p, "start").unwrap_or(SimDuration::ZERO);
        let mut end = t.opt_duration(p, "end");
        let (shape, keys): (Option<Shape>, &[&str]) = match shape_name.as_deref() {
            Some("constant") => (rate(&mut t, p, "rps").map(Shape::Constant), RATE_KEYS),
            Some("poisson") => (rate(&mut t, p, "rps").map(Shape::Poisson), RATE_KEYS),
            Some("diurnal") => {
                let mean = rate(&mut t, p, "mean_rps");
                let peak = rate(&mut t, p, "peak_rps");
                let peak_at = t
                    .opt_duration(p, "peak_at")
                    .unwrap_or(SimDuration(14 * NS_PER_H));
                let shape = match (mean, peak) {
                    (Some(m), Some(pk)) if pk < m || pk > 2.0 * m => {
                        p.error(t.origin(), &t.key_path("peak_rps"), format!(
                            "expected a peak between the mean ({m}) and twice the mean ({}), got {pk}; the daily curve is a cosine from 2·mean − peak to peak", 2.0 * m));
                        None
                    }
                    (Some(mean), Some(peak)) => Some(Shape::Diurnal {
                        mean,
                        peak,
                        peak_at,
                    }),
                    _ => None,
                };
                (
                    shape,
                    &[
                        "from",
                        "weights",
                        "shape",
                        "mean_rps",
                        "peak_rps",
                        "peak_at",
                        "start",
                        "end",
                        "service",
                        "service_time",
                    ],
                )
            }
            Some("burst") => {
                let at = t.opt_duration(p, "at");
                let len = t.opt_duration(p, "for");
                for (key, v) in [("at", at), ("for", len)] {
                    if v.is_none() && !t.has(key) {
                        p.error(t.origin(), &t.key_path(key), "missing; a burst needs `at` and `for`, e.g. at = \"13h\", for = \"10m\"");
                    }
                }
                if let (Some(a), Some(l)) = (at, len) {
                    start = a;
                    end = Some(a + l);
                }
                (
                    rate(&mut t, p, "rps").map(Shape::Poisson),
                    &[
                        "from",
                        "weights",
                        "shape",
                        "rps",
                        "at",
                        "for",
                        "service",
                        "service_time",
                    ],
                )
            }
            Some(other) => {
                p.error(t.origin(), &t.key_path("shape"), format!(
                    "unknown shape {other:?}; expected \"constant\", \"poisson\", \"diurnal\", \"burst\" or \"trace\""));
                (None, &[])
            }
            None => (None, &[]),
        };
        self.check_end(&t, start, end);
        if !keys.is_empty() {
            t.finish_strict(self.p, keys);
        }
        match (from, shape) {
            (Some(from), Some(shape)) => vec![Traffic {
                from,
                shape,
                start,
                end,
                stream: format!("{app}/{index}"),
                service,
                service_time,
            }],
            _ => Vec::new(),
        }
    }

    /// `service`: which of the app's services a source sends to, by internal port or by name
    /// (`http_service`, `services[i]`); the first service when left out.
    fn service_ref(&mut self, t: &mut TableReader, services: &[Service]) -> usize {
        let Some(n) = t.take("service") else {
            return 0;
        };
        let path = t.key_path("service");
        let choices = || {
            services
                .iter()
                .map(|s| match s.internal_port {
                    Some(port) => format!("{:?} (port {port})", s.name),
                    None => format!("{:?}", s.name),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let found: Vec<usize> = match &n.value {
            Value::Int(port) => (0..services.len())
                .filter(|&i| services[i].internal_port.map(i64::from) == Some(*port))
                .collect(),
            Value::Str(name) => (0..services.len())
                .filter(|&i| &services[i].name == name)
                .collect(),
            _ => Vec::new(),
        };
        match found[..] {
            [i] => i,
            [] if services.is_empty() => 0, // reported once: the app has no service
            [] => {
                self.p.error(
                    &n.origin,
                    &path,
                    format!(
                        "expected one of the app's services, by name or internal port: {}; got {}",
                        choices(),
                        n.value
                    ),
                );
                0
            }
            _ => {
                let names: Vec<&str> = found.iter().map(|&i| services[i].name.as_str()).collect();
                self.p.error(
                    &n.origin,
                    &path,
                    format!(
                        "internal port {} is shared by {}; name the service instead",
                        n.value,
                        names.join(" and ")
                    ),
                );
                0
            }
        }
    }

    /// `shape = "trace"`: a CSV trace or a saved Prometheus response, replayed with exact counts.
    pub(super) fn trace_traffic(
        &mut self,
        mut t: TableReader,
        app: &str,
        index: usize,
    ) -> Vec<Traffic> {
        const KEYS: &[&str] = &[
            "from",
            "weights",
            "shape",
            "file",
            "format",
            "time_column",
            "count_column",
            "region_label",
            "scale",
            "start",
            "end",
            "offset",
            "loop",
            "service",
            "service_time",
        ];
        let p = &mut *self.p;
        let file = t.req_str(p, "file");
        let format = t.opt_str(p, "format");
        let prometheus = match format.as_deref() {
            None => None,
            Some("csv") => Some(false),
            Some("prometheus") => Some(true),
            Some(other) => {
                p.error(
                    t.origin(),
                    &t.key_path("format"),
                    format!("expected \"csv\" or \"prometheus\", got {other:?}"),
                );
                None
            }
        };
        let time_column = t.opt_str(p, "time_column");
        let count_column = t.opt_str(p, "count_column");
        let label = t
            .opt_str(p, "region_label")
            .unwrap_or_else(|| "region".into());
        let scale = t.opt_num(p, "scale", 0.0, 1e9).unwrap_or(1.0);
        let start = t.opt_duration(p, "start").unwrap_or(SimDuration::ZERO);
        let end = t.opt_duration(p, "end");
        let offset = t.opt_duration(p, "offset").unwrap_or(SimDuration::ZERO);
        let looped = t.opt_bool(p, "loop").unwrap_or(false);
        let file_origin = t
            .take("file")
            .map_or(t.origin().clone(), |n| n.origin.clone());
        let Some(file) = file else {
            t.finish_strict(self.p, KEYS);
            return Vec::new();
        };
        let full = self.base_dir.join(&file);
        let shown_file = full.display().to_string();
        let data = match trace::read_file(
            &full,
            time_column.as_deref(),
            count_column.as_deref(),
            &label,
            prometheus,
        ) {
            Ok(d) => d,
            Err(e) => {
                let shown = full.display().to_string();
                let at = if e.line > 0 {
                    format!("{shown}:{}", e.line)
                } else {
                    shown
                };
                self.p.error(
                    &file_origin,
                    &t.key_path("file"),
                    format!("{at}: {}", e.message),
                );
                t.take("from");
                t.take("weights");
                t.finish_strict(self.p, KEYS);
                return Vec::new();
            }
        };
        let is_prometheus =
            data.series.iter().any(|s| s.label.is_some()) || prometheus == Some(true);
        let from = if is_prometheus && !t.has("from") {
            None
        } else {
            self.client_regions(&mut t, !is_prometheus)
        };
        let skip = offset.0 / data.interval_ns.max(1);
        let length = data.series.first().map_or(0, |s| s.counts.len);
        if skip >= length {
            self.p.error(
                t.origin(),
                &t.key_path("offset"),
                format!("{offset} skips the whole trace ({length} intervals)"),
            );
        }
        // Each interval's arrivals are drawn at once: a count beyond ten million per interval is
        // a mistake in the file or in `scale`, and would not fit in memory well.
        let biggest = data
            .series
            .iter()
            .map(|s| (s.counts.max() * scale, s.largest_at, s.label.as_deref()))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((biggest, at, label)) = biggest.filter(|b| b.0 > 1e7) {
            let row = match label {
                Some(l) => format!("series {l}, value {at}"),
                None => format!("{shown_file}:{at}"),
            };
            self.p.error(&file_origin, &t.key_path("scale"), format!(
                "{row}: that interval would carry {biggest:.0} requests (its count × scale {scale}); at most 10 million per interval"));
        }
        let mut out = Vec::new();
        for (k, series) in data.series.iter().enumerate() {
            // A Prometheus series replays from its own region unless `from` says otherwise.
            let series_from = match (&from, &series.label) {
                (Some(f), _) => Some(f.clone()),
                (None, Some(code)) => self
                    .region(
                        code,
                        &file_origin,
                        &format!("{}: series {code}", t.key_path("file")),
                    )
                    .map(|r| vec![(r, 1.0)]),
                (None, None) => {
                    self.p.error(
                        &file_origin,
                        &t.key_path("from"),
                        format!("series {k} has no {label:?} label; give `from`"),
                    );
                    None
                }
            };
            let Some(series_from) = series_from else {
                continue;
            };
            let replay = Replay {
                interval_ns: data.interval_ns,
                counts: series.counts.scaled(scale),
                offset: skip,
                looped,
            };
            let stream = if data.series.len() == 1 {
                format!("{app}/{index}")
            } else {
                format!("{app}/{index}.{k}")
            };
            out.push(Traffic {
                from: series_from,
                shape: Shape::Trace(std::sync::Arc::new(replay)),
                start,
                end,
                stream,
                service: 0,
                service_time: None,
            });
        }
        self.check_end(&t, start, end);
        t.finish_strict(self.p, KEYS);
        out
    }

    /// A source's `end` must come after its `start`.
    fn check_end(&mut self, t: &TableReader, start: SimDuration, end: Option<SimDuration>) {
        if let Some(e) = end
            && e <= start
        {
            self.p.error(
                t.origin(),
                &t.key_path("end"),
                format!("must be after the start ({start}), got {e}"),
            );
        }
    }
}
