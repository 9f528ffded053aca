//! Writing results: every output folder is written complete or not at all.
//!
//! Files are written into a hidden temporary folder beside the target, which is then renamed
//! into place (replacing an older result), so a crash or a full disk never leaves a
//! half-written result behind. Only this module and `cli` touch the file system for outputs.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::run::RunRecord;

/// A failure while writing outputs.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct OutputError {
    /// The file or folder involved.
    pub path: String,
    /// The I/O error.
    pub source: std::io::Error,
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T, OutputError> {
    r.map_err(|source| OutputError {
        path: path.display().to_string(),
        source,
    })
}

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

/// Pretty JSON bytes with a final newline.
pub fn json_bytes(v: &serde_json::Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("JSON values serialise");
    b.push(b'\n');
    b
}

/// The files of one replication: `(relative path, bytes)`.
pub fn run_files(rec: &RunRecord, prefix: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{prefix}summary.json"), json_bytes(&rec.summary)),
        (
            format!("{prefix}machines.csv"),
            csv_bytes(&rec.machines.0, &rec.machines.1),
        ),
        (format!("{prefix}timeseries.csv"), rec.timeseries.clone()),
        (
            format!("{prefix}incidents.csv"),
            csv_bytes(&rec.incidents.0, &rec.incidents.1),
        ),
        (
            format!("{prefix}states.csv"),
            csv_bytes(&rec.states.0, &rec.states.1),
        ),
        (
            format!("{prefix}latency.csv"),
            csv_bytes(&rec.latency.0, &rec.latency.1),
        ),
        (
            format!("{prefix}cost.csv"),
            csv_bytes(&rec.cost.0, &rec.cost.1),
        ),
    ]
}

/// Writes one file under a temporary name, then renames it into place.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    io(&tmp, fs::write(&tmp, bytes))?;
    io(path, fs::rename(&tmp, path))
}

/// Writes `files` into `dir` atomically: a temporary folder, then one rename.
pub fn write_dir_atomic(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), OutputError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    io(parent, fs::create_dir_all(parent))?;
    let pid = std::process::id();
    let tmp: PathBuf = parent.join(format!(".{name}.tmp-{pid}"));
    if tmp.exists() {
        io(&tmp, fs::remove_dir_all(&tmp))?;
    }
    let result = (|| {
        io(&tmp, fs::create_dir_all(&tmp))?;
        for (rel, bytes) in files {
            let path = tmp.join(rel);
            if let Some(p) = path.parent() {
                io(p, fs::create_dir_all(p))?;
            }
            let mut f = io(&path, fs::File::create(&path))?;
            io(&path, f.write_all(bytes))?;
            io(&path, f.sync_all())?;
        }
        let old = parent.join(format!(".{name}.old-{pid}"));
        let had_old = dir.exists();
        if had_old {
            io(dir, fs::rename(dir, &old))?;
        }
        io(dir, fs::rename(&tmp, dir))?;
        if had_old {
            io(&old, fs::remove_dir_all(&old))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}
