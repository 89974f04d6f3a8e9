//! Dropping a parsed message without recursion.

use mail_parser::{Message, PartType};

/// A parsed message that is taken apart on the heap when it is dropped. mail-parser keeps
/// an attached message inside its part and drops it recursively: a message nested 10,000
/// deep (hostile mail, a few hundred kilobytes) overflowed the stack when it went out of
/// scope, killing the process.
pub(super) struct FlatDrop<'x>(pub(super) Message<'x>);

impl<'x> std::ops::Deref for FlatDrop<'x> {
    type Target = Message<'x>;

    fn deref(&self) -> &Message<'x> {
        &self.0
    }
}

impl Drop for FlatDrop<'_> {
    fn drop(&mut self) {
        let mut detached = vec![std::mem::take(&mut self.0)];
        while let Some(mut message) = detached.pop() {
            for part in &mut message.parts {
                if matches!(part.body, PartType::Message(_))
                    && let PartType::Message(inner) = std::mem::take(&mut part.body)
                {
                    detached.push(inner);
                }
            }
            // `message` goes here, with no message left inside it
        }
    }
}
