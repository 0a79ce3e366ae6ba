//! The threads that serve connections: each runs its own single-threaded tokio runtime and
//! keeps every connection it is handed until it closes (thread per core, as Kvrocks's
//! workers and Redis's I/O threads each own their clients).
//!
//! Why not one work-stealing runtime: a connection's request wakes a task that any worker
//! may steal, so every turn pays cross-thread wake-ups (futex) and the threads fight over
//! run queues. perf showed those wake-ups as the largest cost at `-P 1`. Here a connection's
//! whole life — read, execute, group the WAL flush, reply — stays on one thread's epoll.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use crate::connection;
use crate::shared::Shared;

/// Hands accepted connections to the worker threads in turn.
pub struct Workers {
    /// One per worker thread: where its new connections go.
    inboxes: Vec<mpsc::UnboundedSender<std::net::TcpStream>>,
    next: AtomicUsize,
    /// Taken by [`Workers::join`].
    running: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    /// Starts `count` worker threads (at least one). They stop at shutdown (`Shared::shutdown`).
    pub fn start(shared: &Arc<Shared>, count: usize) -> std::io::Result<Workers> {
        let count = count.max(1);
        let mut inboxes = Vec::with_capacity(count);
        let mut running = Vec::with_capacity(count);
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(crate::offload::MAX_OFFLOAD_THREADS)
                .thread_name(format!("redrock-walk-{index}"))
                .build()?;
            let (sender, mut accepted) = mpsc::unbounded_channel::<std::net::TcpStream>();
            let shared = shared.clone();
            let thread = std::thread::Builder::new().name(format!("redrock-worker-{index}")).spawn(move || {
                let mut shutdown = shared.shutdown.subscribe();
                runtime.block_on(async {
                    loop {
                        tokio::select! {
                            stream = accepted.recv() => match stream.map(tokio::net::TcpStream::from_std) {
                                Some(Ok(stream)) => {
                                    tokio::spawn(connection::serve(shared.clone(), stream));
                                }
                                Some(Err(e)) => tracing::warn!(error = %e, "cannot register an accepted connection"),
                                None => return,
                            },
                            _ = shutdown.wait_for(|stopping| *stopping) => return,
                        }
                    }
                });
                // Dropping the runtime drops its connections, and with them their hold on
                // `shared` (the last holder closes RocksDB cleanly); what they handed off
                // lands before the thread ends.
                drop(runtime);
                crate::storage::stop_landing();
            })?;
            inboxes.push(sender);
            running.push(thread);
        }
        Ok(Workers { inboxes, next: AtomicUsize::new(0), running: Mutex::new(running) })
    }

    /// Waits for the worker threads to end, once shutdown was requested. A connection in the
    /// middle of a command finishes that command first.
    pub fn join(&self) {
        let running = std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in running {
            if thread.join().is_err() {
                tracing::error!("a worker thread panicked");
            }
        }
    }

    /// Gives a freshly accepted connection to the next thread in turn.
    pub fn hand_over(&self, stream: tokio::net::TcpStream) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(e) => return tracing::warn!(error = %e, "cannot hand over an accepted connection"),
        };
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.inboxes.len();
        // The send fails only once the worker has stopped at shutdown; the stream is then
        // dropped, which closes it.
        let _ = self.inboxes[index].send(stream);
    }
}

/// `workers 0`: half the cores, at least one. The other half is left to RocksDB's flush and
/// compaction threads and to clients on the same host; on docs/BENCHMARKS.md's 2-core machine
/// one worker beats two at `-P 1` on every test but MSET, because a second worker takes its
/// core from the benchmark client.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map(|cores| cores.get() / 2).unwrap_or(1).max(1)
}
