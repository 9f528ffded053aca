//! The built-in table of Fly regions and the default latency model between them.
//!
//! Data: `data/fly-regions.csv` (codes, cities, coordinates, per-region price of a
//! shared-cpu-1x 256 MB Machine), documented with its sources in `data/README.md`.
//! Latency: round trip = 2 × (stretch × great-circle km / 200 km/ms + base), with the
//! least-squares fit to 15 published round-trip times (stretch 1.36, base 3.9 ms), see
//! `data/README.md`. Both constants are `[platform]` parameters.

use std::sync::OnceLock;

/// One row of the built-in region table.
#[derive(Clone, Debug)]
pub struct RegionInfo {
    /// Fly's three-letter code.
    pub code: String,
    /// City as Fly writes it.
    pub city: String,
    /// Latitude [degrees].
    pub latitude: f64,
    /// Longitude [degrees].
    pub longitude: f64,
    /// Whether Fly still lists the region (false: deprecated on 2025-10-16).
    pub current: bool,
    /// Price of an always-on shared-cpu-1x 256 MB Machine [USD per 30 days], if published.
    pub price_shared_1x: Option<f64>,
}

/// The iad/ewr price of a shared-cpu-1x 256 MB Machine [USD per 30 days]: the base that
/// per-region markups multiply (`data/README.md`).
pub const BASE_SHARED_1X_PRICE: f64 = 2.194;

const CSV: &str = include_str!("../../data/fly-regions.csv");

/// The built-in table, parsed once.
pub fn table() -> &'static [RegionInfo] {
    static TABLE: OnceLock<Vec<RegionInfo>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut reader = csv::Reader::from_reader(CSV.as_bytes());
        reader
            .records()
            .map(|r| {
                let r = r.expect("built-in region table is valid CSV");
                RegionInfo {
                    code: r[0].to_string(),
                    city: r[1].to_string(),
                    latitude: r[3].parse().expect("built-in latitude"),
                    longitude: r[4].parse().expect("built-in longitude"),
                    current: r[5].starts_with("current"),
                    price_shared_1x: r[7].parse().ok(),
                }
            })
            .collect()
    })
}

/// The row for `code`, if Fly has (or had) such a region.
pub fn lookup(code: &str) -> Option<&'static RegionInfo> {
    table().iter().find(|r| r.code == code)
}

/// Per-region price markups over iad, as the pricing page bills them (superfly/docs
/// `snippets/RegionPricingSelector.jsx`, 9 decimals; bom from an earlier version of that file,
/// `data/README.md`); regions without a published price are absent.
const MARKUPS: &[(&str, f64)] = &[
    ("iad", 1.0),
    ("ewr", 1.0),
    ("ams", 1.038461538),
    ("arn", 1.038461538),
    ("bom", 1.076923077),
    ("yyz", 1.115384615),
    ("lhr", 1.134615385),
    ("cdg", 1.134615385),
    ("fra", 1.153846154),
    ("sjc", 1.192307692),
    ("lax", 1.199519231),
    ("ord", 1.25),
    ("dfw", 1.25),
    ("sin", 1.269230769),
    ("syd", 1.269230769),
    ("jnb", 1.302884615),
    ("nrt", 1.307692308),
    ("gru", 1.615384615),
];

/// The price markup of a region over iad, if Fly publishes one.
pub fn price_markup(code: &str) -> Option<f64> {
    MARKUPS.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

/// Great-circle distance [km] by the haversine formula, R = 6371 km.
pub fn distance_km(a: &RegionInfo, b: &RegionInfo) -> f64 {
    let (la1, lo1) = (a.latitude.to_radians(), a.longitude.to_radians());
    let (la2, lo2) = (b.latitude.to_radians(), b.longitude.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Default round-trip time [ms] between two different regions.
pub fn model_rtt_ms(a: &RegionInfo, b: &RegionInfo, stretch: f64, base_ms: f64) -> f64 {
    2.0 * (stretch * distance_km(a, b) / 200.0 + base_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_every_region_and_markup_prices() {
        assert_eq!(table().len(), 35);
        let iad = lookup("iad").unwrap();
        assert!(iad.current);
        assert_eq!(iad.price_shared_1x, Some(2.19));
        assert!(lookup("atl").unwrap().price_shared_1x.is_none());
        assert!(lookup("xyz").is_none());
        // Every markup reproduces the table's rounded price.
        for r in table() {
            if let (Some(m), Some(p)) = (price_markup(&r.code), r.price_shared_1x) {
                assert!((m * BASE_SHARED_1X_PRICE - p).abs() < 0.006, "{}", r.code);
            }
        }
    }

    #[test]
    fn latency_model_matches_published_pairs_roughly() {
        // iad–fra published 88.6 ms (data/README.md); the fit should land within 15 %.
        let rtt = model_rtt_ms(lookup("iad").unwrap(), lookup("fra").unwrap(), 1.36, 3.9);
        assert!((rtt - 88.6).abs() / 88.6 < 0.15, "{rtt}");
    }
}
