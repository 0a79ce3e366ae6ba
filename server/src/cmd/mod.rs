//! Commands: one family per file, each declaring its entries of the command table next to
//! its handlers.

pub mod acl;
pub mod args;
pub mod bits;
pub mod client;
pub mod command;
pub mod config;
pub mod connection;
pub mod expire;
pub mod hash;
pub mod info;
pub mod keyspace;
pub mod list;
pub mod namespace;
pub mod object;
pub mod save;
pub mod scan;
pub mod server;
pub mod set;
pub mod spec;
pub mod string_options;
pub mod strings;
pub mod table;
pub mod transaction;
pub mod zset;

use std::sync::Arc;

pub use spec::{CommandSpec, Handler};

use crate::client::ClientState;
use crate::db::Db;
use crate::shared::Shared;

/// Every family's entries; `table.rs` indexes them. Adding a family is one line here.
pub const FAMILIES: &[&[CommandSpec]] = &[
    strings::COMMANDS,
    bits::COMMANDS,
    keyspace::COMMANDS,
    expire::COMMANDS,
    scan::COMMANDS,
    object::COMMANDS,
    connection::COMMANDS,
    client::COMMANDS,
    server::COMMANDS,
    info::COMMANDS,
    config::COMMANDS,
    command::COMMANDS,
    hash::COMMANDS,
    list::COMMANDS,
    set::COMMANDS,
    zset::COMMANDS,
    transaction::COMMANDS,
    save::COMMANDS,
    namespace::COMMANDS,
    acl::COMMANDS,
];

/// What a handler can reach: the server's shared state and its own connection's state.
pub struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub client: &'a mut ClientState,
}

impl Ctx<'_> {
    /// The database the connection has selected (after SWAPDB's mapping).
    pub fn db(&self) -> Db<'_> {
        self.shared.db(&self.client.namespace, self.client.db)
    }
}
