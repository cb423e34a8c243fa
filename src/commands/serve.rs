//! `lading serve`: start the embedded repository and run until interrupted.

use anyhow::Context as _;

use crate::cli::{ServeAction, ServeArgs, ServeMigrateArgs, ServeVerifyArgs};
use crate::printer::Printer;
use crate::server::{ServeConfig, Server, ServerOptions};

/// Run the server until SIGINT or SIGTERM.
///
/// # Errors
/// When the data directory, config file or listen address cannot be used.
pub async fn run(args: ServeArgs, printer: Printer) -> anyhow::Result<()> {
    if let Some(action) = args.action {
        return match action {
            ServeAction::Verify(verify_args) => verify(verify_args, &printer).await,
            ServeAction::Migrate(migrate_args) => migrate(migrate_args, &printer).await,
        };
    }
    let config =
        match &args.config {
            Some(path) => Some(ServeConfig::load(path).with_context(|| {
                format!("failed to load the server config `{}`", path.display())
            })?),
            None => None,
        };
    let upstreams = args
        .upstream
        .iter()
        .map(|flag| {
            crate::server::upstream::ExternalConnectionConfig::from_flag(flag)
                .map_err(anyhow::Error::msg)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = ServerOptions {
        header_timeout: std::time::Duration::from_secs(args.header_timeout_seconds.max(1)),
        upstreams,
        data_dir: args.data.clone(),
        listen: args.listen,
        config,
        public_url: args.public_url.clone(),
        region: args.region.clone(),
        metadata_ttl: args.metadata_ttl,
        data_planes: crate::ecosystem::registry::data_planes(),
        blobs: args.blobs.clone(),
        index: args.index.clone(),
        limits: crate::server::ingest::Limits {
            max_upload_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
            max_metadata_bytes: args.max_metadata_mib.saturating_mul(1024 * 1024),
            body_timeout: std::time::Duration::from_secs(args.body_timeout_seconds.max(1)),
            min_body_rate: args.min_body_bytes_per_second,
        },
        connections: crate::server::ConnectionLimits {
            total: args.max_connections.max(1),
            per_address: args.max_connections_per_address.max(1),
        },
    };
    let server = Server::start(options)
        .await
        .with_context(|| format!("failed to start the repository on {}", args.listen))?;
    let credentials = args.data.join(crate::server::CREDENTIALS_FILE);
    printer.status(&format!(
        "lading serve: listening on http://{} (data: `{}`); admin credentials in `{}` (profile default)",
        server.local_addr(),
        args.data.display(),
        credentials.display()
    ));
    printer.status(&format!(
        "  try: AWS_SHARED_CREDENTIALS_FILE={} aws codeartifact list-repositories --endpoint-url http://{} --region {}",
        credentials.display(),
        server.local_addr(),
        args.region
    ));
    shutdown_signal().await;
    printer.status("lading serve: shutting down");
    server.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// `lading serve verify`: check every blob the index names, report orphans.
async fn verify(args: ServeVerifyArgs, printer: &Printer) -> anyhow::Result<()> {
    let index = match &args.index {
        Some(url) => Some(crate::server::index::Location::postgres(url)?),
        None => None,
    };
    if index.is_none() && !args.data.join(crate::server::store::INDEX_FILE).is_file() {
        anyhow::bail!(
            "`{}` is not a `lading serve` data directory (it has no `{}`)",
            args.data.display(),
            crate::server::store::INDEX_FILE
        );
    }
    let remote = match &args.blobs {
        Some(url) => Some(
            crate::server::object_store::ObjectStore::connect(url)
                .await
                .with_context(|| format!("failed to use the object store `{url}`"))?,
        ),
        None => None,
    };
    let data = args.data.clone();
    let store = tokio::task::spawn_blocking(move || {
        crate::server::store::Store::open_with(&data, index, remote)
    })
    .await?
    .with_context(|| {
        format!(
            "failed to open the data directory `{}`",
            args.data.display()
        )
    })?;
    printer.status(&format!(
        "verifying the blobs {} names...",
        store.index_location()
    ));
    let report = store.verify().await.context("failed to verify the store")?;
    if args.json {
        printer.data(&serde_json::to_string_pretty(&report)?);
    } else {
        for problem in &report.problems {
            printer.data(&format!(
                "{}: {} (named by {})",
                problem.sha256,
                problem.problem,
                problem.named_by.join(", ")
            ));
        }
        printer.status(&format!(
            "checked {} asset(s), {} distinct blob(s) in `{}`: {} problem(s); orphans: {} local, {} in the object store",
            report.assets,
            report.blobs,
            report.location,
            report.problems.len(),
            report.orphans_local.len(),
            report.orphans_remote.len(),
        ));
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "{} blob(s) the index names are missing, corrupt or of the wrong size; \
             hint: restore them from a backup (or the object store's versioning), or delete \
             and publish the versions named above again",
            report.problems.len()
        )
    }
}

/// `lading serve migrate`: copy every local blob into the object store and the index into
/// PostgreSQL, verified, resumable.
async fn migrate(args: ServeMigrateArgs, printer: &Printer) -> anyhow::Result<()> {
    if !args.data.join(crate::server::store::INDEX_FILE).is_file() {
        anyhow::bail!(
            "`{}` is not a `lading serve` data directory (it has no `{}`)",
            args.data.display(),
            crate::server::store::INDEX_FILE
        );
    }
    if let Some(url) = &args.index {
        migrate_index(&args.data, url, printer).await?;
    }
    match &args.blobs {
        Some(blobs) => migrate_blobs(&args.data, blobs, printer).await,
        None => Ok(()),
    }
}

/// Copy the SQLite index into PostgreSQL and compare every table.
async fn migrate_index(data: &std::path::Path, url: &str, printer: &Printer) -> anyhow::Result<()> {
    use crate::server::index;
    let target = index::Location::postgres(url)?;
    let source = index::Location::Sqlite(data.join(crate::server::store::INDEX_FILE));
    printer.status(&format!(
        "copying the index {} into {}...",
        source.display(),
        target.display()
    ));
    let shown = target.display();
    let report = tokio::task::spawn_blocking(move || index::copy::copy(&source, &target))
        .await?
        .with_context(|| format!("failed to copy the index into {shown}"))?;
    let mut different = Vec::new();
    for table in &report {
        printer.status(&format!(
            "  {}: {} row(s), {} written now{}",
            table.table,
            table.source_rows,
            table.written,
            if table.identical { "" } else { ", DIFFERENT" }
        ));
        if !table.identical {
            different.push(table.table);
        }
    }
    if !different.is_empty() {
        anyhow::bail!(
            "the copy in {shown} differs from the data directory's index in {}; hint: the target \
             database must be empty or hold an earlier copy of this index: use a new database",
            different.join(", ")
        );
    }
    printer.status(&format!(
        "done: the index is in {shown}, every table identical"
    ));
    Ok(())
}

/// Copy every local blob into the object store, verified, resumable.
async fn migrate_blobs(
    data: &std::path::Path,
    blobs: &str,
    printer: &Printer,
) -> anyhow::Result<()> {
    let blobs_dir = data.join(crate::server::store::BLOBS_DIR).join("sha256");
    let remote = crate::server::object_store::ObjectStore::connect(blobs)
        .await
        .with_context(|| format!("failed to use the object store `{blobs}`"))?;
    let mut local = Vec::new();
    for shard in fs_err::read_dir(&blobs_dir)? {
        let shard = shard?.path();
        if !shard.is_dir() {
            continue;
        }
        for blob in fs_err::read_dir(&shard)? {
            let path = blob?.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if name.len() == 64 && name.bytes().all(|byte| byte.is_ascii_hexdigit()) {
                local.push((name.to_owned(), path));
            }
        }
    }
    local.sort();
    printer.status(&format!(
        "copying {} blob(s) from `{}` into `{}`...",
        local.len(),
        blobs_dir.display(),
        remote.display()
    ));
    let mut damaged = Vec::new();
    for (index, (sha256, path)) in local.iter().enumerate() {
        let hashed = path.clone();
        let actual = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            use sha2::Digest as _;
            let mut hasher = sha2::Sha256::new();
            std::io::copy(&mut fs_err::File::open(&hashed)?, &mut hasher)?;
            Ok(hex::encode(hasher.finalize()))
        })
        .await??;
        if &actual != sha256 {
            printer.warn(&format!(
                "`{}` is damaged (its content hashes to `{actual}`): not copied",
                path.display()
            ));
            damaged.push(sha256.clone());
            continue;
        }
        remote
            .put(sha256, path)
            .await
            .with_context(|| format!("failed to copy `{}`", path.display()))?;
        if (index + 1) % 500 == 0 {
            printer.status(&format!("  {} of {} done", index + 1, local.len()));
        }
    }
    if damaged.is_empty() {
        printer.status(&format!(
            "done: all {} blob(s) are in `{}`; start `lading serve --data {} --blobs {}`",
            local.len(),
            remote.display(),
            data.display(),
            blobs
        ));
        Ok(())
    } else {
        anyhow::bail!(
            "{} damaged blob(s) were not copied; `lading serve verify --data {}` names the versions that use them",
            damaged.len(),
            data.display()
        )
    }
}
