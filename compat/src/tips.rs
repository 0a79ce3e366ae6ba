//! Comparison flags learnt from the reference server's own `COMMAND` reply (Redis 7 tips):
//! `nondeterministic_output` masks the value, `nondeterministic_output_order` compares the
//! reply as a multiset. Fetched once per run from the reference; `check` needs no reference
//! because the flags are stored in each golden's entry headers.

use std::collections::HashMap;

use crate::client::Conn;
use crate::resp::{Reply, RespError};
use crate::script::{Command, Flags};

/// Commands whose RESP2 reply is a flat field/value list: an unordered reply must keep its
/// pairs together rather than sort fields and values independently.
const PAIR_REPLIES: &[&str] = &["hgetall", "config|get", "hrandfield", "command|docs"];

#[derive(Debug, Clone, Default)]
pub struct Tips {
    /// Lower-case `name` or `container|sub` to flags.
    by_command: HashMap<String, Flags>,
}

fn text(r: &Reply) -> Option<String> {
    match r {
        Reply::Bulk(b) | Reply::Simple(b) => Some(String::from_utf8_lossy(b).to_lowercase()),
        _ => None,
    }
}

impl Tips {
    /// Fetches `COMMAND` from the reference. A server without tips (older than 7.0) gives
    /// empty tips, not an error: directives still work.
    pub fn fetch(conn: &mut Conn) -> Result<Tips, RespError> {
        let reply = conn.call(&[b"COMMAND".to_vec()])?;
        Ok(Tips::from_reply(&reply))
    }

    pub fn from_reply(reply: &Reply) -> Tips {
        let mut tips = Tips::default();
        if let Reply::Array(cmds) = reply {
            for c in cmds {
                tips.add(c);
            }
        }
        tips
    }

    fn add(&mut self, info: &Reply) {
        let Reply::Array(fields) = info else { return };
        let Some(name) = fields.first().and_then(text) else {
            return;
        };
        let mut flags = Flags::default();
        if let Some(Reply::Array(ts)) = fields.get(7) {
            for t in ts.iter().filter_map(text) {
                match t.as_str() {
                    "nondeterministic_output" => flags.nondeterministic = true,
                    "nondeterministic_output_order" => {
                        if PAIR_REPLIES.contains(&name.as_str()) {
                            flags.unordered_pairs = true;
                        } else {
                            flags.unordered = true;
                        }
                    }
                    _ => {}
                }
            }
        }
        if flags != Flags::default() {
            self.by_command.insert(name, flags);
        }
        if let Some(Reply::Array(subs)) = fields.get(9) {
            for s in subs {
                self.add(s);
            }
        }
    }

    /// Every command with non-default flags, sorted by name.
    pub fn list(&self) -> Vec<(String, Flags)> {
        let mut v: Vec<_> = self.by_command.iter().map(|(k, f)| (k.clone(), *f)).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub fn is_empty(&self) -> bool {
        self.by_command.is_empty()
    }

    /// Flags for one command: the subcommand's own tips when it has some, else the command's.
    pub fn flags_for(&self, cmd: &Command) -> Flags {
        let Some(first) = cmd.args.first() else {
            return Flags::default();
        };
        let name = String::from_utf8_lossy(first).to_lowercase();
        if let Some(sub) = cmd.args.get(1) {
            let full = format!("{name}|{}", String::from_utf8_lossy(sub).to_lowercase());
            if let Some(f) = self.by_command.get(&full) {
                return *f;
            }
        }
        self.by_command.get(&name).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(s.as_bytes().to_vec())
    }

    fn info(name: &str, tips: &[&str], subs: Vec<Reply>) -> Reply {
        let mut f = vec![bulk(name)];
        f.extend((0..6).map(|_| Reply::Integer(0)));
        f.push(Reply::Array(tips.iter().map(|t| bulk(t)).collect()));
        f.push(Reply::Array(vec![]));
        f.push(Reply::Array(subs));
        Reply::Array(f)
    }

    fn cmd(args: &[&str]) -> Command {
        Command {
            line: 1,
            text: args.join(" "),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            flags: Flags::default(),
            is_async: false,
        }
    }

    #[test]
    fn reads_tips() {
        let reply = Reply::Array(vec![
            info("smembers", &["nondeterministic_output_order"], vec![]),
            info("hgetall", &["nondeterministic_output_order"], vec![]),
            info("randomkey", &["nondeterministic_output"], vec![]),
            info("client", &[], vec![info("client|list", &["nondeterministic_output"], vec![])]),
        ]);
        let t = Tips::from_reply(&reply);
        assert!(t.flags_for(&cmd(&["SMEMBERS", "s"])).unordered);
        assert!(t.flags_for(&cmd(&["hgetall", "h"])).unordered_pairs);
        assert!(t.flags_for(&cmd(&["RANDOMKEY"])).nondeterministic);
        assert!(t.flags_for(&cmd(&["CLIENT", "LIST"])).nondeterministic);
        assert_eq!(t.flags_for(&cmd(&["CLIENT", "ID"])), Flags::default());
        assert_eq!(t.flags_for(&cmd(&["GET", "a"])), Flags::default());
    }
}
