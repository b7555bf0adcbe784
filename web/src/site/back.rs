//! Where `/lang/{code}` may send a visitor back to: only a page this site serves (the
//! staff area's included).
//!
//! The `back` parameter comes from anyone's link, so it is never echoed: it is matched
//! against the site's own page shapes (fixed paths, and `/c/`, `/p/` followed by an
//! event id) and rebuilt from the pieces that matched, which are plain ASCII. Anything
//! else — another host (`//x`, `/\t/x`, `/\x`), control characters, an unknown path —
//! goes back to the home page. Which pages exist is the routers' business; this list
//! only has to stay a subset of them.

/// Pages without a parameter that carry the language switch.
const FIXED: &[&str] = &[
    "/",
    "/register",
    "/me",
    "/verify",
    "/about",
    "/report",
    "/moderation",
    "/transparency",
    "/staff",
    "/staff/login",
    "/staff/consultations",
    "/staff/letters",
    "/staff/team",
    "/staff/moderation",
    "/staff/desk",
    "/staff/password",
];

/// Longest random-order seed kept on a consultation's page (a `u64` in decimal).
const MAX_SEED_DIGITS: usize = 20;

fn is_event_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The page to go back to for a requested `back`: the same page when it is one of the
/// site's (a consultation keeps its `seed`, nothing else of a query is kept), else `/`.
pub(crate) fn page_to_return_to(back: Option<&str>) -> String {
    back.and_then(known_page).unwrap_or_else(|| "/".to_owned())
}

fn known_page(back: &str) -> Option<String> {
    let (path, query) = back.split_once('?').unwrap_or((back, ""));
    if let Some(fixed) = FIXED.iter().find(|p| **p == path) {
        return Some((*fixed).to_owned());
    }
    // A staff page with a parameter (a batch, a draft) goes back to the staff area.
    if path.starts_with("/staff/") {
        return Some("/staff".to_owned());
    }
    let mut parts = path.strip_prefix('/')?.split('/');
    let (first, id, rest, more) = (parts.next()?, parts.next()?, parts.next(), parts.next());
    if !is_event_id(id) || more.is_some() {
        return None;
    }
    match (first, rest) {
        ("p", None) => Some(format!("/p/{id}")),
        // A printable receipt: a log (a key, 64 hex digits like an id) and a position.
        ("receipt", Some(n))
            if !n.is_empty()
                && n.len() <= MAX_SEED_DIGITS
                && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(format!("/receipt/{id}/{n}"))
        }
        ("c", Some(page @ ("propose" | "results"))) => Some(format!("/c/{id}/{page}")),
        ("c", None) => {
            let seed = query.strip_prefix("seed=").filter(|s| {
                !s.is_empty() && s.len() <= MAX_SEED_DIGITS && s.bytes().all(|b| b.is_ascii_digit())
            });
            Some(match seed {
                Some(seed) => format!("/c/{id}?seed={seed}"),
                None => format!("/c/{id}"),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::page_to_return_to;

    #[test]
    fn only_the_sites_pages_are_returned_to() {
        let id = "ab".repeat(32);
        let cases = [
            (Some("/about"), "/about".to_owned()),
            (Some("/\t/evil.example"), "/".to_owned()),
            (Some("/\n/x"), "/".to_owned()),
            (Some("//evil.example"), "/".to_owned()),
            (Some("/\\evil.example"), "/".to_owned()),
            (Some("https://evil.example/"), "/".to_owned()),
            (Some("/about/"), "/".to_owned()),
            (Some("/staff/team"), "/staff/team".to_owned()),
            (Some("/staff/letters/b-17"), "/staff".to_owned()),
            (Some("/staff//evil.example"), "/staff".to_owned()),
            (None, "/".to_owned()),
            (
                Some(&format!("/c/{id}?seed=42")),
                format!("/c/{id}?seed=42"),
            ),
            (Some(&format!("/c/{id}?seed=4x")), format!("/c/{id}")),
            (
                Some(&format!("/c/{id}/results")),
                format!("/c/{id}/results"),
            ),
            (Some(&format!("/c/{id}/results/x")), "/".to_owned()),
            (Some(&format!("/p/{id}")), format!("/p/{id}")),
            (Some("/p/ABC"), "/".to_owned()),
            (
                Some(&format!("/receipt/{id}/62")),
                format!("/receipt/{id}/62"),
            ),
            (Some(&format!("/receipt/{id}/6x")), "/".to_owned()),
        ];
        for (back, want) in cases {
            assert_eq!(page_to_return_to(back), want, "{back:?}");
        }
    }
}
