//! `--out KIND=FILE`: the report files a run writes (`--report FILE` is
//! `--out json=FILE`), checked before anything runs, and the live metrics
//! it serves (`--out prometheus[=ADDR]`); and `mcpstorm report REPORT.json
//! --out KIND=FILE`, the same file formats made later from a saved JSON
//! report.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::exit;
use crate::report::prometheus::DEFAULT_ADDRESS;
use crate::report::saved::SavedReport;
use crate::report::{Destination, Format};

/// One `--out`: a file, or the live metrics endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum OutSpec {
    File(FileSpec),
    Prometheus(SocketAddr),
}

/// One `--out KIND=FILE`.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSpec {
    pub format: Format,
    pub path: PathBuf,
}

impl FileSpec {
    /// The option as the user wrote it, for messages.
    pub fn flag(&self) -> String {
        format!("--out {}=", self.format.name())
    }
}

/// Parse `KIND=FILE` (`-` is stdout), or `prometheus[=ADDR]`.
pub fn out_spec(text: &str) -> Result<OutSpec, String> {
    let kinds = || {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .chain(["prometheus"])
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(address) = text.strip_prefix("prometheus") {
        let address = match address.strip_prefix('=') {
            Some(address) => address,
            None if address.is_empty() => DEFAULT_ADDRESS,
            None => return Err(format!("{text:?}: expected prometheus or prometheus=ADDR")),
        };
        return address.parse().map(OutSpec::Prometheus).map_err(|_| {
            format!("prometheus={address}: not an address to listen on (IP:PORT, e.g. {DEFAULT_ADDRESS})")
        });
    }
    let (kind, path) = text
        .split_once('=')
        .ok_or_else(|| format!("expected KIND=FILE, KIND one of {}", kinds()))?;
    let format = Format::named(kind.trim())
        .ok_or_else(|| format!("{kind:?} is not a format: KIND is one of {}", kinds()))?;
    if path.is_empty() {
        return Err(format!("{kind}= names no file (`-` is stdout)"));
    }
    Ok(OutSpec::File(FileSpec {
        format,
        path: PathBuf::from(path),
    }))
}

/// The files among `outs`.
pub fn files(outs: &[OutSpec]) -> Vec<FileSpec> {
    outs.iter()
        .filter_map(|o| match o {
            OutSpec::File(file) => Some(file.clone()),
            OutSpec::Prometheus(_) => None,
        })
        .collect()
}

/// Where the live metrics are served, if asked (once at most).
pub fn metrics_address(outs: &[OutSpec]) -> Result<Option<SocketAddr>, String> {
    let mut addresses = outs.iter().filter_map(|o| match o {
        OutSpec::Prometheus(address) => Some(*address),
        OutSpec::File(_) => None,
    });
    let first = addresses.next();
    if addresses.next().is_some() {
        return Err("--out prometheus is given twice: one endpoint serves every metric".into());
    }
    Ok(first)
}

/// Where each report file goes, checked now (an hour's soak must not end
/// in "cannot write"): `--report` first, then each `--out` in order. Two
/// outputs to one file, or more than one to stdout, are refused.
pub fn destinations(
    report: Option<&Path>,
    outs: &[FileSpec],
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
    /// Write it as KIND to FILE (repeatable; `-` is stdout): junit, html,
    /// markdown.
    #[arg(long = "out", value_name = "KIND=FILE", value_parser = out_spec, required = true)]
    pub outs: Vec<OutSpec>,
}

/// `mcpstorm report`: each format asked for, made from a saved report.
pub fn report(args: ReportArgs) -> ExitCode {
    if args
        .outs
        .iter()
        .any(|o| matches!(o, OutSpec::Prometheus(_)))
    {
        eprintln!(
            "mcpstorm: --out prometheus serves a run's metrics while it runs, not a saved report"
        );
        return ExitCode::from(exit::SETUP);
    }
    let outs = files(&args.outs);
    if let Some(json) = outs.iter().find(|o| o.format == Format::Json) {
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
    let destinations = match destinations(None, &outs) {
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

    fn file(text: &str) -> FileSpec {
        match out_spec(text) {
            Ok(OutSpec::File(file)) => file,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn kinds_and_files_are_checked() {
        assert_eq!(
            out_spec("junit=out/j.xml"),
            Ok(OutSpec::File(FileSpec {
                format: Format::Junit,
                path: "out/j.xml".into()
            }))
        );
        assert_eq!(
            out_spec("prometheus"),
            Ok(OutSpec::Prometheus("127.0.0.1:9464".parse().unwrap()))
        );
        assert_eq!(
            out_spec("prometheus=[::1]:0"),
            Ok(OutSpec::Prometheus("[::1]:0".parse().unwrap()))
        );
        assert!(out_spec("prometheus=nowhere").is_err());
        assert!(out_spec("prometheusx").is_err());
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
        let path = dir.path().join("r.xml");
        let outs = [file(&format!("junit={}", path.display())), file("junit=-")];
        let error = destinations(Some(&path), &outs).unwrap_err();
        assert!(error.contains("write to the same place"), "{error}");
        assert!(error.contains("--report"), "{error}");
        let outs = [file("junit=-"), file("json=-")];
        assert!(destinations(None, &outs).is_err());
        let checked = destinations(Some(&path), &outs[..1]).unwrap();
        assert_eq!(checked.len(), 2);
        assert_eq!(checked[0].0, Format::Json);
    }
}
