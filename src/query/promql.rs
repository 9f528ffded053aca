//! The subset of PromQL that fly-autoscaler's collectors send to Fly's managed Prometheus.
//!
//! fly-autoscaler runs each collector's query as an instant query and takes the value of the
//! first series of the vector it returns; an empty vector or a scalar result is an error that
//! skips the reconcile (`prometheus/prometheus.go`). Fly's Prometheus is VictoriaMetrics, so
//! range functions follow MetricsQL rather than Prometheus' extrapolation: `increase(c[w])`
//! is the last sample in the window minus the last one before it (a series new in the window
//! counts from 0), `rate` is that over the window's length (fly.io/docs/metrics-and-logs/metrics,
//! "MetricsQL").
//!
//! Parsed once at validation, with positions (a well-kept parser, `promql-parser` 0.11,
//! reports every syntax error as "invalid promql query", without a position):
//! - selectors `name{label="v", label!="v", label=~"re", label!~"re"}`, ranges `[1m30s]`;
//! - `sum`, `avg`, `min`, `max`, `count` with `by (...)` or `without (...)`;
//! - `rate`, `irate`, `increase`, `delta`, `avg_over_time`, `min_over_time`,
//!   `max_over_time`, `sum_over_time`, `count_over_time`, `last_over_time`;
//! - `histogram_quantile`, `abs`, `ceil`, `floor`, `round`, `clamp_min`, `clamp_max`,
//!   `scalar`, `vector`;
//! - `+ - * / % ^`, comparisons (filtering, or with `bool`), `and`, `or`, `unless`, with
//!   `on (...)` / `ignoring (...)` one-to-one matching; numbers; parentheses.
//!
//! `$APP_NAME` and `${APP_NAME}` are replaced by the app's name before parsing, as
//! `ExpandMetricQuery` does (`metric_collector.go`).

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

/// A problem in a query, at a character position (0-based) of the expanded text.
pub type QueryError = super::SyntaxError;

/// How a label is matched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `=~` (fully anchored)
    Re,
    /// `!~`
    NotRe,
}

/// One `label op "value"` of a selector.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub label: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or pattern.
    pub value: String,
    re: Option<Regex>,
}

impl Matcher {
    /// Whether a series whose label has value `v` ("" when it has none) matches.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Eq => v == self.value,
            MatchOp::Ne => v != self.value,
            MatchOp::Re => self.re.as_ref().is_some_and(|r| r.is_match(v)),
            MatchOp::NotRe => !self.re.as_ref().is_some_and(|r| r.is_match(v)),
        }
    }
}

/// A series selector of the query.
#[derive(Clone, Debug)]
pub struct Selector {
    /// The metric name.
    pub metric: String,
    /// Its label matchers, besides the name.
    pub matchers: Vec<Matcher>,
    /// Its range [ns], for a range selector.
    pub range: Option<u64>,
}

impl Selector {
    /// Whether a series with these labels (`label(name)`: its value, or "") matches.
    pub fn matches<'a>(&self, label: impl Fn(&str) -> std::borrow::Cow<'a, str>) -> bool {
        self.matchers.iter().all(|m| m.matches(&label(&m.label)))
    }
}

/// Label pairs of a series, sorted by name; `__name__` included while an operation keeps it.
pub type Labels = Vec<(String, String)>;

/// What a query reads: the samples of its selectors, as the store holds them at `at` [ns].
pub trait Samples {
    /// Selector `sel` (an instant selector): each series present at the last scrape no later
    /// than `at`, with its value there.
    fn instant(&self, sel: usize, at: i64) -> Vec<(Labels, f64)>;
    /// Selector `sel` (a range selector of `range` ns): each series with a sample in
    /// `(at - range, at]`, its samples there `(time, value)` in time order, and its last sample
    /// at or before `at - range`, if any.
    fn range(&self, sel: usize, at: i64) -> Vec<RangeSeries>;
}

/// One series of a range selector.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    /// Its labels.
    pub labels: Labels,
    /// Samples in the window, in time order.
    pub window: Vec<(i64, f64)>,
    /// The last sample before the window.
    pub before: Option<(i64, f64)>,
}

/// A query's value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A number.
    Scalar(f64),
    /// Series and their values, sorted by labels.
    Vector(Vec<(Labels, f64)>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Agg {
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum RangeFn {
    Rate,
    Irate,
    Increase,
    Delta,
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
    Unless,
}

impl Bin {
    fn is_comparison(self) -> bool {
        matches!(
            self,
            Bin::Eq | Bin::Ne | Bin::Lt | Bin::Gt | Bin::Le | Bin::Ge
        )
    }
    fn is_set(self) -> bool {
        matches!(self, Bin::And | Bin::Or | Bin::Unless)
    }
}

#[derive(Clone, Debug)]
enum Grouping {
    By(Vec<String>),
    Without(Vec<String>),
}

#[derive(Clone, Debug)]
enum Matching {
    All,
    On(Vec<String>),
    Ignoring(Vec<String>),
}

#[derive(Clone, Debug)]
enum Node {
    Num(f64),
    Select(usize),
    Aggregate(Agg, Grouping, Box<Node>),
    /// A range function over a range selector, and the selector's range [ns].
    Range(RangeFn, usize, u64),
    Quantile(Box<Node>, Box<Node>),
    Math(fn(f64) -> f64, Box<Node>),
    Clamp(bool, Box<Node>, Box<Node>),
    ToScalar(Box<Node>),
    ToVector(Box<Node>),
    Neg(Box<Node>),
    Binary {
        op: Bin,
        keep_bool: bool,
        matching: Matching,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
}

/// A parsed query.
#[derive(Clone, Debug)]
pub struct Query {
    root: Node,
    /// Its selectors, by index.
    pub selectors: Vec<Selector>,
    /// The expanded text.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Str(String),
    Op(&'static str),
    /// A `[...]` range, its text.
    Range(String),
    End,
}

// Two-character operators first.
const OPS: [&str; 20] = [
    "==", "!=", "<=", ">=", "=~", "!~", "+", "-", "*", "/", "%", "^", "<", ">", "=", "(", ")", "{",
    "}", ",",
];

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, QueryError> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, m: String| QueryError { at, message: m };
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if super::starts_number(&c, i) {
            let (n, end) = super::scan_number(&c, i, false)?;
            out.push((Tok::Num(n), i));
            i = end;
        } else if ch.is_ascii_alphabetic() || ch == '_' || ch == ':' {
            let start = i;
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == ':') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), start));
        } else if ch == '"' || ch == '\'' || ch == '`' {
            let start = i;
            i += 1;
            let mut s = String::new();
            loop {
                match c.get(i) {
                    None => return Err(err(start, "a string that is never closed".into())),
                    Some(&q) if q == ch => {
                        i += 1;
                        break;
                    }
                    Some('\\') if ch != '`' => {
                        match c.get(i + 1) {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(&e) => s.push(e),
                            None => return Err(err(start, "a string that is never closed".into())),
                        }
                        i += 2;
                    }
                    Some(&x) => {
                        s.push(x);
                        i += 1;
                    }
                }
            }
            out.push((Tok::Str(s), start));
        } else if ch == '[' {
            let start = i;
            let close = c[i..]
                .iter()
                .position(|&x| x == ']')
                .ok_or_else(|| err(start, "a '[' range that is never closed".into()))?;
            out.push((Tok::Range(c[i + 1..i + close].iter().collect()), start));
            i += close + 1;
        } else {
            let rest: String = c[i..c.len().min(i + 2)].iter().collect();
            match OPS.iter().find(|op| rest.starts_with(**op)) {
                Some(op) => {
                    out.push((Tok::Op(op), i));
                    i += op.len();
                }
                None => return Err(err(i, format!("unexpected character {ch:?}"))),
            }
        }
    }
    out.push((Tok::End, c.len()));
    Ok(out)
}

/// A PromQL duration (`5m`, `1m30s`, `500ms`, `1h`, `2d`, `1w`) [ns].
fn duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let mut total: u64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let number: u64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale: u64 = match &rest[..u] {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "w" => 604_800_000_000_000,
            "y" => 31_536_000_000_000_000,
            _ => return None,
        };
        rest = &rest[u..];
        total = total.checked_add(number.checked_mul(scale)?)?;
    }
    (total > 0).then_some(total)
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    metrics: &'a [&'a str],
    selectors: Vec<Selector>,
}

/// Whether an expression gives a scalar or a vector (range vectors only appear as arguments).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Scalar,
    Vector,
}

type Parsed = Result<(Node, Kind), QueryError>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn at(&self) -> usize {
        self.toks[self.pos].1
    }
    fn fail<T>(&self, at: usize, m: impl Into<String>) -> Result<T, QueryError> {
        Err(QueryError {
            at,
            message: m.into(),
        })
    }
    fn describe(&self) -> String {
        match self.peek() {
            Tok::Num(n) => format!("the number {n}"),
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Str(s) => format!("the string {s:?}"),
            Tok::Op(o) => format!("{o:?}"),
            Tok::Range(r) => format!("the range [{r}]"),
            Tok::End => "the end".into(),
        }
    }
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn word(&self) -> Option<&str> {
        match self.peek() {
            Tok::Ident(s) => Some(s.as_str()),
            _ => None,
        }
    }
    fn expect(&mut self, op: &str) -> Result<(), QueryError> {
        if self.eat(op) {
            Ok(())
        } else {
            self.fail(
                self.at(),
                format!("expected {op:?}, got {}", self.describe()),
            )
        }
    }

    fn binop(&self) -> Option<(Bin, u8)> {
        let op = match self.peek() {
            Tok::Ident(w) => match w.as_str() {
                "or" => (Bin::Or, 1),
                "and" => (Bin::And, 2),
                "unless" => (Bin::Unless, 2),
                _ => return None,
            },
            Tok::Op(o) => match *o {
                "==" => (Bin::Eq, 3),
                "!=" => (Bin::Ne, 3),
                "<" => (Bin::Lt, 3),
                ">" => (Bin::Gt, 3),
                "<=" => (Bin::Le, 3),
                ">=" => (Bin::Ge, 3),
                "+" => (Bin::Add, 4),
                "-" => (Bin::Sub, 4),
                "*" => (Bin::Mul, 5),
                "/" => (Bin::Div, 5),
                "%" => (Bin::Mod, 5),
                "^" => (Bin::Pow, 7),
                _ => return None,
            },
            _ => return None,
        };
        Some(op)
    }

    fn expr(&mut self, min: u8) -> Parsed {
        let (mut lhs, mut lk) = self.unary()?;
        while let Some((op, prec)) = self.binop() {
            if prec < min {
                break;
            }
            let at = self.at();
            self.pos += 1;
            let keep_bool = if self.word() == Some("bool") {
                if !op.is_comparison() {
                    return self.fail(self.at(), "`bool` only follows a comparison");
                }
                self.pos += 1;
                true
            } else {
                false
            };
            let matching = match self.word() {
                Some("on") => {
                    self.pos += 1;
                    Matching::On(self.label_list()?)
                }
                Some("ignoring") => {
                    self.pos += 1;
                    Matching::Ignoring(self.label_list()?)
                }
                _ => Matching::All,
            };
            if let Some(w @ ("group_left" | "group_right")) = self.word() {
                return self.fail(
                    self.at(),
                    format!("{w} (many-to-one matching) is beyond flysim's PromQL subset"),
                );
            }
            let next = if op == Bin::Pow { prec } else { prec + 1 };
            let (rhs, rk) = self.expr(next)?;
            if op.is_set() && (lk != Kind::Vector || rk != Kind::Vector) {
                return self.fail(
                    at,
                    format!("{op:?} takes vectors on both sides").to_lowercase(),
                );
            }
            if op.is_comparison() && lk == Kind::Scalar && rk == Kind::Scalar && !keep_bool {
                return self.fail(at, "a comparison of two numbers needs `bool`");
            }
            let kind = if lk == Kind::Scalar && rk == Kind::Scalar {
                Kind::Scalar
            } else {
                Kind::Vector
            };
            lhs = Node::Binary {
                op,
                keep_bool,
                matching,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
            lk = kind;
        }
        Ok((lhs, lk))
    }

    fn unary(&mut self) -> Parsed {
        if self.eat("-") {
            let (n, k) = self.expr(6)?;
            return Ok((Node::Neg(Box::new(n)), k));
        }
        if self.eat("+") {
            return self.expr(6);
        }
        self.primary()
    }

    fn label_list(&mut self) -> Result<Vec<String>, QueryError> {
        self.expect("(")?;
        let mut out = Vec::new();
        if self.eat(")") {
            return Ok(out);
        }
        loop {
            match self.peek().clone() {
                Tok::Ident(l) => {
                    self.pos += 1;
                    out.push(l);
                }
                _ => {
                    return self.fail(
                        self.at(),
                        format!("expected a label name, got {}", self.describe()),
                    );
                }
            }
            if self.eat(")") {
                return Ok(out);
            }
            self.expect(",")?;
        }
    }

    fn primary(&mut self) -> Parsed {
        let at = self.at();
        match self.peek().clone() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok((Node::Num(n), Kind::Scalar))
            }
            Tok::Op("(") => {
                self.pos += 1;
                let inner = self.expr(0)?;
                self.expect(")")?;
                self.no_range_after("a parenthesised expression")?;
                Ok(inner)
            }
            Tok::Op("{") => self.fail(
                at,
                "give the metric's name before its labels (name{label=\"value\"})",
            ),
            Tok::Ident(w) => {
                self.pos += 1;
                match w.as_str() {
                    "sum" | "avg" | "min" | "max" | "count" => self.aggregate(&w),
                    "topk" | "bottomk" | "quantile" | "stddev" | "stdvar" | "count_values"
                    | "group" => self.fail(
                        at,
                        format!("the aggregation {w} is beyond flysim's PromQL subset (sum, avg, min, max, count)"),
                    ),
                    "offset" | "@" => self.fail(at, "`offset` is beyond flysim's PromQL subset"),
                    "inf" | "Inf" => Ok((Node::Num(f64::INFINITY), Kind::Scalar)),
                    "nan" | "NaN" => Ok((Node::Num(f64::NAN), Kind::Scalar)),
                    _ if matches!(self.peek(), Tok::Op("(")) => self.call(&w, at),
                    _ => self.selector(w, at),
                }
            }
            _ => self.fail(
                at,
                format!(
                    "expected a number, a metric, a function or '(', got {}",
                    self.describe()
                ),
            ),
        }
    }

    fn no_range_after(&self, what: &str) -> Result<(), QueryError> {
        if matches!(self.peek(), Tok::Range(_)) {
            return self.fail(
                self.at(),
                format!("a range [..] cannot follow {what} (subqueries are beyond flysim's PromQL subset)"),
            );
        }
        Ok(())
    }

    fn aggregate(&mut self, w: &str) -> Parsed {
        let agg = match w {
            "sum" => Agg::Sum,
            "avg" => Agg::Avg,
            "min" => Agg::Min,
            "max" => Agg::Max,
            _ => Agg::Count,
        };
        let mut grouping = self.grouping()?;
        self.expect("(")?;
        let arg_at = self.at();
        let (inner, k) = self.expr(0)?;
        self.expect(")")?;
        if k != Kind::Vector {
            return self.fail(
                arg_at,
                format!("{w}() aggregates a vector of series, not a number"),
            );
        }
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        self.no_range_after("an aggregation")?;
        Ok((
            Node::Aggregate(
                agg,
                grouping.unwrap_or(Grouping::By(Vec::new())),
                Box::new(inner),
            ),
            Kind::Vector,
        ))
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, QueryError> {
        Ok(match self.word() {
            Some("by") => {
                self.pos += 1;
                Some(Grouping::By(self.label_list()?))
            }
            Some("without") => {
                self.pos += 1;
                Some(Grouping::Without(self.label_list()?))
            }
            _ => None,
        })
    }

    fn call(&mut self, name: &str, at: usize) -> Parsed {
        self.expect("(")?;
        let mut args: Vec<(Node, Kind, usize, bool)> = Vec::new();
        if !self.eat(")") {
            loop {
                let arg_at = self.at();
                let before = self.selectors.len();
                let (n, k) = self.expr(0)?;
                let ranged = matches!(n, Node::Select(s) if s >= before && self.selectors[s].range.is_some());
                args.push((n, k, arg_at, ranged));
                if self.eat(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        self.no_range_after("a function call")?;
        let count = args.len();
        let want = |n: usize| -> Result<(), QueryError> {
            if count == n {
                Ok(())
            } else {
                self.fail(at, format!("{name}() takes {n} argument(s), got {count}"))
            }
        };
        let range_fn = match name {
            "rate" => Some(RangeFn::Rate),
            "irate" => Some(RangeFn::Irate),
            "increase" => Some(RangeFn::Increase),
            "delta" => Some(RangeFn::Delta),
            "avg_over_time" => Some(RangeFn::Avg),
            "min_over_time" => Some(RangeFn::Min),
            "max_over_time" => Some(RangeFn::Max),
            "sum_over_time" => Some(RangeFn::Sum),
            "count_over_time" => Some(RangeFn::Count),
            "last_over_time" => Some(RangeFn::Last),
            _ => None,
        };
        if let Some((_, _, arg_at, _)) = args.iter().find(|a| a.3 && range_fn.is_none()) {
            return self.fail(*arg_at, format!("{name}() takes no range selector; a range [..] goes inside rate(), increase() or an _over_time() function"));
        }
        if let Some(f) = range_fn {
            want(1)?;
            return match &args[0] {
                (Node::Select(s), _, _, true) => {
                    let range = self.selectors[*s].range.expect("a range selector");
                    Ok((Node::Range(f, *s, range), Kind::Vector))
                }
                (_, _, arg_at, _) => self.fail(
                    *arg_at,
                    format!("{name}() takes a range selector such as metric[1m]"),
                ),
            };
        }
        let mut it = args.into_iter();
        let vector_arg =
            |p: &Self, a: (Node, Kind, usize, bool)| -> Result<Box<Node>, QueryError> {
                if a.1 != Kind::Vector {
                    return p.fail(
                        a.2,
                        format!("{name}() takes a vector of series here, not a number"),
                    );
                }
                Ok(Box::new(a.0))
            };
        let scalar_arg =
            |p: &Self, a: (Node, Kind, usize, bool)| -> Result<Box<Node>, QueryError> {
                if a.1 != Kind::Scalar {
                    return p.fail(a.2, format!("{name}() takes a number here, not a vector"));
                }
                Ok(Box::new(a.0))
            };
        let n = |it: &mut std::vec::IntoIter<_>| it.next().expect("counted");
        match name {
            "histogram_quantile" => {
                want(2)?;
                let q = scalar_arg(self, n(&mut it))?;
                let v = vector_arg(self, n(&mut it))?;
                Ok((Node::Quantile(q, v), Kind::Vector))
            }
            "abs" | "ceil" | "floor" | "round" | "sqrt" | "exp" | "ln" => {
                want(1)?;
                let f: fn(f64) -> f64 = match name {
                    "abs" => f64::abs,
                    "ceil" => f64::ceil,
                    "floor" => f64::floor,
                    "round" => round_half_up,
                    "sqrt" => f64::sqrt,
                    "exp" => f64::exp,
                    _ => f64::ln,
                };
                Ok((Node::Math(f, vector_arg(self, n(&mut it))?), Kind::Vector))
            }
            "clamp_min" | "clamp_max" => {
                want(2)?;
                let v = vector_arg(self, n(&mut it))?;
                let s = scalar_arg(self, n(&mut it))?;
                Ok((Node::Clamp(name == "clamp_max", v, s), Kind::Vector))
            }
            "scalar" => {
                want(1)?;
                Ok((Node::ToScalar(vector_arg(self, n(&mut it))?), Kind::Scalar))
            }
            "vector" => {
                want(1)?;
                Ok((Node::ToVector(scalar_arg(self, n(&mut it))?), Kind::Vector))
            }
            _ => self.fail(
                at,
                format!("unknown function {name:?}; flysim knows rate, irate, increase, delta, the _over_time functions, histogram_quantile, abs, ceil, floor, round, sqrt, exp, ln, clamp_min, clamp_max, scalar, vector"),
            ),
        }
    }

    fn selector(&mut self, metric: String, at: usize) -> Parsed {
        if !self.metrics.contains(&metric.as_str()) {
            return self.fail(
                at,
                format!(
                    "unknown metric {metric:?}; the simulated app exposes {}",
                    self.metrics.join(", ")
                ),
            );
        }
        let mut matchers = Vec::new();
        if self.eat("{") {
            while !self.eat("}") {
                let lat = self.at();
                let label = match self.peek().clone() {
                    Tok::Ident(l) => {
                        self.pos += 1;
                        l
                    }
                    _ => {
                        return self.fail(
                            lat,
                            format!("expected a label name or '}}', got {}", self.describe()),
                        );
                    }
                };
                let op = match self.peek() {
                    Tok::Op("=") => MatchOp::Eq,
                    Tok::Op("!=") => MatchOp::Ne,
                    Tok::Op("=~") => MatchOp::Re,
                    Tok::Op("!~") => MatchOp::NotRe,
                    _ => {
                        return self.fail(
                            self.at(),
                            format!(
                                "expected =, !=, =~ or !~ after {label:?}, got {}",
                                self.describe()
                            ),
                        );
                    }
                };
                self.pos += 1;
                let vat = self.at();
                let Tok::Str(value) = self.peek().clone() else {
                    return self.fail(
                        vat,
                        format!(
                            "expected a quoted value for {label:?}, got {}",
                            self.describe()
                        ),
                    );
                };
                self.pos += 1;
                let re = match op {
                    MatchOp::Re | MatchOp::NotRe => Some(
                        Regex::new(&format!("^(?:{value})$")).map_err(|e| QueryError {
                            at: vat,
                            message: format!(
                                "{value:?} is not a regular expression: {}",
                                e.to_string().lines().last().unwrap_or("")
                            ),
                        })?,
                    ),
                    _ => None,
                };
                if label == "__name__" {
                    return self.fail(
                        lat,
                        "give the metric's name before the braces, not as __name__",
                    );
                }
                matchers.push(Matcher {
                    label,
                    op,
                    value,
                    re,
                });
                if !self.eat(",") && !matches!(self.peek(), Tok::Op("}")) {
                    return self.fail(
                        self.at(),
                        format!("expected ',' or '}}', got {}", self.describe()),
                    );
                }
            }
        }
        let range =
            match self.peek().clone() {
                Tok::Range(r) => {
                    let rat = self.at();
                    self.pos += 1;
                    match duration(&r) {
                        Some(d) => Some(d),
                        None => return self.fail(
                            rat,
                            format!(
                                "[{r}] is not a range; expected a duration such as [1m] or [30s]"
                            ),
                        ),
                    }
                }
                _ => None,
            };
        if matches!(self.word(), Some("offset")) {
            return self.fail(self.at(), "`offset` is beyond flysim's PromQL subset");
        }
        self.selectors.push(Selector {
            metric,
            matchers,
            range,
        });
        Ok((Node::Select(self.selectors.len() - 1), Kind::Vector))
    }
}

/// Prometheus' `round` rounds half up (`round(-2.5)` is -2).
fn round_half_up(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// Replaces `$APP_NAME` and `${APP_NAME}` with `app`, as fly-autoscaler does before a query.
pub fn expand(query: &str, app: &str) -> String {
    query.replace("${APP_NAME}", app).replace("$APP_NAME", app)
}

impl Query {
    /// Parses an (expanded) query whose selectors may name only `metrics`.
    pub fn parse(text: &str, metrics: &[&str]) -> Result<Query, QueryError> {
        let toks = lex(text)?;
        let mut p = Parser {
            toks,
            pos: 0,
            metrics,
            selectors: Vec::new(),
        };
        if *p.peek() == Tok::End {
            return p.fail(0, "empty query");
        }
        let (root, _) = p.expr(0)?;
        if *p.peek() != Tok::End {
            return p.fail(
                p.at(),
                format!("expected an operator or the end, got {}", p.describe()),
            );
        }
        if bare_range(&root, &p.selectors) {
            return p.fail(
                0,
                "a range selector [..] must be inside rate(), increase() or an _over_time() function",
            );
        }
        Ok(Query {
            root,
            selectors: p.selectors,
            text: text.to_string(),
        })
    }

    /// The longest range of its selectors [ns] (0 for none).
    pub fn longest_range(&self) -> u64 {
        self.selectors
            .iter()
            .filter_map(|s| s.range)
            .max()
            .unwrap_or(0)
    }

    /// Its value at time `at` [ns] over `samples`.
    pub fn eval(&self, samples: &dyn Samples, at: i64) -> Value {
        eval(&self.root, samples, at)
    }
}

/// Whether a range selector stands outside a range function.
fn bare_range(n: &Node, sel: &[Selector]) -> bool {
    match n {
        Node::Select(x) => sel[*x].range.is_some(),
        Node::Range(..) | Node::Num(_) => false,
        Node::Aggregate(_, _, a)
        | Node::Math(_, a)
        | Node::ToScalar(a)
        | Node::ToVector(a)
        | Node::Neg(a) => bare_range(a, sel),
        Node::Quantile(a, b) | Node::Clamp(_, a, b) | Node::Binary { lhs: a, rhs: b, .. } => {
            bare_range(a, sel) || bare_range(b, sel)
        }
    }
}

fn drop_name(mut l: Labels) -> Labels {
    l.retain(|(k, _)| k != "__name__");
    l
}

fn eval(n: &Node, s: &dyn Samples, at: i64) -> Value {
    match n {
        Node::Num(x) => Value::Scalar(*x),
        Node::Select(i) => Value::Vector(sorted(s.instant(*i, at))),
        Node::Range(f, i, range) => {
            let out = s
                .range(*i, at)
                .into_iter()
                .filter_map(|r| range_value(*f, &r, *range).map(|v| (drop_name(r.labels), v)))
                .collect();
            Value::Vector(sorted(out))
        }
        Node::Aggregate(agg, grouping, inner) => {
            let v = vector(eval(inner, s, at));
            let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
            for (labels, x) in v {
                let key: Labels = match grouping {
                    Grouping::By(keep) => labels
                        .into_iter()
                        .filter(|(k, _)| keep.contains(k))
                        .collect(),
                    Grouping::Without(drop) => labels
                        .into_iter()
                        .filter(|(k, _)| k != "__name__" && !drop.contains(k))
                        .collect(),
                };
                groups.entry(key).or_default().push(x);
            }
            // A map in label order: the result comes out sorted.
            let out = groups
                .into_iter()
                .map(|(k, xs)| {
                    let v = match agg {
                        Agg::Sum => xs.iter().sum(),
                        Agg::Avg => xs.iter().sum::<f64>() / xs.len() as f64,
                        Agg::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                        Agg::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        Agg::Count => xs.len() as f64,
                    };
                    (k, v)
                })
                .collect();
            Value::Vector(out)
        }
        Node::Quantile(q, inner) => {
            let q = scalar(eval(q, s, at));
            let v = vector(eval(inner, s, at));
            // Group the buckets by their labels without `le`.
            let mut groups: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for (labels, x) in v {
                let Some(le) = labels
                    .iter()
                    .find(|(k, _)| k == "le")
                    .and_then(|(_, v)| parse_le(v))
                else {
                    continue;
                };
                let key: Labels = labels
                    .into_iter()
                    .filter(|(k, _)| k != "le" && k != "__name__")
                    .collect();
                groups.entry(key).or_default().push((le, x));
            }
            let out = groups
                .into_iter()
                .map(|(k, mut b)| {
                    b.sort_by(|x, y| x.0.total_cmp(&y.0));
                    (k, bucket_quantile(q, &b))
                })
                .collect();
            Value::Vector(out)
        }
        Node::Math(f, inner) => Value::Vector(
            vector(eval(inner, s, at))
                .into_iter()
                .map(|(l, x)| (drop_name(l), f(x)))
                .collect(),
        ),
        Node::Clamp(is_max, inner, bound) => {
            let b = scalar(eval(bound, s, at));
            Value::Vector(
                vector(eval(inner, s, at))
                    .into_iter()
                    .map(|(l, x)| (drop_name(l), if *is_max { x.min(b) } else { x.max(b) }))
                    .collect(),
            )
        }
        Node::ToScalar(inner) => {
            let v = vector(eval(inner, s, at));
            Value::Scalar(if v.len() == 1 { v[0].1 } else { f64::NAN })
        }
        Node::ToVector(inner) => Value::Vector(vec![(Vec::new(), scalar(eval(inner, s, at)))]),
        Node::Neg(inner) => match eval(inner, s, at) {
            Value::Scalar(x) => Value::Scalar(-x),
            Value::Vector(v) => {
                Value::Vector(v.into_iter().map(|(l, x)| (drop_name(l), -x)).collect())
            }
        },
        Node::Binary {
            op,
            keep_bool,
            matching,
            lhs,
            rhs,
        } => binary(
            *op,
            *keep_bool,
            matching,
            eval(lhs, s, at),
            eval(rhs, s, at),
        ),
    }
}

fn parse_le(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => v.parse().ok(),
    }
}

/// Prometheus' `histogram_quantile` over cumulative buckets `(le, count)` sorted by `le`:
/// linear interpolation inside the bucket the rank falls in; the `+Inf` bucket gives the
/// highest finite bound.
fn bucket_quantile(q: f64, b: &[(f64, f64)]) -> f64 {
    if q.is_nan() || b.len() < 2 || b.last().is_none_or(|l| l.0 != f64::INFINITY) {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let total = b[b.len() - 1].1;
    if total == 0.0 {
        return f64::NAN;
    }
    let rank = q * total;
    let i = b.iter().position(|x| x.1 >= rank).unwrap_or(b.len() - 1);
    if i == b.len() - 1 {
        return b[b.len() - 2].0;
    }
    let (lower, below) = if i == 0 {
        (0.0, 0.0)
    } else {
        (b[i - 1].0, b[i - 1].1)
    };
    let (upper, count) = (b[i].0, b[i].1 - below);
    if count == 0.0 {
        return upper;
    }
    lower + (upper - lower) * ((rank - below) / count)
}

fn range_value(f: RangeFn, r: &RangeSeries, range_ns: u64) -> Option<f64> {
    let last = *r.window.last()?;
    let secs = |ns: i64| ns as f64 / 1e9;
    Some(match f {
        RangeFn::Increase | RangeFn::Rate => {
            // MetricsQL: from the last sample before the window (or 0 for a new series),
            // counting a drop as a counter reset.
            let mut prev = r.before.map_or(0.0, |b| b.1);
            let mut inc = 0.0;
            for &(_, v) in &r.window {
                inc += if v >= prev { v - prev } else { v };
                prev = v;
            }
            if f == RangeFn::Rate {
                inc / secs(range_ns as i64)
            } else {
                inc
            }
        }
        RangeFn::Irate => {
            let prev = if r.window.len() >= 2 {
                r.window[r.window.len() - 2]
            } else {
                r.before?
            };
            let d = if last.1 >= prev.1 {
                last.1 - prev.1
            } else {
                last.1
            };
            d / secs(last.0 - prev.0)
        }
        RangeFn::Delta => last.1 - r.before.unwrap_or(r.window[0]).1,
        RangeFn::Avg => r.window.iter().map(|x| x.1).sum::<f64>() / r.window.len() as f64,
        RangeFn::Min => r.window.iter().map(|x| x.1).fold(f64::INFINITY, f64::min),
        RangeFn::Max => r
            .window
            .iter()
            .map(|x| x.1)
            .fold(f64::NEG_INFINITY, f64::max),
        RangeFn::Sum => r.window.iter().map(|x| x.1).sum(),
        RangeFn::Count => r.window.len() as f64,
        RangeFn::Last => last.1,
    })
}

fn sorted(mut v: Vec<(Labels, f64)>) -> Vec<(Labels, f64)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn vector(v: Value) -> Vec<(Labels, f64)> {
    match v {
        Value::Vector(v) => v,
        Value::Scalar(_) => unreachable!("typed as a vector at parse"),
    }
}

fn scalar(v: Value) -> f64 {
    match v {
        Value::Scalar(x) => x,
        Value::Vector(_) => unreachable!("typed as a number at parse"),
    }
}

fn apply(op: Bin, a: f64, b: f64) -> Option<f64> {
    let t = |c: bool| Some(if c { 1.0 } else { 0.0 });
    match op {
        Bin::Add => Some(a + b),
        Bin::Sub => Some(a - b),
        Bin::Mul => Some(a * b),
        Bin::Div => Some(a / b),
        Bin::Mod => Some(a % b),
        Bin::Pow => Some(a.powf(b)),
        Bin::Eq => t(a == b),
        Bin::Ne => t(a != b),
        Bin::Lt => t(a < b),
        Bin::Gt => t(a > b),
        Bin::Le => t(a <= b),
        Bin::Ge => t(a >= b),
        Bin::And | Bin::Or | Bin::Unless => None,
    }
}

fn match_key(l: &Labels, m: &Matching) -> Labels {
    l.iter()
        .filter(|(k, _)| {
            k != "__name__"
                && match m {
                    Matching::All => true,
                    Matching::On(keep) => keep.contains(k),
                    Matching::Ignoring(drop) => !drop.contains(k),
                }
        })
        .cloned()
        .collect()
}

fn binary(op: Bin, keep_bool: bool, m: &Matching, l: Value, r: Value) -> Value {
    // A comparison without `bool` filters: it keeps the vector side's value where true.
    let combine = |a: f64, b: f64, keep: f64| -> Option<f64> {
        let v = apply(op, a, b)?;
        if op.is_comparison() && !keep_bool {
            (v == 1.0).then_some(keep)
        } else {
            Some(v)
        }
    };
    match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(apply(op, a, b).unwrap_or(f64::NAN)),
        (Value::Vector(v), Value::Scalar(b)) => Value::Vector(
            v.into_iter()
                .filter_map(|(l, a)| combine(a, b, a).map(|x| (drop_name(l), x)))
                .collect(),
        ),
        (Value::Scalar(a), Value::Vector(v)) => Value::Vector(
            v.into_iter()
                .filter_map(|(l, b)| combine(a, b, b).map(|x| (drop_name(l), x)))
                .collect(),
        ),
        (Value::Vector(lv), Value::Vector(rv)) => {
            // Each right-hand series by its matching labels (the first, where several share them).
            let mut right: BTreeMap<Labels, f64> = BTreeMap::new();
            for (l, x) in &rv {
                right.entry(match_key(l, m)).or_insert(*x);
            }
            let out = match op {
                Bin::And => lv
                    .into_iter()
                    .filter(|(l, _)| right.contains_key(&match_key(l, m)))
                    .collect(),
                Bin::Unless => lv
                    .into_iter()
                    .filter(|(l, _)| !right.contains_key(&match_key(l, m)))
                    .collect(),
                Bin::Or => {
                    let left: BTreeSet<Labels> = lv.iter().map(|(l, _)| match_key(l, m)).collect();
                    let mut out = lv;
                    out.extend(
                        rv.into_iter()
                            .filter(|(l, _)| !left.contains(&match_key(l, m))),
                    );
                    out
                }
                _ => lv
                    .into_iter()
                    .filter_map(|(l, a)| {
                        let k = match_key(&l, m);
                        let b = *right.get(&k)?;
                        combine(a, b, a).map(|x| (k, x))
                    })
                    .collect(),
            };
            Value::Vector(sorted(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &[&str] = &["fly_app_concurrency", "requests_total", "lat_bucket"];

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        let mut l: Labels = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        l.sort();
        l
    }

    /// Two Machines' concurrency, a counter with a sample every 15 s, and a histogram.
    struct Fake {
        histogram: bool,
    }
    impl Samples for Fake {
        fn instant(&self, _sel: usize, _at: i64) -> Vec<(Labels, f64)> {
            match self.histogram {
                false => vec![
                    (
                        labels(&[
                            ("__name__", "fly_app_concurrency"),
                            ("region", "ams"),
                            ("instance", "a"),
                        ]),
                        3.0,
                    ),
                    (
                        labels(&[
                            ("__name__", "fly_app_concurrency"),
                            ("region", "ams"),
                            ("instance", "b"),
                        ]),
                        5.0,
                    ),
                    (
                        labels(&[
                            ("__name__", "fly_app_concurrency"),
                            ("region", "ord"),
                            ("instance", "c"),
                        ]),
                        1.0,
                    ),
                ],
                true => ["0.1", "0.5", "+Inf"]
                    .iter()
                    .zip([50.0, 90.0, 100.0])
                    .map(|(le, n)| (labels(&[("__name__", "lat_bucket"), ("le", le)]), n))
                    .collect(),
            }
        }
        fn range(&self, _sel: usize, _at: i64) -> Vec<RangeSeries> {
            let s = 15_000_000_000;
            vec![
                RangeSeries {
                    labels: labels(&[("__name__", "requests_total"), ("instance", "a")]),
                    window: vec![(s, 130.0), (2 * s, 160.0), (3 * s, 190.0), (4 * s, 220.0)],
                    before: Some((0, 100.0)),
                },
                // A series that appeared in the window counts from 0; a drop is a reset.
                RangeSeries {
                    labels: labels(&[("__name__", "requests_total"), ("instance", "b")]),
                    window: vec![(3 * s, 10.0), (4 * s, 4.0)],
                    before: None,
                },
            ]
        }
    }

    fn value(q: &str) -> Value {
        let histogram = q.contains("lat_bucket");
        Query::parse(q, METRICS)
            .unwrap()
            .eval(&Fake { histogram }, 0)
    }

    fn one(q: &str) -> f64 {
        match value(q) {
            Value::Vector(v) => {
                assert_eq!(v.len(), 1, "{q}: {v:?}");
                v[0].1
            }
            Value::Scalar(x) => x,
        }
    }

    #[test]
    fn aggregations_group_by_labels() {
        assert_eq!(one("sum(fly_app_concurrency)"), 9.0);
        assert_eq!(one("count(fly_app_concurrency)"), 3.0);
        assert_eq!(one("max(fly_app_concurrency) / 2"), 2.5);
        let Value::Vector(v) = value("sum by (region) (fly_app_concurrency)") else {
            panic!()
        };
        assert_eq!(
            v,
            vec![
                (labels(&[("region", "ams")]), 8.0),
                (labels(&[("region", "ord")]), 1.0)
            ]
        );
        let Value::Vector(v) = value("avg(fly_app_concurrency) without (instance)") else {
            panic!()
        };
        assert_eq!(v[0].1, 4.0);
        let Value::Vector(v) = value("fly_app_concurrency{region=\"ams\"} > 4") else {
            panic!()
        };
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].1, 5.0);
        let Value::Vector(v) = value("fly_app_concurrency > bool 4") else {
            panic!()
        };
        assert_eq!(
            v.iter().map(|x| x.1).collect::<Vec<_>>(),
            vec![0.0, 1.0, 0.0]
        );
        assert_eq!(one("sum(fly_app_concurrency > 100) or vector(0)"), 0.0);
        assert_eq!(one("scalar(sum(fly_app_concurrency)) * 2"), 18.0);
    }

    #[test]
    fn range_functions_follow_metricsql() {
        // a: 220 - 100 = 120; b: 10 from 0, then a reset to 4: 14.
        assert_eq!(one("sum(increase(requests_total[1m]))"), 134.0);
        assert_eq!(one("sum(rate(requests_total[1m]))"), 134.0 / 60.0);
        let Value::Vector(v) = value("irate(requests_total[1m])") else {
            panic!()
        };
        assert_eq!(v[0].1, 2.0);
        assert_eq!(v[1].1, 4.0 / 15.0);
        let Value::Vector(v) = value("max_over_time(requests_total[1m])") else {
            panic!()
        };
        assert_eq!(v[0].1, 220.0);
        assert_eq!(v[1].1, 10.0);
    }

    #[test]
    fn histogram_quantile_interpolates_in_its_bucket() {
        // Rank 95 of 100 falls in (0.1, 0.5] holding 50..90 → above it: the +Inf bucket
        // gives the highest finite bound.
        assert_eq!(one("histogram_quantile(0.95, lat_bucket)"), 0.5);
        // Rank 70: 0.1 + 0.4 × (70 − 50) / 40 = 0.3.
        assert!((one("histogram_quantile(0.7, lat_bucket)") - 0.3).abs() < 1e-12);
        assert!((one("histogram_quantile(0.25, lat_bucket)") - 0.05).abs() < 1e-12);
    }

    #[test]
    fn problems_name_their_position() {
        let err = |q: &str| Query::parse(q, METRICS).unwrap_err();
        let e = err("sum(fly_app_concurency)");
        assert_eq!(e.at, 4);
        assert!(
            e.message.contains("unknown metric \"fly_app_concurency\""),
            "{e}"
        );
        let e = err("sum(rate(requests_total))");
        assert!(e.message.contains("range selector"), "{e}");
        let e = err("sum(requests_total[1m])");
        assert!(e.message.contains("range"), "{e}");
        let e = err("rate(requests_total[1x])");
        assert_eq!(e.at, 19);
        let e = err("fly_app_concurrency{region=\"ams\"");
        assert!(e.message.contains("expected"), "{e}");
        let e = err("fly_app_concurrency{region=~\"(\"}");
        assert!(e.message.contains("regular expression"), "{e}");
        let e = err("topk(3, fly_app_concurrency)");
        assert!(e.message.contains("beyond"), "{e}");
        let e = err("sum(fly_app_concurrency) / on(app) group_left fly_app_concurrency");
        assert!(e.message.contains("group_left"), "{e}");
        let e = err("1 > 2");
        assert!(e.message.contains("bool"), "{e}");
        assert!(err("").message.contains("empty"));
        assert_eq!(
            expand("x{app='$APP_NAME'} + y{app=\"${APP_NAME}\"}", "web"),
            "x{app='web'} + y{app=\"web\"}"
        );
    }
}
