//! Writing results: the bytes of every output file, and ([`place`]) where flysim may put them.
//!
//! Only this module and `cli` touch the file system for outputs; [`place`] decides which
//! folders flysim may create, write and replace, and writes them atomically.

pub mod figures;
pub mod place;

pub use place::{OutputError, OwnedDir, replace_dir};

/// CSV bytes from a header and rows; rows may be produced one at a time, so a long series
/// never needs to sit in memory as strings.
pub fn csv_from_rows<R, T>(header: &[String], rows: impl IntoIterator<Item = R>) -> Vec<u8>
where
    R: IntoIterator<Item = T>,
    T: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writing to memory");
    for r in rows {
        w.write_record(r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// CSV bytes from a header and rows.
pub fn csv_bytes(header: &[String], rows: &[Vec<String>]) -> Vec<u8> {
    csv_from_rows(header, rows)
}

/// Replaces every −0.0 in a JSON document by 0.0 (a sum of nothing, or a tiny negative mean
/// rounded, must not print as "-0.0").
fn no_negative_zero(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n)
            if n.as_f64().is_some_and(|x| x == 0.0 && x.is_sign_negative()) =>
        {
            *v = serde_json::json!(0.0);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(no_negative_zero),
        serde_json::Value::Object(o) => o.values_mut().for_each(no_negative_zero),
        _ => {}
    }
}

/// Pretty JSON bytes with a final newline.
pub fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    let mut v = v.clone();
    no_negative_zero(&mut v);
    let mut b = serde_json::to_vec_pretty(&v).expect("JSON values serialise");
    b.push(b'\n');
    b
}
