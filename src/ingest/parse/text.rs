//! Text as derived fields keep it: on one line, cut to a bound on a character boundary.

/// At most `max` characters of `text`, cut on a character boundary.
pub fn cut_chars(mut text: String, max: usize) -> String {
    if let Some((end, _)) = text.char_indices().nth(max) {
        text.truncate(end);
    }
    text
}

/// At most `max` bytes of `text`, cut on a character boundary.
pub fn cut_bytes(mut text: String, max: usize) -> String {
    text.truncate(text.floor_char_boundary(max));
    text
}

pub fn normalize_address(address: &str) -> String {
    one_line(address).trim().to_lowercase()
}

/// Header-derived text never carries line breaks or control characters onwards: its words,
/// separated by one space.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// [`one_line`] cut at `max` characters, reading no further into `text` than that takes:
/// a 50 MB subject costs a kilobyte, not two more copies of itself.
pub fn one_line_max(text: &str, max: usize) -> String {
    // One pass over the characters: a separator run becomes one space before the next
    // word, and reading stops at the `max`th character kept.
    let mut out = String::with_capacity(text.len().min(max.saturating_mul(4)));
    let (mut length, mut gap) = (0, false);
    for c in text.chars() {
        if length == max {
            break;
        }
        if c.is_control() || c.is_whitespace() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
            length += 1;
            if length == max {
                break;
            }
        }
        gap = false;
        out.push(c);
        length += 1;
    }
    out
}
