//! The offline subcommands: render, validate and schema, on files and with no cluster.

use crate::{
    cli::{Command, RenderArgs},
    field_error::FieldError,
    locate, render,
};
use serde::Deserialize;
use serde_json::Value;
use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

/// One YAML document of a file, with where it starts.
pub struct Document {
    /// The parsed document.
    pub value: Value,
    /// Its text, for finding field lines.
    pub text: String,
    /// Line of the file its text starts on, 0-based.
    pub first_line: usize,
}

/// Runs one offline subcommand and maps its outcome to an exit code.
pub fn run(command: &Command) -> ExitCode {
    let outcome = match command {
        Command::Render(args) => render_command(args),
        Command::Validate(args) => validate_command(&args.files),
        Command::Schema => serde_json::to_string_pretty(&crate::schema::claim_json_schema())
            .map_err(|e| e.to_string())
            .and_then(|text| print(&format!("{text}\n"))),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print(text: &str) -> Result<ExitCode, String> {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = out.write_all(text.as_bytes());
    Ok(ExitCode::SUCCESS)
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

fn one_document(path: &Path, what: &str) -> Result<Value, String> {
    let mut docs = read_documents(path)?;
    match docs.len() {
        1 => Ok(docs.remove(0).value),
        n => Err(format!(
            "{}: expected one {what} document, found {n}",
            path.display()
        )),
    }
}

fn render_command(args: &RenderArgs) -> Result<ExitCode, String> {
    let document = one_document(&args.file, "claim or XR")?;
    let input = args
        .input
        .as_deref()
        .map(|p| one_document(p, "Input"))
        .transpose()?;
    let observed: Vec<Value> = match &args.observed {
        Some(path) => read_documents(path)?.into_iter().map(|d| d.value).collect(),
        None => Vec::new(),
    };
    match render::render_as(&document, input.as_ref(), &observed, args.namespaced) {
        Ok(rendered) => {
            let mut out = String::new();
            for (key, state) in &rendered.ready {
                let _ = writeln!(out, "# {key}: {state}");
            }
            for message in &rendered.messages {
                let _ = writeln!(out, "# {message}");
            }
            let docs = std::iter::once(&rendered.composite)
                .chain(rendered.resources.iter().map(|(_, r)| r));
            for doc in docs {
                out.push_str("---\n");
                out.push_str(&serde_yaml::to_string(doc).map_err(|e| e.to_string())?);
            }
            print(&out)
        }
        Err(errors) => {
            eprintln!("{}: cannot render:", args.file.display());
            for e in &errors {
                eprintln!("  {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Problems of one file, each as `FILE[:LINE]: path: message`, and how many documents were
/// checked.
pub fn validate_file(path: &Path) -> Result<(Vec<String>, usize), String> {
    let mut problems = Vec::new();
    let docs = read_documents(path)?;
    let claims: Vec<_> = docs.iter().filter(|d| is_claim_like(&d.value)).collect();
    for doc in &claims {
        if let Err(errors) = render::check(&doc.value, None, false) {
            problems.extend(errors.iter().map(|e| describe(path, doc, e)));
        }
    }
    Ok((problems, claims.len()))
}

/// Documents `validate` checks: anything that says it is an EventDrivenService claim or XR,
/// even with a wrong apiVersion, so a typo there is reported rather than skipped.
fn is_claim_like(doc: &Value) -> bool {
    matches!(
        doc.get("kind").and_then(Value::as_str),
        Some(render::CLAIM_KIND | render::XR_KIND)
    )
}

fn describe(path: &Path, doc: &Document, error: &FieldError) -> String {
    match locate::line_of(&doc.text, &error.path) {
        Some(line) => format!("{}:{}: {error}", path.display(), doc.first_line + line),
        None => format!("{}: {error}", path.display()),
    }
}

fn validate_command(files: &[PathBuf]) -> Result<ExitCode, String> {
    let mut failed = false;
    for file in files {
        match validate_file(file) {
            Ok((problems, _)) if !problems.is_empty() => {
                failed = true;
                for p in problems {
                    println!("{p}");
                }
            }
            Ok((_, 0)) => eprintln!(
                "{}: no EventDrivenService documents, skipped",
                file.display()
            ),
            Ok((_, n)) => eprintln!("{}: ok ({n} checked)", file.display()),
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
