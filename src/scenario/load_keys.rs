//! A phase's `load = { kind = "…", … }` table, as the load model its `kind`
//! names reads it (see `crate::load`): typed, range-checked values, and
//! errors that name the file, line and key.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use toml::{Spanned, Value};

use super::Amount;
use super::file::{ScenarioError, Source, shown};

/// The table as written: each key and value with where it stands.
pub(crate) type RawLoad = BTreeMap<Spanned<String>, Spanned<Value>>;

/// The most calls a phase may plan (`calls`): beyond it a value is a
/// mistake, not a test (it would run for years).
pub const MAX_CALLS: u64 = 1_000_000_000;
/// The longest phase (`duration_s`): a week.
const DURATION_S: RangeInclusive<f64> = 0.001..=604_800.0;

pub struct LoadKeys<'a> {
    src: &'a Source<'a>,
    /// `phase[N].load`, the prefix of every key named in an error.
    path: &'a str,
    kind: &'a Spanned<String>,
    table: &'a RawLoad,
}

impl<'a> LoadKeys<'a> {
    pub(crate) fn new(
        src: &'a Source<'a>,
        path: &'a str,
        kind: &'a Spanned<String>,
        table: &'a RawLoad,
    ) -> Self {
        LoadKeys {
            src,
            path,
            kind,
            table,
        }
    }

    /// The load kind, as written.
    pub fn kind(&self) -> &str {
        self.kind.get_ref()
    }

    /// The keys given besides `kind`, in the order they are written.
    pub(crate) fn given(&self) -> Vec<&'a Spanned<String>> {
        let mut keys: Vec<_> = self
            .table
            .keys()
            .filter(|k| k.get_ref() != "kind")
            .collect();
        keys.sort_by_key(|k| k.span().start);
        keys
    }

    fn value(&self, key: &str) -> Option<&'a Spanned<Value>> {
        self.table.get(key)
    }

    /// An error about `key`, pointed at its value when given, else at `kind`.
    pub fn error(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        let offset = self
            .value(key)
            .map_or(self.kind.span().start, |v| v.span().start);
        self.src
            .error(offset, &format!("{}.{key}", self.path), message)
    }

    /// Whether `key` was given.
    pub fn has(&self, key: &str) -> bool {
        self.value(key).is_some()
    }

    /// A whole number in `range`, when given.
    pub fn whole(
        &self,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<Option<u64>, ScenarioError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        match value.get_ref() {
            Value::Integer(n) if u64::try_from(*n).is_ok_and(|n| range.contains(&n)) => {
                Ok(Some(*n as u64))
            }
            other => Err(self.error(
                key,
                format!(
                    "{key} must be a whole number from {} to {}, got {other}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    /// A whole number in `range` the kind cannot do without.
    pub fn required_whole(
        &self,
        key: &str,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ScenarioError> {
        self.whole(key, range)?.ok_or_else(|| self.missing(key, ""))
    }

    /// "load kind "K" needs `key`", with what it is when the name does not say.
    pub fn missing(&self, key: &str, what: &str) -> ScenarioError {
        let what = if what.is_empty() {
            String::new()
        } else {
            format!(" ({what})")
        };
        self.error(
            key,
            format!("load kind \"{}\" needs `{key}`{what}", self.kind()),
        )
    }

    /// A number (whole or not) in `range`, when given.
    pub fn number(
        &self,
        key: &str,
        range: RangeInclusive<f64>,
    ) -> Result<Option<f64>, ScenarioError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let number = match value.get_ref() {
            Value::Float(v) => Some(*v),
            Value::Integer(n) => Some(*n as f64),
            _ => None,
        };
        match number {
            Some(v) if range.contains(&v) => Ok(Some(v)),
            _ => {
                let got = number.map_or_else(|| value.get_ref().to_string(), shown);
                Err(self.error(
                    key,
                    format!(
                        "{key} must be a number from {} to {}, got {got}",
                        range.start(),
                        range.end()
                    ),
                ))
            }
        }
    }

    /// One of `choices`, when given.
    pub fn word(
        &self,
        key: &str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, ScenarioError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let written = value.get_ref().as_str();
        match choices.iter().find(|c| Some(**c) == written) {
            Some(choice) => Ok(Some(choice)),
            None => {
                let expected: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
                Err(self.error(
                    key,
                    format!(
                        "{key} must be one of {}, got {}",
                        expected.join(", "),
                        value.get_ref()
                    ),
                ))
            }
        }
    }

    /// An array of tables (`stages = [{ … }, { … }]`) of at most `most`,
    /// each with only the keys `allowed`, when given; their numbers read with
    /// [`LoadKeys::number_in`].
    pub fn tables(
        &self,
        key: &str,
        allowed: &[&str],
        most: usize,
    ) -> Result<Option<Vec<&'a toml::Table>>, ScenarioError> {
        let Some(value) = self.value(key) else {
            return Ok(None);
        };
        let shape = || {
            let keys: Vec<String> = allowed.iter().map(|k| format!("{k} = …")).collect();
            self.error(
                key,
                format!(
                    "{key} must be a list of 1 to {most} tables: [{{ {} }}, …]",
                    keys.join(", ")
                ),
            )
        };
        let tables = match value.get_ref() {
            Value::Array(items) if (1..=most).contains(&items.len()) => items
                .iter()
                .map(Value::as_table)
                .collect::<Option<Vec<_>>>()
                .ok_or_else(shape)?,
            _ => return Err(shape()),
        };
        for (index, table) in tables.iter().enumerate() {
            if let Some(stray) = table.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(self.error(
                    key,
                    format!(
                        "{key}[{index}] does not take `{stray}` (it takes {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(Some(tables))
    }

    /// The number `name` of the `index`th table of `key` (see
    /// [`LoadKeys::tables`]), in `range`; errors name `key[index].name`.
    pub fn number_in(
        &self,
        key: &str,
        index: usize,
        table: &toml::Table,
        name: &str,
        range: RangeInclusive<f64>,
    ) -> Result<f64, ScenarioError> {
        let number = match table.get(name) {
            Some(Value::Float(v)) => Some(*v),
            Some(Value::Integer(n)) => Some(*n as f64),
            _ => None,
        };
        match number {
            Some(v) if range.contains(&v) => Ok(v),
            _ => Err(self.error(
                key,
                format!(
                    "{key}[{index}].{name} must be a number from {} to {}, got {}",
                    range.start(),
                    range.end(),
                    table
                        .get(name)
                        .map_or("nothing".to_string(), |v| match number {
                            Some(n) => shown(n),
                            None => v.to_string(),
                        })
                ),
            )),
        }
    }

    /// How much work the phase does: `calls` or `duration_s`, one of them.
    pub fn amount(&self) -> Result<Amount, ScenarioError> {
        let calls = self.whole("calls", 1..=MAX_CALLS)?;
        let duration = self.number("duration_s", DURATION_S)?;
        match (calls, duration) {
            (Some(n), None) => Ok(Amount::Calls(n)),
            (None, Some(s)) => Ok(Amount::Duration(Duration::from_secs_f64(s))),
            (Some(_), Some(_)) => {
                Err(self.error("kind", "give either `calls` or `duration_s`, not both"))
            }
            (None, None) => Err(self.error("kind", "needs `calls` or `duration_s`")),
        }
    }
}
