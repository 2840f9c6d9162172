//! The criterion language, k6-threshold-like:
//!
//! ```text
//! criterion := sum CMP sum            CMP := < | <= | > | >= | == | !=
//! sum       := product (('+' | '-') product)*
//! product   := unary (('*' | '/') unary)*
//! unary     := '-' unary | primary
//! primary   := NUMBER | '(' sum ')' | NAME [ '(' args ')' ]
//! args      := arg (',' arg)*         arg := NAME | '*' | "quoted" | sum
//! ```
//! `NAME(args)` is a metric scoped to a phase and/or label (`p95(load)`,
//! `success_rate(load, echo)`), or one of the functions `max`, `min`, `abs`.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Cmp {
    pub fn holds(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Cmp::Lt => lhs < rhs,
            Cmp::Le => lhs <= rhs,
            Cmp::Gt => lhs > rhs,
            Cmp::Ge => lhs >= rhs,
            Cmp::Eq => lhs == rhs,
            Cmp::Ne => lhs != rhs,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Max,
    Min,
    Abs,
}

/// A metric as written: its name and scope, resolved later against the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCall {
    pub name: String,
    /// Arguments as written: phase first, then label; `*` means any phase.
    pub args: Vec<String>,
}

impl fmt::Display for MetricCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.args.is_empty() {
            f.write_str(&self.name)
        } else {
            write!(f, "{}({})", self.name, self.args.join(", "))
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number(f64),
    Metric(MetricCall),
    Neg(Box<Expr>),
    Binary(Box<Expr>, BinOp, Box<Expr>),
    Call(Func, Vec<Expr>),
}

impl Expr {
    /// Every metric the expression reads.
    pub fn metrics(&self) -> Vec<&MetricCall> {
        match self {
            Expr::Number(_) => Vec::new(),
            Expr::Metric(m) => vec![m],
            Expr::Neg(e) => e.metrics(),
            Expr::Binary(a, _, b) => {
                let mut all = a.metrics();
                all.extend(b.metrics());
                all
            }
            Expr::Call(_, args) => args.iter().flat_map(Expr::metrics).collect(),
        }
    }

    /// Evaluate with `lookup` giving each metric's value; `None` if any is unknown yet.
    pub fn eval(&self, lookup: &impl Fn(&MetricCall) -> Option<f64>) -> Option<f64> {
        Some(match self {
            Expr::Number(n) => *n,
            Expr::Metric(m) => lookup(m)?,
            Expr::Neg(e) => -e.eval(lookup)?,
            Expr::Binary(a, op, b) => {
                let (a, b) = (a.eval(lookup)?, b.eval(lookup)?);
                match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    BinOp::Div => a / b,
                }
            }
            Expr::Call(func, args) => {
                let values: Option<Vec<f64>> = args.iter().map(|a| a.eval(lookup)).collect();
                let values = values?;
                match func {
                    Func::Max => values.into_iter().fold(f64::MIN, f64::max),
                    Func::Min => values.into_iter().fold(f64::MAX, f64::min),
                    Func::Abs => values.first()?.abs(),
                }
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub lhs: Expr,
    pub cmp: Cmp,
    pub rhs: Expr,
}

impl Comparison {
    /// The metric this criterion caps, when it reads `metric < …` or
    /// `metric <= …`, in any scope (`p95(load) <= …` caps p95): the
    /// dashboard draws the cap as a limit line on that metric's chart.
    pub fn upper_limit_of(&self) -> Option<&str> {
        match (&self.lhs, self.cmp) {
            (Expr::Metric(call), Cmp::Lt | Cmp::Le) => Some(&call.name),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (at column {column})")]
pub struct ParseError {
    pub message: String,
    /// 1-based column in the expression text.
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number(f64),
    Name(String),
    Quoted(String),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let err = |message: String, at: usize| ParseError {
        message,
        column: at + 1,
    };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            // An exponent: 1e6, 2.5E-3.
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
            let literal: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            let value = literal
                .parse::<f64>()
                .map_err(|_| err(format!("`{literal}` is not a number"), start))?;
            tokens.push((Token::Number(value), start));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '/' | '.'))
            {
                i += 1;
            }
            tokens.push((Token::Name(chars[start..i].iter().collect()), start));
            continue;
        }
        if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|&q| q == c)
                .ok_or_else(|| err("unterminated quoted name".into(), start))?;
            tokens.push((
                Token::Quoted(chars[i + 1..i + 1 + end].iter().collect()),
                start,
            ));
            i += end + 2;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = match two.as_str() {
            "<=" | ">=" | "==" | "!=" => {
                i += 2;
                match two.as_str() {
                    "<=" => "<=",
                    ">=" => ">=",
                    "==" => "==",
                    _ => "!=",
                }
            }
            _ => {
                i += 1;
                match c {
                    '<' => "<",
                    '>' => ">",
                    '+' => "+",
                    '-' => "-",
                    '*' => "*",
                    '/' => "/",
                    '(' => "(",
                    ')' => ")",
                    ',' => ",",
                    '=' => return Err(err("use `==` to compare".into(), start)),
                    other => return Err(err(format!("unexpected character `{other}`"), start)),
                }
            }
        };
        tokens.push((Token::Op(op), start));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    at: usize,
    end_column: usize,
    /// How deep `unary` has recursed (signs, parentheses, function calls).
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn column(&self) -> usize {
        self.tokens
            .get(self.at)
            .map(|(_, c)| c + 1)
            .unwrap_or(self.end_column)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            message: message.into(),
            column: self.column(),
        })
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.error(format!("expected `{op}`"))
        }
    }

    fn comparison(&mut self) -> Result<Comparison, ParseError> {
        let lhs = self.sum()?;
        let cmp = match self.peek() {
            Some(Token::Op("<")) => Cmp::Lt,
            Some(Token::Op("<=")) => Cmp::Le,
            Some(Token::Op(">")) => Cmp::Gt,
            Some(Token::Op(">=")) => Cmp::Ge,
            Some(Token::Op("==")) => Cmp::Eq,
            Some(Token::Op("!=")) => Cmp::Ne,
            _ => return self.error("expected a comparison (<, <=, >, >=, ==, !=)"),
        };
        self.at += 1;
        let rhs = self.sum()?;
        if self.peek().is_some() {
            return self.error("unexpected text after the comparison");
        }
        Ok(Comparison { lhs, cmp, rhs })
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.product()?;
        loop {
            let op = if self.eat_op("+") {
                BinOp::Add
            } else if self.eat_op("-") {
                BinOp::Sub
            } else {
                return Ok(expr);
            };
            expr = Expr::Binary(Box::new(expr), op, Box::new(self.product()?));
        }
    }

    fn product(&mut self) -> Result<Expr, ParseError> {
        let mut expr = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                BinOp::Mul
            } else if self.eat_op("/") {
                BinOp::Div
            } else {
                return Ok(expr);
            };
            expr = Expr::Binary(Box::new(expr), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.depth >= MAX_NESTING {
            return self.error(format!("nested more than {MAX_NESTING} deep"));
        }
        self.depth += 1;
        let expr = if self.eat_op("-") {
            self.unary().map(|e| Expr::Neg(Box::new(e)))
        } else {
            self.primary()
        };
        self.depth -= 1;
        expr
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.at += 1;
                Ok(Expr::Number(n))
            }
            Some(Token::Op("(")) => {
                self.at += 1;
                let inner = self.sum()?;
                self.expect_op(")")?;
                Ok(inner)
            }
            Some(Token::Name(name)) => {
                self.at += 1;
                let func = match name.as_str() {
                    "max" => Some(Func::Max),
                    "min" => Some(Func::Min),
                    "abs" => Some(Func::Abs),
                    _ => None,
                };
                if let Some(func) = func {
                    self.expect_op("(")?;
                    let mut args = vec![self.sum()?];
                    while self.eat_op(",") {
                        args.push(self.sum()?);
                    }
                    self.expect_op(")")?;
                    if func == Func::Abs && args.len() != 1 {
                        return self.error("abs takes one argument");
                    }
                    return Ok(Expr::Call(func, args));
                }
                let mut args = Vec::new();
                if self.eat_op("(") {
                    loop {
                        match self.peek().cloned() {
                            Some(Token::Name(arg)) | Some(Token::Quoted(arg)) => args.push(arg),
                            Some(Token::Op("*")) => args.push("*".to_string()),
                            _ => return self.error("expected a phase or label name"),
                        }
                        self.at += 1;
                        if !self.eat_op(",") {
                            break;
                        }
                    }
                    self.expect_op(")")?;
                }
                Ok(Expr::Metric(MetricCall { name, args }))
            }
            Some(Token::Quoted(_)) => self.error("a quoted name can only be a metric's argument"),
            _ => self.error("expected a number, a metric or `(`"),
        }
    }
}

/// Longest criterion, in characters, and deepest nesting of parentheses and
/// signs. Parsing and evaluating recurse once per level: a criterion nested
/// 5,000 deep passed `check` and overflowed the stack in `run`, and a chain
/// of tens of thousands of terms nests as deep once parsed.
const MAX_CRITERION_CHARS: usize = 1_000;
const MAX_NESTING: usize = 32;

pub fn parse(text: &str) -> Result<Comparison, ParseError> {
    let length = text.chars().count();
    if length > MAX_CRITERION_CHARS {
        return Err(ParseError {
            message: format!(
                "a criterion is at most {MAX_CRITERION_CHARS} characters long; this one has {length}"
            ),
            column: MAX_CRITERION_CHARS + 1,
        });
    }
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err(ParseError {
            message: "empty criterion".into(),
            column: 1,
        });
    }
    let mut parser = Parser {
        tokens,
        at: 0,
        end_column: length + 1,
        depth: 0,
    };
    parser.comparison()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_criterion_caps_a_metric_only_when_it_bounds_it_from_above() {
        let caps = |text: &str| parse(text).unwrap().upper_limit_of().map(String::from);
        assert_eq!(caps("fd_max < 256"), Some("fd_max".into()));
        assert_eq!(caps("rss_growth_mb <= 50"), Some("rss_growth_mb".into()));
        assert_eq!(caps("rss_growth_mb >= 50"), None);
        // In a scope too: the latency chart draws p95's limit.
        assert_eq!(caps("p95(load) <= 2 * p95(warmup)"), Some("p95".into()));
        assert_eq!(caps("2 * fd_max < 256"), None);
    }

    fn metric(name: &str, args: &[&str]) -> Expr {
        Expr::Metric(MetricCall {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn parses_the_reference_criteria() {
        let c = parse("p95(load) <= 2 * p95(warmup)").unwrap();
        assert_eq!(c.lhs, metric("p95", &["load"]));
        assert_eq!(c.cmp, Cmp::Le);
        assert_eq!(
            c.rhs,
            Expr::Binary(
                Box::new(Expr::Number(2.0)),
                BinOp::Mul,
                Box::new(metric("p95", &["warmup"]))
            )
        );
        for text in [
            "rss_growth_mb <= 50",
            "fd_max < 256",
            "success_rate >= 0.99",
            "correlation_violations == 0",
            "coldstart_stddev_ms < 100",
            "success_rate(load, \"tools/list\") >= 0.5",
            "p99(*, echo) < max(2 * p95(warmup), 1.5e0)",
            "-1 < abs(rss_trend_kb_per_call - 1_000)",
        ] {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn precedence_and_evaluation() {
        let c = parse("1 + 2 * 3 - -4 / 2 == 9").unwrap();
        let lhs = c.lhs.eval(&|_| None).unwrap();
        assert_eq!(lhs, 9.0);
        let c = parse("p95 < 2 * x").unwrap();
        assert_eq!(c.rhs.eval(&|m| (m.name == "x").then_some(4.0)), Some(8.0));
        assert_eq!(c.lhs.eval(&|_| None), None);
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        // 5,000 deep passed check and overflowed the stack in run.
        let deep = format!("{}1{} < 2", "(".repeat(5_000), ")".repeat(5_000));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("at most 1000 characters"), "{e:?}");
        let deep = format!("{}1{} < 2", "(".repeat(40), ")".repeat(40));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nested more than 32 deep"), "{e:?}");
        assert_eq!(e.column, 33, "at the first level too deep");
        let signs = format!("{}1 < 2", "- ".repeat(40));
        assert!(parse(&signs).unwrap_err().message.contains("nested"));
        let calls = format!("{}1{} < 2", "abs(".repeat(40), ")".repeat(40));
        assert!(parse(&calls).unwrap_err().message.contains("nested"));
        // As deep as allowed still parses and evaluates.
        let fine = format!("{}1{} < 2", "(".repeat(31), ")".repeat(31));
        let comparison = parse(&fine).unwrap();
        assert_eq!(comparison.lhs.eval(&|_| None), Some(1.0));
        // A long flat chain is within the length bound and evaluates.
        let chain = format!("{} < 1000", vec!["1"; 240].join(" + "));
        assert_eq!(parse(&chain).unwrap().lhs.eval(&|_| None), Some(240.0));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("p95(load) <= ").unwrap_err();
        assert!(e.message.contains("expected a number"), "{e}");
        assert_eq!(e.column, 14);
        let e = parse("rss_growth_mb = 50").unwrap_err();
        assert!(e.message.contains("=="), "{e}");
        assert_eq!(e.column, 15);
        assert!(parse("p95(load").is_err());
        assert!(
            parse("p95(load) 50")
                .unwrap_err()
                .message
                .contains("comparison")
        );
        assert!(parse("1 < 2 3").unwrap_err().message.contains("after"));
    }
}
