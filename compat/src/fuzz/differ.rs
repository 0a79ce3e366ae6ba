//! Runs cases on a reference and a target and compares their transcripts, rendered exactly
//! as `diff` renders them (the reference's tips, then each command's own flags).
//!
//! Many cases share one pipeline: each is followed by an epilogue (replies not compared)
//! that returns the connection and the data to the state a script starts in (no MULTI,
//! no WATCH, db 0, empty), so a case replayed alone (or as a `.redis` script by `diff`,
//! after its FLUSHALL) sees the same. The epilogue deletes the keys the case can have
//! written, in the two databases cases reach (`MOVE`/`COPY … DB 1`), rather than FLUSHALL:
//! cheaper, and a server whose FLUSHALL gets slower with every call (range tombstones
//! piling up in a RocksDB memtable) would otherwise slow the campaign down to a crawl.

use crate::client::{Conn, Endpoint};
use crate::diff::{compare, Divergence};
use crate::divergences::Register;
use crate::resp::{Reply, RespError};
use crate::script::{Command, Flags};
use crate::tips::Tips;
use crate::transcript::{render_replies, Entry};

use super::domain;
use super::generate::{Case, FuzzCommand};
use super::table::COMMANDS;

/// Script name the register's entries use to apply to the fuzzer (`script = "fuzz"`).
pub const FUZZ_SCRIPT: &str = "fuzz";
/// The databases generated commands can write to (`MOVE key 1`, `COPY … DB 1`).
const OTHER_DB: &[u8] = b"1";

/// Commands sent after a case (replies read and dropped) so the next one starts as a
/// script does: no MULTI, no WATCH, db 0, no key. A case can only create keys it names, so
/// deleting the writable keys among its arguments (in db 1 too when it moves or copies)
/// empties the server.
fn epilogue(case: &Case) -> Vec<Vec<Vec<u8>>> {
    let word = |w: &str| w.as_bytes().to_vec();
    let mut out = vec![vec![word("DISCARD")], vec![word("UNWATCH")]];
    let mut keys: Vec<Vec<u8>> = domain::writable_keys()
        .filter(|k| case.commands.iter().any(|c| c.args.iter().skip(1).any(|a| a == k)))
        .collect();
    keys.dedup();
    if keys.is_empty() {
        return out;
    }
    let mut del = vec![word("DEL")];
    del.extend(keys);
    let other_db = case
        .commands
        .iter()
        .any(|c| c.args.first().is_some_and(|n| n.eq_ignore_ascii_case(b"MOVE") || n.eq_ignore_ascii_case(b"COPY")));
    if other_db {
        out.push(vec![word("SELECT"), OTHER_DB.to_vec()]);
        out.push(del.clone());
        out.push(vec![word("SELECT"), word("0")]);
    }
    out.push(del);
    out
}

/// One side's replies to one case: one entry per command, or the failure that ended it.
type CaseReplies = Vec<Result<Reply, String>>;

struct Side {
    ep: Endpoint,
    conn: Conn,
    timeout: std::time::Duration,
    resp3: bool,
}

impl Side {
    fn connect(ep: &Endpoint, timeout: std::time::Duration, resp3: bool) -> Result<Side, String> {
        let conn = Conn::connect(ep, timeout).map_err(|e| e.to_string())?;
        let mut side = Side { ep: ep.clone(), conn, timeout, resp3 };
        side.hello()?;
        Ok(side)
    }

    fn hello(&mut self) -> Result<(), String> {
        if self.resp3 {
            self.conn.setup(&self.ep, &[b"HELLO".to_vec(), b"3".to_vec()]).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A new connection on an emptied server (after a failure, the data is unknown).
    fn reconnect(&mut self) -> Result<(), String> {
        self.conn = Conn::connect(&self.ep, self.timeout).map_err(|e| e.to_string())?;
        self.hello()?;
        self.flushall()
    }

    fn flushall(&mut self) -> Result<(), String> {
        match self.conn.call(&[b"FLUSHALL".to_vec()]) {
            Ok(r) if !r.is_error() => Ok(()),
            Ok(_) => Err(format!("{}: FLUSHALL failed", self.ep.url())),
            Err(e) => Err(e.to_string()),
        }
    }

    /// All cases in one pipeline; an I/O error fails the whole batch.
    fn run_batch(&mut self, cases: &[&Case]) -> Result<Vec<CaseReplies>, RespError> {
        let epilogues: Vec<_> = cases.iter().map(|c| epilogue(c)).collect();
        for (case, epilogue) in cases.iter().zip(&epilogues) {
            for c in &case.commands {
                self.conn.queue(&c.args);
            }
            for e in epilogue {
                self.conn.queue(e);
            }
        }
        self.conn.flush()?;
        let mut out = Vec::with_capacity(cases.len());
        for (case, epilogue) in cases.iter().zip(&epilogues) {
            let mut replies = Vec::with_capacity(case.commands.len());
            for _ in &case.commands {
                replies.push(Ok(self.conn.read()?));
            }
            for _ in epilogue {
                self.conn.read()?;
            }
            out.push(replies);
        }
        Ok(out)
    }

    /// One case; a broken connection ends its replies with the failure (a divergence when
    /// the other side answered), and the next case gets a new connection.
    fn run_one(&mut self, case: &Case) -> Result<CaseReplies, String> {
        match self.run_batch(&[case]) {
            Ok(mut v) => Ok(v.pop().unwrap_or_default()),
            Err(first) => {
                // Replay command by command to see where the connection broke.
                self.reconnect()?;
                let mut replies = Vec::new();
                for c in &case.commands {
                    match self.conn.call(&c.args) {
                        Ok(r) => replies.push(Ok(r)),
                        Err(e) => {
                            replies.push(Err(e.to_string()));
                            self.reconnect()?;
                            return Ok(replies);
                        }
                    }
                }
                self.reconnect()?;
                // It did not break the second time: report the first failure on the last
                // command, as a case that is flaky on this server.
                if let Some(last) = replies.last_mut() {
                    *last = Err(format!("flaky: first run failed with {first}"));
                }
                Ok(replies)
            }
        }
    }
}

/// The result of comparing one case.
#[derive(Debug, Clone)]
pub enum Verdict {
    Same,
    /// The first divergence is registered (`script = "fuzz"` in the register); what
    /// follows it in the case is not compared, as it may be its consequence.
    Known(Divergence),
    New(Divergence),
}

/// A reference and a target, compared case by case.
pub struct Differ {
    reference: Side,
    target: Side,
    tips: Tips,
    register: Register,
}

impl Differ {
    pub fn connect(
        reference: &Endpoint,
        target: &Endpoint,
        register: Register,
        timeout: std::time::Duration,
        resp3: bool,
    ) -> Result<Differ, String> {
        // Tips are read in RESP2, as `diff` reads them (Tips parses the RESP2 shape).
        let mut r = Side::connect(reference, timeout, false)?;
        let tips = Tips::fetch(&mut r.conn).map_err(|e| e.to_string())?;
        r.resp3 = resp3;
        r.hello()?;
        check_table_against_tips(&tips)?;
        let mut t = Side::connect(target, timeout, resp3)?;
        // Empty once (the caller made sure these are scratch servers); epilogues keep it so.
        r.flushall()?;
        t.flushall()?;
        Ok(Differ { reference: r, target: t, tips, register })
    }

    /// Runs the cases (one pipeline per side, both sides at once) and judges each.
    pub fn run(&mut self, cases: &[&Case]) -> Result<Vec<Verdict>, String> {
        let (r, t) = std::thread::scope(|s| {
            let r = s.spawn(|| self.reference.run_batch(cases));
            let t = self.target.run_batch(cases);
            (r.join().expect("reference thread panicked"), t)
        });
        match (r, t) {
            (Ok(r), Ok(t)) => Ok(cases.iter().zip(r.iter().zip(&t)).map(|(c, (r, t))| self.judge(c, r, t)).collect()),
            // A connection broke somewhere: replay the cases one by one to find where.
            _ => {
                self.reference.reconnect()?;
                self.target.reconnect()?;
                cases.iter().map(|c| self.run_one(c)).collect()
            }
        }
    }

    pub fn run_one(&mut self, case: &Case) -> Result<Verdict, String> {
        let (r, t) = std::thread::scope(|s| {
            let r = s.spawn(|| self.reference.run_one(case));
            let t = self.target.run_one(case);
            (r.join().expect("reference thread panicked"), t)
        });
        let r = r.map_err(|e| format!("reference: {e}"))?;
        let t = t.map_err(|e| format!("target: {e}"))?;
        Ok(self.judge(case, &r, &t))
    }

    /// The transcripts of one case as `diff` would render them: (expected, actual).
    pub fn entries(&self, case: &Case, r: &CaseReplies, t: &CaseReplies) -> (Vec<Entry>, Vec<Entry>) {
        let flags: Vec<Flags> = case.commands.iter().map(|c| effective_flags(c, &self.tips)).collect();
        let render = |replies: &CaseReplies| -> Vec<Entry> {
            replies
                .iter()
                .zip(&case.commands)
                .zip(&flags)
                .enumerate()
                .map(|(i, ((reply, c), f))| Entry {
                    line: i + 1,
                    command: c.text(),
                    flags: *f,
                    body: match reply {
                        Ok(r) => render_replies(std::slice::from_ref(r), *f),
                        Err(e) => format!("!! connection failed: {e}"),
                    },
                })
                .collect()
        };
        (render(r), render(t))
    }

    fn judge(&mut self, case: &Case, r: &CaseReplies, t: &CaseReplies) -> Verdict {
        let (expected, actual) = self.entries(case, r, t);
        let Some(mut first) = compare(&expected, &actual).into_iter().next() else {
            return Verdict::Same;
        };
        self.register.classify(FUZZ_SCRIPT, &mut first);
        if first.known.is_some() {
            Verdict::Known(first)
        } else {
            Verdict::New(first)
        }
    }
}

fn effective_flags(c: &FuzzCommand, tips: &Tips) -> Flags {
    let cmd = Command { line: 0, text: String::new(), args: c.args.clone(), flags: c.flags, is_async: false };
    c.flags.with_tips(tips.flags_for(&cmd))
}

/// A command the table compares exactly must have no tip on the reference: otherwise it
/// could be queued inside MULTI, where EXEC's reply carries it unmasked (a false positive).
fn check_table_against_tips(tips: &Tips) -> Result<(), String> {
    for g in COMMANDS.iter().filter(|g| !g.loose) {
        let args: Vec<Vec<u8>> = g.name.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        let cmd = Command { line: 0, text: String::new(), args, flags: Flags::default(), is_async: false };
        if tips.flags_for(&cmd) != Flags::default() {
            return Err(format!(
                "the reference's COMMAND tips make {} nondeterministic, but the fuzz table compares it exactly \
                 (mark it .loose() in compat/src/fuzz/table.rs)",
                g.name
            ));
        }
    }
    Ok(())
}
