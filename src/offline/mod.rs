//! The offline subcommands: render, validate and schema, on files and with no cluster.

mod documents;
pub mod render;

use crate::api::field_error::FieldError;
use clap::{Args, Subcommand};
use documents::{one_document, read_documents, Document};
use serde_json::Value;
use std::{
    fmt::Write as _,
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Offline work on files.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the resources a claim or XR composes, as a YAML stream, with no cluster.
    Render(RenderArgs),
    /// Check claims and XRs; print every problem as FILE: field.path: message.
    Validate(ValidateArgs),
    /// Print the JSON Schema of an EventDrivenService claim.
    Schema,
}

/// Arguments of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A claim (kind EventDrivenService) or XR (kind XEventDrivenService).
    pub file: PathBuf,
    /// A function Input (kind Input) to render with.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Observed composed resources (a YAML stream) to derive readiness, status and conditions from.
    #[arg(long)]
    pub observed: Option<PathBuf>,
    /// Objects in the cluster (a YAML stream) the function may ask for, such as the Secrets and
    /// ConfigMaps a claim with `rolloutOnConfigChange` reads.
    #[arg(long)]
    pub required_resources: Option<PathBuf>,
    /// Treat a `kind: EventDrivenService` document as a Crossplane v2 namespaced XR, not a claim.
    #[arg(long)]
    pub namespaced: bool,
}

/// Arguments of `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Claim or XR files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Runs one offline subcommand and maps its outcome to an exit code.
pub fn run(command: &Command) -> ExitCode {
    let outcome = match command {
        Command::Render(args) => render_command(args),
        Command::Validate(args) => validate_command(&args.files),
        Command::Schema => {
            serde_json::to_string_pretty(&crate::api::definition::claim_json_schema())
                .map_err(|e| e.to_string())
                .and_then(|text| print(&format!("{text}\n")))
        }
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

/// The claim or XR of `file`, and the function Input of `input` if given: one document each.
pub fn read_claim(file: &Path, input: Option<&Path>) -> Result<(Value, Option<Value>), String> {
    let document = one_document(file, "claim or XR")?;
    let input = input.map(|p| one_document(p, "Input")).transpose()?;
    Ok((document, input))
}

fn render_command(args: &RenderArgs) -> Result<ExitCode, String> {
    let (document, input) = read_claim(&args.file, args.input.as_deref())?;
    let stream = |path: &Option<PathBuf>| -> Result<Vec<Value>, String> {
        match path {
            Some(path) => Ok(read_documents(path)?.into_iter().map(|d| d.value).collect()),
            None => Ok(Vec::new()),
        }
    };
    let observed = stream(&args.observed)?;
    let required = stream(&args.required_resources)?;
    match render::render_as(
        &document,
        input.as_ref(),
        &observed,
        &required,
        args.namespaced,
    ) {
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
        if let Err(errors) = render::to_composite(&doc.value, false)
            .and_then(|xr| render::request(&xr, None, &[]))
            .and_then(|req| render::check(&req))
        {
            // In the order a reader meets them in the file; a problem of the whole document
            // (no line) first.
            let mut found: Vec<_> = errors.iter().map(|e| describe(path, doc, e)).collect();
            found.sort_by_key(|(line, _)| *line);
            problems.extend(found.into_iter().map(|(_, problem)| problem));
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

/// The line of an error in the file, if it has one, and the error as `validate` prints it.
fn describe(path: &Path, doc: &Document, error: &FieldError) -> (Option<usize>, String) {
    match documents::line_of(&doc.text, &error.path) {
        Some(line) => {
            let line = doc.first_line + line;
            (Some(line), format!("{}:{line}: {error}", path.display()))
        }
        None => (None, format!("{}: {error}", path.display())),
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
