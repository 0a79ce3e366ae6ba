//! Cases from bytes: the generator walks the grammar table with `arbitrary::Unstructured`,
//! so the same code serves libFuzzer (bytes it mutates) and seeded campaigns (bytes from a
//! PRNG).

use arbitrary::{Result, Unstructured};

use super::domain::{self, pick};
use super::grammar::{CommandGrammar, Compare, G};
use super::table::COMMANDS;
use crate::script::{format_command, Flags};

/// Most repetitions of a `Many` item.
pub const MAX_REPEAT: usize = 3;
/// Most commands queued inside one MULTI block.
pub const MAX_MULTI_COMMANDS: usize = 4;
/// One command in this many is a MULTI block.
pub const MULTI_ONE_IN: u32 = 12;
/// One command in this many is malformed.
pub const MALFORMED_ONE_IN: u32 = 25;
/// Share (in tenths) of commands drawn from [`CREATORS`]: reads of empty keys teach little.
pub const CREATOR_TENTHS: u32 = 4;
/// Commands that create data of each type, drawn more often than the rest.
const CREATORS: &[&str] = &[
    "SET",
    "MSET",
    "APPEND",
    "SETRANGE",
    "SETBIT",
    "INCRBY",
    "INCRBYFLOAT",
    "HSET",
    "HINCRBY",
    "HINCRBYFLOAT",
    "LPUSH",
    "RPUSH",
    "LINSERT",
    "SADD",
    "SMOVE",
    "ZADD",
    "ZINCRBY",
    "ZUNIONSTORE",
    "SUNIONSTORE",
    "COPY",
    "BITFIELD",
];

/// One generated command and how its reply is compared (on top of the reference's tips).
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzCommand {
    pub args: Vec<Vec<u8>>,
    pub flags: Flags,
}

impl FuzzCommand {
    fn plain(args: Vec<Vec<u8>>) -> FuzzCommand {
        FuzzCommand { args, flags: Flags::default() }
    }

    /// The command as a script line (redis-cli quoting).
    pub fn text(&self) -> String {
        format_command(&self.args)
    }

    /// The directive lines a script needs before this command to compare it the same way.
    pub fn directives(&self) -> Vec<String> {
        let mut d = Vec::new();
        if self.flags.unordered_deep {
            d.push("@unordered-deep".to_string());
        }
        if let Some(t) = self.flags.tolerance {
            d.push(format!("@tolerance {t:e}"));
        }
        d
    }
}

/// A sequence of commands run on one connection after FLUSHALL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Case {
    pub commands: Vec<FuzzCommand>,
}

impl Case {
    /// The case as a `.redis` script, with a header comment.
    pub fn to_script(&self, header: &str) -> String {
        let mut s = String::new();
        for line in header.lines() {
            s.push_str(&format!("# {line}\n"));
        }
        for c in &self.commands {
            for d in c.directives() {
                s.push_str(&d);
                s.push('\n');
            }
            s.push_str(&c.text());
            s.push('\n');
        }
        s
    }
}

/// A case of 1..=`max_len` commands (a MULTI block counts its MULTI and EXEC).
pub fn generate_case(u: &mut Unstructured, max_len: usize) -> Result<Case> {
    let target = u.int_in_range(1..=max_len.max(1))?;
    let mut case = Case::default();
    while case.commands.len() < target {
        if u.is_empty() {
            break;
        }
        if u.ratio(1, MULTI_ONE_IN)? {
            if !multi_block(u, &mut case.commands)? {
                // Left open: whatever followed would be queued, loose commands included.
                break;
            }
        } else if u.ratio(1, MALFORMED_ONE_IN)? {
            case.commands.push(malformed(u)?);
        } else {
            let from = if u.ratio(CREATOR_TENTHS, 10)? { creators() } else { outside_multi() };
            let g = u.choose(from)?;
            command(u, g, &mut case.commands)?;
        }
    }
    Ok(case)
}

fn outside_multi() -> &'static [CommandGrammar] {
    static LIST: std::sync::OnceLock<Vec<CommandGrammar>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| COMMANDS.iter().filter(|c| !c.blocking).copied().collect())
}

fn creators() -> &'static [CommandGrammar] {
    static LIST: std::sync::OnceLock<Vec<CommandGrammar>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| COMMANDS.iter().filter(|c| CREATORS.contains(&c.name)).copied().collect())
}

/// Commands whose reply can sit in EXEC's array: no tip, no clock, no random effect.
fn inside_multi() -> &'static [CommandGrammar] {
    static LIST: std::sync::OnceLock<Vec<CommandGrammar>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| COMMANDS.iter().filter(|c| !c.loose).copied().collect())
}

/// Commands a malformation may touch: compared exactly, no random effect.
fn malformable() -> &'static [CommandGrammar] {
    static LIST: std::sync::OnceLock<Vec<CommandGrammar>> = std::sync::OnceLock::new();
    LIST.get_or_init(|| COMMANDS.iter().filter(|c| !c.loose && !c.blocking).copied().collect())
}

fn lit(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// A MULTI block; false when it is left open (no EXEC or DISCARD).
fn multi_block(u: &mut Unstructured, out: &mut Vec<FuzzCommand>) -> Result<bool> {
    out.push(FuzzCommand::plain(vec![lit("MULTI")]));
    let n = u.int_in_range(0..=MAX_MULTI_COMMANDS)?;
    for _ in 0..n {
        if u.ratio(1, MALFORMED_ONE_IN)? {
            out.push(malformed(u)?);
        } else {
            let g = u.choose(inside_multi())?;
            command(u, g, out)?;
        }
    }
    // Mostly EXEC; sometimes DISCARD; rarely left open (the case's epilogue closes it).
    match u.int_in_range(0..=19)? {
        0..=16 => out.push(FuzzCommand::plain(vec![lit("EXEC")])),
        17 | 18 => out.push(FuzzCommand::plain(vec![lit("DISCARD")])),
        _ => return Ok(false),
    }
    Ok(true)
}

/// One command from its grammar, plus `DEL key` after a random effect.
fn command(u: &mut Unstructured, g: &CommandGrammar, out: &mut Vec<FuzzCommand>) -> Result<()> {
    let mut args: Vec<Vec<u8>> = g.name.split(' ').map(lit).collect();
    for item in g.args {
        walk(u, item, &mut args)?;
    }
    let flags = match g.compare {
        Compare::Exact => Flags::default(),
        Compare::Tolerance(t) => Flags { tolerance: Some(t), ..Flags::default() },
        Compare::UnorderedDeep => Flags { unordered_deep: true, ..Flags::default() },
    };
    let key = args.get(1).cloned();
    out.push(FuzzCommand { args, flags });
    if g.random_effect {
        if let Some(k) = key {
            out.push(FuzzCommand::plain(vec![lit("DEL"), k]));
        }
    }
    Ok(())
}

fn walk(u: &mut Unstructured, g: &G, args: &mut Vec<Vec<u8>>) -> Result<()> {
    let leaf = match g {
        G::Key => domain::key(u)?,
        G::Value => domain::value(u)?,
        G::Member => pick(u, domain::MEMBERS)?,
        G::Int => pick(u, domain::INTS)?,
        G::Count => pick(u, domain::COUNTS)?,
        G::Index => pick(u, domain::INDEXES)?,
        G::BitOffset => pick(u, domain::BIT_OFFSETS)?,
        G::Float => pick(u, domain::FLOATS)?,
        G::ScoreBound => pick(u, domain::SCORE_BOUNDS)?,
        G::LexBound => pick(u, domain::LEX_BOUNDS)?,
        G::Seconds => pick(u, domain::SECONDS)?,
        G::Millis => pick(u, domain::MILLIS)?,
        G::UnixSeconds => pick(u, domain::UNIX_SECONDS)?,
        G::UnixMillis => pick(u, domain::UNIX_MILLIS)?,
        G::Pattern => pick(u, domain::PATTERNS)?,
        G::Timeout => pick(u, domain::TIMEOUTS)?,
        G::Lit(s) => lit(s),
        G::Seq(items) => {
            for i in *items {
                walk(u, i, args)?;
            }
            return Ok(());
        }
        G::Opt(item) => {
            if u.arbitrary::<bool>()? {
                walk(u, item, args)?;
            }
            return Ok(());
        }
        G::OneOf(items) => {
            let item = u.choose(items)?;
            return walk(u, item, args);
        }
        G::Many(item) => {
            for _ in 0..u.int_in_range(1..=MAX_REPEAT)? {
                walk(u, item, args)?;
            }
            return Ok(());
        }
        G::Counted(item) => {
            let n = u.int_in_range(1..=MAX_REPEAT)?;
            // Mostly the true count; sometimes a wrong one, an error path of its own.
            let written = match u.int_in_range(0..=9)? {
                0 => (n + 1).to_string(),
                1 => u.choose(&["0", "-1", "x"])?.to_string(),
                _ => n.to_string(),
            };
            args.push(written.into_bytes());
            for _ in 0..n {
                walk(u, item, args)?;
            }
            return Ok(());
        }
    };
    args.push(leaf);
    Ok(())
}

/// An unknown command, a missing or extra argument, or one argument replaced by junk.
fn malformed(u: &mut Unstructured) -> Result<FuzzCommand> {
    let mut out = Vec::new();
    let g = u.choose(malformable())?;
    command(u, g, &mut out)?;
    let mut args = out.swap_remove(0).args;
    let words = g.name.split(' ').count();
    match u.int_in_range(0..=3)? {
        0 => args[0] = pick(u, domain::UNKNOWN_COMMANDS)?,
        1 => {
            args.pop();
        }
        2 => args.push(pick(u, domain::JUNK)?),
        _ => {
            if args.len() > words {
                let i = u.int_in_range(words..=args.len() - 1)?;
                args[i] = pick(u, domain::JUNK)?;
            }
        }
    }
    if args.is_empty() {
        args.push(lit("PING"));
    }
    Ok(FuzzCommand::plain(args))
}

/// Whether a case keeps the invariants that make it deterministic on real Redis: no loose
/// command queued inside MULTI, every random effect followed by the DEL of its key. The
/// generator keeps them by construction; the minimiser checks them before trying a
/// smaller case, so it cannot shrink a real divergence into a false one.
pub fn is_deterministic(case: &Case) -> bool {
    let upper = |a: &[u8]| String::from_utf8_lossy(a).to_ascii_uppercase();
    let loose = |name: &str| COMMANDS.iter().any(|g| g.loose && g.command_word() == name);
    let mut in_multi = false;
    for (i, c) in case.commands.iter().enumerate() {
        let name = c.args.first().map(|a| upper(a)).unwrap_or_default();
        match name.as_str() {
            "MULTI" => in_multi = true,
            "EXEC" | "DISCARD" => in_multi = false,
            _ if in_multi && loose(&name) => return false,
            _ => {}
        }
        if COMMANDS.iter().any(|g| g.random_effect && g.command_word() == name) {
            let next = case.commands.get(i + 1);
            let deletes =
                next.is_some_and(|n| n.args.len() == 2 && upper(&n.args[0]) == "DEL" && n.args.get(1) == c.args.get(1));
            if !deletes {
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case_from(seed: u8, max_len: usize) -> Case {
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        generate_case(&mut Unstructured::new(&bytes), max_len).unwrap()
    }

    #[test]
    fn generated_cases_are_deterministic_and_bounded() {
        for seed in 0..=255 {
            let c = case_from(seed, 20);
            assert!(!c.commands.is_empty());
            // A MULTI block may overshoot the target by its queued commands and EXEC.
            assert!(c.commands.len() <= 20 + MAX_MULTI_COMMANDS * 2 + 2, "{}", c.commands.len());
            assert!(is_deterministic(&c), "{}", c.to_script(""));
        }
    }

    #[test]
    fn scripts_parse_back() {
        for seed in 0..=64 {
            let c = case_from(seed, 30);
            let text = c.to_script("header");
            let s = crate::script::parse_script(&text, std::path::Path::new("x.redis"), "x".into()).unwrap();
            let args: Vec<_> = s.commands().map(|c| c.args.clone()).collect();
            let want: Vec<_> = c.commands.iter().map(|c| c.args.clone()).collect();
            assert_eq!(args, want);
        }
    }

    #[test]
    fn invariants_are_checked() {
        let cmd = |w: &[&str]| FuzzCommand::plain(w.iter().map(|a| a.as_bytes().to_vec()).collect());
        let spop = Case { commands: vec![cmd(&["SPOP", "a"]), cmd(&["SMEMBERS", "a"])] };
        assert!(!is_deterministic(&spop));
        let multi = Case { commands: vec![cmd(&["MULTI"]), cmd(&["SMEMBERS", "a"]), cmd(&["EXEC"])] };
        assert!(!is_deterministic(&multi));
        let ok = Case { commands: vec![cmd(&["SPOP", "a"]), cmd(&["DEL", "a"]), cmd(&["SMEMBERS", "a"])] };
        assert!(is_deterministic(&ok));
    }
}
