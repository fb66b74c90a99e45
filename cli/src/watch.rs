//! `--watch`: re-print a view whenever the server's change stream says it changed.

use anyhow::Result;
use runyard_api::{Change, Client};
use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;
use tokio::sync::mpsc;

/// Prints with `render`; with `watch`, prints again after each relevant change (at most every
/// 200 ms) until the stream ends or the process is interrupted.
pub async fn show<F, Fut>(client: &Client, watch: bool, relevant: fn(&Change) -> bool, mut render: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    if !watch {
        return render().await;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let follower = {
        let client = client.clone();
        tokio::spawn(async move { client.watch(move |c| tx.send(c).is_ok()).await })
    };
    render().await?;
    while let Some(change) = rx.recv().await {
        if !relevant(&change) && change != Change::Resync {
            continue;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        while rx.try_recv().is_ok() {}
        if std::io::stdout().is_terminal() {
            print!("\x1b[2J\x1b[H");
        }
        render().await?;
    }
    follower.await??;
    Ok(())
}
