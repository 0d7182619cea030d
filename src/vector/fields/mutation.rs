//! A deliberately broken field-index update, so that the crash tests can show they catch one
//! (the mutation check). Set per thread: only commits made on the thread that set it are
//! broken, so tests running in parallel do not disturb each other.

use std::cell::Cell;

/// How commits on this thread update the field postings.
///
/// ```
/// use quiver::testing::{FieldMutation, set_field_mutation};
/// set_field_mutation(FieldMutation::SeparateTransaction);
/// set_field_mutation(FieldMutation::None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldMutation {
    /// Correct: postings in the rows' transaction.
    #[default]
    None,
    /// Broken: the postings are written by a second, non-durable transaction after the rows'
    /// commit, so a crash between the two leaves them behind the rows.
    SeparateTransaction,
}

thread_local! {
    static MUTATION: Cell<FieldMutation> = const { Cell::new(FieldMutation::None) };
}

/// Sets how commits made on this thread update field postings (tests only).
///
/// ```
/// quiver::testing::set_field_mutation(quiver::testing::FieldMutation::None);
/// ```
pub fn set_field_mutation(mutation: FieldMutation) {
    MUTATION.with(|m| m.set(mutation));
}

/// The mutation set on this thread.
pub(crate) fn field_mutation() -> FieldMutation {
    MUTATION.with(Cell::get)
}
