//! Printing results: aligned tables for people, JSON with `--json`.

use comfy_table::{presets::NOTHING, ContentArrangement, Table};
use serde::Serialize;

/// Prints a line. A reader that went away (`runyard task list | head`) ends the program
/// quietly instead of with a panic.
pub fn line(text: std::fmt::Arguments<'_>) {
    use std::io::Write;
    if writeln!(std::io::stdout(), "{text}").is_err() {
        std::process::exit(0);
    }
}

/// Prints `value` as pretty JSON.
pub fn json<T: Serialize>(value: &T) {
    line(format_args!("{}", serde_json::to_string_pretty(value).expect("serializable")));
}

/// Prints rows under a header, columns aligned.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut t = Table::new();
    t.load_preset(NOTHING).set_content_arrangement(ContentArrangement::Disabled).set_header(header.to_vec());
    for row in rows {
        t.add_row(row);
    }
    line(format_args!("{}", t.trim_fmt()));
}

/// Prints `key: value` lines, keys aligned.
pub fn fields(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        line(format_args!("{k:width$}  {v}"));
    }
}

/// "3m ago"-style age of a timestamp.
pub fn ago(t: chrono::DateTime<chrono::Utc>) -> String {
    let secs = (chrono::Utc::now() - t).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}
