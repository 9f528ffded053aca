//! A CSV file read back for drawing: columns by name, values as numbers.

/// A parsed CSV file.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses CSV bytes (header row first).
    pub fn parse(bytes: &[u8]) -> Result<Table, String> {
        let mut r = csv::Reader::from_reader(bytes);
        let header = r
            .headers()
            .map_err(|e| e.to_string())?
            .iter()
            .map(String::from)
            .collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            rows.push(
                rec.map_err(|e| e.to_string())?
                    .iter()
                    .map(String::from)
                    .collect(),
            );
        }
        Ok(Table { header, rows })
    }

    /// The index of column `name`.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Column `name` as numbers (missing or unparsable cells are 0).
    pub fn nums(&self, name: &str) -> Vec<f64> {
        match self.col(name) {
            Some(c) => self
                .rows
                .iter()
                .map(|r| r.get(c).and_then(|v| v.parse().ok()).unwrap_or(0.0))
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
