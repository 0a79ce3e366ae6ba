//! Replays one script against one server and collects the raw replies.
//!
//! Commands are pipelined: everything up to the next step that needs a pause (`@sleep`,
//! `@conn`, `@async`, `@await`, `@resp3`) is written in one go, then the replies are read in
//! order. Replies are kept raw; rendering with flags happens later, because in `check` the
//! flags come from the golden and in `diff` from the reference's tips.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::client::{ClientError, Conn, Endpoint, DEFAULT_READ_TIMEOUT};
use crate::pubsub::{sort_unsubscribed_channels, Subscriptions};
use crate::resp::{Reply, RespError};
use crate::script::{Command, Flags, Script, Step};

/// Most commands written before their replies are read. Bounded so that a server which stops
/// reading while its output is not drained cannot deadlock us with full socket buffers.
pub const MAX_PIPELINE_COMMANDS: usize = 1000;
/// Most bytes of encoded commands written before replies are read (same reason).
pub const MAX_PIPELINE_BYTES: usize = 1024 * 1024;
/// Pause after sending an `@async` command so the server has dequeued it (and blocked) before
/// another connection's command can wake it: the two sockets are otherwise unordered.
pub const ASYNC_SETTLE: Duration = Duration::from_millis(50);
/// Most extra connections (`@conn`) one script may open.
pub const MAX_CONNECTIONS: usize = 64;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub flush: bool,
    pub resp3: bool,
    pub read_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { flush: true, resp3: false, read_timeout: DEFAULT_READ_TIMEOUT }
    }
}

/// The result of one command (or `@resp3` / `@await` step).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub line: usize,
    /// What the transcript header shows.
    pub command: String,
    /// The command, for tips lookup; `None` for directives.
    pub cmd: Option<Command>,
    /// Flags from directives (and forced ones such as `@resp3`'s mask).
    pub flags: Flags,
    /// Replies, or the connection failure that ended the script here.
    pub result: Result<Vec<Reply>, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{path}:{line}: {msg}")]
    Script { path: String, line: usize, msg: String },
}

struct ConnState {
    conn: Conn,
    /// `@async` commands sent and not yet awaited.
    pending: VecDeque<Command>,
    subs: Subscriptions,
}

struct Session<'a> {
    ep: &'a Endpoint,
    opts: &'a RunOptions,
    script: &'a Script,
    conns: HashMap<String, ConnState>,
    current: String,
    resp3: bool,
    outcomes: Vec<Outcome>,
    broken: bool,
}

pub const MAIN_CONN: &str = "main";

/// Renders an outcome as a transcript entry with the flags in force.
pub fn to_entry(o: &Outcome, flags: Flags) -> crate::transcript::Entry {
    let body = match &o.result {
        Ok(replies) => crate::transcript::render_replies(replies, flags),
        Err(e) => format!("!! connection failed: {e}"),
    };
    crate::transcript::Entry { line: o.line, command: o.command.clone(), flags, body }
}

fn hello3() -> Vec<Vec<u8>> {
    vec![b"HELLO".to_vec(), b"3".to_vec()]
}

/// Runs a script; `Err` only when the run cannot start (exit code 2). A connection that
/// breaks mid-script ends the transcript with that failure instead, which is a divergence.
pub fn run_script(ep: &Endpoint, script: &Script, opts: &RunOptions) -> Result<Vec<Outcome>, RunError> {
    let mut main = Conn::connect(ep, opts.read_timeout)?;
    if opts.flush {
        main.setup(ep, &[b"FLUSHALL".to_vec()])?;
    }
    if opts.resp3 {
        main.setup(ep, &hello3())?;
    }
    let mut s = Session {
        ep,
        opts,
        script,
        conns: HashMap::new(),
        current: MAIN_CONN.to_string(),
        resp3: opts.resp3,
        outcomes: Vec::new(),
        broken: false,
    };
    s.conns.insert(
        MAIN_CONN.to_string(),
        ConnState { conn: main, pending: VecDeque::new(), subs: Subscriptions::default() },
    );
    let mut batch: Vec<&Command> = Vec::new();
    let mut batch_bytes = 0;
    for step in &script.steps {
        if s.broken {
            break;
        }
        match step {
            Step::Command(c) if !c.is_async => {
                batch_bytes += c.args.iter().map(|a| a.len() + 16).sum::<usize>();
                batch.push(c);
                if batch.len() >= MAX_PIPELINE_COMMANDS || batch_bytes >= MAX_PIPELINE_BYTES {
                    s.run_batch(&batch)?;
                    batch.clear();
                    batch_bytes = 0;
                }
                continue;
            }
            _ => {}
        }
        s.run_batch(&batch)?;
        batch.clear();
        batch_bytes = 0;
        if s.broken {
            break;
        }
        match step {
            Step::Command(c) => s.send_async(c)?,
            Step::Resp3 { line } => s.resp3_step(*line),
            Step::Sleep { ms, .. } => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Conn { line, name } => s.switch(*line, name)?,
            Step::Await { line, name } => s.await_step(*line, name)?,
        }
    }
    if !s.broken {
        s.run_batch(&batch)?;
        // A reply never awaited is a reply never compared: the script is incomplete.
        if let Some((name, c)) = s.conns.iter().find_map(|(n, st)| st.pending.front().map(|c| (n.clone(), c.line))) {
            return Err(s.script_err(c, format!("the @async command here is never awaited (@await {name})")));
        }
    }
    Ok(s.outcomes)
}

impl Session<'_> {
    fn script_err(&self, line: usize, msg: String) -> RunError {
        RunError::Script { path: self.script.path.display().to_string(), line, msg }
    }

    fn state(&mut self) -> &mut ConnState {
        self.conns.get_mut(&self.current).expect("current connection exists")
    }

    fn fail(&mut self, line: usize, command: String, e: RespError) {
        self.outcomes.push(Outcome { line, command, cmd: None, flags: Flags::default(), result: Err(e.to_string()) });
        self.broken = true;
    }

    fn run_batch(&mut self, batch: &[&Command]) -> Result<(), RunError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.state().pending.is_empty() {
            let cur = self.current.clone();
            return Err(self
                .script_err(batch[0].line, format!("connection {cur:?} has a pending @async reply; @await it first")));
        }
        let st = self.state();
        for c in batch {
            st.conn.queue(&c.args);
        }
        if let Err(e) = st.conn.flush() {
            self.fail(batch[0].line, batch[0].text.clone(), e);
            return Ok(());
        }
        for c in batch {
            match self.read_command_replies(c) {
                Ok(replies) => self.outcomes.push(Outcome {
                    line: c.line,
                    command: c.text.clone(),
                    cmd: Some((*c).clone()),
                    flags: c.flags,
                    result: Ok(replies),
                }),
                Err(e) => {
                    self.fail(c.line, c.text.clone(), e);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn read_command_replies(&mut self, c: &Command) -> Result<Vec<Reply>, RespError> {
        let st = self.state();
        let n = st.subs.expected_replies(c);
        let mut replies = Vec::with_capacity(n);
        for _ in 0..n {
            let r = st.conn.read()?;
            st.subs.observe(c, &r);
            let stop = r.is_error();
            replies.push(r);
            // An error (e.g. an unknown command) is the only reply, whatever we expected.
            if stop {
                break;
            }
        }
        if c.args.len() == 1 && matches!(c.name().as_str(), "UNSUBSCRIBE" | "PUNSUBSCRIBE" | "SUNSUBSCRIBE") {
            sort_unsubscribed_channels(&mut replies);
        }
        Ok(replies)
    }

    fn send_async(&mut self, c: &Command) -> Result<(), RunError> {
        let st = self.state();
        st.conn.queue(&c.args);
        if let Err(e) = st.conn.flush() {
            self.fail(c.line, c.text.clone(), e);
            return Ok(());
        }
        st.pending.push_back(c.clone());
        std::thread::sleep(ASYNC_SETTLE);
        Ok(())
    }

    fn resp3_step(&mut self, line: usize) {
        self.resp3 = true;
        let flags = Flags { nondeterministic: true, ..Flags::default() };
        match self.state().conn.call(&hello3()) {
            Ok(r) => {
                self.outcomes.push(Outcome { line, command: "@resp3".into(), cmd: None, flags, result: Ok(vec![r]) })
            }
            Err(e) => self.fail(line, "@resp3".into(), e),
        }
    }

    fn switch(&mut self, line: usize, name: &str) -> Result<(), RunError> {
        if !self.conns.contains_key(name) {
            if self.conns.len() >= MAX_CONNECTIONS {
                return Err(self.script_err(line, format!("more than {MAX_CONNECTIONS} connections")));
            }
            let mut conn = Conn::connect(self.ep, self.opts.read_timeout)?;
            if self.resp3 {
                // A server that refuses HELLO 3 here (a script set a password: NOAUTH) leaves
                // the connection in RESP2, as it would a real client; every server under
                // comparison sees the same refusal. Broken connections still fail the run.
                match conn.setup(self.ep, &hello3()) {
                    Ok(_) | Err(ClientError::Setup { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.conns
                .insert(name.to_string(), ConnState { conn, pending: VecDeque::new(), subs: Subscriptions::default() });
        }
        self.current = name.to_string();
        Ok(())
    }

    fn await_step(&mut self, line: usize, name: &str) -> Result<(), RunError> {
        let Some(st) = self.conns.get_mut(name) else {
            return Err(self.script_err(line, format!("@await on unknown connection {name:?}")));
        };
        match st.pending.pop_front() {
            Some(c) => {
                let prev = std::mem::replace(&mut self.current, name.to_string());
                let res = self.read_command_replies(&c);
                self.current = prev;
                let command = format!("@await {name}: {}", c.text);
                match res {
                    Ok(replies) => self.outcomes.push(Outcome {
                        line,
                        command,
                        cmd: Some(c.clone()),
                        flags: c.flags,
                        result: Ok(replies),
                    }),
                    Err(e) => self.fail(line, command, e),
                }
            }
            // Nothing pending: read one unsolicited message (a pub/sub message, a push).
            None => {
                let command = format!("@await {name}");
                match st.conn.read() {
                    Ok(r) => self.outcomes.push(Outcome {
                        line,
                        command,
                        cmd: None,
                        flags: Flags::default(),
                        result: Ok(vec![r]),
                    }),
                    Err(e) => self.fail(line, command, e),
                }
            }
        }
        Ok(())
    }
}
