//! `GET /receipt/{log}/{index}`: a receipt a resident can print (`receipt.html`) — what
//! the town wrote at that position of its public record, in words, with a QR code that
//! opens this same page again. The resident's own receipt file (its signatures, for
//! `palabre check-receipt`) is downloaded from "my participation" by the script; this page
//! only reads the public record.
//! The shared frame, loaders and helpers are `mod.rs`'s; the page reads and never writes.

use super::*;

use palabre_core::crypto::PublicKey;
use palabre_core::event::SignedEvent;

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    page: Layout,
    text: String,
    kind: &'static str,
    at: String,
    event: String,
    /// The consultation it belongs to, with its title, when it belongs to one.
    consultation: Option<(String, String)>,
    qr: String,
    /// The log (the town's key) the receipt is from.
    log: String,
}

/// What a kind of event is called on a receipt (the words of `js_kinds`).
fn kind_word(lang: Lang, kind: Kind) -> &'static str {
    let words = lang.texts().js_kinds;
    let name = kind.as_str();
    words
        .split(',')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or(name)
}

/// The site's address as the town declares it (its signed `authority` event), else as
/// this request reached it.
fn site_address<B: Backend>(site: &Site<B>, headers: &HeaderMap) -> String {
    let declared = site
        .backend
        .authority()
        .event
        .and_then(|bytes| SignedEvent::from_bytes(bytes).ok())
        .and_then(|e| match e.body() {
            Body::Authority(a) => a
                .addresses
                .iter()
                .find(|a| a.starts_with("http://") || a.starts_with("https://"))
                .cloned(),
            _ => None,
        });
    declared.unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("http://{host}")
    })
}

pub(super) async fn receipt<B: Backend>(
    State(site): State<Shared<B>>,
    Path((log, index)): Path<(String, u64)>,
    headers: HeaderMap,
) -> Response {
    let Ok(key) = log.parse::<PublicKey>() else {
        return not_found(&site, &headers);
    };
    let bytes = match site.backend.entries(&key, index, index.saturating_add(1)) {
        Ok(mut entries) if entries.len() == 1 => entries.remove(0),
        Ok(_) => return not_found(&site, &headers),
        Err(e) => return internal(e),
    };
    let Ok(Entry::Event(event)) = Entry::stored(bytes) else {
        // A purged entry's receipt still holds, but there is nothing left to show.
        return not_found(&site, &headers);
    };
    let lang = language(&headers);
    let t = lang.texts();
    let consultation = match event.body() {
        Body::Ballot(b) => Some(b.consultation),
        Body::Proposal(p) => Some(p.consultation),
        _ => None,
    }
    .map(|id| {
        let title = site
            .load(&id.to_string(), &headers)
            .map(|(_, d)| d.view.body.title.clone())
            .unwrap_or_default();
        (id.to_string(), title)
    });
    let log = key.to_string();
    let here = format!("/receipt/{log}/{index}");
    let url = format!(
        "{}{here}",
        site_address(&site, &headers).trim_end_matches('/')
    );
    let title = t.receipt_title.replace("{n}", &index.to_string());
    let qr = crate::qr::svg(&url, &title).unwrap_or_default();
    page(ReceiptPage {
        page: site.layout(&headers, &title, here),
        text: t.receipt_text.replace("{n}", &index.to_string()),
        kind: kind_word(lang, event.kind()),
        at: site.backend.time_zone().when(event.created_at_ms()),
        event: event.id().to_string(),
        consultation,
        qr,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_words() {
        assert_eq!(kind_word(Lang::Fr, Kind::Ballot), "vote");
        assert_eq!(kind_word(Lang::En, Kind::Credential), "registration");
        assert_eq!(kind_word(Lang::Fr, Kind::Proposal), "proposition");
    }
}
