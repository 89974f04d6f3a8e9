//! Agents answer from their own mail client: what they wrote (without quoted history and
//! signature), the commands on its first lines, and relay mode.

pub mod commands;
pub mod quote;
pub mod relay;
