//! The aclfile: one `user <name> <rules...>` line per user, read whole by ACL LOAD (all or
//! nothing, with Redis's error texts) and rewritten whole by ACL SAVE.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;

use super::rules::{has_spaces, merge_selectors, RuleError};
use super::user::{Rules, User};

/// Parses the aclfile at `path` into users (`all_channels_default`: `acl-pubsub-default`), or Redis's one-line description of every
/// problem found (`ACLLoadFromFile`).
pub fn load(path: &str, all_channels_default: bool) -> Result<BTreeMap<Bytes, Rules>, String> {
    let text =
        std::fs::read(path).map_err(|e| format!("Error loading ACLs, opening file '{path}': {}", strerror(&e)))?;
    let mut errors = String::new();
    let mut users: BTreeMap<Bytes, Rules> = BTreeMap::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let number = i + 1;
        let line = trim(line, b" \t\r\n");
        if line.is_empty() {
            continue;
        }
        // Split on single spaces, as `sdssplitlen`: two spaces make an empty (no-op) rule.
        let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        if argv[0] != b"user" || argv.len() < 2 {
            errors.push_str(&format!("{path}:{number} should start with user keyword followed by the username. "));
            continue;
        }
        let name = argv[1];
        if has_spaces(name) {
            errors.push_str(&format!(
                "'{path}:{number}: username '{}' contains invalid characters. ",
                String::from_utf8_lossy(super::rules::c_str(name))
            ));
            continue;
        }
        if users.contains_key(name) {
            errors.push_str(&format!(
                "WARNING: Duplicate user '{}' found on line {number}. ",
                String::from_utf8_lossy(super::rules::c_str(name))
            ));
            continue;
        }
        let mut rules = Rules::new_user(all_channels_default);
        match merge_selectors(&argv[2..]) {
            Ok(ops) => {
                // An unknown command is named; of other errors (which could quote a
                // password) only the line's first is reported, without the rule.
                let mut reported = false;
                for op in ops {
                    let op = trim(&op, b"\t\r\n");
                    match rules.apply(op) {
                        Err(RuleError::Unknown) => errors.push_str(&format!(
                            "{path}:{number}: Error in applying operation '{}': {}. ",
                            String::from_utf8_lossy(super::rules::c_str(op)),
                            RuleError::Unknown
                        )),
                        Err(e) if !reported => {
                            errors.push_str(&format!("{path}:{number}: {e}. "));
                            reported = true;
                        }
                        _ => {}
                    }
                }
            }
            Err(_) => errors.push_str(&format!("{path}:{number}: Unmatched parenthesis in selector definition.")),
        }
        users.insert(Bytes::copy_from_slice(name), rules);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        Err(errors)
    }
}

/// Writes every user to `path` through a temporary file renamed over it (`ACLSaveToFile`).
pub fn save(path: &str, users: &[Arc<User>]) -> std::io::Result<()> {
    let mut text = Vec::new();
    for user in users {
        text.extend_from_slice(b"user ");
        text.extend_from_slice(&user.name);
        text.push(b' ');
        text.extend_from_slice(&user.rules().describe());
        text.push(b'\n');
    }
    let temp = format!("{path}.tmp-{}-{}", std::process::id(), super::log::now_ms());
    let written = std::fs::File::create(&temp).and_then(|mut file| {
        file.write_all(&text)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    renamed
}

/// C's `strerror` text of an I/O error (Rust appends ` (os error N)`).
fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn trim<'a>(mut s: &'a [u8], set: &[u8]) -> &'a [u8] {
    while let [first, rest @ ..] = s {
        if !set.contains(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !set.contains(last) {
            break;
        }
        s = rest;
    }
    s
}
