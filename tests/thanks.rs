//! The thank-you rule on a labelled set of customer follow-ups (tests/thanks/labelled.tsv,
//! composed for this test in EN/RU/UK/PL/DE): no real follow-up may be taken for thanks;
//! prints the share of thank-yous recognised. Figures for this set only.

use postdesk::ingest::thanks::is_only_thanks;

#[test]
fn no_follow_up_is_taken_for_thanks() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/thanks/labelled.tsv");
    let text = std::fs::read_to_string(path).unwrap();
    let (mut thanks, mut recognised, mut follow_ups, mut missed) = (0, 0, 0, Vec::new());
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let (label, body) = line.split_once('\t').expect("label<TAB>text");
        let body = body.replace("\\n", "\n");
        match label {
            "thanks" => {
                thanks += 1;
                recognised += usize::from(is_only_thanks(&body));
            }
            "follow_up" => {
                follow_ups += 1;
                if is_only_thanks(&body) {
                    missed.push(body);
                }
            }
            other => panic!("unknown label {other}"),
        }
    }
    println!(
        "thanks: {recognised}/{thanks} thank-yous recognised; {} of {follow_ups} follow-ups taken for thanks",
        missed.len()
    );
    assert!(
        missed.is_empty(),
        "follow-ups taken for thanks: {missed:#?}"
    );
    assert!(thanks >= 60 && follow_ups >= 80 && thanks + follow_ups >= 150);
    assert!(recognised * 10 >= thanks * 8, "{recognised}/{thanks}");
}
