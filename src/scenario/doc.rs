//! A TOML document as a plain tree whose every node remembers where it came from.
//!
//! Scenario and fly.toml files are parsed with `toml_edit` (which keeps source spans) into
//! [`Node`]s carrying a line:column [`Origin`]. Validation walks this tree, so every problem it
//! finds can name the file position, and all problems are collected in one pass rather than
//! stopping at the first. `--set path=value` overrides edit the tree before validation and are
//! marked as coming from the command line.

use std::fmt;

/// Where a value was written.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// In the file, at a 1-based line and column.
    File {
        /// Line, from 1.
        line: u32,
        /// Column in characters, from 1.
        column: u32,
    },
    /// From an override: `--set path=value` or a sweep axis; the text says which, for messages.
    Set(String),
    /// Nowhere: a table that exists only because a deeper key was set.
    Implied,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { line, column } => write!(f, "{line}:{column}"),
            Origin::Set(label) => f.write_str(label),
            Origin::Implied => Ok(()),
        }
    }
}

/// A TOML value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A date/time, kept as written.
    Datetime(String),
    /// An array (of values or of tables).
    Array(Vec<Node>),
    /// A table (standard, inline or array element), keys in file order.
    Table(Vec<(String, Node)>),
}

/// A value with its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it was written.
    pub origin: Origin,
}

impl Value {
    /// The TOML type name, for messages ("expected a string, got an integer").
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

impl fmt::Display for Value {
    /// A short rendering of the value for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Datetime(d) => write!(f, "{d}"),
            Value::Array(a) => write!(f, "an array of {}", a.len()),
            Value::Table(_) => write!(f, "a table"),
        }
    }
}

impl Node {
    /// The child `key` of a table node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Table(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, n)| n),
            _ => None,
        }
    }

    /// The entries of a table node (empty for anything else).
    pub fn entries(&self) -> &[(String, Node)] {
        match &self.value {
            Value::Table(entries) => entries,
            _ => &[],
        }
    }
}

/// Maps byte offsets to 1-based line:column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn origin(&self, text: &str, offset: usize) -> Origin {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = text
            .get(start..offset.min(text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        Origin::File {
            line: line as u32,
            column: column as u32,
        }
    }
}

/// A syntax error: message and position.
#[derive(Clone, Debug)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub origin: Origin,
    /// The parser's message, first line only.
    pub message: String,
}

/// Largest input file flysim reads as text (scenario, sweep, fly.toml).
pub const MAX_TEXT_BYTES: u64 = 64 << 20;

/// Reads a text input: `Err((where, what))` when it cannot be read, is too large, or is not
/// UTF-8 (naming the line and column of the first bad byte).
pub fn read_text(path: &std::path::Path, max_bytes: u64) -> Result<String, (Origin, String)> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| (Origin::Implied, format!("cannot read the file: {e}")))?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| (Origin::Implied, format!("cannot read the file: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err((
            Origin::Implied,
            format!(
                "the file is over {} MB; flysim reads at most that",
                max_bytes >> 20
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let text = std::str::from_utf8(&bytes[..good]).unwrap_or_default();
        let index = LineIndex::new(text);
        (
            index.origin(text, good),
            format!(
                "not UTF-8 text: byte 0x{:02X} here is not valid UTF-8; save the file as UTF-8",
                bytes[good]
            ),
        )
    })
}

/// Parses TOML text into a tree of nodes.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let index = LineIndex::new(text);
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let start = e.span().map(|s| s.start);
        let mut message = e.message().trim().to_string();
        // Name the key a "duplicate key" error is about: the span starts at it.
        if message.starts_with("duplicate key")
            && let Some(key) = start.and_then(|s| text.get(s..)).map(|rest| {
                rest.chars()
                    .take_while(|c| !matches!(c, '=' | ']' | '\n' | '\r'))
                    .collect::<String>()
                    .trim()
                    .to_string()
            })
            && !key.is_empty()
        {
            message = format!("duplicate key `{key}`: each key may be given once per table");
        }
        SyntaxError {
            origin: start.map_or(Origin::Implied, |s| index.origin(text, s)),
            message,
        }
    })?;
    let conv = Converter { text, index };
    Ok(conv.item(doc.as_item(), 0))
}

struct Converter<'a> {
    text: &'a str,
    index: LineIndex,
}

impl Converter<'_> {
    fn at(&self, span: Option<std::ops::Range<usize>>, fallback: usize) -> Origin {
        self.index
            .origin(self.text, span.map_or(fallback, |s| s.start))
    }

    fn item(&self, item: &toml_edit::Item, fallback: usize) -> Node {
        use toml_edit::Item;
        match item {
            Item::None => Node {
                value: Value::Table(Vec::new()),
                origin: Origin::Implied,
            },
            Item::Value(v) => self.value(v, fallback),
            Item::Table(t) => {
                let origin = self.at(t.span(), fallback);
                let start = t.span().map_or(fallback, |s| s.start);
                let entries = t
                    .iter()
                    .map(|(k, v)| {
                        let key_at = t
                            .key(k)
                            .and_then(|key| key.span())
                            .map_or(start, |s| s.start);
                        (k.to_string(), self.item(v, key_at))
                    })
                    .collect();
                Node {
                    value: Value::Table(entries),
                    origin,
                }
            }
            Item::ArrayOfTables(a) => {
                let origin = self.at(a.span(), fallback);
                let items = a
                    .iter()
                    .map(|t| self.item(&Item::Table(t.clone()), fallback))
                    .collect();
                Node {
                    value: Value::Array(items),
                    origin,
                }
            }
        }
    }

    fn value(&self, v: &toml_edit::Value, fallback: usize) -> Node {
        use toml_edit::Value as V;
        let origin = self.at(v.span(), fallback);
        let value = match v {
            V::String(s) => Value::Str(s.value().clone()),
            V::Integer(i) => Value::Int(*i.value()),
            V::Float(x) => Value::Float(*x.value()),
            V::Boolean(b) => Value::Bool(*b.value()),
            V::Datetime(d) => Value::Datetime(d.value().to_string()),
            V::Array(a) => {
                let start = a.span().map_or(fallback, |s| s.start);
                Value::Array(a.iter().map(|x| self.value(x, start)).collect())
            }
            V::InlineTable(t) => {
                let start = t.span().map_or(fallback, |s| s.start);
                Value::Table(
                    t.iter()
                        .map(|(k, x)| {
                            let key_at = t
                                .key(k)
                                .and_then(|key| key.span())
                                .map_or(start, |s| s.start);
                            (k.to_string(), self.value(x, key_at))
                        })
                        .collect(),
                )
            }
        };
        Node { value, origin }
    }
}

/// Writes a value back as TOML text (inline form), so it can be given to [`apply_set`].
pub fn to_toml(v: &Value) -> String {
    match v {
        Value::Str(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Int(i) => i.to_string(),
        Value::Float(x) if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.1}"),
        Value::Float(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Datetime(d) => d.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(|n| to_toml(&n.value)).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Table(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, n)| format!("{} = {}", toml_key(k), to_toml(&n.value)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        to_toml(&Value::Str(k.to_string()))
    }
}

/// Parses the value half of a `--set path=value` argument: a TOML value when it is one
/// (`3`, `true`, `"x"`, `[1, 2]`, `{ dist = "exponential", mean = "1s" }`), else a bare string
/// (`30s`, `ams`).
pub fn parse_set_value(text: &str, label: &str) -> Node {
    let origin = Origin::Set(label.to_string());
    let wrapped = format!("v = {text}");
    let value = match parse(&wrapped) {
        Ok(node) => node.get("v").map(|n| n.value.clone()),
        Err(_) => None,
    }
    .unwrap_or_else(|| Value::Str(text.to_string()));
    let mut node = Node { value, origin };
    retag(&mut node);
    node
}

/// Marks a node and its children as coming from the same `--set` argument.
fn retag(node: &mut Node) {
    let origin = node.origin.clone();
    match &mut node.value {
        Value::Array(items) => items.iter_mut().for_each(|n| {
            n.origin = origin.clone();
            retag(n)
        }),
        Value::Table(entries) => entries.iter_mut().for_each(|(_, n)| {
            n.origin = origin.clone();
            retag(n)
        }),
        _ => {}
    }
}

/// One step of a `--set` path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("empty key in path {path:?}"));
        }
        steps.push(Step::Key(name.to_string()));
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("missing ']' in path {path:?}"))?;
            let idx: usize = rest[1..close].parse().map_err(|_| {
                format!(
                    "index {:?} in path {path:?} is not a whole number",
                    &rest[1..close]
                )
            })?;
            steps.push(Step::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!(
                    "unexpected {rest:?} after an index in path {path:?}"
                ));
            }
        }
    }
    Ok(steps)
}

/// Applies `--set path=value` to a document tree.
///
/// A key that names an array of tables followed by a name selects the element with that
/// `name` (or `code`, for regions): `app.web.machines[0].count` is `count` of the first entry of
/// `machines` in the `[[app]]` whose name is `web`. Missing tables are created; a missing array
/// element or named element is an error. `label` names the override in messages
/// (`--set path=value`, or a sweep axis).
pub fn apply_set(root: &mut Node, arg: &str, label: &str) -> Result<(), String> {
    apply_set_inner(root, arg, label)
}

/// A `--set` that reaches into the fly.toml file an app refers to: `app.NAME.fly.PATH=VALUE`
/// (or `app[I].fly.PATH=VALUE`) where that `[[app]]` has `fly_toml` and no inline `[app.fly]`.
/// Returns the app's name and the override as the fly.toml's own (`PATH=VALUE`), to apply to
/// that file's tree when it is read.
pub fn fly_file_set(root: &Node, arg: &str) -> Option<(String, String)> {
    let (path, value) = arg.split_once('=')?;
    let parts: Vec<&str> = path.trim().split('.').collect();
    let apps = match &root.get("app")?.value {
        Value::Array(items) => items,
        _ => return None,
    };
    let (app, rest) = match parts.as_slice() {
        ["app", name, "fly", rest @ ..] if !name.contains('[') => (
            apps.iter().find(
                |a| matches!(a.get("name").map(|v| &v.value), Some(Value::Str(s)) if s == name),
            )?,
            rest,
        ),
        [first, "fly", rest @ ..] => {
            let index = first
                .strip_prefix("app[")?
                .strip_suffix(']')?
                .parse::<usize>()
                .ok()?;
            (apps.get(index)?, rest)
        }
        _ => return None,
    };
    if rest.is_empty() || app.get("fly").is_some() || app.get("fly_toml").is_none() {
        return None;
    }
    let name = match app.get("name").map(|v| &v.value) {
        Some(Value::Str(s)) => s.clone(),
        _ => return None,
    };
    Some((name, format!("{}={value}", rest.join("."))))
}

fn apply_set_inner(root: &mut Node, arg: &str, label: &str) -> Result<(), String> {
    let (path, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("{label}: expected path=value, e.g. app.web.machines[0].count=3"))?;
    let path = path.trim();
    let steps = parse_path(path).map_err(|e| format!("{label}: {e}"))?;
    let new = parse_set_value(value.trim(), label);
    let mut node = root;
    let mut i = 0;
    while i < steps.len() {
        let last = i + 1 == steps.len();
        match &steps[i] {
            Step::Key(key) => {
                // A name after an array of tables selects an element by its name.
                if matches!(node.value, Value::Array(_)) {
                    let Value::Array(items) = &mut node.value else {
                        unreachable!()
                    };
                    let pos = items.iter().position(|n| {
                        matches!(n.get("name").or_else(|| n.get("code")).map(|v| &v.value),
                                 Some(Value::Str(s)) if s == key)
                    });
                    let Some(pos) = pos else {
                        return Err(format!("{label}: no element named {key:?} in this array"));
                    };
                    if last {
                        items[pos] = new;
                        return Ok(());
                    }
                    node = &mut items[pos];
                    i += 1;
                    continue;
                }
                if !matches!(node.value, Value::Table(_)) {
                    return Err(format!(
                        "{label}: cannot set {key:?} inside {}",
                        node.value.type_name()
                    ));
                }
                let Value::Table(entries) = &mut node.value else {
                    unreachable!()
                };
                let pos = match entries.iter().position(|(k, _)| k == key) {
                    Some(p) => p,
                    None => {
                        entries.push((
                            key.clone(),
                            Node {
                                value: Value::Table(Vec::new()),
                                origin: Origin::Implied,
                            },
                        ));
                        entries.len() - 1
                    }
                };
                if last {
                    entries[pos].1 = new;
                    return Ok(());
                }
                node = &mut entries[pos].1;
            }
            Step::Index(idx) => {
                let Value::Array(items) = &mut node.value else {
                    return Err(format!(
                        "{label}: index [{idx}] used on a value that is not an array"
                    ));
                };
                let len = items.len();
                let Some(item) = items.get_mut(*idx) else {
                    return Err(format!(
                        "{label}: index [{idx}] is out of range (the array has {len})"
                    ));
                };
                if last {
                    *item = new;
                    return Ok(());
                }
                node = item;
            }
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "name = \"x\"\n[[app]]\nname = \"web\"\nmachines = [{ count = 2, regions = [\"ams\"] }]\n";

    #[test]
    fn origins_point_at_values() {
        let root = parse(DOC).unwrap();
        assert_eq!(
            root.get("name").unwrap().origin,
            Origin::File { line: 1, column: 8 }
        );
        let app = &root.get("app").unwrap();
        let Value::Array(apps) = &app.value else {
            panic!()
        };
        let m = apps[0].get("machines").unwrap();
        assert!(matches!(m.origin, Origin::File { line: 4, .. }));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a = 1\nb = [1,\n").unwrap_err();
        assert!(matches!(err.origin, Origin::File { .. }), "{err:?}");
    }

    #[test]
    fn values_round_trip_through_toml_text() {
        let root = parse("a = \"q\\\"x\"\nb = [1, 2.5, true]\nc = { dist = \"exponential\", mean = \"1s\" }\nd = 3.0\n").unwrap();
        for (_, n) in root.entries() {
            let back = parse_set_value(&to_toml(&n.value), "t");
            assert_eq!(
                back.value,
                {
                    let mut m = n.clone();
                    retag(&mut m);
                    strip(&m.value)
                },
                "{}",
                to_toml(&n.value)
            );
        }
    }

    /// The value with every origin dropped, for comparisons.
    fn strip(v: &Value) -> Value {
        match v {
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|n| Node {
                        value: strip(&n.value),
                        origin: Origin::Set("t".into()),
                    })
                    .collect(),
            ),
            Value::Table(t) => Value::Table(
                t.iter()
                    .map(|(k, n)| {
                        (
                            k.clone(),
                            Node {
                                value: strip(&n.value),
                                origin: Origin::Set("t".into()),
                            },
                        )
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    #[test]
    fn set_selects_named_array_elements() {
        let mut root = parse(DOC).unwrap();
        apply_set(
            &mut root,
            "app.web.machines[0].count=3",
            "--set app.web.machines[0].count=3",
        )
        .unwrap();
        let Value::Array(apps) = &root.get("app").unwrap().value else {
            panic!()
        };
        let Value::Array(m) = &apps[0].get("machines").unwrap().value else {
            panic!()
        };
        let count = m[0].get("count").unwrap();
        assert_eq!(count.value, Value::Int(3));
        assert!(matches!(count.origin, Origin::Set(_)));
        apply_set(
            &mut root,
            "platform.max_queue_wait=30s",
            "--set platform.max_queue_wait=30s",
        )
        .unwrap();
        assert_eq!(
            root.get("platform")
                .unwrap()
                .get("max_queue_wait")
                .unwrap()
                .value,
            Value::Str("30s".into())
        );
        assert!(
            apply_set(
                &mut root,
                "app.api.app_boot=1s",
                "--set app.api.app_boot=1s"
            )
            .is_err()
        );
        assert!(
            apply_set(
                &mut root,
                "app.web.machines[4].count=1",
                "--set app.web.machines[4].count=1"
            )
            .is_err()
        );
        assert!(apply_set(&mut root, "nonsense", "--set nonsense").is_err());
    }
}
