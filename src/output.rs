//! Writing to standard output and standard error without panicking: `println!`/`eprintln!` panic when the write
//! fails (a closed pipe, a full disk). Every line the `sophia` CLI prints goes through [`outln!`]/[`out!`]/[`errln!`],
//! which write and flush; `outln!`/`out!` return an [`OutputError`] instead of panicking, and the CLI's `main` turns a
//! closed pipe into a quiet exit ([`is_closed_pipe`]) and any other failure into a clean error with a non-zero exit
//! code. Diagnostics on standard error (`errln!`) and the provider's log lines ([`log_line`]) are dropped when they
//! cannot be written: there is nowhere left to report that, logging never fails an RPC, and the exit code still
//! tells what happened.
//!
//! Each write is flushed at once so a failure is seen by the code that wrote, not lost in a buffer that the process
//! drops at exit.

use std::io::{self, Write};

/// Which standard stream a write went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Stdout => "standard output",
            Stream::Stderr => "standard error",
        })
    }
}

/// A write to standard output or standard error that failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The reader went away (EPIPE): not a fault of ours, so the CLI exits quietly.
    #[error("{stream} was closed by its reader")]
    Closed {
        /// The stream.
        stream: Stream,
    },
    /// Any other failure (a full disk, an I/O error).
    #[error("writing to {stream}")]
    Failed {
        /// The stream.
        stream: Stream,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Writes `args` to `stream` and flushes it.
pub fn write_fmt(stream: Stream, args: std::fmt::Arguments<'_>) -> Result<(), OutputError> {
    let result = match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_fmt(args).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = io::stderr().lock();
            err.write_fmt(args).and_then(|()| err.flush())
        }
    };
    result.map_err(|source| classify(stream, source))
}

/// Writes `bytes` to `stream` and flushes it.
pub fn write_bytes(stream: Stream, bytes: &[u8]) -> Result<(), OutputError> {
    let result = match stream {
        Stream::Stdout => {
            let mut out = io::stdout().lock();
            out.write_all(bytes).and_then(|()| out.flush())
        }
        Stream::Stderr => {
            let mut err = io::stderr().lock();
            err.write_all(bytes).and_then(|()| err.flush())
        }
    };
    result.map_err(|source| classify(stream, source))
}

pub(crate) fn classify(stream: Stream, source: io::Error) -> OutputError {
    if source.kind() == io::ErrorKind::BrokenPipe {
        OutputError::Closed { stream }
    } else {
        OutputError::Failed { stream, source }
    }
}

/// Whether `err` (or any error in its chain) is a closed standard stream: the caller should exit quietly.
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    // Only our own writes: a closed pipe to anything else (a child process, a socket) is a real failure.
    err.chain().any(|e| {
        matches!(
            e.downcast_ref::<OutputError>(),
            Some(OutputError::Closed { .. })
        )
    })
}

/// One log line on standard error; a line that cannot be written is dropped.
pub fn log_line(args: std::fmt::Arguments<'_>) {
    let _ = write_fmt(Stream::Stderr, format_args!("{args}\n"));
}

/// `println!` that returns `Result<(), OutputError>` instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::write_fmt($crate::output::Stream::Stdout, format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_fmt($crate::output::Stream::Stdout, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that returns `Result<(), OutputError>` instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_fmt($crate::output::Stream::Stdout, format_args!($($arg)*))
    };
}

/// `eprintln!` that drops a line it cannot write instead of panicking. Standard error carries diagnostics only, and
/// when it fails there is nowhere left to report that; the exit code still tells what happened.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::log_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, out, outln};
