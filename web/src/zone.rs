//! The town's time zone. Every time a person reads or types — on the residents' pages,
//! on letters, in the staff forms — is the town's wall-clock time; the protocol's times
//! stay milliseconds since 1970 UTC, and PROTOCOL.md knows nothing of zones.
//!
//! The conversions go through "wall" milliseconds: the same count, but of the local
//! calendar and clock, so that the civil-date arithmetic of [`when`] and the staff
//! forms' parser serve both. The rules (offsets, summer time) are the IANA database's,
//! bundled in the binary by jiff.

use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// A named IANA time zone (`Europe/Paris`), or UTC.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

/// A time zone name the database does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown time zone {0:?} (an IANA name such as Europe/Paris, or UTC)")]
pub struct UnknownZone(pub String);

impl Default for Zone {
    fn default() -> Zone {
        Zone::utc()
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// The zone of an IANA name (`Europe/Paris`, `America/Cayenne`, `UTC`).
    pub fn named(name: &str) -> Result<Zone, UnknownZone> {
        let name = name.trim();
        match TimeZone::get(name) {
            Ok(tz) => Ok(Zone {
                name: name.to_owned(),
                tz,
            }),
            Err(_) => Err(UnknownZone(name.to_owned())),
        }
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn instant(ms: u64) -> Timestamp {
        i64::try_from(ms)
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .unwrap_or(Timestamp::MAX)
    }

    /// The local wall-clock time of the instant `ms`, as milliseconds of the local
    /// calendar (what [`when`] would print for it, read as local).
    pub fn wall(&self, ms: u64) -> u64 {
        let offset = self.tz.to_offset(Zone::instant(ms)).seconds();
        ms.saturating_add_signed(i64::from(offset) * 1000)
    }

    /// The instant whose local wall-clock time is `wall`. `None` for a time the clocks
    /// skip (the hour lost in spring); of a time they pass twice (autumn), the first.
    pub fn from_wall(&self, wall: u64) -> Option<u64> {
        let naive = TimeZone::UTC.to_datetime(Zone::instant(wall));
        let offset = match self.tz.to_ambiguous_timestamp(naive).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Fold { before, .. } => before,
            AmbiguousOffset::Gap { .. } => return None,
        };
        wall.checked_add_signed(-i64::from(offset.seconds()) * 1000)
    }

    /// The zone's abbreviation at the instant `ms` (`CET`, `CEST`, `UTC`), or its
    /// offset (`+03`) where the database has no letters for it.
    pub fn abbreviation(&self, ms: u64) -> String {
        self.tz
            .to_offset_info(Zone::instant(ms))
            .abbreviation()
            .to_owned()
    }

    /// `A → B`: a window from `from` to `to`, each as [`Zone::when`] prints it.
    pub fn window(&self, from: u64, to: u64) -> String {
        format!("{} → {}", self.when(from), self.when(to))
    }

    /// `YYYY-MM-DD HH:MM CET`: the instant `ms` as the town's clocks show it.
    pub fn when(&self, ms: u64) -> String {
        let utc = when(self.wall(ms));
        let local = utc.strip_suffix(" UTC").unwrap_or(&utc);
        format!("{local} {}", self.abbreviation(ms))
    }
}

/// `YYYY-MM-DD HH:MM UTC` from ms since 1970 (proleptic Gregorian, no time zone base).
pub fn when(ms: u64) -> String {
    let (y, mo, d) = civil_date(ms);
    let secs = ms / 1000;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

/// The UTC date (year, month 1–12, day 1–31) of ms since 1970, proleptic Gregorian.
pub fn civil_date(ms: u64) -> (i64, i64, i64) {
    let days = (ms / 86_400_000) as i64;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(mo <= 2), mo, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: u64 = 3_600_000;
    /// 2027-01-15 12:00 UTC (winter) and 2027-07-15 12:00 UTC (summer).
    const WINTER: u64 = 1_800_000_000_000 - 1_800_000_000_000 % (24 * HOUR) + 12 * HOUR;

    #[test]
    fn paris_is_one_hour_ahead_in_winter_and_two_in_summer() {
        let paris = Zone::named("Europe/Paris").expect("bundled");
        let winter = civil_date(WINTER);
        assert_eq!(winter.1, 1, "January: {winter:?}");
        assert_eq!(paris.wall(WINTER), WINTER + HOUR);
        assert_eq!(paris.abbreviation(WINTER), "CET");
        let summer = WINTER + 181 * 24 * HOUR;
        assert_eq!(civil_date(summer).1, 7);
        assert_eq!(paris.wall(summer), summer + 2 * HOUR);
        assert_eq!(paris.when(summer), {
            let utc = when(summer + 2 * HOUR);
            format!("{} CEST", utc.trim_end_matches(" UTC"))
        });
        // What is typed comes back to the same instant.
        for ms in [WINTER, summer, summer + 17 * 60_000] {
            assert_eq!(paris.from_wall(paris.wall(ms)), Some(ms));
        }
    }

    #[test]
    fn the_lost_hour_is_refused_and_the_repeated_one_is_the_first() {
        let paris = Zone::named("Europe/Paris").expect("bundled");
        // 2027-03-28: clocks go from 02:00 to 03:00 local (01:00 UTC).
        let change = 1_806_195_600_000;
        assert_eq!(paris.wall(change - 1), change - 1 + HOUR);
        assert_eq!(paris.wall(change), change + 2 * HOUR);
        let lost = change + HOUR + HOUR / 2; // 02:30 local, which never happens
        assert_eq!(paris.from_wall(lost), None);
        // 2027-10-31: clocks go back from 03:00 to 02:00 local (01:00 UTC).
        let back = 1_824_944_400_000;
        let twice = back + HOUR + HOUR / 2; // 02:30 local: first in summer time
        assert_eq!(paris.from_wall(twice), Some(back - HOUR / 2));
    }

    #[test]
    fn names_are_checked_and_utc_is_the_identity() {
        assert_eq!(
            Zone::named("Europe/Pariss"),
            Err(UnknownZone("Europe/Pariss".into()))
        );
        let utc = Zone::named("UTC").expect("UTC");
        assert_eq!(utc.wall(WINTER), WINTER);
        assert_eq!(utc.from_wall(WINTER), Some(WINTER));
        assert_eq!(utc.when(0), "1970-01-01 00:00 UTC");
        assert_eq!(Zone::default(), Zone::utc());
    }
}
