//! The mixed mail the benchmarks ingest (benches/ingest.rs offline, benches/imap_catchup.rs
//! through a private Dovecot), built from fixtures/mail so both measure the same messages.

use std::path::Path;

/// How many messages [`generate`] makes.
pub const MESSAGES: usize = 10_000;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/mail")
            .join(name),
    )
    .unwrap()
}

/// Replaces the From and Message-ID of a template and adds headers after them.
fn rewrite(template: &[u8], from: &str, id: &str, extra: &str) -> Vec<u8> {
    let text = template;
    let split = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|p| p + 1)
        .unwrap_or(text.len());
    let (head, body) = text.split_at(split);
    let mut out = Vec::with_capacity(text.len() + 200);
    let mut skipping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if folded && skipping {
            continue;
        }
        skipping = false;
        let lower = line.to_ascii_lowercase();
        if lower.starts_with(b"from:") {
            out.extend_from_slice(format!("From: Customer <{from}>\n").as_bytes());
            skipping = true;
        } else if lower.starts_with(b"message-id:") {
            out.extend_from_slice(format!("Message-ID: <{id}>\n{extra}").as_bytes());
            skipping = true;
        } else if lower.starts_with(b"in-reply-to:") || lower.starts_with(b"references:") {
            skipping = true;
        } else {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    out
}

fn attachment_mail(from: &str, id: &str, n: usize) -> Vec<u8> {
    let payload: String = (0..20_000)
        .map(|i| (b'A' + ((i * 7 + n) % 26) as u8) as char)
        .collect();
    let mut b64 = String::new();
    for chunk in payload.as_bytes().chunks(57) {
        b64.push_str(&base64_line(chunk));
        b64.push('\n');
    }
    format!(
        "From: {from}\nTo: support@example.com\nSubject: Log file for case {n}\nDate: Tue, 17 Nov 2026 10:00:00 +0000\nMessage-ID: <{id}>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b{n}\"\n\n--b{n}\nContent-Type: text/plain; charset=utf-8\n\nThe application crashes, the log is attached.\n--b{n}\nContent-Type: text/plain; name=\"app.log\"\nContent-Disposition: attachment; filename=\"app.log\"\nContent-Transfer-Encoding: base64\n\n{b64}--b{n}--\n"
    )
    .into_bytes()
}

fn base64_line(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The benchmarks' mail: 35% new requests in eight charsets and layouts, 35% replies
/// threading by In-Reply-To/References, 20% automatic mail, 10% with a 20 KB attachment.
pub fn generate() -> Vec<Vec<u8>> {
    let requests = [
        fixture("01-charset-koi8r.eml"),
        fixture("02-charset-cp1251.eml"),
        fixture("03-charset-iso8859-2.eml"),
        fixture("04-charset-iso2022jp.eml"),
        fixture("05-encoded-words.eml"),
        fixture("06-request-en.eml"),
        fixture("17-request-html-only.eml"),
        fixture("19-request-invoice.eml"),
    ];
    let automatic = [
        fixture("08-autoreply-rfc3834.eml"),
        fixture("09-autoreply-ooo-subject.eml"),
        fixture("12-bounce-dsn.eml"),
        fixture("13-list.eml"),
    ];
    let mut messages = Vec::with_capacity(MESSAGES);
    let mut parents: Vec<(String, String, usize)> = Vec::new();
    for n in 0..MESSAGES {
        let id = format!("bench-{n}@customer{}.example", n % 97);
        let raw = match n % 20 {
            // 35% new requests in eight charsets and layouts
            0..=6 => {
                let from = format!("customer{n}@mail{}.example", n % 89);
                parents.push((id.clone(), from.clone(), n % requests.len()));
                rewrite(&requests[n % requests.len()], &from, &id, "")
            }
            // 35% replies that thread by In-Reply-To/References
            7..=13 if !parents.is_empty() => {
                let (parent, from, template) = &parents[(n * 31) % parents.len()];
                let extra = format!("In-Reply-To: <{parent}>\nReferences: <{parent}>\n");
                rewrite(&requests[*template], from, &id, &extra)
            }
            // 20% automatic replies, bounces and list mail
            14..=17 => rewrite(
                &automatic[n % automatic.len()],
                &format!("robot{n}@auto.example"),
                &id,
                "",
            ),
            // 10% with a 20 KB attachment
            _ => attachment_mail(&format!("logs{n}@shop.example"), &id, n),
        };
        messages.push(raw);
    }
    messages
}
