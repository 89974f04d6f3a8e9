//! The configuration file as serde reads it from TOML, before any check. Every table
//! refuses unknown keys so that a typo is an error naming the key, not a silent default
//! (the reader collects each one and carries on: see `document`). Keys the file must have
//! are options here too, so that a missing one is a problem of its own and not the end.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) database: Option<PathBuf>,
    pub(super) ticket_tag: Option<String>,
    pub(super) token_key_file: Option<PathBuf>,
    pub(super) templates: Option<PathBuf>,
    pub(super) log_level: Option<String>,
    #[serde(default)]
    pub(super) defaults: RawPolicy,
    pub(super) calendar: Option<RawCalendar>,
    pub(super) smtp: Option<RawSmtp>,
    #[serde(default)]
    pub(super) mailbox: Vec<RawMailbox>,
    #[serde(default)]
    pub(super) queue: Vec<RawQueue>,
    #[serde(default)]
    pub(super) rule: Vec<RawRule>,
    #[serde(default)]
    pub(super) vip: RawVip,
    #[serde(default)]
    pub(super) ingest: RawIngest,
    pub(super) report: Option<RawReport>,
    pub(super) web: Option<RawWeb>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub(super) listen: Option<String>,
    #[serde(default)]
    pub(super) trusted_proxy: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    #[serde(default)]
    pub(super) recipients: Vec<String>,
    pub(super) weekly: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) ack_delay: Option<String>,
    pub(super) response_target: Option<String>,
    pub(super) warn_at: Option<f64>,
    pub(super) estimate_quantile: Option<f64>,
    pub(super) estimate_default: Option<String>,
    pub(super) estimate_min_samples: Option<u32>,
    pub(super) ack_daily_cap: Option<u32>,
    pub(super) breach_notice: Option<String>,
    pub(super) warning_notice: Option<String>,
    pub(super) retention: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCalendar {
    pub(super) timezone: Option<String>,
    pub(super) hours: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub(super) holidays: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSmtp {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    pub(super) password_credential: Option<String>,
    pub(super) max_attempts: Option<u32>,
    pub(super) retry_delay: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMailbox {
    pub(super) name: Option<String>,
    pub(super) address: Option<String>,
    pub(super) display_name: Option<String>,
    #[serde(default)]
    pub(super) reply_token: bool,
    #[serde(default)]
    pub(super) acknowledge_own_domain: bool,
    pub(super) queue: Option<String>,
    pub(super) folders: Option<Vec<String>>,
    #[serde(default)]
    pub(super) sent_folders: Vec<String>,
    pub(super) imap: Option<RawImap>,
    pub(super) maildir: Option<PathBuf>,
    pub(super) poll_interval: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImap {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) tls: Option<String>,
    pub(super) user: Option<String>,
    pub(super) password_file: Option<PathBuf>,
    pub(super) password_env: Option<String>,
    pub(super) password_credential: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) agents: Vec<String>,
    pub(super) escalation: Option<String>,
    pub(super) mode: Option<String>,
    pub(super) imap_folder: Option<String>,
    pub(super) calendar: Option<RawCalendar>,
    pub(super) thanks_closes: Option<bool>,
    // The keys of [`RawPolicy`], listed here rather than flattened so that an unknown key
    // is refused at its own place with the queue's whole list of keys.
    pub(super) ack_delay: Option<String>,
    pub(super) response_target: Option<String>,
    pub(super) warn_at: Option<f64>,
    pub(super) estimate_quantile: Option<f64>,
    pub(super) estimate_default: Option<String>,
    pub(super) estimate_min_samples: Option<u32>,
    pub(super) ack_daily_cap: Option<u32>,
    pub(super) breach_notice: Option<String>,
    pub(super) warning_notice: Option<String>,
    pub(super) retention: Option<String>,
}

impl RawQueue {
    /// The queue's own response-time keys, over `[defaults]`.
    pub(super) fn policy(&self) -> RawPolicy {
        RawPolicy {
            ack_delay: self.ack_delay.clone(),
            response_target: self.response_target.clone(),
            warn_at: self.warn_at,
            estimate_quantile: self.estimate_quantile,
            estimate_default: self.estimate_default.clone(),
            estimate_min_samples: self.estimate_min_samples,
            ack_daily_cap: self.ack_daily_cap,
            breach_notice: self.breach_notice.clone(),
            warning_notice: self.warning_notice.clone(),
            retention: self.retention.clone(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) from: Option<String>,
    pub(super) to: Option<String>,
    pub(super) cc: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) body: Option<String>,
    #[serde(default)]
    pub(super) header: BTreeMap<String, String>,
    pub(super) queue: Option<String>,
    pub(super) category: Option<String>,
    pub(super) priority: Option<String>,
    #[serde(default)]
    pub(super) labels: Vec<String>,
    #[serde(default)]
    pub(super) ignore: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVip {
    #[serde(default)]
    pub(super) domains: Vec<String>,
    #[serde(default)]
    pub(super) senders: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIngest {
    pub(super) max_message_bytes: Option<usize>,
    pub(super) max_header_lines: Option<usize>,
    pub(super) thread_window: Option<String>,
    pub(super) agent_token_lifetime: Option<String>,
    #[serde(default)]
    pub(super) trusted_authserv_ids: Vec<String>,
}
