//! Pub/sub on a script connection: how many replies a (un)subscribe command produces, and
//! a deterministic order for the replies Redis sends in hash-table order.

use std::collections::HashSet;

use crate::resp::Reply;
use crate::script::Command;

#[derive(Default)]
pub struct Subscriptions {
    channels: HashSet<Vec<u8>>,
    patterns: HashSet<Vec<u8>>,
    shard: HashSet<Vec<u8>>,
}

impl Subscriptions {
    /// How many replies a command produces: pub/sub commands reply once per channel.
    pub fn expected_replies(&self, cmd: &Command) -> usize {
        let name = cmd.name();
        let nargs = cmd.args.len().saturating_sub(1);
        match name.as_str() {
            "SUBSCRIBE" | "PSUBSCRIBE" | "SSUBSCRIBE" => nargs.max(1),
            "UNSUBSCRIBE" if nargs == 0 => self.channels.len().max(1),
            "PUNSUBSCRIBE" if nargs == 0 => self.patterns.len().max(1),
            "SUNSUBSCRIBE" if nargs == 0 => self.shard.len().max(1),
            "UNSUBSCRIBE" | "PUNSUBSCRIBE" | "SUNSUBSCRIBE" => nargs,
            _ => 1,
        }
    }

    pub fn observe(&mut self, cmd: &Command, reply: &Reply) {
        if cmd.name() == "RESET" && !reply.is_error() {
            *self = Subscriptions::default();
            return;
        }
        let (Reply::Array(v) | Reply::Push(v)) = reply else {
            return;
        };
        let (Some(Reply::Bulk(kind)), Some(Reply::Bulk(ch))) = (v.first(), v.get(1)) else {
            return;
        };
        match kind.as_slice() {
            b"subscribe" => self.channels.insert(ch.clone()),
            b"unsubscribe" => self.channels.remove(ch),
            b"psubscribe" => self.patterns.insert(ch.clone()),
            b"punsubscribe" => self.patterns.remove(ch),
            b"ssubscribe" => self.shard.insert(ch.clone()),
            b"sunsubscribe" => self.shard.remove(ch),
            _ => false,
        };
    }
}

/// An argument-less UNSUBSCRIBE answers one reply per channel in hash-table order, which
/// differs between two runs of the same server. The channel names are sorted across the
/// replies; the remaining-subscription counts stay in the order they were sent (they always
/// count down), so the transcript is deterministic yet still checks every field.
pub fn sort_unsubscribed_channels(replies: &mut [Reply]) {
    let mut names: Vec<Reply> = replies
        .iter()
        .filter_map(|r| match r {
            Reply::Array(v) | Reply::Push(v) if v.len() == 3 => Some(v[1].clone()),
            _ => None,
        })
        .collect();
    if names.len() != replies.len() {
        return;
    }
    names.sort_by_key(|n| format!("{n:?}"));
    for (r, name) in replies.iter_mut().zip(names) {
        if let Reply::Array(v) | Reply::Push(v) = r {
            v[1] = name;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> Command {
        Command {
            line: 1,
            text: args.join(" "),
            args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            flags: Default::default(),
            is_async: false,
        }
    }

    fn msg(kind: &str, ch: &str, n: i64) -> Reply {
        let b = |s: &str| Reply::Bulk(s.as_bytes().to_vec());
        Reply::Array(vec![b(kind), b(ch), Reply::Integer(n)])
    }

    #[test]
    fn counts_replies() {
        let mut s = Subscriptions::default();
        assert_eq!(s.expected_replies(&cmd(&["SUBSCRIBE", "a", "b"])), 2);
        assert_eq!(s.expected_replies(&cmd(&["UNSUBSCRIBE"])), 1);
        s.observe(&cmd(&["SUBSCRIBE", "a", "b"]), &msg("subscribe", "a", 1));
        s.observe(&cmd(&["SUBSCRIBE", "a", "b"]), &msg("subscribe", "b", 2));
        assert_eq!(s.expected_replies(&cmd(&["UNSUBSCRIBE"])), 2);
        assert_eq!(s.expected_replies(&cmd(&["PUNSUBSCRIBE"])), 1);
        assert_eq!(s.expected_replies(&cmd(&["GET", "k"])), 1);
        s.observe(&cmd(&["RESET"]), &Reply::Simple(b"RESET".to_vec()));
        assert_eq!(s.expected_replies(&cmd(&["UNSUBSCRIBE"])), 1);
    }

    #[test]
    fn sorts_channels_keeps_counts() {
        let mut r = vec![msg("unsubscribe", "b", 1), msg("unsubscribe", "a", 0)];
        sort_unsubscribed_channels(&mut r);
        assert_eq!(r, vec![msg("unsubscribe", "a", 1), msg("unsubscribe", "b", 0)]);
    }
}
