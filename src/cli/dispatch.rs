//! One function per command; documentation commands run before any config is read.

use std::process::ExitCode;

use anyhow::Result;

use super::{
    Cli, Command, ConfigAction, admin, config_cmd, docs, explain, ingest, listing, load_config,
    reports, retention, tickets, web,
};

pub(super) fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Doc(doc) = &cli.command {
        docs::print_doc(doc)?;
        return Ok(ExitCode::SUCCESS);
    }
    // check-config reads the file itself, to say everything that is wrong with it at once.
    if let Command::CheckConfig { connect } = cli.command {
        return config_cmd::check_config(cli.config.as_deref(), cli.db.as_deref(), connect);
    }
    let config = load_config(&cli)?;
    match cli.command {
        Command::Doc(_) => Ok(ExitCode::SUCCESS), // printed above, without a config
        Command::Run { no_mailboxes } => {
            admin::run_daemon(config, cli.config, cli.db, no_mailboxes)
        }
        Command::CheckConfig { .. } => Ok(ExitCode::SUCCESS), // checked above
        Command::Config {
            action: ConfigAction::Show { json },
        } => config_cmd::show(&config, cli.config.as_deref(), json),
        Command::Db { action } => admin::db(&config, action),
        Command::Ingest {
            paths,
            mailbox,
            json,
        } => ingest::ingest(&config, &paths, mailbox, json),
        Command::Tickets(args) => listing::tickets(&config, cli.utc, &args),
        Command::Ticket {
            reference,
            json,
            mbox,
        } => tickets::ticket(&config, cli.utc, &reference, json, mbox),
        Command::Outbox { action, all, json } => admin::outbox(&config, action, all, json),
        Command::Report {
            since,
            queue,
            json,
            html,
        } => reports::print_report(&config, &since, queue.as_deref(), json, html.as_deref()),
        Command::Explain {
            file,
            mailbox,
            json,
        } => explain::command(&config, &file, mailbox, json),
        Command::Search { query, limit, json } => {
            tickets::search(&config, cli.utc, &query, limit, json)
        }
        Command::Customer {
            address,
            json,
            erase: true,
        } => retention::erase(&config, &address, json),
        Command::Customer { address, json, .. } => {
            tickets::customer(&config, cli.utc, &address, json)
        }
        Command::Web { action } => web::command(&config, action),
    }
}
