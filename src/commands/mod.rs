//! One module per subcommand: thin orchestration, no protocol code.

pub mod cache_key;
pub mod doctor;
pub mod exec;
pub mod login;
pub mod pack;
pub mod publish;
pub mod restore;
pub mod run;
pub mod serve;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::printer::Printer;

/// Run the parsed command line.
///
/// # Errors
/// Whatever the subcommand reports; `main` renders it and picks the exit code.
pub async fn run(cli: Cli, printer: Printer) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args, printer).await,
        Command::Pack(args) => pack::run(&args, printer),
        Command::Verify(args) => verify::run(&args, printer),
        Command::Login(args) => login::login(args, printer).await,
        Command::Logout(args) => login::logout(&args, printer),
        Command::Token(args) => login::token(&args, printer).await,
        Command::Restore(args) => restore::run(*args, printer).await,
        Command::Publish(args) => publish::run(*args, printer).await,
        Command::CacheKey(args) => cache_key::run(&args, printer),
        Command::Run(args) => run::run(args, printer).await,
        Command::Exec(args) => exec::run(args, printer).await,
        Command::Doctor(args) => doctor::run(&args, printer).await,
    }
}
