//! Tracing subscriber set-up, and a log sink that can never stop the server.
//!
//! Log lines go through a bounded queue to one thread that writes them to stderr. A
//! destination that fails (a closed pipe, a file at its size limit) or stalls (a reader
//! that stopped reading) costs lines, counted in `roster_log_lines_dropped_total`, and
//! never blocks or kills a worker.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::OnceLock;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Lines waiting for the log thread; past this, new lines are dropped.
const QUEUE_LINES: usize = 16_384;

static DROPPED: AtomicU64 = AtomicU64::new(0);
static SINK: OnceLock<SyncSender<Message>> = OnceLock::new();

enum Message {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// Log lines lost so far to a failing, full or stalled destination.
pub fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// Installs the global subscriber; `RUST_LOG` overrides `level`.
pub fn init(format: LogFormat, level: &str) {
    ignore_file_size_signal();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Sink);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// Waits (up to `timeout`) until the lines logged so far are written: before exit.
pub fn flush(timeout: Duration) {
    let Some(sink) = SINK.get() else { return };
    let (done, wait) = mpsc::sync_channel(1);
    if sink.try_send(Message::Flush(done)).is_ok() {
        let _ = wait.recv_timeout(timeout);
    }
}

/// Writing past `ulimit -f` raises SIGXFSZ, whose default action ends the process; with
/// it ignored the write fails with EFBIG instead, which a log line or SQLite survives.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code, and
    // runs before any thread of ours could be writing.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn sink() -> &'static SyncSender<Message> {
    SINK.get_or_init(|| {
        let (tx, rx) = mpsc::sync_channel::<Message>(QUEUE_LINES);
        // Should the thread not start, `rx` is dropped with it: every line then counts
        // as dropped, and serving goes on.
        let _ = std::thread::Builder::new()
            .name("roster-log".into())
            .spawn(move || write_lines(rx));
        tx
    })
}

fn write_lines(rx: mpsc::Receiver<Message>) {
    let mut stderr = std::io::stderr();
    for message in rx {
        match message {
            Message::Line(line) => {
                if stderr.write_all(&line).is_err() {
                    DROPPED.fetch_add(1, Ordering::Relaxed);
                }
            }
            Message::Flush(done) => {
                let _ = stderr.flush();
                let _ = done.try_send(());
            }
        }
    }
}

/// Hands each formatted event to the log thread.
#[derive(Clone, Copy)]
struct Sink;

/// One event's bytes, sent as one line when the formatter is done with it.
struct Line(Vec<u8>);

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::with_capacity(256))
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let line = std::mem::take(&mut self.0);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            sink().try_send(Message::Line(line))
        {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
}
