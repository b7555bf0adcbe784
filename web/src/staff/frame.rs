//! The frame of every staff page: its language, title, the member logged in, the
//! town's address and whether residents can reach it, and the words of roles.

use palabre_core::event::StaffRole;

use super::Me;

/// The frame of every staff page.
#[derive(Debug)]
pub(crate) struct Frame {
    pub lang: &'static str,
    /// The other language, and this page's path: the language switch comes back here.
    pub other: &'static str,
    pub here: String,
    pub title: String,
    pub css: String,
    pub town: String,
    pub me: Option<Me>,
    /// The address printed on letters, and whether residents cannot reach it (a loopback
    /// address on a node that is not a demo): the staff pages then warn on every page.
    pub site: String,
    pub site_unreachable: bool,
}

impl Frame {
    /// The French or the English words, by the visitor's language.
    pub fn tr<'a>(&self, fr: &'a str, en: &'a str) -> &'a str {
        if self.lang == "fr" { fr } else { en }
    }

    pub fn csrf(&self) -> &str {
        self.me.as_ref().map_or("", |m| m.csrf.as_str())
    }

    pub fn can(&self, role: &str) -> bool {
        let Some(me) = &self.me else { return false };
        me.account.role == StaffRole::Admin || me.account.role.as_str() == role
    }

    /// Whether the member's password is still one an administrator chose: every page
    /// then asks them to choose their own.
    pub fn provisional(&self) -> bool {
        self.me.as_ref().is_some_and(|m| m.account.provisional)
    }

    pub fn login(&self) -> &str {
        self.me.as_ref().map_or("", |m| m.account.login.as_str())
    }

    pub fn who(&self) -> String {
        self.me.as_ref().map_or(String::new(), |m| {
            format!(
                "{} ({})",
                m.account.name,
                role_label(self.lang, m.account.role)
            )
        })
    }
}

pub(crate) fn role_label(lang: &str, role: StaffRole) -> &'static str {
    match (lang == "fr", role) {
        (true, StaffRole::Admin) => "administration",
        (true, StaffRole::Moderator) => "modération",
        (true, StaffRole::Desk) => "accueil",
        (false, StaffRole::Admin) => "admin",
        (false, StaffRole::Moderator) => "moderator",
        (false, StaffRole::Desk) => "desk agent",
    }
}
