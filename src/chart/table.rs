//! A CSV file read back for drawing: columns by name, values as numbers, checked first.
//!
//! Charts are redrawn from files a user may have edited, truncated or damaged, so every file is
//! checked before anything is drawn: the columns the charts need exist, every row has every
//! cell, numbers are finite and of a drawable size, and named values are known. A problem is
//! an error naming the file, the line and the column; nothing is drawn from a file that fails.

/// Largest magnitude a number drawn on a chart may have.
const MAX_DRAWABLE: f64 = 1e15;

/// A parsed CSV file.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The file's name, for messages.
    pub name: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
    /// The line in the file of each row.
    lines: Vec<u64>,
}

impl Table {
    /// Parses CSV bytes (header row first); every row must have as many cells as the header.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Table, String> {
        let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let header: Vec<String> = r
            .headers()
            .map_err(|e| format!("{name}:1: cannot read the header: {e}"))?
            .iter()
            .map(String::from)
            .collect();
        if header.iter().all(|h| h.is_empty()) {
            return Err(format!("{name}: empty file; expected a header row"));
        }
        // flysim ends every line it writes; a file that does not end so was cut off.
        if !bytes.ends_with(b"\n") {
            let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(format!(
                "{name}:{lines}: the last line is incomplete; the file was cut off"
            ));
        }
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                format!("{name}:{line}: unreadable row: {e}")
            })?;
            let line = rec.position().map_or(0, |p| p.line());
            if rec.len() != header.len() {
                return Err(format!(
                    "{name}:{line}: {} cells, expected {} (one per column of the header); the file is damaged or cut off",
                    rec.len(),
                    header.len()
                ));
            }
            rows.push(rec.iter().map(String::from).collect());
            lines.push(line);
        }
        Ok(Table {
            name: name.to_string(),
            header,
            rows,
            lines,
        })
    }

    /// The index of column `name`.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The index of column `col`, which must exist.
    pub fn require_col(&self, col: &str) -> Result<usize, String> {
        self.col(col).ok_or_else(|| {
            format!(
                "{}: no column {col:?}; the file is not one flysim wrote, or is damaged",
                self.name
            )
        })
    }

    /// Fails unless the file has at least one row.
    pub fn require_rows(&self) -> Result<&Self, String> {
        if self.rows.is_empty() {
            return Err(format!(
                "{}: no rows; the file is cut off or empty",
                self.name
            ));
        }
        Ok(self)
    }

    /// Fails unless every column in `cols` exists and holds finite numbers of drawable size
    /// (or, with `empty_ok`, nothing) in every row.
    pub fn require_numbers(&self, cols: &[&str], empty_ok: bool) -> Result<&Self, String> {
        for col in cols {
            let c = self.require_col(col)?;
            for (row, line) in self.rows.iter().zip(&self.lines) {
                let cell = row[c].trim();
                if empty_ok && cell.is_empty() {
                    continue;
                }
                match cell.parse::<f64>() {
                    Ok(x) if x.is_finite() && x.abs() <= MAX_DRAWABLE => {}
                    _ => {
                        return Err(format!(
                            "{}:{line}: column {col}: expected a finite number (at most {MAX_DRAWABLE:e} in size), got {cell:?}",
                            self.name
                        ));
                    }
                }
            }
        }
        Ok(self)
    }

    /// Fails unless column `col` holds only values from `known`.
    pub fn require_known(&self, col: &str, known: &[&str]) -> Result<&Self, String> {
        let c = self.require_col(col)?;
        for (row, line) in self.rows.iter().zip(&self.lines) {
            if !known.contains(&row[c].as_str()) {
                return Err(format!(
                    "{}:{line}: column {col}: unknown value {:?}; expected one of {}",
                    self.name,
                    row[c],
                    known.join(", ")
                ));
            }
        }
        Ok(self)
    }

    /// Column `name` as numbers (cells checked by [`Table::require_numbers`]; others are 0).
    pub fn nums(&self, name: &str) -> Vec<f64> {
        match self.col(name) {
            Some(c) => self
                .rows
                .iter()
                .map(|r| r.get(c).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0))
                .collect(),
            None => Vec::new(),
        }
    }

    /// Column `name` as text.
    pub fn strs(&self, name: &str) -> Vec<String> {
        match self.col(name) {
            Some(c) => self
                .rows
                .iter()
                .map(|r| r.get(c).cloned().unwrap_or_default())
                .collect(),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_tables_are_refused_with_file_line_and_column() {
        let t = Table::parse("t.csv", b"a,b\n1,2\n3,NaN\n").unwrap();
        let e = t.require_numbers(&["a", "b"], false).unwrap_err();
        assert_eq!(
            e,
            "t.csv:3: column b: expected a finite number (at most 1e15 in size), got \"NaN\""
        );
        let e = Table::parse("t.csv", b"a,b\n1,2\n3\n").unwrap_err();
        assert!(e.starts_with("t.csv:3: 1 cells, expected 2"), "{e}");
        assert!(Table::parse("t.csv", b"").is_err());
        let t = Table::parse("t.csv", b"a\n1e308\n").unwrap();
        assert!(t.require_numbers(&["a"], false).is_err());
        assert!(
            t.require_numbers(&["z"], false)
                .unwrap_err()
                .contains("no column \"z\"")
        );
        let t = Table::parse("s.csv", b"state\nstarted\nflying\n").unwrap();
        assert!(
            t.require_known("state", &["started"])
                .unwrap_err()
                .starts_with("s.csv:3:")
        );
    }
}
