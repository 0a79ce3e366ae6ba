//! Runs cases on a reference and a target and compares their transcripts, rendered exactly
//! as `diff` renders them (the reference's tips, then each command's own flags).
//!
//! Many cases share one pipeline: each is preceded by a prologue (`DISCARD`, `UNWATCH`,
//! `FLUSHALL`, replies not compared) that returns the connection to the state a script
//! starts in, so a case replayed alone (or as a `.redis` script by `diff`) sees the same.

use crate::client::{Conn, Endpoint};
use crate::diff::{compare, Divergence};
use crate::divergences::Register;
use crate::resp::{Reply, RespError};
use crate::script::{Command, Flags};
use crate::tips::Tips;
use crate::transcript::{render_replies, Entry};

use super::generate::{Case, FuzzCommand};
use super::table::COMMANDS;

/// Script name the register's entries use to apply to the fuzzer (`script = "fuzz"`).
pub const FUZZ_SCRIPT: &str = "fuzz";
/// Commands sent before each case; their replies are read and dropped.
const PROLOGUE: &[&str] = &["DISCARD", "UNWATCH", "FLUSHALL"];

/// One side's replies to one case: one entry per command, or the failure that ended it.
type CaseReplies = Vec<Result<Reply, String>>;

struct Side {
    ep: Endpoint,
    conn: Conn,
    timeout: std::time::Duration,
}

impl Side {
    fn connect(ep: &Endpoint, timeout: std::time::Duration) -> Result<Side, String> {
        let conn = Conn::connect(ep, timeout).map_err(|e| e.to_string())?;
        Ok(Side { ep: ep.clone(), conn, timeout })
    }

    fn reconnect(&mut self) -> Result<(), String> {
        self.conn = Conn::connect(&self.ep, self.timeout).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// All cases in one pipeline; an I/O error fails the whole batch.
    fn run_batch(&mut self, cases: &[&Case]) -> Result<Vec<CaseReplies>, RespError> {
        for case in cases {
            for p in PROLOGUE {
                self.conn.queue(&[p.as_bytes().to_vec()]);
            }
            for c in &case.commands {
                self.conn.queue(&c.args);
            }
        }
        self.conn.flush()?;
        let mut out = Vec::with_capacity(cases.len());
        for case in cases {
            for _ in PROLOGUE {
                self.conn.read()?;
            }
            let mut replies = Vec::with_capacity(case.commands.len());
            for _ in &case.commands {
                replies.push(Ok(self.conn.read()?));
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
                for p in PROLOGUE {
                    self.conn.call(&[p.as_bytes().to_vec()]).map_err(|e| e.to_string())?;
                }
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
    ) -> Result<Differ, String> {
        let mut r = Side::connect(reference, timeout)?;
        let tips = Tips::fetch(&mut r.conn).map_err(|e| e.to_string())?;
        check_table_against_tips(&tips)?;
        let t = Side::connect(target, timeout)?;
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
