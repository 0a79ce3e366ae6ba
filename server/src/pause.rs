//! `CLIENT PAUSE` / `CLIENT UNPAUSE`: while a pause lasts, commands of every client (mode
//! `ALL`) or only writes (mode `WRITE`) wait before they run, as Redis postpones them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Longest pause kept (longer ones are "forever" for any client; `Instant` cannot hold Redis's
/// i64 milliseconds).
const MAX_PAUSE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

#[derive(Clone, Copy)]
struct Pause {
    until: Instant,
    /// `ALL` (every command waits) rather than `WRITE` (only writes wait).
    all: bool,
}

#[derive(Default)]
pub struct ClientPause {
    state: Mutex<Option<Pause>>,
    /// Whether `state` may hold a pause: lets every request skip the mutex when none does.
    active: AtomicBool,
    /// Woken by `unpause` so waiting clients run at once.
    released: Notify,
}

impl ClientPause {
    /// Starts or extends a pause: as in Redis, the later end and the stricter mode win.
    pub fn pause(&self, duration: Duration, all: bool) {
        let now = Instant::now();
        let until = now.checked_add(duration.min(MAX_PAUSE)).unwrap_or(now);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.active.store(true, Ordering::SeqCst);
        *state = Some(match *state {
            Some(current) => Pause { until: current.until.max(until), all: current.all || all },
            None => Pause { until, all },
        });
    }

    /// Whether a pause may be in force (cheap; [`ClientPause::must_wait_until`] decides).
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    pub fn unpause(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = None;
        self.active.store(false, Ordering::SeqCst);
        drop(state);
        self.released.notify_waiters();
    }

    /// When a command must wait until (it writes, or every command waits), or `None`.
    pub fn must_wait_until(&self, writes: bool) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let pause = (*state)?;
        if Instant::now() >= pause.until {
            *state = None;
            self.active.store(false, Ordering::SeqCst);
            return None;
        }
        (pause.all || writes).then_some(pause.until)
    }

    /// Waits until the pause that holds a command ends (deadline or `unpause`).
    pub async fn wait(&self, writes: bool) {
        loop {
            let released = self.released.notified();
            tokio::pin!(released);
            // Registered before the check, so an unpause in between is not missed.
            released.as_mut().enable();
            let Some(until) = self.must_wait_until(writes) else { return };
            tokio::select! {
                _ = tokio::time::sleep_until(until.into()) => {}
                _ = released => {}
            }
        }
    }
}
