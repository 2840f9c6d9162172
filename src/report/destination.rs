//! Where `--report` goes, checked before the run: an hour's soak must not
//! end in "cannot write the report". A regular file is replaced atomically
//! (written beside it, then renamed over it); a symlink is followed, and
//! the file it points at is the one replaced; a FIFO or a device is written
//! through as it is; `-` is stdout.

use std::fs;
use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DestinationError {
    #[error("{flag}{shown}: {why}")]
    Unusable {
        /// The option that named it (`--report `, `--out junit=`).
        flag: String,
        shown: String,
        #[source]
        why: Unusable,
    },
}

/// Why a report could not be written where `--report` says.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("is a directory: give a file name")]
    Directory,
    #[error("is not a file, a FIFO or a device")]
    NotAFile,
    #[error("{} is not a directory", .0.display())]
    ParentNotADirectory(PathBuf),
    #[error("directory {}: {source}", directory.display())]
    NoDirectory {
        directory: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write in {}: {source}", directory.display())]
    CannotWriteIn {
        directory: PathBuf,
        source: std::io::Error,
    },
    #[error("the path holds a NUL byte")]
    NulByte,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    Stdout,
    /// A regular file (or none yet), at `resolved` once symlinks are followed.
    File {
        given: PathBuf,
        resolved: PathBuf,
    },
    /// A FIFO, a character device or a socket: written through, never replaced.
    Stream(PathBuf),
}

impl Destination {
    /// Decide where `given` (to `--report`) writes, and refuse now what
    /// cannot be written.
    pub fn check(given: &Path) -> Result<Destination, DestinationError> {
        Destination::check_for("--report ", given)
    }

    /// The same for the option `flag`.
    pub fn check_for(flag: &str, given: &Path) -> Result<Destination, DestinationError> {
        if given.as_os_str() == "-" {
            return Ok(Destination::Stdout);
        }
        let unusable = |why: Unusable| DestinationError::Unusable {
            flag: flag.to_string(),
            shown: given.display().to_string(),
            why,
        };
        let resolved = resolve(given).map_err(|e| unusable(e.into()))?;
        match fs::metadata(&resolved) {
            Ok(meta) if meta.is_dir() => Err(unusable(Unusable::Directory)),
            Ok(meta) if meta.is_file() => {
                let destination = Destination::File {
                    given: given.to_path_buf(),
                    resolved,
                };
                destination.probe().map_err(unusable)?;
                Ok(destination)
            }
            Ok(meta) => {
                let kind = meta.file_type();
                if kind.is_fifo() || kind.is_char_device() || kind.is_socket() {
                    writable(&resolved).map_err(unusable)?;
                    Ok(Destination::Stream(given.to_path_buf()))
                } else {
                    Err(unusable(Unusable::NotAFile))
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let destination = Destination::File {
                    given: given.to_path_buf(),
                    resolved,
                };
                destination.probe().map_err(unusable)?;
                Ok(destination)
            }
            Err(error) => Err(unusable(error.into())),
        }
    }

    /// Where it goes, as the user wrote it.
    pub fn shown(&self) -> String {
        match self {
            Destination::Stdout => "stdout".into(),
            Destination::File { given, .. } | Destination::Stream(given) => {
                given.display().to_string()
            }
        }
    }

    /// Where run `run` of the session goes: the first here; a later one
    /// (run again from the dashboard) in a file beside it, its number
    /// before the extension (`report.json`, `report.2.json`). Standard
    /// output and streams take every run.
    pub fn numbered(&self, run: u32) -> Destination {
        match self {
            Destination::File { given, resolved } if run > 1 => Destination::File {
                given: numbered_path(given, run),
                resolved: numbered_path(resolved, run),
            },
            other => other.clone(),
        }
    }

    pub fn is_stdout(&self) -> bool {
        *self == Destination::Stdout
    }

    /// Write `bytes` there: a file atomically, a stream as it is.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Destination::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(bytes)?;
                stdout.flush()
            }
            Destination::Stream(path) => fs::OpenOptions::new()
                .write(true)
                .open(path)?
                .write_all(bytes),
            Destination::File { resolved, .. } => {
                let partial = partial_path(resolved);
                let written =
                    fs::write(&partial, bytes).and_then(|()| fs::rename(&partial, resolved));
                if written.is_err() {
                    let _ = fs::remove_file(&partial);
                }
                written
            }
        }
    }

    /// Create and remove the file the report will be written to first: the
    /// directory exists and can be written.
    fn probe(&self) -> Result<(), Unusable> {
        let Destination::File { resolved, .. } = self else {
            return Ok(());
        };
        let directory = parent(resolved);
        match fs::metadata(&directory) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(Unusable::ParentNotADirectory(directory)),
            Err(source) => return Err(Unusable::NoDirectory { directory, source }),
        }
        let partial = partial_path(resolved);
        fs::write(&partial, b"")
            .and_then(|()| fs::remove_file(&partial))
            .map_err(|source| Unusable::CannotWriteIn { directory, source })
    }
}

/// `path` with `.{run}` before its extension (or at its end).
fn numbered_path(path: &Path, run: u32) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(extension) => format!("{stem}.{run}.{}", extension.to_string_lossy()),
        None => format!("{stem}.{run}"),
    };
    path.with_file_name(name)
}

/// Follow symlinks (a dangling one names the file to create).
fn resolve(given: &Path) -> std::io::Result<PathBuf> {
    let mut path = given.to_path_buf();
    // Bounded, as the kernel bounds it: a loop of links is an error.
    for _ in 0..40 {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = fs::read_link(&path)?;
                path = if target.is_absolute() {
                    target
                } else {
                    parent(&path).join(target)
                };
            }
            _ => return Ok(path),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The report is written here first, beside its final place, then renamed.
fn partial_path(resolved: &Path) -> PathBuf {
    let name = resolved
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent(resolved).join(format!(".{name}.partial-{}", std::process::id()))
}

/// Whether this process may write `path` (without opening it: opening a
/// FIFO waits for a reader).
fn writable(path: &Path) -> Result<(), Unusable> {
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return Err(Unusable::NulByte);
    };
    // SAFETY: access(2) with a NUL-terminated path that outlives the call.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_of_links_resolves_to_the_file_and_a_loop_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.json");
        std::os::unix::fs::symlink("report.json", dir.path().join("one")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("one"), dir.path().join("two")).unwrap();
        assert_eq!(resolve(&dir.path().join("two")).unwrap(), file);
        std::os::unix::fs::symlink("loop-b", dir.path().join("loop-a")).unwrap();
        std::os::unix::fs::symlink("loop-a", dir.path().join("loop-b")).unwrap();
        let error = Destination::check(&dir.path().join("loop-a")).unwrap_err();
        assert!(error.to_string().contains("symbolic links"), "{error}");
    }

    #[test]
    fn a_file_in_the_working_directory_is_probed_there() {
        assert_eq!(parent(Path::new("report.json")), PathBuf::from("."));
        let partial = partial_path(Path::new("report.json"));
        assert!(partial.starts_with("."), "{partial:?}");
    }

    #[test]
    fn a_later_run_is_numbered_beside_the_first() {
        let file = Destination::File {
            given: PathBuf::from("out/report.json"),
            resolved: PathBuf::from("/work/out/report.json"),
        };
        assert_eq!(file.numbered(1), file);
        assert_eq!(file.numbered(2).shown(), "out/report.2.json");
        let Destination::File { resolved, .. } = file.numbered(3) else {
            panic!("a file");
        };
        assert_eq!(resolved, PathBuf::from("/work/out/report.3.json"));
        let bare = Destination::File {
            given: PathBuf::from("report"),
            resolved: PathBuf::from("/work/report"),
        };
        assert_eq!(bare.numbered(2).shown(), "report.2");
        assert_eq!(Destination::Stdout.numbered(2), Destination::Stdout);
    }
}
