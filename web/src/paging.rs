//! Pages of a consultation's thread, shared by the site and the API: items in one fixed
//! order (creation time, then id), a cursor naming the last item a page showed, and a
//! page cut at a number of items and at a number of bytes, whatever the log holds
//! (issue 19, point 3). What a page shows, and how it links to the next, is left to
//! its handler (`site/proposal.rs`, `api/discussion.rs`).

use std::fmt;

use palabre_core::ids::EventId;

/// Where a page ends: the creation time and id of its last item. The next page starts
/// after it, so an item recorded meanwhile never shifts the pages already read (one
/// created earlier than the cursor, from a slow clock or a late replica, is on no later
/// page: reload from the start to see it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub at_ms: u64,
    pub id: EventId,
}

impl fmt::Display for Cursor {
    /// `{at_ms}-{id}`, what the `after` parameter carries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.at_ms, self.id)
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();
    fn from_str(text: &str) -> Result<Cursor, ()> {
        let (at, id) = text.split_once('-').ok_or(())?;
        if at.is_empty() || !at.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        Ok(Cursor {
            at_ms: at.parse().map_err(|_| ())?,
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// How a page is cut: at most `max_items`, and no more than `max_bytes` as measured by
/// the caller (the first item always fits, whatever its size).
#[derive(Debug, Clone, Copy)]
pub struct Cut {
    pub max_items: usize,
    pub max_bytes: usize,
}

/// The page of `items` after `after`: sorted by their cursor, cut by `cut` with `bytes`
/// measuring each, and the cursor of the next page when items remain.
pub fn page<T>(
    mut items: Vec<T>,
    key: impl Fn(&T) -> Cursor,
    after: Option<Cursor>,
    cut: Cut,
    bytes: impl Fn(&T) -> usize,
) -> (Vec<T>, Option<Cursor>) {
    items.sort_by_key(|t| key(t));
    let mut rest = items
        .into_iter()
        .filter(|t| after.is_none_or(|a| key(t) > a))
        .peekable();
    let (mut out, mut used) = (Vec::new(), 0usize);
    while let Some(next) = rest.peek() {
        let size = bytes(next);
        if out.len() == cut.max_items || (!out.is_empty() && used + size > cut.max_bytes) {
            break;
        }
        used += size;
        out.extend(rest.next());
    }
    let more = rest.peek().is_some();
    let next = match (more, out.last()) {
        (true, Some(last)) => Some(key(last)),
        _ => None,
    };
    (out, next)
}

/// The bytes `text` takes once escaped in HTML (what a page's budget counts).
pub fn html_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '&' => 5,
            '<' | '>' => 4,
            '"' | '\'' => 5,
            c => c.len_utf8(),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EventId {
        EventId(palabre_core::ids::Hash([n; 32]))
    }

    #[test]
    fn pages_follow_each_other_without_gap_or_repeat() {
        let items: Vec<(u64, u8)> = (0..25u8).rev().map(|n| (u64::from(n / 2), n)).collect();
        let key = |t: &(u64, u8)| Cursor {
            at_ms: t.0,
            id: id(t.1),
        };
        let cut = Cut {
            max_items: 4,
            max_bytes: 30,
        };
        let (mut seen, mut after) = (Vec::new(), None);
        loop {
            let (page, next) = page(items.clone(), key, after, cut, |t| usize::from(t.1));
            assert!(!page.is_empty() && page.len() <= 4);
            let bytes: usize = page.iter().map(|t| usize::from(t.1)).sum();
            assert!(page.len() == 1 || bytes <= 30, "{page:?}");
            seen.extend(page.iter().map(|t| t.1));
            match next {
                Some(c) => {
                    assert_eq!(c.to_string().parse(), Ok(c));
                    after = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(seen, (0..25).collect::<Vec<u8>>());
    }

    #[test]
    fn cursors_parse_strictly() {
        for bad in ["", "-", "12", "x-00", "+1-00", &format!("-{}", id(1))] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
        assert!(format!("7-{}", id(1)).parse::<Cursor>().is_ok());
    }

    #[test]
    fn escaped_text_is_counted_as_sent() {
        assert_eq!(html_len("a&<é\""), 1 + 5 + 4 + 2 + 5);
    }
}
