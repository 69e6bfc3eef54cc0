//! The CLI's human and JSON output: the only code in the workspace that writes to stdout
//! (the Lambdas' JSON logs and EMF documents will come through this crate too).

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

/// Pretty JSON on stdout.
pub fn json(v: &impl serde::Serialize) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => line(&s),
        Err(e) => error(&format!("cannot serialize output: {e}")),
    }
}
