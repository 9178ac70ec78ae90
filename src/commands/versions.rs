//! `healthchat versions`: the annotation versions on the Hub (offline: in the cache).

use crate::annotations::{ANNOTATIONS_REPO, list_versions};
use crate::cli::VersionsArgs;
use crate::hub::{DatasetRepo, Hub, HubSettings};
use crate::printer::Printer;

pub(super) async fn run(args: VersionsArgs) -> anyhow::Result<()> {
    let printer = Printer::new(false);
    let hub = Hub::new(HubSettings::from_env().reporting_retries_to(printer.clone()))?;
    let repo = DatasetRepo::new(ANNOTATIONS_REPO, &args.annotations_revision);
    let listing = list_versions(&hub, &repo).await?;
    if args.json {
        let entries: Vec<serde_json::Value> = listing
            .iter()
            .map(|entry| {
                serde_json::json!({
                    "version": entry.version.to_string(),
                    "newest": entry.newest,
                    "cached": entry.cached,
                })
            })
            .collect();
        printer.result(format!("{:#}", serde_json::Value::Array(entries)))?;
        return Ok(());
    }
    let place = if hub.settings().offline {
        "in the cache (HF_HUB_OFFLINE is set)"
    } else {
        "on the Hub"
    };
    printer.result(format!(
        "Annotation versions of {ANNOTATIONS_REPO} {place}:"
    ))?;
    for entry in &listing {
        let notes: Vec<&str> = [(entry.newest, "newest"), (entry.cached, "cached")]
            .into_iter()
            .filter_map(|(holds, note)| holds.then_some(note))
            .collect();
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!("  ({})", notes.join(", "))
        };
        printer.result(format!("  {}{notes}", entry.version))?;
    }
    Ok(())
}
