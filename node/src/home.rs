//! The node's data directory: created on first start with the authority key (readable by
//! its owner only), a commented config file, and the store.
//!
//! Layout: `authority.key` (hex of the 32-byte seed, mode 0600), `trustee.key` and
//! `trustee-shares.json` (the town's secrets as a trustee of secret ballots, mode 0600:
//! `trustee.rs`), `palabre.toml`
//! (settings; `PALABRE_*` environment variables override them), `peers.toml` (the
//! federation: the towns this node replicates, kept by `palabre peers`), `store/` (sled),
//! and, while the node serves, `control.sock` (how `palabre backup` reaches it).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use palabre_core::crypto::SecretKey;
use serde::{Deserialize, Serialize};

use crate::trustee::TrusteeKey;

/// Settings from `palabre.toml`, then the environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub http: String,
    /// The municipality's name, in its `authority` event.
    pub name: String,
    /// Its official code (INSEE); may be empty.
    pub code: String,
    /// The town hall's postal address, its desk's opening hours, a contact (telephone,
    /// e-mail) and whom to ask about personal data: printed on letters and shown on the
    /// home and About pages (`palabre_web::TownHall`). Each may be empty.
    pub address: String,
    pub desk_hours: String,
    pub contact: String,
    pub privacy_contact: String,
    /// The town's time zone (an IANA name): every time residents and staff read or type.
    pub time_zone: String,
    /// Where residents reach this node (printed on letters, in the authority event).
    /// Empty: derived from the address actually served (see [`Config::public_url_for`]).
    pub public_url: String,
    /// sled page cache, in MiB.
    pub cache_mib: u64,
    /// Requests per second allowed to one client address, and its burst.
    pub rate_per_second: f64,
    pub rate_burst: f64,
    /// How long after a vote closes this node waits before closing its log for it.
    pub close_grace_ms: u64,
    /// As a trustee of a secret consultation, how long (ms) this node waits for its
    /// predecessor's mix before mixing the tip it holds (SECRET-BALLOTS.md §4.9).
    pub mix_timeout_ms: u64,
    /// As a trustee, how many days after the audited result it keeps its key share of
    /// a secret consultation before deleting it.
    pub secret_share_retention_days: u64,
    /// Where the federation's peers reach this node (a libp2p multiaddr).
    pub p2p_listen: String,
    /// How long a staff member stays logged in, in seconds.
    pub staff_session_seconds: u64,
    /// HTTP connections open at once (0: derived from the file limit, see
    /// `palabre_web::conn::ConnLimits::for_file_limit`), and from one address.
    pub http_max_connections: usize,
    pub http_max_connections_per_address: usize,
    /// Seconds a client has to send a whole request head (also how long an idle
    /// keep-alive connection stays open).
    pub http_header_timeout_seconds: u64,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// Shifts the node's clock by this many milliseconds (`clock.rs`): for rehearsing a
    /// consultation's calendar and for tests; 0 in service.
    pub clock_offset_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            http: "127.0.0.1:8080".into(),
            name: "Ville de Palabre".into(),
            code: String::new(),
            address: String::new(),
            desk_hours: String::new(),
            contact: String::new(),
            privacy_contact: String::new(),
            time_zone: "Europe/Paris".into(),
            public_url: String::new(),
            cache_mib: 16,
            rate_per_second: 50.0,
            rate_burst: 200.0,
            close_grace_ms: DEFAULT_CLOSE_GRACE_MS,
            mix_timeout_ms: palabre_core::secret::cascade::DEFAULT_MIX_TIMEOUT_MS,
            secret_share_retention_days: 30,
            p2p_listen: "/ip4/0.0.0.0/tcp/4040".into(),
            staff_session_seconds: 10 * 60 * 60,
            http_max_connections: 0,
            http_max_connections_per_address: 64,
            http_header_timeout_seconds: 10,
            trusted_proxies: Vec::new(),
            clock_offset_ms: 0,
        }
    }
}

const CONFIG_TEMPLATE: &str = r#"# Palabre node settings. Every line is optional; a PALABRE_<NAME> environment
# variable (e.g. PALABRE_HTTP) overrides the setting of the same name.

# Address the web server listens on. Use 0.0.0.0:8080 to listen on every interface.
http = "127.0.0.1:8080"

# The municipality's name and official code (INSEE), as residents will see them.
name = "Ville de Palabre"
code = ""

# How residents reach the town hall in person: printed on every invitation letter and
# shown on the site's home and About pages (the About page's privacy notice names
# privacy_contact, or contact when it is empty, as whom to ask about personal data).
# address = "1 place de la Mairie, 12345 Palabre"
# desk_hours = "du lundi au vendredi, 9 h – 12 h et 14 h – 17 h"
# contact = "05 00 00 00 00 · mairie@palabre.example.org"
# privacy_contact = "dpo@palabre.example.org"

# The town's time zone (an IANA name): every time shown to residents and staff, and
# typed in the staff forms, is in it. The signed record keeps UTC.
time_zone = "Europe/Paris"

# The address residents type to reach this node (printed on invitation letters and
# declared in the town's authority event). Unset, it is http://<the address served>,
# which only this computer reaches unless `http` names a public interface: the staff
# pages then warn, and refuse to print letters (except with `serve --demo`).
# public_url = "https://palabre.example.org"

# Memory for the store's page cache, in MiB.
cache_mib = 16

# Requests per second one address may make, and how many at once (a town hall's
# shared Wi-Fi is one address: keep this generous).
rate_per_second = 50.0
rate_burst = 200.0

# After a vote closes, how long (ms) to wait before this node closes its log for it.
# A ballot dated just before the close may arrive up to 5 minutes later (the clock
# tolerance) and must still count: keep at least 301000.
close_grace_ms = 301000

# Secret consultations, as a trustee town: how long (ms) to wait for the previous
# trustee's mix before mixing without it (every town of a federation should use the
# same value), and how many days after the result to keep this town's key share
# before deleting it (it can then never open that consultation again).
mix_timeout_ms = 7200000
secret_share_retention_days = 30

# Where the federation's other town halls reach this node (TCP port 4040 on every
# interface). Federation starts once `palabre peers add` has named a town.
p2p_listen = "/ip4/0.0.0.0/tcp/4040"

# How long (seconds) a staff member stays logged in on /staff. On a shared desk
# computer, shorter is safer.
staff_session_seconds = 36000

# Connections (docs/OPERATIONS.md, "Threat model and limits"): how many may be open at
# once (0: half the file limit left after 512 for the store and federation, at most
# 4096), how many from one address (an IPv6 /64 counts as one), and how many seconds a
# client has to send a request head (an idle keep-alive connection closes after that).
http_max_connections = 0
http_max_connections_per_address = 64
http_header_timeout_seconds = 10

# Behind a reverse proxy on this machine (nginx), name it so that limits count the
# client from its X-Forwarded-For; unset, that header is ignored.
# trusted_proxies = ["127.0.0.1", "::1"]
"#;

impl Config {
    /// The town hall as residents reach it in person; a demo without settings of its own
    /// shows example ones, marked as such.
    pub fn town_hall(&self, demo: bool) -> palabre_web::TownHall {
        let or_demo = |set: &str, example: &str| {
            if set.trim().is_empty() && demo {
                example.to_owned()
            } else {
                set.trim().to_owned()
            }
        };
        palabre_web::TownHall {
            name: self.name.trim().to_owned(),
            address: or_demo(
                &self.address,
                "1 place de la Mairie, 12345 Palabre (adresse de démonstration)",
            ),
            desk_hours: or_demo(
                &self.desk_hours,
                "du lundi au vendredi, 9 h – 12 h et 14 h – 17 h",
            ),
            contact: or_demo(&self.contact, "mairie@palabre.example.org"),
            privacy_contact: self.privacy_contact.trim().to_owned(),
        }
    }

    /// The town's time zone, checked: an unknown name stops the node at start.
    pub fn zone(&self) -> anyhow::Result<palabre_web::Zone> {
        palabre_web::Zone::named(&self.time_zone).context("time_zone in palabre.toml")
    }

    /// The accept loop's bounds under a process file limit of `file_limit`.
    pub fn conn_limits(&self, file_limit: u64) -> palabre_web::conn::ConnLimits {
        let mut limits = palabre_web::conn::ConnLimits::for_file_limit(file_limit);
        if self.http_max_connections > 0 {
            limits.max_total = self.http_max_connections;
        }
        limits.max_per_address = self.http_max_connections_per_address.max(1);
        limits.header_timeout =
            std::time::Duration::from_secs(self.http_header_timeout_seconds.max(1));
        limits
    }

    /// The trusted proxies, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.trim()
                    .parse()
                    .with_context(|| format!("trusted_proxies: {p:?} is not an IP address"))
            })
            .collect()
    }

    /// The public URL: `public_url` when set, else `http://` + the address served
    /// (an unspecified address such as 0.0.0.0 becomes 127.0.0.1, the one sure to answer).
    pub fn public_url_for(&self, served: std::net::SocketAddr) -> String {
        let set = self.public_url.trim();
        if !set.is_empty() {
            return set.trim_end_matches('/').to_owned();
        }
        let mut addr = served;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{addr}")
    }
}

/// A ballot dated before the close is admitted up to `MAX_CLOCK_SKEW_MS` after it; the
/// checkpoint waits that long, and a second more for commits in flight.
pub const DEFAULT_CLOSE_GRACE_MS: u64 = palabre_core::limits::MAX_CLOCK_SKEW_MS + 1_000;

/// The files of a data directory that a backup carries beside the store (every one
/// that holds state: a file added to the layout above belongs here too).
pub const BACKED_UP_FILES: [&str; 5] = [
    "authority.key",
    crate::trustee::KEY_FILE,
    crate::trustee::SHARES_FILE,
    "palabre.toml",
    "peers.toml",
];

/// The store's directory inside a data directory.
pub const STORE: &str = "store";

/// A data directory, opened or created.
#[derive(Debug)]
pub struct Home {
    pub dir: PathBuf,
    pub key: SecretKey,
    /// The trustee encryption key (`trustee.key`).
    pub trustee: TrusteeKey,
    pub config: Config,
}

impl Home {
    /// Opens `dir`, creating it, the key and the config file on first start.
    pub fn open_or_create(dir: &Path) -> anyhow::Result<Home> {
        if !dir.exists() {
            // Owner only, whatever the umask: the store holds the staff's signing seeds.
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("creating the data directory {}", dir.display()))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        let mode = fs::metadata(dir)
            .with_context(|| format!("reading the data directory {}", dir.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the data directory {} is open to other users (mode {mode:o}): it holds the \
                 staff's signing keys and the trustee shares. Run: chmod 700 {}",
                dir.display(),
                dir.display()
            );
        }
        let key_path = dir.join("authority.key");
        if !key_path.exists() {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed)
                .map_err(|e| anyhow::anyhow!("no randomness for the key: {e}"))?;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .with_context(|| format!("creating {}", key_path.display()))?;
            writeln!(f, "{}", hex::encode(seed))?;
            f.sync_all()?;
        }
        let mode = fs::metadata(&key_path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is readable by others (mode {mode:o}); run: chmod 600 {}",
                key_path.display(),
                key_path.display()
            );
        }
        let text = fs::read_to_string(&key_path)?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|v| v.try_into().ok())
            .with_context(|| {
                format!(
                    "{} does not hold a 64-character hex key",
                    key_path.display()
                )
            })?;
        let trustee = TrusteeKey::open_or_create(dir)?;
        let config_path = dir.join("palabre.toml");
        if !config_path.exists() {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&config_path)
                .with_context(|| format!("creating {}", config_path.display()))?;
            f.write_all(CONFIG_TEMPLATE.as_bytes())?;
        }
        let mut config: Config = toml::from_str(&fs::read_to_string(&config_path)?)
            .with_context(|| format!("reading {}", config_path.display()))?;
        apply_env(&mut config)?;
        crate::clock::set_offset_ms(config.clock_offset_ms);
        Ok(Home {
            dir: dir.to_path_buf(),
            key: SecretKey::from_seed(&seed),
            trustee,
            config,
        })
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.join(STORE)
    }

    /// Opens this node's store (one process at a time).
    pub fn open_store(&self) -> anyhow::Result<palabre_store::SledStorage> {
        let config = palabre_store::StoreConfig {
            cache_capacity_bytes: self.config.cache_mib * 1024 * 1024,
        };
        palabre_store::SledStorage::open(&self.store_dir(), config).with_context(|| {
            format!(
                "opening the store in {} (is another palabre running on it?)",
                self.store_dir().display()
            )
        })
    }

    pub fn peers_path(&self) -> PathBuf {
        self.dir.join("peers.toml")
    }

    /// The federation list (empty when there is no `peers.toml`).
    pub fn peers(&self) -> anyhow::Result<Peers> {
        let path = self.peers_path();
        if !path.exists() {
            return Ok(Peers::default());
        }
        let text = fs::read_to_string(&path)?;
        let peers: Peers =
            toml::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
        for p in &peers.peer {
            if p.authority == self.key.public_key() {
                bail!("{} names this town itself", path.display());
            }
        }
        Ok(peers)
    }

    /// Writes the federation list (atomically: a new file renamed over the old).
    pub fn save_peers(&self, peers: &Peers) -> anyhow::Result<()> {
        let path = self.peers_path();
        let tmp = self.dir.join("peers.toml.new");
        let text = format!(
            "# The towns this node federates with: their authority keys and where their nodes\n\
             # listen. Kept by `palabre peers add|remove|list`; read when the node starts.\n\n{}",
            toml::to_string(peers)?
        );
        fs::write(&tmp, text)?;
        fs::rename(&tmp, &path)?;
        Ok(())
    }
}

/// `peers.toml`: the federation list.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Peers {
    #[serde(default)]
    pub peer: Vec<Peer>,
}

/// One federated town.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Peer {
    /// Its authority key.
    pub authority: palabre_core::crypto::PublicKey,
    /// Its name, for people.
    #[serde(default)]
    pub name: String,
    /// Where its node listens (libp2p multiaddrs, e.g. `/ip4/192.0.2.7/tcp/4040`).
    #[serde(default)]
    pub addrs: Vec<String>,
}

fn apply_env(config: &mut Config) -> anyhow::Result<()> {
    let var = |name: &str| std::env::var(format!("PALABRE_{name}")).ok();
    if let Some(v) = var("HTTP") {
        config.http = v;
    }
    if let Some(v) = var("NAME") {
        config.name = v;
    }
    if let Some(v) = var("CODE") {
        config.code = v;
    }
    if let Some(v) = var("ADDRESS") {
        config.address = v;
    }
    if let Some(v) = var("DESK_HOURS") {
        config.desk_hours = v;
    }
    if let Some(v) = var("CONTACT") {
        config.contact = v;
    }
    if let Some(v) = var("PRIVACY_CONTACT") {
        config.privacy_contact = v;
    }
    if let Some(v) = var("TIME_ZONE") {
        config.time_zone = v;
    }
    if let Some(v) = var("PUBLIC_URL") {
        config.public_url = v;
    }
    if let Some(v) = var("RATE_PER_SECOND") {
        config.rate_per_second = v.parse().context("PALABRE_RATE_PER_SECOND is a number")?;
    }
    if let Some(v) = var("RATE_BURST") {
        config.rate_burst = v.parse().context("PALABRE_RATE_BURST is a number")?;
    }
    if let Some(v) = var("CLOSE_GRACE_MS") {
        config.close_grace_ms = v
            .parse()
            .context("PALABRE_CLOSE_GRACE_MS is a number of milliseconds")?;
    }
    if let Some(v) = var("MIX_TIMEOUT_MS") {
        config.mix_timeout_ms = v
            .parse()
            .context("PALABRE_MIX_TIMEOUT_MS is a number of milliseconds")?;
    }
    if let Some(v) = var("SECRET_SHARE_RETENTION_DAYS") {
        config.secret_share_retention_days = v
            .parse()
            .context("PALABRE_SECRET_SHARE_RETENTION_DAYS is a number of days")?;
    }
    if let Some(v) = var("P2P_LISTEN") {
        config.p2p_listen = v;
    }
    if let Some(v) = var("STAFF_SESSION_SECONDS") {
        config.staff_session_seconds = v
            .parse()
            .context("PALABRE_STAFF_SESSION_SECONDS is a number of seconds")?;
    }
    if let Some(v) = var("HTTP_MAX_CONNECTIONS") {
        config.http_max_connections = v
            .parse()
            .context("PALABRE_HTTP_MAX_CONNECTIONS is a number")?;
    }
    if let Some(v) = var("HTTP_MAX_CONNECTIONS_PER_ADDRESS") {
        config.http_max_connections_per_address = v
            .parse()
            .context("PALABRE_HTTP_MAX_CONNECTIONS_PER_ADDRESS is a number")?;
    }
    if let Some(v) = var("HTTP_HEADER_TIMEOUT_SECONDS") {
        config.http_header_timeout_seconds = v
            .parse()
            .context("PALABRE_HTTP_HEADER_TIMEOUT_SECONDS is a number of seconds")?;
    }
    if let Some(v) = var("TRUSTED_PROXIES") {
        config.trusted_proxies = v
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(v) = var("CLOCK_OFFSET_MS") {
        config.clock_offset_ms = v
            .parse()
            .context("PALABRE_CLOCK_OFFSET_MS is a number of milliseconds")?;
    }
    if let Some(v) = var("CACHE_MIB") {
        config.cache_mib = v.parse().context("PALABRE_CACHE_MIB is a number of MiB")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_data_directory_is_its_owners_only_whatever_the_umask() {
        let parent = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let dir = parent.path().join("a").join("data");
        Home::open_or_create(&dir).expect("created");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("authority.key")), 0o600);
        assert_eq!(mode(&dir.join("palabre.toml")), 0o600);
    }

    #[test]
    fn a_data_directory_open_to_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let refused = Home::open_or_create(dir.path()).expect_err("refused");
        let text = format!("{refused:#}");
        assert!(text.contains("open to other users (mode 755)"), "{text}");
        assert!(text.contains("chmod 700"), "{text}");
        assert!(
            !dir.path().join("authority.key").exists(),
            "nothing is written"
        );
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        Home::open_or_create(dir.path()).expect("opened once owner-only");
    }
}
