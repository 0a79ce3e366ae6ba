//! The argument grammar of one command: a small declarative language the generator walks.
//!
//! A command is a name and a sequence of [`G`] items; options are `Opt`, alternatives
//! `OneOf`, repetitions `Many`, and `Counted` writes a count followed by that many items
//! (`numkeys key [key …]`). Leaves name a *domain* (keys, values, scores…) rather than a
//! value, so commands collide on the same few keys and edge values.

/// One grammar item.
#[derive(Debug, Clone, Copy)]
pub enum G {
    /// A key from the shared key space (collides across types: WRONGTYPE).
    Key,
    /// A string value: short words, numbers, binary, edge values.
    Value,
    /// A hash field, set member or sorted-set member.
    Member,
    /// An integer argument (counts, increments): small ones and the i64 limits.
    Int,
    /// A count whose magnitude Redis allocates for before looking at the data
    /// (SRANDMEMBER, HRANDFIELD, ZRANDMEMBER with a negative count): small ones only.
    Count,
    /// A list or range index: small positive and negative ones.
    Index,
    /// A bit offset (SETBIT, GETBIT, BITFIELD): small, plus out-of-range ones.
    BitOffset,
    /// A float (INCRBYFLOAT, ZADD scores): inf, nan, many digits.
    Float,
    /// A sorted-set score bound: `(1`, `-inf`, `+inf`, `2.5`.
    ScoreBound,
    /// A sorted-set lex bound: `-`, `+`, `[a`, `(b`.
    LexBound,
    /// Relative expiry in seconds: never between 1 and the case's duration, so both
    /// servers agree on whether a key has expired.
    Seconds,
    /// Relative expiry in milliseconds (same rule).
    Millis,
    /// Absolute unix time in seconds: the past or far in the future.
    UnixSeconds,
    /// Absolute unix time in milliseconds: the past or far in the future.
    UnixMillis,
    /// A glob pattern (KEYS, SCAN MATCH).
    Pattern,
    /// A blocking timeout (only ever run inside MULTI, where nothing blocks).
    Timeout,
    /// A literal word.
    Lit(&'static str),
    /// Items in order.
    Seq(&'static [G]),
    /// An item or nothing.
    Opt(&'static G),
    /// One of the items.
    OneOf(&'static [G]),
    /// The item one or more times (at most [`super::generate::MAX_REPEAT`]).
    Many(&'static G),
    /// A count N followed by N items (sometimes a wrong count: an error path).
    Counted(&'static G),
}

/// How the reply of a command may be compared, beyond what the reference's tips say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Compare {
    /// Byte for byte (after the reference's tips, if any).
    Exact,
    /// Numbers within a relative tolerance: the reply depends on the clock (TTL,
    /// EXPIRETIME after a relative EXPIRE), and two servers are a tick apart.
    Tolerance(f64),
    /// Every aggregate as a multiset: a complete `SCAN 0 COUNT 1000` on a small key space.
    UnorderedDeep,
}

/// One command's description.
#[derive(Debug, Clone, Copy)]
pub struct CommandGrammar {
    /// The command words (`"OBJECT ENCODING"` is two).
    pub name: &'static str,
    pub args: &'static [G],
    pub compare: Compare,
    /// Its reply has a nondeterministic value or order (a reference tip, or the clock):
    /// never queued inside MULTI, where EXEC's array would carry it uncompared.
    pub loose: bool,
    /// Random effect on the data (SPOP): the generator deletes the key right after, so the
    /// rest of the case does not depend on which members were popped.
    pub random_effect: bool,
    /// Blocks when there is nothing to pop: generated only inside MULTI (where Redis runs
    /// it as its non-blocking variant), so a campaign can never hang.
    pub blocking: bool,
}

impl CommandGrammar {
    pub const fn new(name: &'static str, args: &'static [G]) -> CommandGrammar {
        CommandGrammar { name, args, compare: Compare::Exact, loose: false, random_effect: false, blocking: false }
    }

    /// The reference's tips make its reply nondeterministic or unordered.
    pub const fn loose(mut self) -> Self {
        self.loose = true;
        self
    }

    pub const fn tolerance(mut self, t: f64) -> Self {
        self.compare = Compare::Tolerance(t);
        self.loose = true;
        self
    }

    pub const fn unordered_deep(mut self) -> Self {
        self.compare = Compare::UnorderedDeep;
        self.loose = true;
        self
    }

    pub const fn random_effect(mut self) -> Self {
        self.random_effect = true;
        self.loose = true;
        self
    }

    pub const fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// The command word (first word of the name), upper case as written.
    pub fn command_word(&self) -> &'static str {
        self.name.split(' ').next().unwrap_or(self.name)
    }
}
