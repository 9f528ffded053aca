//! The two small languages of fly-autoscaler's configuration, parsed at validation with the
//! position of every problem and evaluated during a run: [`expr`] (the Expr machine counts)
//! and [`promql`] (the Prometheus queries of its metric collectors).
//!
//! Depends on nothing: a query reads its samples through [`promql::Samples`], which the
//! platform implements.

pub mod expr;
pub mod promql;

use std::fmt;

/// A problem in an expression or a query, at a character position (0-based) of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// Character offset.
    pub at: usize,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

/// Whether a number starts at `chars[i]` (a digit, or a point before one).
fn starts_number(chars: &[char], i: usize) -> bool {
    chars[i].is_ascii_digit()
        || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
}

/// The number starting at `chars[start]` (digits, a point, an exponent; `_` between digits
/// where `underscores`), and where it ends.
fn scan_number(
    chars: &[char],
    start: usize,
    underscores: bool,
) -> Result<(f64, usize), SyntaxError> {
    let mut i = start;
    while i < chars.len()
        && (chars[i].is_ascii_digit() || chars[i] == '.' || (underscores && chars[i] == '_'))
    {
        i += 1;
    }
    if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
        let mut j = i + 1;
        if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
            j += 1;
        }
        if j < chars.len() && chars[j].is_ascii_digit() {
            i = j;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    let s: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
    s.parse::<f64>().map(|n| (n, i)).map_err(|_| SyntaxError {
        at: start,
        message: format!("{s:?} is not a number"),
    })
}
