use super::visible_text;

#[test]
fn thunderbird_and_gmail_attributions() {
    let body =
        "Thanks, that fixed it.\n\nOn 16.11.2026 09:12, Alice Martin wrote:\n> I cannot log in.\n";
    assert_eq!(visible_text(body), "Thanks, that fixed it.");
    let gmail = "Sure, done.\n\nOn Mon, Nov 16, 2026 at 9:12 AM Alice Martin <\nalice@customer.example> wrote:\n\n> I cannot log in.\n";
    assert_eq!(visible_text(gmail), "Sure, done.");
}

#[test]
fn outlook_header_blocks_in_english_and_russian() {
    let en = "We reset it.\n\nBest,\nAnna\n\n________________________________\nFrom: Alice Martin <alice@customer.example>\nSent: Monday, November 16, 2026 9:12 AM\nTo: support@example.com\nSubject: Cannot log in\n\nI cannot log in.";
    assert_eq!(visible_text(en), "We reset it.\n\nBest,\nAnna");
    let ru = "Пароль сброшен.\n\nОт: Иван Петров <ivan@mail.example.ru>\nОтправлено: 16 ноября 2026 г. 9:12\nКому: support@example.com\nТема: Оплата\n\nНе могу оплатить.";
    assert_eq!(visible_text(ru), "Пароль сброшен.");
    let original = "See below.\n\n-----Original Message-----\nFrom: x@y.z\nSent: today\n\nold";
    assert_eq!(visible_text(original), "See below.");
}

#[test]
fn signatures_and_devices() {
    assert_eq!(
        visible_text("Done.\n-- \nAnna Support\n+380 44 000 0000"),
        "Done."
    );
    assert_eq!(
        visible_text("Done.\n\nSent from my iPhone\n\n> old"),
        "Done."
    );
    assert_eq!(visible_text("Готово.\n\nОтправлено с iPhone"), "Готово.");
}

#[test]
fn apple_mail_and_inline_quotes() {
    let apple = "Yes, please.\n\n> On 16 Nov 2026, at 09:12, Support <support@example.com> wrote:\n> \n> Shall we?\n";
    assert_eq!(visible_text(apple), "Yes, please.");
    // Text interleaved with quotes keeps the agent's answers.
    let inline = "> Question one?\nAnswer one.\n> Question two?\nAnswer two.";
    assert_eq!(visible_text(inline), inline);
}

#[test]
fn from_line_in_normal_text_is_kept() {
    let body = "From: the logs I see a timeout.\nPlease check.";
    assert_eq!(visible_text(body), body);
}

#[test]
fn localized_attributions() {
    for line in [
        "16.11.2026 09:12, Иван Петров пишет:",
        "16.11.2026 09:12, Олена Коваль пише:",
        "W dniu 16.11.2026 o 09:12, Paweł Wiśniewski napisał:",
        "Am 16.11.2026 um 09:12 schrieb Jürgen Müller:",
        "Le 16/11/2026 à 09:12, Marie a écrit :",
        "пн, 16 нояб. 2026 г. в 09:12, Alice Martin <alice@customer.example>:",
    ] {
        let body = format!("New text.\n\n{line}\n> old\n");
        assert_eq!(visible_text(&body), "New text.", "{line}");
    }
}

#[test]
fn attributions_without_a_verb() {
    for line in [
        "16.11.2026, 09:12, \"Иван Петров\" <ivan@mail.example.ru>:",
        "Понедельник, 16 ноября 2026, 9:12 +03:00 от Иван Петров <ivan@mail.example.ru>:",
        "2017-11-24 16:32 GMT+01:00 Baptiste <b@crisp.example>:",
    ] {
        let body = format!("Готово.\n\n{line}\n> old\n");
        assert_eq!(visible_text(&body), "Готово.", "{line}");
    }
    let old_gmail =
        "Works now.\n\n2013/7/20 sam via Meta <info@discourse.example>\n\n> Does it persist?";
    assert_eq!(visible_text(old_gmail), "Works now.");
    let zoho =
        "Yes.\n\n---- On Wed, 24 Feb 2021 14:02:50 +0530 john@gmail.example wrote ----\n\nold";
    assert_eq!(visible_text(zoho), "Yes.");
}

#[test]
fn attributions_wrapped_over_lines() {
    let german = "Danke.\n\nAm 26.5.2017\num 12:00 schrieb Adam\n<adam@example.com>:\n\n> Hallo";
    assert_eq!(visible_text(german), "Danke.");
    let gmail_fr = "Merci.\n\nLe mer. 29 juin 2022 à 12:32, Rick <rick.sanchez@example.com\n> a écrit :\n\n> Hello";
    assert_eq!(visible_text(gmail_fr), "Merci.");
    // The text line above a one-line attribution stays, dates and all.
    let dated_text = "Call me on 12/11 at 10:00\nOn Mon, Nov 16, 2026 at 9:12 AM Alice <a@customer.example> wrote:\n> Hi";
    assert_eq!(visible_text(dated_text), "Call me on 12/11 at 10:00");
    let customer_wrote = "Customer 5521 wrote:\n> It is broken\n\nWe fixed it.";
    assert_eq!(
        visible_text(customer_wrote),
        customer_wrote,
        "a sentence is not an attribution"
    );
}

#[test]
fn header_blocks_after_html_conversion_and_in_other_languages() {
    let spaced = "Your response here\n\n\nFrom: dev@example.com <dev@example.com>\n\nSent: Sunday, October 5, 2025 7:17 PM\n\nTo: a@example.com\n\nSubject: Re: Where\n\nold";
    assert_eq!(visible_text(spaced), "Your response here");
    let bold = "Kind regards\n\n---\n\n**From:** Zinc <checks@example.com>\n**Sent:** Monday, July 28, 2025 15:45\n**To:** Laura\n**Subject:** Reminder\n\nold";
    assert_eq!(visible_text(bold), "Kind regards");
    let polish = "Zwrot przyjęty.\n\nOd: Paweł <pawel@example.pl>\nWysłano: poniedziałek, 16 listopada 2026 09:12\nDo: support@example.com\nTemat: Zwrot\n\nold";
    assert_eq!(visible_text(polish), "Zwrot przyjęty.");
    let ukrainian = "Доступ відновлено.\n\nВід: Олександр <o@example.ua>\nНадіслано: понеділок, 16 листопада 2026 р. 09:12\nКому: support@example.com\nТема: Доступ\n\nold";
    assert_eq!(visible_text(ukrainian), "Доступ відновлено.");
}

#[test]
fn device_footers_in_many_languages() {
    for footer in [
        "Sent from my Wiko RIDGE FAB 4G",
        "Sent from Mail for Windows 10",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Outlook für iOS beziehen <https://example.com/download>",
        "Получить Outlook для Android<https://aka.ms/AAb9ysg>",
        "Отправлено из мобильной Почты Mail.ru",
        "Надіслано з iPhone",
        "Wysłane z iPhone'a",
        "Von meinem iPhone gesendet",
        "Envoyé depuis mon iPhone",
        "Verstuurd vanaf mijn iPhone",
    ] {
        let body = format!("Done.\n\n{footer}\n\nFrom: someone quoted");
        assert_eq!(visible_text(&body), "Done.", "{footer}");
    }
    let sentence =
        "Here is another email\n\nSent from my desk, is much easier than my mobile phone.";
    assert_eq!(visible_text(sentence), sentence);
}

#[test]
fn bottom_posted_and_interleaved_answers() {
    let bottom = "On 04/02/2012 06:26 PM, Megan wrote:\n> Hi\nHello";
    assert_eq!(visible_text(bottom), "Hello");
    let interleaved = "Добрый день!\n\n16.11.2026 09:12, Иван пишет:\n> 1. Безнал?\n\nДа.\n\n> 2. Доставка?\n\nЕсть.\n\n-- \nАнна";
    assert_eq!(
        visible_text(interleaved),
        "Добрый день!\n\n> 1. Безнал?\n\nДа.\n\n> 2. Доставка?\n\nЕсть."
    );
    let selected = "Hallo,\n\nAm 13.05.2026 um 09:05 schrieb Vorname:\n> Zitat.\n\nAntwort.";
    assert_eq!(visible_text(selected), "Hallo,\n\n> Zitat.\n\nAntwort.");
}

#[test]
fn what_follows_a_quote_decides_whether_it_is_history() {
    // A signature or a mailing-list footer under the quote is not an answer.
    let signature = "Thanks.\n\nOn Wed, May 25, 2016 at 3:13 PM <n@github.example> wrote:\n> LGTM\n--\nmy signature";
    assert_eq!(visible_text(signature), "Thanks.");
    let footer =
        "Oh thanks.\n\nOn 01/03/11 7:07 PM, Russell wrote:\n> Hi\n\n__\nriak-users mailing list";
    assert_eq!(visible_text(footer), "Oh thanks.");
    // Gmail on Android breaks long quoted lines without repeating the marker.
    let wrapped = "This is a test\n\nOn Sep 21, 2016 3:18 PM, \"frugal\" <noreply@frugal.example> wrote:\n> Pitchfork occupy vegan pabst hammock. Wayfarers etsy pok pok, kale chips\nbrooklyn four dollar toast.\n> Akeem";
    assert_eq!(visible_text(wrapped), "This is a test");
}

#[test]
fn attribution_glued_to_the_text_by_html_conversion() {
    let glued =
        "FooBarOn 2016-03-25, at 23:01, John Doe <john@doe.example> wrote:Some important email";
    assert_eq!(visible_text(glued), "FooBar");
}

#[test]
fn rules_above_a_cut_go_but_rules_in_the_text_stay() {
    let text = "## Key Points\n----\n\n1. Faster\n\n====\n\nMore.";
    assert_eq!(visible_text(text), text);
    let outlook = "Done.\n\n________________________________\nFrom: A <a@example.com>\nSent: today\nTo: b\nSubject: x";
    assert_eq!(visible_text(outlook), "Done.");
}
