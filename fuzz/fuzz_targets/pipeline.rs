//! The whole pipeline entry on arbitrary bytes: parse → deduplicate → classify → route →
//! thread → decide → store, in the fixtures desk and in the same desk relaying billing to
//! its agents, then the outgoing mail each message causes, rendered by the real outbox.
//! The checks are tests/support/checked_pipeline.rs (also run on every finding by
//! tests/fuzz_regressions.rs): a panic anywhere, a store error, a multi-line header value
//! or an injected header is a crash.
#![no_main]

#[path = "../../tests/support/checked_pipeline.rs"]
mod checked_pipeline;

use std::cell::RefCell;

use checked_pipeline::CheckedDesks;
use libfuzzer_sys::fuzz_target;

thread_local! {
    static DESKS: RefCell<CheckedDesks> = RefCell::new(CheckedDesks::new());
}

fuzz_target!(|raw: &[u8]| {
    DESKS.with(|desks| {
        desks.borrow_mut().file(raw);
    });
});
