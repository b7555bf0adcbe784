//! A staff form read as name–value pairs, for the forms whose fields repeat (checkboxes):
//! the consultation draft, its trustees, the desk's ballot.

/// A form whose fields repeat (checkboxes), as name–value pairs.
pub(crate) type Pairs = Vec<(String, String)>;

/// The first value of `name` in a form, or "".
pub(crate) fn value(form: &Pairs, name: &str) -> String {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}
