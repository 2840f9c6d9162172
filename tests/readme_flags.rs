//! The README names every flag the commands take: a flag added without its
//! line there fails here (the README is the user's reference, and must say
//! what the code does).

mod common;

use std::process::Command;

#[test]
fn every_flag_of_every_command_is_in_the_readme() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("the README");
    let mut missing = Vec::new();
    for command in [
        "run", "demo", "serve", "discover", "init", "check", "metrics", "report", "compare",
        "merge",
    ] {
        let output = Command::new(common::mcpstorm())
            .args([command, "--help"])
            .output()
            .expect("mcpstorm runs");
        assert!(output.status.success(), "{command} --help failed");
        let help = String::from_utf8_lossy(&output.stdout);
        for flag in long_flags(&help) {
            if flag != "--help" && !names(&readme, &flag) {
                missing.push(format!("{command} {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}

/// The long flags a help text declares: `--name` at the start of an option
/// line (after its short form, if any).
fn long_flags(help: &str) -> Vec<String> {
    help.lines()
        .map(str::trim_start)
        .filter_map(|line| {
            let line = line
                .strip_prefix('-')
                .filter(|rest| !rest.starts_with('-'))
                .and_then(|rest| rest.get(1..))
                .map(|rest| rest.trim_start_matches(", "))
                .unwrap_or(line);
            let flag = line.strip_prefix("--")?;
            let name: String = flag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            (!name.is_empty()).then(|| format!("--{name}"))
        })
        .collect()
}

/// Whether `text` names `flag` whole (not as the start of a longer flag).
fn names(text: &str, flag: &str) -> bool {
    text.match_indices(flag).any(|(at, _)| {
        let after = text[at + flag.len()..].chars().next();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

#[test]
fn the_flag_reader_reads_long_flags_whole() {
    let help = "  -o, --output <FILE>  Write\n      --json  Print\n      --tls-cert <FILE>\n";
    assert_eq!(long_flags(help), ["--output", "--json", "--tls-cert"]);
    assert!(names("use `--tls-cert FILE`", "--tls-cert"));
    assert!(!names("use `--tls-cert-x`", "--tls-cert"));
}
