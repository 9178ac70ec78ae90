//! `healthchat verify DIR`: every artifact checked against the directory's `manifest.json`.

use std::path::Path;

use crate::manifest::{self, Check};
use crate::printer::Printer;

pub fn run(directory: &Path) -> anyhow::Result<()> {
    let printer = Printer::new(false);
    let (manifest, checks) = manifest::verify(directory)?;
    let mut bad = 0;
    for check in &checks {
        match check {
            Check::Ok { name } => printer.result(format!("ok        {name}")),
            Check::Missing { name } => {
                bad += 1;
                printer.result(format!("MISSING   {name}"));
            }
            Check::Mismatch { name, problem } => {
                bad += 1;
                printer.result(format!("MISMATCH  {name}: {problem}"));
            }
        }
    }
    if bad > 0 {
        anyhow::bail!(
            "{bad} of {} artifacts in {} do not match its manifest.json\nNext: generate them \
             again with `healthchat generate --version {}`.",
            checks.len(),
            directory.display(),
            manifest.annotation_version
        );
    }
    printer.status(format!(
        "All {} artifacts of HealthChat-11K v{} match manifest.json ({}).",
        checks.len(),
        manifest.annotation_version,
        manifest.tool
    ));
    Ok(())
}
