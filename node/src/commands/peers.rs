//! `palabre peers add|remove|list`: the towns this node federates with, kept in
//! `peers.toml` (read when the node starts; `home.rs` reads and writes the file).

use std::path::PathBuf;

use crate::cli::PeersAction;
use crate::home::{self, Home};

pub(super) fn peers(data: PathBuf, action: PeersAction) -> anyhow::Result<()> {
    let home = Home::open_or_create(&data)?;
    let mut list = home.peers()?;
    match action {
        PeersAction::Add {
            authority,
            addrs,
            name,
        } => {
            anyhow::ensure!(
                authority != home.key.public_key(),
                "that is this town's own key"
            );
            for a in &addrs {
                a.parse::<palabre_net::Multiaddr>().map_err(|e| {
                    anyhow::anyhow!("{a:?} is not an address like /ip4/192.0.2.7/tcp/4040: {e}")
                })?;
            }
            match list.peer.iter_mut().find(|p| p.authority == authority) {
                Some(p) => {
                    for a in addrs {
                        if !p.addrs.contains(&a) {
                            p.addrs.push(a);
                        }
                    }
                    if !name.is_empty() {
                        p.name = name;
                    }
                }
                None => list.peer.push(home::Peer {
                    authority,
                    name,
                    addrs,
                }),
            }
            home.save_peers(&list)?;
            println!("Federating with {authority} (restart the node to apply).");
        }
        PeersAction::Remove { authority } => {
            let before = list.peer.len();
            list.peer.retain(|p| p.authority != authority);
            anyhow::ensure!(list.peer.len() < before, "{authority} is not in the list");
            home.save_peers(&list)?;
            println!("No longer federating with {authority} (restart the node to apply).");
        }
        PeersAction::List => {
            if list.peer.is_empty() {
                println!("No federated towns.");
            }
            for p in &list.peer {
                let name = if p.name.is_empty() { "-" } else { &p.name };
                println!("{}  {name}  {}", p.authority, p.addrs.join(" "));
            }
        }
    }
    Ok(())
}
