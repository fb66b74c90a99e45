//! Ships a task's console to the daemon: output is batched and sent at least once a second,
//! carriage-return progress bars are collapsed to their last state, and a copy goes to a local
//! log file. In the foreground (`runyard agent execute`) the output is echoed to the terminal
//! and each set-up step shows a spinner; the console gets one line per step, not a flood.

use backon::{ExponentialBuilder, Retryable};
use indicatif::{ProgressBar, ProgressStyle};
use runyard_api::{AppendConsole, Client};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long output may wait before it is sent.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(500);
/// Sent at once past this many buffered bytes.
const FLUSH_BYTES: usize = 256 * 1024;

/// Collapses carriage returns: of a line rewritten with `\r` (a progress bar), only its last
/// state is kept. An unfinished line stays pending until its newline arrives or the stream ends.
#[derive(Default)]
pub struct Collapser {
    /// The current, unfinished line.
    line: String,
}

impl Collapser {
    /// Feeds output; returns the complete lines it finished, newlines included.
    pub fn push(&mut self, text: &str) -> String {
        let mut out = String::new();
        for piece in text.split_inclusive('\n') {
            let (body, ends) = match piece.strip_suffix('\n') {
                Some(b) => (b.strip_suffix('\r').unwrap_or(b), true),
                None => (piece, false),
            };
            self.line.push_str(body);
            if let Some(i) = self.line.rfind('\r') {
                self.line.drain(..=i);
            }
            if ends {
                out.push_str(&self.line);
                out.push('\n');
                self.line.clear();
            }
        }
        out
    }

    /// What is left of an unfinished line, at the end of the stream.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.line)
    }

    /// The unfinished line in its current state (shown when a flush is due and the bar stalls).
    pub fn pending(&self) -> &str {
        &self.line
    }
}

/// Where console text goes: a channel to the shipper task.
#[derive(Clone)]
pub struct Console {
    tx: mpsc::UnboundedSender<String>,
    /// In the foreground: the spinner of the current set-up step.
    step: Option<Arc<Mutex<Option<ProgressBar>>>>,
}

impl Console {
    /// Sends raw output (it may hold `\r` and partial lines).
    pub fn write(&self, text: impl Into<String>) {
        let _ = self.tx.send(text.into());
    }

    /// A line of the agent's own (progress, errors), marked as such.
    pub fn note(&self, text: impl AsRef<str>) {
        self.write(format!("[runyard] {}\n", text.as_ref()));
    }

    /// A set-up step begins (the previous one, if any, is done): one console line, and in the
    /// foreground a spinner until the next step.
    pub fn step(&self, text: impl AsRef<str>) {
        self.note(&text);
        if let Some(step) = &self.step {
            let mut current = step.lock().expect("step lock");
            if let Some(bar) = current.take() {
                bar.finish();
            }
            let bar = ProgressBar::new_spinner().with_message(text.as_ref().to_string());
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"));
            bar.enable_steady_tick(Duration::from_millis(100));
            *current = Some(bar);
        }
    }

    /// Set-up is over: the last spinner stops, so the task's own output prints cleanly.
    pub fn steps_done(&self) {
        if let Some(bar) = self.step.as_ref().and_then(|s| s.lock().expect("step lock").take()) {
            bar.finish();
        }
    }
}

/// Starts shipping to `task`'s console. Dropping every [`Console`] ends the stream: the handle
/// resolves once everything was sent.
pub fn start(
    client: Client,
    task: String,
    attempt: i64,
    log_file: &Path,
    echo: bool,
) -> (Console, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let file = std::fs::create_dir_all(log_file.parent().unwrap_or(Path::new(".")))
        .and_then(|_| std::fs::File::create(log_file))
        .map_err(|e| tracing::warn!(error = %e, path = %log_file.display(), "no local copy of the console"))
        .ok();
    let handle = tokio::spawn(ship(client, task, attempt, rx, file, echo));
    let step = echo.then(Default::default);
    (Console { tx, step }, handle)
}

async fn ship(
    client: Client,
    task: String,
    attempt: i64,
    mut rx: mpsc::UnboundedReceiver<String>,
    mut file: Option<std::fs::File>,
    echo: bool,
) {
    let mut collapse = Collapser::default();
    let mut buffer = String::new();
    let mut tick = tokio::time::interval(FLUSH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Some(text) => {
                    if echo {
                        let _ = std::io::stdout().write_all(text.as_bytes());
                        let _ = std::io::stdout().flush();
                    }
                    buffer.push_str(&collapse.push(&text));
                    if buffer.len() >= FLUSH_BYTES {
                        send(&client, &task, attempt, &mut buffer, &mut file).await;
                    }
                }
                None => {
                    buffer.push_str(&collapse.finish());
                    send(&client, &task, attempt, &mut buffer, &mut file).await;
                    return;
                }
            },
            _ = tick.tick() => send(&client, &task, attempt, &mut buffer, &mut file).await,
        }
    }
}

async fn send(client: &Client, task: &str, attempt: i64, buffer: &mut String, file: &mut Option<std::fs::File>) {
    if buffer.is_empty() {
        return;
    }
    let text = std::mem::take(buffer);
    if let Some(f) = file {
        let _ = f.write_all(text.as_bytes());
    }
    // A few tries; output is never worth hanging the task for.
    let tries = ExponentialBuilder::default().with_min_delay(Duration::from_millis(200)).with_max_times(2);
    let chunk = AppendConsole { text, time: None, attempt: Some(attempt) };
    if let Err(error) = (|| client.append_console(task, &chunk)).retry(tries).await {
        tracing::warn!(%error, task, "console output lost");
    }
}

#[cfg(test)]
mod tests {
    use super::Collapser;

    #[test]
    fn progress_bars_collapse_to_their_last_state() {
        let mut c = Collapser::default();
        assert_eq!(c.push("start\n 10%\r 50%"), "start\n");
        assert_eq!(c.pending(), " 50%");
        assert_eq!(c.push("\r100%\ndone\n"), "100%\ndone\n");
        assert_eq!(c.push("tail"), "");
        assert_eq!(c.finish(), "tail");
    }

    #[test]
    fn windows_line_endings_are_plain_newlines() {
        let mut c = Collapser::default();
        assert_eq!(c.push("a\r\nb\r\n"), "a\nb\n");
    }
}
