//! The subset of the Expr language (expr-lang.org) that fly-autoscaler's machine counts use.
//!
//! fly-autoscaler compiles `FAS_STARTED_MACHINE_COUNT` and its siblings with
//! `expr.Compile(s, expr.AsFloat64(), expr.Env(metrics))` (`reconciler.go`): the names are the
//! metrics its collectors fetched, and the result must be a number. This module parses that
//! subset once, at validation, with the position of every problem, and evaluates it at each
//! reconcile over the metric values:
//! - numbers (`10`, `0.5`, `1e3`), `true`, `false`, metric names;
//! - `+ - * / % ** ^`, unary `-` `+` `!`/`not`, comparisons `== != < > <= >=`,
//!   `&&`/`and`, `||`/`or`, the ternary `c ? a : b`, parentheses;
//! - `ceil`, `floor`, `round`, `abs`, `int`, `float`, and variadic `min`, `max`.
//!
//! Numbers are `f64` throughout (Expr keeps ints apart; `/` is a float division in both, and
//! `%` here also takes fractions). A name must be a collected metric, as Expr's compile-time
//! environment demands; a comparison or a condition must not be used as the result.

/// A problem in an expression, at a character position (0-based).
pub type ExprError = super::SyntaxError;

/// A parsed expression; names refer to slots of the environment it was compiled against.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    node: Node,
    /// The text, for outputs.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Node {
    Num(f64),
    Bool(bool),
    Var(usize),
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(Op, Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Call(Func, Vec<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
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
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Func {
    Ceil,
    Floor,
    Round,
    Abs,
    Int,
    Float,
    Min,
    Max,
}

/// `**` binds tightest of the binary operators.
const POW_PRECEDENCE: u8 = 7;

const FUNCS: &str = "ceil, floor, round, abs, int, float, min, max";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Ty {
    Num,
    Bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Op(&'static str),
    End,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // Two-character operators first, so that `**` is not read as two `*`.
    const OPS: [&str; 21] = [
        "**", "==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/", "%", "^", "<", ">", "!", "(",
        ")", ",", "?", ":",
    ];
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if super::starts_number(&chars, i) {
            let (n, end) = super::scan_number(&chars, i, true)?;
            out.push((Tok::Num(n), i));
            i = end;
        } else if c.is_alphabetic() || c == '_' || c == '$' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            out.push((Tok::Ident(chars[start..i].iter().collect()), start));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            match OPS.iter().find(|op| rest.starts_with(**op)) {
                Some(op) => {
                    out.push((Tok::Op(op), i));
                    i += op.chars().count();
                }
                None => {
                    return Err(ExprError {
                        at: i,
                        message: format!("unexpected character {c:?}"),
                    });
                }
            }
        }
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    names: &'a [String],
    /// The names are a plan's axes, not fly-autoscaler's metrics (for messages).
    of_axes: bool,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn at(&self) -> usize {
        self.toks[self.pos].1
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError {
            at: self.at(),
            message: message.into(),
        })
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Num(n) => format!("the number {n}"),
            Tok::Ident(s) => format!("{s:?}"),
            Tok::Op(o) => format!("{o:?}"),
            Tok::End => "the end".into(),
        }
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Tok::Ident(s) if s == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), ExprError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.err(format!("expected {op:?}, got {}", self.describe()))
        }
    }

    /// ternary := or ('?' ternary ':' ternary)?
    fn ternary(&mut self) -> Result<(Node, Ty), ExprError> {
        let at = self.at();
        let (c, ct) = self.binary(0)?;
        if !self.eat_op("?") {
            return Ok((c, ct));
        }
        if ct != Ty::Bool {
            return Err(ExprError {
                at,
                message:
                    "the condition before '?' must be a comparison (true or false), not a number"
                        .into(),
            });
        }
        let at_a = self.at();
        let (a, at_ty) = self.ternary()?;
        self.expect(":")?;
        let (b, bt) = self.ternary()?;
        if at_ty != bt {
            return Err(ExprError {
                at: at_a,
                message: "both branches of '? :' must be numbers, or both true/false".into(),
            });
        }
        Ok((Node::Cond(Box::new(c), Box::new(a), Box::new(b)), at_ty))
    }

    /// The binary operator at the cursor with its precedence (higher binds tighter).
    fn binop(&self) -> Option<(Op, u8, usize)> {
        let (op, prec) = match self.peek() {
            Tok::Op("||") => (Op::Or, 1),
            Tok::Ident(w) if w == "or" => (Op::Or, 1),
            Tok::Op("&&") => (Op::And, 2),
            Tok::Ident(w) if w == "and" => (Op::And, 2),
            Tok::Op("==") => (Op::Eq, 3),
            Tok::Op("!=") => (Op::Ne, 3),
            Tok::Op("<") => (Op::Lt, 3),
            Tok::Op(">") => (Op::Gt, 3),
            Tok::Op("<=") => (Op::Le, 3),
            Tok::Op(">=") => (Op::Ge, 3),
            Tok::Op("+") => (Op::Add, 4),
            Tok::Op("-") => (Op::Sub, 4),
            Tok::Op("*") => (Op::Mul, 5),
            Tok::Op("/") => (Op::Div, 5),
            Tok::Op("%") => (Op::Mod, 5),
            Tok::Op("**") | Tok::Op("^") => (Op::Pow, POW_PRECEDENCE),
            _ => return None,
        };
        Some((op, prec, self.at()))
    }

    fn binary(&mut self, min: u8) -> Result<(Node, Ty), ExprError> {
        let (mut lhs, mut lt) = self.unary()?;
        while let Some((op, prec, at)) = self.binop() {
            if prec < min {
                break;
            }
            self.pos += 1;
            // `**` is right-associative; the rest bind left.
            let next = if op == Op::Pow { prec } else { prec + 1 };
            let (rhs, rt) = self.binary(next)?;
            let (want, out) = match op {
                Op::And | Op::Or => (Ty::Bool, Ty::Bool),
                Op::Eq | Op::Ne => (lt, Ty::Bool),
                Op::Lt | Op::Gt | Op::Le | Op::Ge => (Ty::Num, Ty::Bool),
                _ => (Ty::Num, Ty::Num),
            };
            if lt != want || rt != want {
                let what = if want == Ty::Num {
                    "numbers"
                } else {
                    "comparisons (true or false)"
                };
                return Err(ExprError {
                    at,
                    message: format!("{op:?} takes {what} on both sides").to_lowercase(),
                });
            }
            lhs = Node::Bin(op, Box::new(lhs), Box::new(rhs));
            lt = out;
        }
        Ok((lhs, lt))
    }

    fn unary(&mut self) -> Result<(Node, Ty), ExprError> {
        let at = self.at();
        if self.eat_op("-") {
            let (n, t) = self.unary_operand()?;
            return num_only(at, "'-'", t).map(|_| (Node::Neg(Box::new(n)), Ty::Num));
        }
        if self.eat_op("+") {
            let (n, t) = self.unary_operand()?;
            return num_only(at, "'+'", t).map(|_| (n, Ty::Num));
        }
        if self.eat_op("!") || self.eat_word("not") {
            let (n, t) = self.unary()?;
            if t != Ty::Bool {
                return Err(ExprError {
                    at,
                    message: "'!' takes a comparison (true or false), not a number".into(),
                });
            }
            return Ok((Node::Not(Box::new(n)), Ty::Bool));
        }
        self.primary()
    }

    /// The operand of a unary sign: it binds looser than `**` (`-2 ** 2` is -4, as in Expr).
    fn unary_operand(&mut self) -> Result<(Node, Ty), ExprError> {
        self.binary(POW_PRECEDENCE - 1)
    }

    fn primary(&mut self) -> Result<(Node, Ty), ExprError> {
        let at = self.at();
        match self.peek().clone() {
            Tok::Num(n) => {
                self.pos += 1;
                Ok((Node::Num(n), Ty::Num))
            }
            Tok::Op("(") => {
                self.pos += 1;
                let inner = self.ternary()?;
                self.expect(")")?;
                Ok(inner)
            }
            Tok::Ident(name) => {
                self.pos += 1;
                match name.as_str() {
                    "true" => return Ok((Node::Bool(true), Ty::Bool)),
                    "false" => return Ok((Node::Bool(false), Ty::Bool)),
                    _ => {}
                }
                if self.eat_op("(") {
                    return self.call(&name, at);
                }
                match self.names.iter().position(|n| *n == name) {
                    Some(slot) => Ok((Node::Var(slot), Ty::Num)),
                    None => Err(ExprError {
                        at,
                        message: if self.of_axes {
                            format!(
                                "unknown name {name:?}; the axes are {}",
                                self.names.join(", ")
                            )
                        } else if self.names.is_empty() {
                            format!(
                                "unknown name {name:?}: no metric is collected (set FAS_PROMETHEUS_METRIC_NAME and FAS_PROMETHEUS_QUERY, or metric-collectors)"
                            )
                        } else {
                            format!(
                                "unknown name {name:?}; the collected metrics are {}",
                                self.names.join(", ")
                            )
                        },
                    }),
                }
            }
            _ => self.err(format!(
                "expected a number, a metric name, a function or '(', got {}",
                self.describe()
            )),
        }
    }

    fn call(&mut self, name: &str, at: usize) -> Result<(Node, Ty), ExprError> {
        let f = match name {
            "ceil" => Func::Ceil,
            "floor" => Func::Floor,
            "round" => Func::Round,
            "abs" => Func::Abs,
            "int" => Func::Int,
            "float" => Func::Float,
            "min" => Func::Min,
            "max" => Func::Max,
            _ => {
                return Err(ExprError {
                    at,
                    message: format!("unknown function {name:?}; flysim knows {FUNCS}"),
                });
            }
        };
        let mut args = Vec::new();
        if !self.eat_op(")") {
            loop {
                let arg_at = self.at();
                let (a, t) = self.ternary()?;
                num_only(arg_at, &format!("{name}()"), t)?;
                args.push(a);
                if self.eat_op(")") {
                    break;
                }
                self.expect(",")?;
            }
        }
        let ok = match f {
            Func::Min | Func::Max => !args.is_empty(),
            _ => args.len() == 1,
        };
        if !ok {
            let want = if matches!(f, Func::Min | Func::Max) {
                "at least one argument"
            } else {
                "one argument"
            };
            return Err(ExprError {
                at,
                message: format!("{name}() takes {want}, got {}", args.len()),
            });
        }
        Ok((Node::Call(f, args), Ty::Num))
    }
}

fn num_only(at: usize, what: &str, t: Ty) -> Result<(), ExprError> {
    if t == Ty::Num {
        Ok(())
    } else {
        Err(ExprError {
            at,
            message: format!("{what} takes a number, not a comparison"),
        })
    }
}

impl Expr {
    /// Parses `text` against the metric names `names` (their order gives the slots of
    /// [`Expr::eval`]'s values). An empty text is not an expression: fly-autoscaler takes a
    /// blank setting as unset, which the caller decides before parsing.
    pub fn parse(text: &str, names: &[String]) -> Result<Expr, ExprError> {
        let (node, ty) = Self::parse_any(text, names, false)?;
        if ty != Ty::Num {
            return Err(ExprError {
                at: 0,
                message: "the expression gives true or false, not a number of Machines (fly-autoscaler compiles it with expr.AsFloat64())".into(),
            });
        }
        Ok(Expr {
            node,
            text: text.to_string(),
        })
    }

    /// Parses a condition (`hard >= soft`, `a + b <= 10 && a > 0`) over the names `names`:
    /// its result must be true or false.
    pub fn parse_condition(text: &str, names: &[String]) -> Result<Expr, ExprError> {
        let (node, ty) = Self::parse_any(text, names, true)?;
        if ty != Ty::Bool {
            return Err(ExprError {
                at: 0,
                message:
                    "the expression gives a number, not true or false; compare it, e.g. `a >= b`"
                        .into(),
            });
        }
        Ok(Expr {
            node,
            text: text.to_string(),
        })
    }

    /// Whether a condition holds over the values `env` (by slot).
    pub fn holds(&self, env: &[f64]) -> bool {
        truth(&self.node, env)
    }

    fn parse_any(text: &str, names: &[String], of_axes: bool) -> Result<(Node, Ty), ExprError> {
        let toks = lex(text)?;
        let mut p = Parser {
            toks,
            pos: 0,
            names,
            of_axes,
        };
        if *p.peek() == Tok::End {
            return p.err("empty expression");
        }
        let (node, ty) = p.ternary()?;
        if *p.peek() != Tok::End {
            return p.err(format!(
                "expected an operator or the end, got {}",
                p.describe()
            ));
        }
        Ok((node, ty))
    }

    /// Its value over the metric values `env` (by slot).
    pub fn eval(&self, env: &[f64]) -> f64 {
        num(&self.node, env)
    }
}

fn num(n: &Node, env: &[f64]) -> f64 {
    match n {
        Node::Num(x) => *x,
        Node::Var(i) => env[*i],
        Node::Neg(a) => -num(a, env),
        Node::Bin(op, a, b) => {
            let (x, y) = (num(a, env), num(b, env));
            match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                Op::Mod => x % y,
                Op::Pow => x.powf(y),
                _ => unreachable!("typed as a number"),
            }
        }
        Node::Cond(c, a, b) => {
            if truth(c, env) {
                num(a, env)
            } else {
                num(b, env)
            }
        }
        Node::Call(f, args) => {
            let x = || num(&args[0], env);
            match f {
                Func::Ceil => x().ceil(),
                Func::Floor => x().floor(),
                Func::Round => x().round(),
                Func::Abs => x().abs(),
                Func::Int => x().trunc(),
                Func::Float => x(),
                Func::Min => args
                    .iter()
                    .map(|a| num(a, env))
                    .fold(f64::INFINITY, f64::min),
                Func::Max => args
                    .iter()
                    .map(|a| num(a, env))
                    .fold(f64::NEG_INFINITY, f64::max),
            }
        }
        Node::Bool(_) | Node::Not(_) => unreachable!("typed as a number"),
    }
}

fn truth(n: &Node, env: &[f64]) -> bool {
    match n {
        Node::Bool(b) => *b,
        Node::Not(a) => !truth(a, env),
        Node::Bin(op, a, b) => match op {
            Op::And => truth(a, env) && truth(b, env),
            Op::Or => truth(a, env) || truth(b, env),
            Op::Eq | Op::Ne if is_bool(a) => (truth(a, env) == truth(b, env)) == (*op == Op::Eq),
            _ => {
                let (x, y) = (num(a, env), num(b, env));
                match op {
                    Op::Eq => x == y,
                    Op::Ne => x != y,
                    Op::Lt => x < y,
                    Op::Gt => x > y,
                    Op::Le => x <= y,
                    Op::Ge => x >= y,
                    _ => unreachable!("typed as true or false"),
                }
            }
        },
        Node::Cond(c, a, b) => {
            if truth(c, env) {
                truth(a, env)
            } else {
                truth(b, env)
            }
        }
        _ => unreachable!("typed as true or false"),
    }
}

fn is_bool(n: &Node) -> bool {
    match n {
        Node::Bool(_) | Node::Not(_) => true,
        Node::Bin(op, ..) => !matches!(
            op,
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow
        ),
        Node::Cond(_, a, _) => is_bool(a),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["queue_depth".into(), "running".into()]
    }

    fn eval(s: &str, env: &[f64]) -> f64 {
        Expr::parse(s, &names()).unwrap().eval(env)
    }

    #[test]
    fn arithmetic_follows_exprs_precedence() {
        assert_eq!(eval("ceil(queue_depth / 10)", &[31.0, 0.0]), 4.0);
        assert_eq!(eval("1 + 2 * 3", &[0.0; 2]), 7.0);
        assert_eq!(eval("2 ** 3 ** 2", &[0.0; 2]), 512.0);
        assert_eq!(eval("-2 ** 2", &[0.0; 2]), -4.0);
        assert_eq!(eval("(1 + 2) * 3 % 4", &[0.0; 2]), 1.0);
        assert_eq!(eval("min(running + 1, 10)", &[0.0, 12.0]), 10.0);
        assert_eq!(eval("max(1, 2, running)", &[0.0, 7.0]), 7.0);
        assert_eq!(eval("queue_depth > 100 ? 5 : 1", &[101.0, 0.0]), 5.0);
        assert_eq!(eval("queue_depth > 100 ? 5 : 1", &[100.0, 0.0]), 1.0);
        assert_eq!(
            eval("queue_depth > 0 && !(running >= 3) ? 2 : 0", &[1.0, 2.0]),
            2.0
        );
        assert_eq!(eval("round(2.5) + floor(-0.5) + abs(-3)", &[0.0; 2]), 5.0);
        assert_eq!(eval("1e3 / 4", &[0.0; 2]), 250.0);
    }

    #[test]
    fn problems_name_their_position() {
        let e = Expr::parse("ceil(queue_depth / )", &names()).unwrap_err();
        assert_eq!(e.at, 19);
        assert!(e.message.contains("expected a number"), "{e}");
        let e = Expr::parse("ceil(depth / 10)", &names()).unwrap_err();
        assert_eq!(e.at, 5);
        assert!(e.message.contains("unknown name \"depth\""), "{e}");
        let e = Expr::parse("queue_depth > 3", &names()).unwrap_err();
        assert!(e.message.contains("not a number"), "{e}");
        let e = Expr::parse("queue_depth ? 1 : 2", &names()).unwrap_err();
        assert!(e.message.contains("condition"), "{e}");
        let e = Expr::parse("sqrt(4)", &names()).unwrap_err();
        assert!(e.message.contains("unknown function"), "{e}");
        let e = Expr::parse("1 + # 2", &names()).unwrap_err();
        assert_eq!(e.at, 4);
        let e = Expr::parse("1 2", &names()).unwrap_err();
        assert_eq!(e.at, 2);
        assert!(Expr::parse("   ", &names()).is_err());
        assert!(Expr::parse("ceil()", &names()).is_err());
        assert!(Expr::parse("ceil(1 > 2)", &names()).is_err());
    }
}
