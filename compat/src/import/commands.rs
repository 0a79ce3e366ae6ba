//! A plain command file: one command a line in redis-cli quoting. Validated with the script
//! lexer (a bad line is reported with file:line) and re-emitted in canonical quoting.

use super::{ImportError, ScriptWriter};
use crate::script::split_args;

pub fn import(text: &str, path: &str) -> Result<ScriptWriter, ImportError> {
    let mut w = ScriptWriter::default();
    w.comment(&format!("imported from the command file {path}"));
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let args = split_args(t).map_err(|msg| ImportError::Syntax { path: path.to_string(), line: i + 1, msg })?;
        w.command(&args);
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    #[test]
    fn normalises_quoting() {
        let w = super::import("set 'a b' \"\\x41\"\n# c\n\nget x\n", "f").unwrap();
        assert!(w.out.ends_with("set \"a b\" A\nget x\n"));
        assert!(super::import("get \"x\n", "f").is_err());
    }
}
