//! What the long-running commands (server, agent, up) share: logging and the stop signal.

/// Logs at `RUNYARD_LOG` (default info) to stderr.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNYARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    // Logs go to stderr: stdout carries what a command prints (the address the daemon listens on).
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_writer(std::io::stderr).try_init();
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}
