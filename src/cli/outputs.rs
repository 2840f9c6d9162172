//! `--out KIND=FILE`: the report files a run writes (`--report FILE` is
//! `--out json=FILE`), checked before anything runs; and `mcpstorm report
//! REPORT.json --out KIND=FILE`, the same formats made later from a saved
//! JSON report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::exit;
use crate::report::saved::SavedReport;
use crate::report::{Destination, Format};

/// One `--out KIND=FILE`.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSpec {
    pub format: Format,
    pub path: PathBuf,
}

impl OutSpec {
    /// The option as the user wrote it, for messages.
    pub fn flag(&self) -> String {
        format!("--out {}=", self.format.name())
    }
}

/// Parse `KIND=FILE` (`-` is stdout).
pub fn out_spec(text: &str) -> Result<OutSpec, String> {
    let kinds = || {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (kind, path) = text
        .split_once('=')
        .ok_or_else(|| format!("expected KIND=FILE, KIND one of {}", kinds()))?;
    let format = Format::named(kind.trim())
        .ok_or_else(|| format!("{kind:?} is not a format: KIND is one of {}", kinds()))?;
    if path.is_empty() {
        return Err(format!("{kind}= names no file (`-` is stdout)"));
    }
    Ok(OutSpec {
        format,
        path: PathBuf::from(path),
    })
}

/// Where each report file goes, checked now (an hour's soak must not end
/// in "cannot write"): `--report` first, then each `--out` in order. Two
/// outputs to one file, or more than one to stdout, are refused.
pub fn destinations(
    report: Option<&Path>,
    outs: &[OutSpec],
) -> Result<Vec<(Format, Destination)>, String> {
    let given = report
        .map(|path| ("--report ".to_string(), Format::Json, path))
        .into_iter()
        .chain(outs.iter().map(|o| (o.flag(), o.format, o.path.as_path())));
    let mut checked: Vec<(Format, Destination, String)> = Vec::new();
    for (flag, format, path) in given {
        let destination = Destination::check_for(&flag, path).map_err(|e| e.to_string())?;
        let shown = format!("{flag}{}", path.display());
        if let Some((_, _, earlier)) = checked.iter().find(|(_, d, _)| same_place(d, &destination))
        {
            return Err(format!(
                "{shown} and {earlier} write to the same place: give each its own file"
            ));
        }
        checked.push((format, destination, shown));
    }
    Ok(checked.into_iter().map(|(f, d, _)| (f, d)).collect())
}

/// Two destinations that would overwrite each other.
fn same_place(a: &Destination, b: &Destination) -> bool {
    match (a, b) {
        (Destination::File { resolved: a, .. }, Destination::File { resolved: b, .. }) => a == b,
        (a, b) => a == b,
    }
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A JSON report an earlier run wrote (`--report` or `--out json=`).
    pub file: PathBuf,
    /// Write it as KIND to FILE (repeatable; `-` is stdout): junit.
    #[arg(long = "out", value_name = "KIND=FILE", value_parser = out_spec, required = true)]
    pub outs: Vec<OutSpec>,
}

/// `mcpstorm report`: each format asked for, made from a saved report.
pub fn report(args: ReportArgs) -> ExitCode {
    if let Some(json) = args.outs.iter().find(|o| o.format == Format::Json) {
        eprintln!(
            "mcpstorm: {}{}: {} is already the JSON report; copy it",
            json.flag(),
            json.path.display(),
            args.file.display()
        );
        return ExitCode::from(exit::SETUP);
    }
    let saved = match SavedReport::read(&args.file) {
        Ok(saved) => saved,
        Err(error) => {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    let destinations = match destinations(None, &args.outs) {
        Ok(destinations) => destinations,
        Err(error) => {
            eprintln!("mcpstorm: {error}");
            return ExitCode::from(exit::SETUP);
        }
    };
    for (format, destination) in destinations {
        if let Err(error) = destination.write(&format.render_saved(&saved)) {
            eprintln!(
                "mcpstorm: cannot write the {} to {}: {error}",
                format.what(),
                destination.shown()
            );
            return ExitCode::from(exit::SETUP);
        }
        if !destination.is_stdout() {
            eprintln!(
                "mcpstorm: {} written to {}",
                format.what(),
                destination.shown()
            );
        }
    }
    ExitCode::from(exit::PASS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_files_are_checked() {
        assert_eq!(
            out_spec("junit=out/j.xml"),
            Ok(OutSpec {
                format: Format::Junit,
                path: "out/j.xml".into()
            })
        );
        assert!(out_spec("junit").unwrap_err().contains("KIND=FILE"));
        assert!(
            out_spec("pdf=x")
                .unwrap_err()
                .contains("one of json, junit")
        );
        assert!(out_spec("junit=").unwrap_err().contains("names no file"));
    }

    #[test]
    fn two_outputs_to_one_place_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("r.xml");
        let outs = [
            out_spec(&format!("junit={}", file.display())).unwrap(),
            out_spec("junit=-").unwrap(),
        ];
        let error = destinations(Some(&file), &outs).unwrap_err();
        assert!(error.contains("write to the same place"), "{error}");
        assert!(error.contains("--report"), "{error}");
        let outs = [out_spec("junit=-").unwrap(), out_spec("json=-").unwrap()];
        assert!(destinations(None, &outs).is_err());
        let checked = destinations(Some(&file), &outs[..1]).unwrap();
        assert_eq!(checked.len(), 2);
        assert_eq!(checked[0].0, Format::Json);
    }
}
