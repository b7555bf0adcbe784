//! Who is asking: the client address every limit counts by.
//!
//! The address is the socket's peer, unless that peer is a reverse proxy the operator
//! named (`ApiConfig::trusted_proxies`): then it is the last address of
//! `X-Forwarded-For` that is not itself a trusted proxy. Without a trusted proxy the
//! header is ignored, since any client can write it. [`resolve`] runs once per request,
//! first, and leaves a [`ClientAddr`] in the request's extensions for the rate limits,
//! the staff lock-out and the logs. [`Bucket`] is how limits group addresses: an IPv4
//! address alone, an IPv6 address by its /64 (one subscriber's network). What each limit
//! does with it is its own module's business.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// The client's address as the limits see it (`None`: no socket, as in tests through a
/// bare router).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub Option<IpAddr>);

/// What a limit counts by: an IPv4 address, or an IPv6 /64 (IPv4-mapped IPv6 addresses
/// count as their IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bucket(IpAddr);

impl Bucket {
    pub fn of(address: Option<IpAddr>) -> Bucket {
        match address {
            None => Bucket(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Some(IpAddr::V4(v4)) => Bucket(IpAddr::V4(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Bucket(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    Bucket(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }
}

/// The client of a request, from its peer and headers, trusting `X-Forwarded-For` only
/// from a peer in `trusted`.
pub fn client_of(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else {
            return Some(peer);
        };
        for hop in text.split(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => hops.push(ip),
                // A hop we cannot read: trust nothing left of it.
                Err(_) => hops.clear(),
            }
        }
    }
    // From the right: the first hop no trusted proxy wrote is the client.
    Some(
        hops.iter()
            .rev()
            .find(|ip| !trusted.contains(ip))
            .or(hops.first())
            .copied()
            .unwrap_or(peer),
    )
}

/// Middleware: puts the request's [`ClientAddr`] in its extensions.
pub async fn resolve(trusted: Arc<[IpAddr]>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let client = client_of(peer, request.headers(), &trusted);
    request.extensions_mut().insert(ClientAddr(client));
    next.run(request).await
}

/// The client of a request that went through [`resolve`] (else its socket's peer).
pub fn of_request(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientAddr>().map_or_else(
        || {
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip())
        },
        |c| c.0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an address")
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("a header value"));
        }
        h
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy = ip("127.0.0.1");
        let h = xff(&["203.0.113.9"]);
        assert_eq!(
            client_of(Some(proxy), &h, &[]),
            Some(proxy),
            "no proxy trusted"
        );
        assert_eq!(
            client_of(Some(ip("198.51.100.1")), &h, &[proxy]),
            Some(ip("198.51.100.1"))
        );
        assert_eq!(
            client_of(Some(proxy), &h, &[proxy]),
            Some(ip("203.0.113.9"))
        );
        // A client's own forged hops are left of the one the proxy appended.
        let h = xff(&["1.2.3.4, 203.0.113.9"]);
        assert_eq!(
            client_of(Some(proxy), &h, &[proxy]),
            Some(ip("203.0.113.9"))
        );
        let h = xff(&["garbage", "203.0.113.9, 127.0.0.1"]);
        assert_eq!(
            client_of(Some(proxy), &h, &[proxy]),
            Some(ip("203.0.113.9"))
        );
        assert_eq!(
            client_of(Some(proxy), &HeaderMap::new(), &[proxy]),
            Some(proxy)
        );
    }

    #[test]
    fn ipv6_is_bucketed_by_64() {
        assert_eq!(
            Bucket::of(Some(ip("2001:db8:a:b:1::1"))),
            Bucket::of(Some(ip("2001:db8:a:b:ffff:ffff:ffff:ffff")))
        );
        assert_ne!(
            Bucket::of(Some(ip("2001:db8:a:b::1"))),
            Bucket::of(Some(ip("2001:db8:a:c::1")))
        );
        assert_eq!(
            Bucket::of(Some(ip("::ffff:192.0.2.1"))),
            Bucket::of(Some(ip("192.0.2.1")))
        );
        assert_ne!(
            Bucket::of(Some(ip("192.0.2.1"))),
            Bucket::of(Some(ip("192.0.2.2")))
        );
    }
}
