//! `healthchat diff A B`: each side resolved (a version's annotation file fetched into the
//! Hugging Face cache, a directory's JSONL found) and read, then compared and reported.

use anyhow::Result;

use crate::cli::DiffArgs;
use std::cell::OnceCell;

use crate::annotations::AnnotationFiles;
use crate::compare::{self, Records, Side, SideReport};
use crate::exit::Differences;
use crate::hub::{Hub, HubSettings};
use crate::printer::Printer;
use crate::runtime::block_on;

pub fn run(args: DiffArgs) -> Result<()> {
    let printer = Printer::new(args.quiet);
    let sides = [Side::resolve(&args.a)?, Side::resolve(&args.b)?];
    let [(a, report_a), (b, report_b)] = block_on(read_sides(&args, sides, &printer))??;

    let mut changes = args.csv.as_ref().map(|_| Vec::new());
    let comparison = compare::compare(&a, &b, changes.as_mut());
    if let (Some(path), Some(changes)) = (&args.csv, &changes) {
        compare::write_csv(path, changes)?;
        printer.status(format!(
            "{} changes written to {}",
            changes.len(),
            path.display()
        ));
    }
    if args.json {
        printer.result(compare::json(&comparison, &report_a, &report_b))?;
    } else {
        for line in compare::lines(&comparison, &report_a, &report_b) {
            printer.result(line)?;
        }
    }
    if args.exit_code && !comparison.identical() {
        return Err(Differences {
            a: report_a.argument,
            b: report_b.argument,
        }
        .into());
    }
    Ok(())
}

/// Each side's records and how the report names it.
async fn read_sides(
    args: &DiffArgs,
    [a, b]: [Side; 2],
    printer: &Printer,
) -> Result<[(Records, SideReport); 2]> {
    // The Hub is set up for the first version, and shared with the second (one listing).
    let hub = OnceCell::new();
    let mut annotation_files = None;
    let mut read = async |side: Side, argument: &std::path::Path| -> Result<_> {
        let (records, version, revision, file) = match side {
            Side::Version(version) => {
                let files = match &mut annotation_files {
                    Some(files) => files,
                    None => {
                        let hub = match hub.get() {
                            Some(hub) => hub,
                            None => {
                                let settings =
                                    HubSettings::from_env().reporting_retries_to(printer.clone());
                                let made = Hub::new(settings)?;
                                hub.get_or_init(|| made)
                            }
                        };
                        annotation_files
                            .insert(AnnotationFiles::pin(hub, &args.annotations_revision).await?)
                    }
                };
                let file = files
                    .fetch(version, printer, || {})
                    .await?
                    .path()
                    .to_owned();
                let records = Records::annotation_file(version, &file)?;
                let revision = args.annotations_revision.clone();
                (records, Some(version.to_string()), Some(revision), file)
            }
            Side::Jsonl(file) => (Records::jsonl(&file)?, None, None, file),
        };
        let report = SideReport {
            argument: argument.display().to_string(),
            version,
            revision,
            file,
        };
        Ok((records, report))
    };
    Ok([read(a, &args.a).await?, read(b, &args.b).await?])
}
