//! Agents answer from their own mail client: what they wrote (without quoted history and
//! signature) and the commands on its first lines.

pub mod commands;
pub mod quote;
