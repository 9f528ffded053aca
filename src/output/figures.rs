//! Figures as people read them: counts grouped by thousands, shares as percentages that never
//! round failures away, numbers with a sensible number of digits. One set of rules for the
//! printed tables and the HTML report.

/// A count; a mean over replications keeps one decimal, rounded (never cut off).
pub fn count(x: f64) -> String {
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        group(r as i64)
    } else {
        let tenths = (x * 10.0).round() as i64;
        no_negative_zero(format!("{}.{}", group(tenths / 10), (tenths % 10).abs()))
    }
}

/// "-0", "-0.000" and the like lose their sign.
pub fn no_negative_zero(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| matches!(c, '0' | '.' | ',')) => rest.to_string(),
        _ => s,
    }
}

/// A share as a percentage number: three decimals, more where rounding would turn a share
/// that is not exactly 1 into 100 (or one that is not 0 into 0); at most nine, cut rather
/// than rounded up at that depth.
pub fn pct_value(x: f64) -> String {
    let p = x * 100.0;
    for d in 3..=9 {
        let s = format!("{p:.d$}");
        let hides_failures = x < 1.0 && s.starts_with("100.");
        let hides_share = x > 0.0 && s.chars().all(|c| c == '0' || c == '.');
        if !hides_failures && !hides_share {
            return no_negative_zero(s);
        }
    }
    let cut = (p * 1e9).floor() / 1e9;
    no_negative_zero(format!("{cut:.9}"))
}

/// A number with a sensible number of digits.
pub fn short(x: f64) -> String {
    let a = x.abs();
    no_negative_zero(if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        group(x.round() as i64)
    } else if a >= 100.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    })
}

/// An integer with thousands separated by commas (`1,234,567`).
pub fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A duration given in milliseconds, in the unit that reads best: `850 ms`, `2.50 s`,
/// `1.50 min`, `3.00 h`, `2.00 d`.
pub fn duration_ms(ms: f64) -> String {
    let a = ms.abs();
    if a < 1000.0 && ms == ms.trunc() {
        format!("{ms:.0} ms")
    } else if a < 1000.0 {
        format!("{} ms", short(ms))
    } else if a < 60_000.0 {
        format!("{} s", short(ms / 1000.0))
    } else if a < 3_600_000.0 {
        format!("{} min", short(ms / 60_000.0))
    } else if a < 86_400_000.0 {
        format!("{} h", short(ms / 3_600_000.0))
    } else {
        format!("{} d", short(ms / 86_400_000.0))
    }
}

/// A share as a percentage with its unit (`99.964 %`).
pub fn pct(x: f64) -> String {
    format!("{} %", pct_value(x))
}
