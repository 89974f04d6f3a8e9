use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Retention, RetentionUnit};

#[test]
fn a_retention_reads_as_written() {
    for text in ["90d", "26w", "18mo", "3y", "forever"] {
        assert_eq!(Retention::parse(text).unwrap().to_string(), text);
    }
    assert_eq!(
        Retention::parse("3y").unwrap(),
        Retention::For(3, RetentionUnit::Years)
    );
    for wrong in ["", "3", "y", "0d", "3 years", "-1y", "3m", "5000y"] {
        let error = Retention::parse(wrong).unwrap_err();
        assert!(error.contains("\"3y\""), "{wrong}: {error}");
    }
}

#[test]
fn a_retention_counts_back_in_the_calendar() {
    let now: Timestamp = "2026-03-01T12:00:00Z".parse().unwrap();
    let utc = TimeZone::UTC;
    let back = |text: &str| {
        Retention::parse(text)
            .unwrap()
            .cutoff(now, &utc)
            .map(|t| t.to_string())
    };
    assert_eq!(back("3y").as_deref(), Some("2023-03-01T12:00:00Z"));
    assert_eq!(back("1mo").as_deref(), Some("2026-02-01T12:00:00Z"));
    assert_eq!(back("2w").as_deref(), Some("2026-02-15T12:00:00Z"));
    assert_eq!(back("forever"), None);
}
