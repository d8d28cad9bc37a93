//! YAML streams as the offline commands read them, and the line a field path sits on, so
//! `validate` can say `FILE:LINE: path: message`.
//!
//! Finding a line is best effort over block-style YAML, which is how claims are written: a
//! missing field points at its nearest parent that is there.

use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// One YAML document of a file, with where it starts.
pub struct Document {
    /// The parsed document.
    pub value: Value,
    /// Its text, for finding field lines.
    pub text: String,
    /// Line of the file its text starts on, 0-based.
    pub first_line: usize,
}

/// Reads every non-empty YAML document of a file.
pub fn read_documents(path: &Path) -> Result<Vec<Document>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_documents(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Splits YAML text into its documents.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, String> {
    let mut docs = Vec::new();
    let mut chunk = String::new();
    let mut first_line = 0;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines
        .iter()
        .enumerate()
        .chain(std::iter::once((lines.len(), &"---")))
    {
        if line.starts_with("---") {
            let value: Value = serde_yaml::Deserializer::from_str(&chunk)
                .next()
                .map(Value::deserialize)
                .transpose()
                .map_err(|e| match e.location() {
                    Some(at) => format!("line {}: invalid YAML: {e}", first_line + at.line()),
                    None => format!("invalid YAML: {e}"),
                })?
                .unwrap_or(Value::Null);
            if !value.is_null() {
                docs.push(Document {
                    value,
                    text: std::mem::take(&mut chunk),
                    first_line,
                });
            }
            chunk.clear();
            first_line = i + 1;
        } else {
            chunk.push_str(line);
            chunk.push('\n');
        }
    }
    Ok(docs)
}

pub fn one_document(path: &Path, what: &str) -> Result<Value, String> {
    let mut docs = read_documents(path)?;
    match docs.len() {
        1 => Ok(docs.remove(0).value),
        n => Err(format!(
            "{}: expected one {what} document, found {n}",
            path.display()
        )),
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').unwrap_or(inner.len());
            let key = &inner[..end];
            out.push(key.parse().map_or(Segment::Key(key), Segment::Index));
            rest = inner.get(end + 1..).unwrap_or_default();
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            if end > 0 {
                out.push(Segment::Key(&rest[..end]));
            }
            rest = rest[end..].strip_prefix('.').unwrap_or(&rest[end..]);
        }
    }
    out
}

/// Column of the first character after any `- ` list markers, and that text.
fn content(line: &str) -> (usize, &str) {
    let mut col = line.len() - line.trim_start().len();
    let mut rest = line.trim_start();
    while let Some(after) = rest
        .strip_prefix("- ")
        .or_else(|| (rest == "-").then_some(""))
    {
        let trimmed = after.trim_start();
        col += rest.len() - trimmed.len();
        rest = trimmed;
    }
    (col, rest)
}

fn is_key(text: &str, key: &str) -> bool {
    [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
        .iter()
        .any(|k| {
            text.strip_prefix(k.as_str())
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
}

/// The 1-based line of `path` in `text` (one YAML document), or of its deepest present parent.
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let significant = |l: &&str| !l.trim().is_empty() && !l.trim_start().starts_with('#');
    let (mut from, mut parent, mut found) = (0usize, -1isize, None);
    for segment in segments(path) {
        let mut hit = None;
        let mut item = (None, 0usize);
        for (i, line) in lines
            .iter()
            .enumerate()
            .skip(from)
            .filter(|(_, l)| significant(l))
        {
            let (col, text) = content(line);
            let indent = line.len() - line.trim_start().len();
            if i > from && col as isize <= parent {
                break;
            }
            match segment {
                Segment::Key(key) if col as isize > parent && is_key(text, key) => {
                    hit = Some((i, col as isize));
                }
                Segment::Index(n)
                    if line.trim_start().starts_with('-') && indent as isize >= parent =>
                {
                    if item.0.is_none() {
                        item.0 = Some(indent);
                    }
                    if item.0 == Some(indent) {
                        if item.1 == n {
                            hit = Some((i, indent as isize));
                        }
                        item.1 += 1;
                    }
                }
                _ => {}
            }
            if hit.is_some() {
                break;
            }
        }
        let Some((line, col)) = hit else { break };
        found = Some(line + 1);
        parent = col;
        // Keys of a list item may sit on the item's own line.
        from = if matches!(segment, Segment::Index(_)) {
            line
        } else {
            line + 1
        };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLAIM: &str = "\
apiVersion: platform.bizmatters.io/v1alpha1
kind: EventDrivenService
metadata:
  name: w
spec:
  # comment
  size: xlarge
  nats:
    stream: S
  secretRefs:
    - name: a
      env:
        - secretKey: k
          envName: 1BAD
    - name: B
  imagePullSecrets:
  - name: x
";

    #[test]
    fn paths_resolve_to_their_lines() {
        let cases = [
            ("spec.size", Some(7)),
            ("spec.nats.stream", Some(9)),
            ("spec.nats.consumer", Some(8)),
            ("spec.secretRefs[0].env[0].envName", Some(14)),
            ("spec.secretRefs[1].name", Some(15)),
            ("spec.imagePullSecrets[0].name", Some(17)),
            ("metadata.name", Some(4)),
            ("spec.image", Some(5)),
            ("sise", None),
        ];
        for (path, want) in cases {
            assert_eq!(line_of(CLAIM, path), want, "{path}");
        }
    }
}
