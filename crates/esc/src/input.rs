//! Reading the files a user names: stack files, `Pulumi.yaml`, `environments/*.yaml`, `services.yaml`, `impact`
//! inputs, passphrase files. Every such read goes through [`read`] or [`read_to_string`], which accept only a
//! regular file (after following symlinks) of at most [`MAX_INPUT_BYTES`].
//!
//! Why: a FIFO or character device given where a file is expected would block the open or the read forever
//! (`/dev/zero` never ends, a FIFO with no writer never opens), and an unbounded read of a huge file costs memory
//! without limit before any parser can refuse it. The type is checked on the symlink-resolved path *before* opening,
//! so opening cannot block on a FIFO, and again on the opened handle, so a file swapped in between is still refused
//! before a byte is read.
//!
//! Errors are [`std::io::Error`]s (kind `InvalidInput` for a non-regular file, `FileTooLarge` for one over the
//! limit) so every caller keeps its own wording, which names the path; the messages here never quote contents.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

/// Largest input file read, in bytes (16 MiB). Real stack files, environments and renders are kilobytes; a state
/// export of a large stack is a few megabytes.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads the regular file at `path` (symlinks followed), refusing anything else and anything over
/// [`MAX_INPUT_BYTES`].
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    read_limited(path, MAX_INPUT_BYTES)
}

/// [`read`], as UTF-8 text (invalid UTF-8 is an `InvalidData` error, as [`std::fs::read_to_string`] gives).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    // Before opening: `open` itself blocks on a FIFO that has no writer.
    require_regular(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    // Again on the handle: the path may have been replaced between the check and the open.
    let meta = file.metadata()?;
    require_regular(&meta)?;
    if meta.len() > limit {
        return Err(too_large(limit));
    }
    // The length is a hint only (the file may grow while read): the `take` is the bound.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

fn require_regular(meta: &Metadata) -> io::Result<()> {
    if meta.is_file() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file (it is {})", kind_of(meta)),
    ))
}

fn too_large(limit: u64) -> io::Error {
    const MIB: u64 = 1024 * 1024;
    let limit = if limit.is_multiple_of(MIB) {
        format!("{} MiB", limit / MIB)
    } else {
        format!("{limit} byte")
    };
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than the {limit} limit on input files"),
    )
}

/// What a non-regular file is, in words.
fn kind_of(meta: &Metadata) -> &'static str {
    let ty = meta.file_type();
    if ty.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO";
        }
        if ty.is_char_device() {
            return "a character device";
        }
        if ty.is_block_device() {
            return "a block device";
        }
        if ty.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_and_symlinks_to_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "a: 1\n").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "a: 1\n");
        #[cfg(unix)]
        {
            let link = dir.path().join("link.yaml");
            std::os::unix::fs::symlink(&file, &link).unwrap();
            assert_eq!(read(&link).unwrap(), b"a: 1\n");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_device_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.yaml");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // No writer ever opens the FIFO: a plain open would block this test forever.
        let err = read_to_string(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.to_string(), "not a regular file (it is a FIFO)");
        // A device that never ends.
        let err = read(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a regular file (it is a character device)"
        );
        let err = read(dir.path()).unwrap_err();
        assert_eq!(err.to_string(), "not a regular file (it is a directory)");
        // A symlink to a FIFO is the FIFO.
        let link = dir.path().join("link.yaml");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert_eq!(read(&link).unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.json");
        std::fs::write(&file, vec![b' '; 11]).unwrap();
        assert_eq!(read_limited(&file, 11).unwrap().len(), 11);
        let err = read_limited(&file, 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            err.to_string(),
            "larger than the 10 byte limit on input files"
        );
        // The real limit, on a sparse file (no 16 MiB written to disk).
        let sparse = File::create(&file).unwrap();
        sparse.set_len(MAX_INPUT_BYTES + 1).unwrap();
        let err = read(&file).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            err.to_string(),
            "larger than the 16 MiB limit on input files"
        );
    }
}
