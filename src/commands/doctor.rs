//! `lading doctor`: what registry and auth each package manager will actually use, and which
//! config file decides it, asked of the tools themselves (npm, pip, Maven, NuGet) rather than
//! guessed from lading's own files: each format's check is in `ecosystem/<format>/doctor.rs`
//! (the `doctor` of its [`crate::ecosystem::configure::Configure`]). Values that are secrets
//! are never printed: auth is reported as present or absent, and URLs are redacted.

use crate::cli::DoctorArgs;
use crate::ecosystem::registry::registry;
use crate::printer::Printer;

/// Run `lading doctor`.
///
/// # Errors
/// Only when the report cannot be serialised.
pub async fn run(args: &DoctorArgs, printer: Printer) -> anyhow::Result<()> {
    let mut reports = Vec::new();
    for configure in registry().filter_map(|ecosystem| ecosystem.configure()) {
        reports.extend(configure.doctor().await);
    }
    if args.json {
        printer.data(&serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for report in &reports {
        if !report.found {
            printer.data(&format!("{}: not found", report.tool));
            continue;
        }
        printer.data(&format!(
            "{}:\n  registry:    {}\n  config file: {}\n  auth:        {}\n  reads:       {}\n  (from: {})",
            report.tool,
            report.registry.as_deref().unwrap_or("?"),
            report.config_file.as_deref().unwrap_or("?"),
            report.auth,
            if report.config_files.is_empty() {
                "-".to_owned()
            } else {
                report.config_files.join(", ")
            },
            report.source
        ));
    }
    Ok(())
}
