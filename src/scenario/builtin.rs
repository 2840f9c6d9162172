//! The scenarios built into the binary, compiled in from `scenarios/`: the
//! six reference load tests (sequential, concurrent, memory leak, latency
//! stability, mixed, cold start), session churn, robustness, tools, the leak
//! hunt, the capacity search, sessions as users and the demo.

/// (name, TOML text), in the order they run when all are asked for.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "sequential",
        include_str!("../../scenarios/sequential.toml"),
    ),
    (
        "concurrent",
        include_str!("../../scenarios/concurrent.toml"),
    ),
    (
        "memory-leak",
        include_str!("../../scenarios/memory-leak.toml"),
    ),
    (
        "latency-stability",
        include_str!("../../scenarios/latency-stability.toml"),
    ),
    ("mixed", include_str!("../../scenarios/mixed.toml")),
    ("coldstart", include_str!("../../scenarios/coldstart.toml")),
    (
        "session-churn",
        include_str!("../../scenarios/session-churn.toml"),
    ),
    (
        "robustness",
        include_str!("../../scenarios/robustness.toml"),
    ),
];

/// Built-ins that are not reference tests, so not run by `mcpstorm run`
/// without names: the dashboard demo (`mcpstorm` alone), the automatic tour
/// of any server's read-only tools, the hunt for the one that leaks, the
/// search for how much load the server takes and how many sessions it holds.
pub const EXTRAS: &[(&str, &str)] = &[
    ("tools", include_str!("../../scenarios/tools.toml")),
    ("leak-hunt", include_str!("../../scenarios/leak-hunt.toml")),
    ("capacity", include_str!("../../scenarios/capacity.toml")),
    ("sessions", include_str!("../../scenarios/sessions.toml")),
    ("demo", include_str!("../../scenarios/demo.toml")),
];

/// Every built-in, reference tests first.
pub fn all() -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    BUILTIN.iter().chain(EXTRAS)
}

pub fn get(name: &str) -> Option<&'static str> {
    all().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

pub fn names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_under_its_own_name() {
        for (name, text) in all() {
            let scenario =
                crate::scenario::file::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(scenario.name, *name);
            assert!(!scenario.criteria.list.is_empty(), "{name} judges nothing");
            assert!(!scenario.description.is_empty());
        }
    }
}
