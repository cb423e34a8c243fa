//! The `lading` binary: parse, run, render the error chain, map to an exit code.

use std::process::ExitCode;

use clap::Parser;
use lading::cli::Cli;
use lading::diagnostics;
use lading::env_vars::EnvVars;
use lading::printer::{Printer, Verbosity};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help/version to stdout with exit 0, usage errors to stderr with 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                diagnostics::EXIT_USAGE
            } else {
                diagnostics::EXIT_OK
            });
        }
    };
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    init_tracing(cli.verbose, cli.quiet);
    let printer = Printer::new(verbosity);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let error = anyhow::Error::new(error).context("failed to start the async runtime");
            eprint_error(&error, printer);
            return ExitCode::from(diagnostics::EXIT_FAILURE);
        }
    };
    match runtime.block_on(lading::commands::run(cli, printer)) {
        Ok(()) => ExitCode::from(diagnostics::EXIT_OK),
        Err(error) => {
            eprint_error(&error, printer);
            ExitCode::from(lading::DIAGNOSTICS.exit_code(&error))
        }
    }
}

fn eprint_error(error: &anyhow::Error, printer: Printer) {
    use std::io::Write;
    let _ = write!(
        std::io::stderr().lock(),
        "{}",
        lading::DIAGNOSTICS.render(error, printer.color())
    );
}

fn init_tracing(verbose: u8, quiet: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "lading=debug,info",
        (false, _) => "trace",
    };
    let requested = EnvVars::get(EnvVars::LADING_LOG).unwrap_or_else(|| default.to_owned());
    let mut filter = EnvFilter::new(&requested);
    // The caps below are directives too: adding them to a quieter filter would turn those
    // crates' debug output on, so they apply only when trace was asked for.
    if !requested.contains("trace") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(
                EnvVars::get(EnvVars::NO_COLOR).is_none()
                    && std::io::IsTerminal::is_terminal(&std::io::stderr()),
            )
            .try_init();
        return;
    }
    // Dependencies that log request and response bodies or credential-derived material at
    // trace level (the AWS SDK logs GetAuthorizationToken's body, tokens included) are
    // capped whatever the requested level: secrets must never reach a log.
    for directive in [
        "aws_smithy_runtime=debug",
        "aws_smithy_http_client=debug",
        "aws_sigv4=debug",
        "aws_config=debug",
        "hyper=info",
        "hyper_util=info",
        "h2=info",
        "reqwest=debug",
    ] {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            EnvVars::get(EnvVars::NO_COLOR).is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .try_init();
}
