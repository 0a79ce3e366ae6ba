//! AOF import: a single AOF file (optionally with an RDB preamble) or Redis 7's multi-part
//! folder (`appendonlydir/` with its manifest, a base file and incremental files).
//!
//! An RDB base is accepted only when it holds no data (what Redis writes when AOF is
//! enabled on an empty server); an RDB with keys cannot be expressed as commands here, and
//! we say so rather than silently drop data.

use std::path::{Path, PathBuf};

use super::{ImportError, ScriptWriter};

/// Most arguments in one AOF command.
pub const MAX_AOF_ARGS: usize = 1024 * 1024;
/// Largest argument in one AOF command (Redis's `proto-max-bulk-len` default).
pub const MAX_AOF_ARG_LEN: usize = 512 * 1024 * 1024;
/// Longest header line (`*N`, `$N`, `#TS:...`).
const MAX_HEADER_LINE: usize = 1024;

fn format_err(path: &Path, msg: impl Into<String>) -> ImportError {
    ImportError::Format { path: path.display().to_string(), msg: msg.into() }
}

fn read(path: &Path) -> Result<Vec<u8>, ImportError> {
    std::fs::read(path).map_err(|source| ImportError::Io { path: path.display().to_string(), source })
}

/// Imports a file or a multi-part folder.
pub fn import(path: &Path) -> Result<ScriptWriter, ImportError> {
    let mut w = ScriptWriter::default();
    w.comment(&format!("imported from the AOF {}", path.display()));
    for part in parts(path)? {
        let data = read(&part)?;
        w.comment(&format!("part {}", part.file_name().unwrap_or_default().to_string_lossy()));
        let start =
            if data.starts_with(b"REDIS") { rdb_end_if_empty(&data).map_err(|m| format_err(&part, m))? } else { 0 };
        commands(&data[start..], &part, &mut w)?;
    }
    Ok(w)
}

/// The files to read, in order: base first, then incremental files as the manifest lists
/// them. History files (`type h`) are superseded and skipped.
fn parts(path: &Path) -> Result<Vec<PathBuf>, ImportError> {
    let manifest = if path.is_dir() {
        let rd =
            std::fs::read_dir(path).map_err(|source| ImportError::Io { path: path.display().to_string(), source })?;
        let found = rd.flatten().map(|e| e.path()).find(|p| p.to_string_lossy().ends_with(".manifest"));
        Some(found.ok_or_else(|| format_err(path, "folder without an AOF .manifest"))?)
    } else if path.to_string_lossy().ends_with(".manifest") {
        Some(path.to_path_buf())
    } else {
        None
    };
    let Some(manifest) = manifest else {
        return Ok(vec![path.to_path_buf()]);
    };
    let dir = manifest.parent().unwrap_or_else(|| Path::new("."));
    let text = String::from_utf8(read(&manifest)?).map_err(|_| format_err(&manifest, "manifest is not text"))?;
    let (mut base, mut incr) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let field = |k: &str| words.windows(2).find(|w| w[0] == k).map(|w| w[1]);
        let (Some(file), Some(kind)) = (field("file"), field("type")) else {
            return Err(ImportError::Syntax {
                path: manifest.display().to_string(),
                line: i + 1,
                msg: "expected `file NAME seq N type b|h|i`".into(),
            });
        };
        // Redis forbids path separators in manifest file names; so do we.
        if file.contains('/') || file.contains("..") {
            return Err(format_err(&manifest, format!("bad file name {file:?}")));
        }
        match kind {
            "b" => base.push(dir.join(file)),
            "i" => incr.push(dir.join(file)),
            _ => {}
        }
    }
    base.extend(incr);
    Ok(base)
}

/// Where the RDB (a base file or a preamble) ends, if it holds no keys.
fn rdb_end_if_empty(d: &[u8]) -> Result<usize, String> {
    const TRUNC: &str = "truncated RDB";
    let mut p = 9; // "REDIS" + 4 version digits
    if d.len() < p {
        return Err(TRUNC.into());
    }
    let byte = |p: &mut usize| -> Result<u8, String> {
        let b = *d.get(*p).ok_or(TRUNC)?;
        *p += 1;
        Ok(b)
    };
    // Returns (length, is_special_encoding).
    let length = |p: &mut usize| -> Result<(u64, bool), String> {
        let b = byte(p)?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | byte(p)? as u64, false),
            2 => {
                let n = if b == 0x80 { 4 } else { 8 };
                let mut v = 0u64;
                for _ in 0..n {
                    v = (v << 8) | byte(p)? as u64;
                }
                (v, false)
            }
            _ => ((b & 0x3f) as u64, true),
        })
    };
    let skip_string = |p: &mut usize| -> Result<(), String> {
        let (len, special) = length(p)?;
        let skip = if special {
            match len {
                0 => 1,
                1 => 2,
                2 => 4,
                3 => {
                    let (clen, _) = length(p)?;
                    let _ulen = length(p)?;
                    clen
                }
                _ => return Err("unknown RDB string encoding".into()),
            }
        } else {
            len
        };
        *p = p.checked_add(skip as usize).filter(|e| *e <= d.len()).ok_or(TRUNC)?;
        Ok(())
    };
    loop {
        match byte(&mut p)? {
            0xFA => {
                skip_string(&mut p)?;
                skip_string(&mut p)?;
            }
            0xFE => {
                length(&mut p)?;
            }
            0xFB => {
                length(&mut p)?;
                length(&mut p)?;
            }
            0xFF => {
                // 8-byte checksum follows.
                return Ok((p + 8).min(d.len()));
            }
            _ => {
                return Err("the RDB base holds data, which cannot be imported as commands; \
                            rewrite the AOF with `aof-use-rdb-preamble no` (CONFIG SET, then \
                            BGREWRITEAOF) and import again"
                    .into())
            }
        }
    }
}

fn header_line<'a>(d: &'a [u8], p: &mut usize) -> Option<&'a [u8]> {
    let rest = &d[*p..];
    let end = rest.iter().take(MAX_HEADER_LINE + 2).position(|&b| b == b'\n')?;
    *p += end + 1;
    Some(rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]))
}

fn number(b: &[u8]) -> Option<usize> {
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Reads RESP multibulk commands. A truncated last command (a crash mid-write, which Redis
/// itself tolerates with `aof-load-truncated`) is reported as a comment, not an error.
fn commands(d: &[u8], path: &Path, w: &mut ScriptWriter) -> Result<(), ImportError> {
    let mut p = 0;
    while p < d.len() {
        let start = p;
        let truncated = |w: &mut ScriptWriter| {
            w.comment(&format!("warning: truncated command at byte {start} of {} ignored", path.display()))
        };
        let Some(line) = header_line(d, &mut p) else {
            truncated(w);
            return Ok(());
        };
        if line.first() == Some(&b'#') || line.is_empty() {
            continue; // `#TS:` annotations
        }
        let n = line
            .strip_prefix(b"*")
            .and_then(number)
            .filter(|n| *n <= MAX_AOF_ARGS)
            .ok_or_else(|| format_err(path, format!("bad command header at byte {start}")))?;
        let mut args = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            let Some(h) = header_line(d, &mut p) else {
                truncated(w);
                return Ok(());
            };
            let len = h
                .strip_prefix(b"$")
                .and_then(number)
                .filter(|n| *n <= MAX_AOF_ARG_LEN)
                .ok_or_else(|| format_err(path, format!("bad argument header in command at byte {start}")))?;
            if p + len + 2 > d.len() {
                truncated(w);
                return Ok(());
            }
            args.push(d[p..p + len].to_vec());
            p += len + 2;
        }
        w.command(&args);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commands_and_tolerates_truncation() {
        let data =
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n#TS:1\r\n*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\n\x00\n\r\n*2\r\n$3\r\nget";
        let mut w = ScriptWriter::default();
        commands(data, Path::new("x.aof"), &mut w).unwrap();
        assert!(w.out.starts_with("SELECT 0\nset k \"\\x00\\n\"\n# warning: truncated"));
        assert_eq!(w.commands, 2);
    }

    #[test]
    fn empty_rdb_base() {
        // Header, one aux field, select db 0, resize db, EOF and checksum.
        let mut rdb = b"REDIS0010".to_vec();
        rdb.extend([0xFA, 3]);
        rdb.extend(b"ver");
        rdb.extend([0xC0, 7]); // int8-encoded value
        rdb.extend([0xFE, 0, 0xFB, 0, 0, 0xFF]);
        rdb.extend([0; 8]);
        assert_eq!(rdb_end_if_empty(&rdb), Ok(rdb.len()));
        let mut with_key = rdb[..rdb.len() - 9].to_vec();
        with_key.extend([0, 1, b'k', 1, b'v', 0xFF]);
        assert!(rdb_end_if_empty(&with_key).unwrap_err().contains("holds data"));
    }
}
