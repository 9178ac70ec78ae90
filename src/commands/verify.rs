//! `healthchat verify DIR`: every artifact checked against the directory's `manifest.json`.

use std::path::Path;

use crate::manifest::{self, Check, VerifyError};
use crate::printer::Printer;

pub(super) fn run(directory: &Path) -> anyhow::Result<()> {
    let printer = Printer::new(false);
    let (manifest, checks) = manifest::verify(directory)?;
    let mut bad = 0;
    for check in &checks {
        match check {
            Check::Ok { name } => printer.result(format!("ok        {name}"))?,
            Check::Missing { name } => {
                bad += 1;
                printer.result(format!("MISSING   {name}"))?;
            }
            Check::Mismatch { name, problem } => {
                bad += 1;
                printer.result(format!("MISMATCH  {name}: {problem}"))?;
            }
        }
    }
    // How the inputs were checked when the artifacts were made.
    for repository in &manifest.repositories {
        for file in &repository.files {
            let sha256 = file.sha256.as_deref().unwrap_or("unknown");
            let how = match &file.verified_against {
                Some(against) if file.verified => format!("verified against {against}"),
                _ => "not verified: nothing to check it against".to_owned(),
            };
            printer.result(format!(
                "input     {}/{}: SHA-256 {sha256}, {how}",
                repository.id, file.path
            ))?;
        }
    }
    if bad > 0 {
        return Err(VerifyError::Mismatched {
            mismatched: bad,
            artifacts: checks.len(),
            directory: directory.to_owned(),
            annotation_version: manifest.annotation_version,
        }
        .into());
    }
    printer.status(format!(
        "All {} artifacts of HealthChat-11K v{} match manifest.json ({}).",
        checks.len(),
        manifest.annotation_version,
        manifest.tool
    ));
    Ok(())
}
