//! Quote stripping on the layouts clients write, one structure per test.

use super::visible_text;

fn check(body: &str, expected: &str) {
    assert_eq!(visible_text(body), expected, "\n--- body:\n{body}");
}

#[test]
fn attribution_with_extra_words() {
    check(
        "Thanks, fixed.\n\nOn Thursday, October 25, 2012 at 3:03 PM, life is short. on Bob wrote:\n\n> Is it fixed?\n",
        "Thanks, fixed.",
    );
}

#[test]
fn attribution_over_two_lines() {
    check(
        "Done.\n\nOn Tue, Nov 17, 2026 at 10:00 AM, Alice Martin\n<alice@customer.example> wrote:\n> Please refund.\n",
        "Done.",
    );
}

#[test]
fn apple_mail_in_polish() {
    check(
        "Dziękuję, działa.\n\nWiadomość napisana przez Jan Kowalski <jan@example.pl> w dniu 17.11.2026, o godz. 10:00:\n\n> Czy to działa?\n",
        "Dziękuję, działa.",
    );
}

#[test]
fn a_link_line_inside_the_quote() {
    check(
        "Yes.\n\nOn Tue, 17 Nov 2026 at 10:00, Bob <bob@example.com> wrote:\n> see the page at\n<https://example.com/a/very/long/link>\n> and tell me\n",
        "Yes.",
    );
}

#[test]
fn original_message_in_more_languages() {
    for separator in [
        "-----Oprindelig meddelelse-----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Thư gốc --------",
        "-----Mensaje original-----",
    ] {
        check(
            &format!("Ok.\n\n{separator}\nFrom: Bob\nSent: today\nSubject: x\n\nold text\n"),
            "Ok.",
        );
    }
}

#[test]
fn german_mobile_footer() {
    check(
        "Passt, danke.\n\nGesendet mit der mobilen Mail App\n",
        "Passt, danke.",
    );
}

#[test]
fn outlook_block_with_a_wrapped_link_address() {
    check(
        "Agreed.\n\nFrom: Bob Stone [mailto:bob@example.com]\nSent: Tuesday, November 17, 2026 10:00 AM\nTo: Support\nSubject: Refund\n\nold\n",
        "Agreed.",
    );
    check(
        "Agreed.\n\nFrom: Bob Stone <\nbob@example.com<mailto:bob@example.com>>\nDate: Tuesday, November 17, 2026 10:00 AM\nTo: Support\nSubject: Refund\n\nold\n",
        "Agreed.",
    );
}

#[test]
fn reply_and_attribution_on_one_line() {
    check(
        "Works now, thanks! On Tue, Nov 17, 2026 at 10:00 AM, Bob <bob@example.com> wrote:\n> Does it work?\n",
        "Works now, thanks!",
    );
}
