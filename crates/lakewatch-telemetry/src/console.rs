//! Standard output: the CLI's human and JSON output, and the Lambdas' log lines and EMF
//! documents ([`stdout_sink`]). The only code in the workspace that writes to stdout.

use std::io::Write;

/// Writes a line to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub fn line(s: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{s}");
}

/// Writes a one-line error to stderr.
pub fn error(s: &str) {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("lakewatch: {one_line}");
}

/// A binary's exit: success, or its error (with its causes) as one line on stderr and failure.
pub fn exit<E: std::fmt::Display>(result: Result<(), E>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            error(&format!("{e:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Pretty JSON on stdout.
pub fn json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => line(&s),
        Err(e) => error(&format!("cannot serialize output: {e}")),
    }
}

/// Stdout as a telemetry [`Sink`](crate::Sink): one `write` per line, so lines from the log
/// layer and EMF documents never interleave.
pub fn stdout_sink() -> crate::Sink {
    std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()))
}

/// The wall clock, for binaries (tests pass a fixed one).
pub fn wall_clock() -> crate::log::Clock {
    #[allow(clippy::disallowed_methods)] // the one wall clock of the Lambdas' telemetry
    std::sync::Arc::new(|| chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now()))
}
