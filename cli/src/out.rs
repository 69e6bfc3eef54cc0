//! Everything the CLI prints goes through here: results on stdout, errors on stderr.

use std::io::Write;

/// Writes a line to stdout; a closed pipe (`| head`) is not an error worth a panic.
pub(crate) fn line(s: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{s}");
}

/// Writes a one-line error to stderr.
pub(crate) fn error(s: &str) {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("lakewatch: {one_line}");
}

/// Pretty JSON on stdout.
pub(crate) fn json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => line(&s),
        Err(e) => error(&format!("cannot serialize output: {e}")),
    }
}
