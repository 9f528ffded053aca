//! Typed reading of a [`Node`] tree with every problem collected, never the first only.
//!
//! A [`TableReader`] hands out a table's keys by name and type, records a [`Problem`] for each
//! missing, mistyped or invalid value, and at the end reports every key nobody asked for:
//! as an error in the simulator's own sections, as "ignored" in fly.toml sections.

use std::fmt;

use super::doc::{Node, Origin, Value};
use super::units::{self, DURATION_HELP, MEMORY_HELP};
use crate::engine::SimDuration;

/// Whether a problem stops the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The file cannot be used.
    Error,
    /// The file is usable but something looks wrong.
    Warning,
    /// A fly.toml key flysim does not model; listed once.
    Ignored,
}

/// One problem: where, which key, what.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// How serious it is.
    pub severity: Severity,
    /// The file it is in.
    pub file: String,
    /// Where in the file (or which `--set`).
    pub origin: Origin,
    /// The key path, e.g. `app[0].machines[0].count`.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Ignored => "ignored",
        };
        write!(f, "{level}: {}", self.file)?;
        match &self.origin {
            Origin::File { .. } => write!(f, ":{}", self.origin)?,
            Origin::Set(_) => write!(f, " ({})", self.origin)?,
            Origin::Implied => {}
        }
        if self.path.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.path, self.message)
        }
    }
}

/// Collects problems while a file is read.
#[derive(Debug, Default)]
pub struct Problems {
    file: String,
    /// Everything found so far, in reading order.
    pub list: Vec<Problem>,
}

impl Problems {
    /// A collector for `file` (the name used in messages).
    pub fn new(file: &str) -> Self {
        Problems {
            file: file.to_string(),
            list: Vec::new(),
        }
    }

    /// The file name used in messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    fn push(&mut self, severity: Severity, origin: &Origin, path: &str, message: String) {
        self.list.push(Problem {
            severity,
            file: self.file.clone(),
            origin: origin.clone(),
            path: path.to_string(),
            message,
        });
    }

    /// Records an error at `origin` for `path`.
    pub fn error(&mut self, origin: &Origin, path: &str, message: impl Into<String>) {
        self.push(Severity::Error, origin, path, message.into());
    }

    /// Records a problem found in another file than this collector's (a referenced fly.toml).
    pub fn push_in(
        &mut self,
        file: &str,
        severity: Severity,
        origin: &Origin,
        path: &str,
        message: impl Into<String>,
    ) {
        self.list.push(Problem {
            severity,
            file: file.to_string(),
            origin: origin.clone(),
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// Records a warning.
    pub fn warning(&mut self, origin: &Origin, path: &str, message: impl Into<String>) {
        self.push(Severity::Warning, origin, path, message.into());
    }

    /// Records an ignored key.
    pub fn ignored(&mut self, origin: &Origin, path: &str, message: impl Into<String>) {
        self.push(Severity::Ignored, origin, path, message.into());
    }

    /// Whether any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|p| p.severity == Severity::Error)
    }
}

/// Joins a key path: `app[0]` + `name` → `app[0].name`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Reads one table's keys, remembering which were used.
pub struct TableReader<'n> {
    node: &'n Node,
    /// The key path of this table.
    pub path: String,
    used: Vec<bool>,
}

impl<'n> TableReader<'n> {
    /// A reader over `node`, which must be a table (else an error is recorded and the reader
    /// behaves as an empty table).
    pub fn new(node: &'n Node, path: &str, p: &mut Problems) -> Self {
        if !matches!(node.value, Value::Table(_)) {
            p.error(
                &node.origin,
                path,
                format!("expected a table, got {}", node.value.type_name()),
            );
        }
        TableReader {
            node,
            path: path.to_string(),
            used: vec![false; node.entries().len()],
        }
    }

    /// Where this table starts.
    pub fn origin(&self) -> &Origin {
        &self.node.origin
    }

    /// Where `key`'s value is, or where the table starts when the key is absent.
    pub fn origin_of(&self, key: &str) -> Origin {
        self.node
            .get(key)
            .map_or_else(|| self.node.origin.clone(), |n| n.origin.clone())
    }

    /// The node under `key`, marking it used.
    pub fn take(&mut self, key: &str) -> Option<&'n Node> {
        let pos = self.node.entries().iter().position(|(k, _)| k == key)?;
        self.used[pos] = true;
        Some(&self.node.entries()[pos].1)
    }

    /// Whether `key` is present (without marking it used).
    pub fn has(&self, key: &str) -> bool {
        self.node.entries().iter().any(|(k, _)| k == key)
    }

    /// The key path of `key` in this table.
    pub fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn mistyped(&self, p: &mut Problems, key: &str, node: &Node, expected: &str) {
        p.error(
            &node.origin,
            &self.key_path(key),
            format!("expected {expected}, got {}", node.value),
        );
    }

    /// A required string.
    pub fn req_str(&mut self, p: &mut Problems, key: &str) -> Option<String> {
        match self.take(key) {
            None => {
                p.error(
                    self.origin(),
                    &self.key_path(key),
                    "missing; expected a string",
                );
                None
            }
            Some(n) => self.str_of(p, key, n),
        }
    }

    fn str_of(&self, p: &mut Problems, key: &str, n: &Node) -> Option<String> {
        match &n.value {
            Value::Str(s) => Some(s.clone()),
            _ => {
                self.mistyped(p, key, n, "a string");
                None
            }
        }
    }

    /// An optional string.
    pub fn opt_str(&mut self, p: &mut Problems, key: &str) -> Option<String> {
        let n = self.take(key)?;
        self.str_of(p, key, n)
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, p: &mut Problems, key: &str) -> Option<bool> {
        let n = self.take(key)?;
        match n.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.mistyped(p, key, n, "true or false");
                None
            }
        }
    }

    /// An optional integer within `min..=max`.
    pub fn opt_int(&mut self, p: &mut Problems, key: &str, min: i64, max: i64) -> Option<i64> {
        let n = self.take(key)?;
        match n.value {
            Value::Int(i) if (min..=max).contains(&i) => Some(i),
            Value::Int(_) => {
                let expected = if max == i64::MAX {
                    format!("an integer ≥ {min}")
                } else {
                    format!("an integer from {min} to {max}")
                };
                self.mistyped(p, key, n, &expected);
                None
            }
            _ => {
                self.mistyped(p, key, n, "an integer");
                None
            }
        }
    }

    /// An optional number (integer or float) within `min..=max`.
    pub fn opt_num(&mut self, p: &mut Problems, key: &str, min: f64, max: f64) -> Option<f64> {
        let n = self.take(key)?;
        let x = match n.value {
            Value::Int(i) => i as f64,
            Value::Float(x) => x,
            _ => {
                self.mistyped(p, key, n, "a number");
                return None;
            }
        };
        if x.is_finite() && x >= min && x <= max {
            Some(x)
        } else {
            let expected = if max == f64::MAX {
                format!("a number ≥ {min}")
            } else {
                format!("a number from {min} to {max}")
            };
            self.mistyped(p, key, n, &expected);
            None
        }
    }

    /// An optional duration string ("30s").
    pub fn opt_duration(&mut self, p: &mut Problems, key: &str) -> Option<SimDuration> {
        let n = self.take(key)?;
        duration_of(p, &self.key_path(key), n)
    }

    /// An optional memory size ("512mb", or an integer of MB).
    pub fn opt_memory_mb(&mut self, p: &mut Problems, key: &str) -> Option<u64> {
        let n = self.take(key)?;
        let parsed = match &n.value {
            Value::Str(s) => units::parse_memory_mb(s),
            Value::Int(i) if *i >= 0 => Some(*i as u64),
            _ => None,
        };
        if parsed.is_none() {
            self.mistyped(p, key, n, MEMORY_HELP);
        }
        parsed
    }

    /// An optional array of strings.
    pub fn opt_str_list(&mut self, p: &mut Problems, key: &str) -> Option<Vec<String>> {
        let n = self.take(key)?;
        let Value::Array(items) = &n.value else {
            self.mistyped(p, key, n, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                Value::Str(s) => out.push(s.clone()),
                _ => p.error(
                    &item.origin,
                    &format!("{}[{i}]", self.key_path(key)),
                    format!("expected a string, got {}", item.value),
                ),
            }
        }
        Some(out)
    }

    /// The elements of an optional array of tables (a single table counts as one element).
    pub fn opt_tables(&mut self, p: &mut Problems, key: &str) -> Vec<(String, &'n Node)> {
        let Some(n) = self.take(key) else {
            return Vec::new();
        };
        let path = self.key_path(key);
        match &n.value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{path}[{i}]"), item))
                .collect(),
            Value::Table(_) => vec![(path, n)],
            _ => {
                self.mistyped(p, key, n, "a table or an array of tables");
                Vec::new()
            }
        }
    }

    /// Reports every key nobody took as an error ("unknown key"), naming the known ones.
    pub fn finish_strict(&self, p: &mut Problems, known: &[&str]) {
        for ((key, node), used) in self.node.entries().iter().zip(&self.used) {
            if !used {
                let hint = suggestion(key, known)
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default();
                p.error(
                    &node.origin,
                    &join(&self.path, key),
                    format!("unknown key{hint} (known keys here: {})", known.join(", ")),
                );
            }
        }
    }

    /// Reports every key nobody took as ignored (fly.toml keys flysim does not model). A key
    /// that is none of `known` (the table's keys in flyctl's schema) but close to one is
    /// likely a typo, which Fly would ignore too: a warning that names the key it resembles.
    pub fn finish_lenient(self, p: &mut Problems, known: &[&str]) {
        for ((key, node), used) in self.node.entries().iter().zip(&self.used) {
            if *used {
                continue;
            }
            let path = join(&self.path, key);
            match suggestion(key, known).filter(|_| !known.contains(&key.as_str())) {
                Some(close) => p.warning(
                    &node.origin,
                    &path,
                    format!("ignored: `{key}` is not a fly.toml key; did you mean `{close}`?"),
                ),
                None => p.ignored(&node.origin, &path, "not modelled by flysim; ignored"),
            }
        }
    }
}

/// Reads a duration node (a string with units).
pub fn duration_of(p: &mut Problems, path: &str, n: &Node) -> Option<SimDuration> {
    let parsed = match &n.value {
        Value::Str(s) => units::parse_duration(s),
        _ => None,
    };
    if parsed.is_none() {
        p.error(
            &n.origin,
            path,
            format!("expected {DURATION_HELP}, got {}", n.value),
        );
    }
    parsed
}

/// The known key closest to a misspelt one, if any is close.
fn suggestion<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::super::doc::parse;
    use super::*;

    #[test]
    fn every_problem_is_collected_with_its_position() {
        let root = parse("a = \"x\"\nb = 5\ndurr = \"5s\"\nd = \"5 parsecs\"\n").unwrap();
        let mut p = Problems::new("s.toml");
        let mut t = TableReader::new(&root, "", &mut p);
        assert_eq!(t.opt_int(&mut p, "a", 0, 10), None);
        assert_eq!(t.opt_int(&mut p, "b", 0, 3), None);
        assert_eq!(t.opt_duration(&mut p, "d"), None);
        t.finish_strict(&mut p, &["a", "b", "d", "dur"]);
        let text: Vec<String> = p.list.iter().map(|x| x.to_string()).collect();
        assert_eq!(text.len(), 4, "{text:#?}");
        assert_eq!(
            text[0],
            "error: s.toml:1:5: a: expected an integer, got \"x\""
        );
        assert!(text[1].contains("s.toml:2:5: b: expected an integer from 0 to 3, got 5"));
        assert!(text[2].contains("4:5: d: expected a duration"));
        assert!(
            text[3].contains("durr: unknown key; did you mean \"dur\"?"),
            "{}",
            text[3]
        );
    }
}
