//! The fields postdesk keeps of a message, and what is read back from them.

#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Lower-cased sender address.
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Delivered-To, X-Original-To and Envelope-To: where a plus-address token survives
    /// even when the visible recipients were rewritten.
    pub envelope_to: Vec<String>,
    pub subject: String,
    pub date: Option<i64>,
    pub text: String,
    /// Header names as written, values decoded where mail-parser decodes them.
    pub headers: Vec<(String, String)>,
    pub content_language: Option<String>,
    pub attachments: Vec<Attachment>,
    /// `multipart/report` (a delivery status notification, RFC 3464).
    pub is_report: bool,
    /// Why the message was not parsed; the fields above are then empty.
    pub unparsed: Option<String>,
    /// Same message, same key: the deduplication key.
    pub dedup_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub name: Option<String>,
    pub content_type: String,
    pub size: usize,
}

impl Parsed {
    /// First value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every address the message was sent to.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.to
            .iter()
            .chain(&self.cc)
            .chain(&self.envelope_to)
            .map(String::as_str)
    }
}

/// When the topmost `Received:` says the mail arrived (the date after its last `;`).
pub fn arrival_time(parsed: &Parsed) -> Option<i64> {
    let received = parsed.header("Received")?;
    let (_, date) = received.rsplit_once(';')?;
    mail_parser::DateTime::parse_rfc822(date.trim())
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp())
}
