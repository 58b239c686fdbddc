//! Structured logs with `tracing`: readable text by default, JSON for collectors.
//!
//! Lines are written off the request path: a request formats its line and hands it to a
//! bounded queue; one writer thread drains the queue into standard output every 20 ms. When the
//! writer falls behind (a slow disk, a stalled pipe) new lines are dropped and counted
//! (`balancer_log_lines_dropped_total` on the balancer's /metrics) — a request never waits
//! for the log.

use std::{
    io::{BufWriter, Write},
    sync::{
        OnceLock,
        atomic::Ordering::Relaxed,
        mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, channel, sync_channel},
    },
    time::Duration,
};

use balancer::metrics::LOG_LINES_DROPPED;
use tracing_subscriber::{EnvFilter, fmt::MakeWriter};

use crate::config::LogFormat;

/// Lines the queue holds before new ones are dropped (about 2 MB of access log).
const QUEUED_LINES: usize = 8_192;
/// How often the writer drains the queue: lines reach the log within this.
const BATCH_EVERY: Duration = Duration::from_millis(20);

/// What the writer thread is sent: a line, or a request to say when all before it is out.
enum Message {
    Line(Vec<u8>),
    Flush(std::sync::mpsc::Sender<()>),
}

/// The queue of the installed logger, for [`flush`].
static QUEUE: OnceLock<SyncSender<Message>> = OnceLock::new();

/// Waits (a second at most) until every line logged so far is written: the process calls it
/// before it exits, so a command's last lines are not lost with the writer thread.
pub fn flush() {
    let Some(tx) = QUEUE.get() else { return };
    let (done, written) = channel();
    if tx.send(Message::Flush(done)).is_ok() {
        let _ = written.recv_timeout(Duration::from_secs(1));
    }
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let queued = Queued::to_stdout();
    let _ = QUEUE.set(queued.tx.clone());
    // Colour codes only for a person at a terminal, not into a file or a collector.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_writer(queued);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A `MakeWriter` whose writers queue one formatted event each.
#[derive(Clone)]
struct Queued {
    tx: SyncSender<Message>,
}

impl Queued {
    fn to_stdout() -> Self {
        let (tx, rx) = sync_channel(QUEUED_LINES);
        let spawned = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_out(&rx, std::io::stdout()));
        if spawned.is_err() {
            LOG_LINES_DROPPED.fetch_add(1, Relaxed);
        }
        Self { tx }
    }
}

/// Writes what arrives in batches: the thread sleeps between batches instead of waiting on
/// the queue, so a request that queues a line never has to wake it (a wake-up per line cost
/// more than the line: a futex and a context switch on the request's core).
fn write_out(rx: &Receiver<Message>, out: impl Write) {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut waiting = Vec::new();
    loop {
        let mut closed = false;
        loop {
            match rx.try_recv() {
                Ok(Message::Line(line)) => {
                    let _ = out.write_all(&line);
                }
                Ok(Message::Flush(done)) => waiting.push(done),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        let _ = out.flush();
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        if closed {
            return;
        }
        std::thread::sleep(BATCH_EVERY);
    }
}

impl<'a> MakeWriter<'a> for Queued {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            tx: self.tx.clone(),
            buf: Vec::with_capacity(256),
        }
    }
}

/// One event's bytes, queued when the formatter is done with it.
struct Line {
    tx: SyncSender<Message>,
    buf: Vec<u8>,
}

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        match self
            .tx
            .try_send(Message::Line(std::mem::take(&mut self.buf)))
        {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                LOG_LINES_DROPPED.fetch_add(1, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_arrive_whole_and_in_order_and_a_full_queue_drops_and_counts() {
        let (tx, rx) = sync_channel(2);
        let q = Queued { tx };
        for n in 0..3 {
            let mut w = q.make_writer();
            let _ = writeln!(w, "line {n}");
        }
        let before = LOG_LINES_DROPPED.load(Relaxed);
        let mut w = q.make_writer();
        let _ = w.write_all(b"one too many\n");
        drop(w);
        assert!(
            LOG_LINES_DROPPED.load(Relaxed) > before,
            "dropped and counted"
        );
        drop(q);
        let mut out = Vec::new();
        write_out(&rx, &mut out);
        assert_eq!(String::from_utf8_lossy(&out), "line 0\nline 1\n");
    }
}
