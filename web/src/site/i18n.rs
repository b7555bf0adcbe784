//! The site's words, in French and English: one struct, so a missing translation is a
//! compile error. Plain language: short sentences, the words a town hall uses.

use palabre_core::event::Stance;

/// A language of the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Fr,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by quality; French
    /// when none is.
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut fields = part.trim().split(';');
            let tag = fields.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = fields
                .find_map(|f| f.trim().strip_prefix("q=").and_then(|q| q.parse().ok()))
                .unwrap_or(1.0f32);
            let primary = tag.split('-').next().unwrap_or("");
            if let Some(lang) = Lang::parse(primary)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::Fr, |(_, l)| l)
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Fr => Lang::En,
            Lang::En => Lang::Fr,
        }
    }

    /// "1 argument pour", "2 arguments contre": a count of arguments in words, so that
    /// it never reads as a tally of votes. French puts 0 and 1 in the singular, English
    /// only 1.
    pub fn n_arguments(self, n: usize, stance: Stance) -> String {
        match stance {
            Stance::Pro => self.n(
                n as u64,
                ("argument pour", "arguments pour"),
                ("argument for", "arguments for"),
            ),
            Stance::Con => self.n(
                n as u64,
                ("argument contre", "arguments contre"),
                ("argument against", "arguments against"),
            ),
        }
    }

    /// "1 bulletin", "0 bulletin", "0 ballots": counted ballots, on the results page.
    pub fn n_ballots(self, n: u64) -> String {
        self.n(n, ("bulletin", "bulletins"), ("ballot", "ballots"))
    }

    /// "1 bulletin scellé compté", "2 sealed ballots counted": a secret vote's ballots
    /// before opening.
    pub fn n_sealed_counted(self, n: u64) -> String {
        self.n(
            n,
            ("bulletin scellé compté", "bulletins scellés comptés"),
            ("sealed ballot counted", "sealed ballots counted"),
        )
    }

    /// "1 soutien", "3 supports": a proposal's line in a support tally.
    pub fn n_supports(self, n: u64) -> String {
        self.n(n, ("soutien", "soutiens"), ("support", "supports"))
    }

    /// "1 approbation", "2 approvals": a proposal's line in an approval or budget tally.
    pub fn n_approvals(self, n: u64) -> String {
        self.n(
            n,
            ("approbation", "approbations"),
            ("approval", "approvals"),
        )
    }

    /// "1 commune garante", "2 trustee towns".
    pub fn n_trustee_towns(self, n: u64) -> String {
        self.n(
            n,
            ("commune garante", "communes garantes"),
            ("trustee town", "trustee towns"),
        )
    }

    /// "1 vote compté", "3 counted votes": `n` and the words for one or for several,
    /// (singular, plural) in each language, by the language's rule.
    pub fn n(self, n: u64, fr: (&str, &str), en: (&str, &str)) -> String {
        let words = match (self, n) {
            (Lang::Fr, 0 | 1) => fr.0,
            (Lang::Fr, _) => fr.1,
            (Lang::En, 1) => en.0,
            (Lang::En, _) => en.1,
        };
        format!("{n} {words}")
    }

    /// A date as a letter prints it: "7 décembre 2026", "7 December 2026", of wall
    /// milliseconds (`Zone::wall`).
    pub fn long_date(self, ms: u64) -> String {
        const FR: [&str; 12] = [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ];
        const EN: [&str; 12] = [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ];
        let (y, m, d) = crate::zone::civil_date(ms);
        let month = match self {
            Lang::Fr => FR,
            Lang::En => EN,
        }[(m - 1).clamp(0, 11) as usize];
        match (self, d) {
            (Lang::Fr, 1) => format!("1er {month} {y}"),
            _ => format!("{d} {month} {y}"),
        }
    }

    /// The instant `ms` as a letter prints it, in the town's time: "15 janvier 2027 à
    /// 18:00 CET".
    pub fn long_date_time(self, ms: u64, zone: &crate::zone::Zone) -> String {
        let wall = zone.wall(ms);
        let minutes = wall / 60_000;
        let (h, m) = ((minutes / 60) % 24, minutes % 60);
        let at = match self {
            Lang::Fr => "à",
            Lang::En => "at",
        };
        let abbreviation = zone.abbreviation(ms);
        format!("{} {at} {h:02}:{m:02} {abbreviation}", self.long_date(wall))
    }

    /// Names joined as a sentence says them: "A, B et C", "A, B and C".
    pub fn list(self, names: &[String]) -> String {
        let and = match self {
            Lang::Fr => " et ",
            Lang::En => " and ",
        };
        match names {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{}{and}{last}", init.join(", ")),
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }
}

#[derive(Debug)]
pub struct Texts {
    pub switch_to: &'static str,
    pub home: &'static str,
    pub register: &'static str,
    pub me: &'static str,
    pub verify: &'static str,
    pub about: &'static str,
    pub open: &'static str,
    pub upcoming: &'static str,
    pub closed: &'static str,
    pub none_yet: &'static str,
    pub phase_upcoming: &'static str,
    pub phase_proposals: &'static str,
    pub phase_voting: &'static str,
    pub phase_closed: &'static str,
    pub proposals_window: &'static str,
    pub vote_window: &'static str,
    pub method: &'static str,
    pub trust: &'static str,
    pub trust_single: &'static str,
    pub trust_federated: &'static str,
    pub proposals: &'static str,
    pub order_note: &'static str,
    pub propose: &'static str,
    pub results: &'static str,
    pub results_hidden: &'static str,
    pub vote: &'static str,
    pub vote_note: &'static str,
    pub cast: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub abstain: &'static str,
    pub add_argument: &'static str,
    pub stance_for: &'static str,
    pub stance_against: &'static str,
    pub your_argument: &'static str,
    pub title: &'static str,
    pub text: &'static str,
    pub cost: &'static str,
    pub send: &'static str,
    pub hidden_by: &'static str,
    pub nojs: &'static str,
    pub code: &'static str,
    pub register_intro: &'static str,
    pub me_intro: &'static str,
    pub my_key: &'static str,
    pub no_key: &'static str,
    pub backup: &'static str,
    pub restore: &'static str,
    pub receipts: &'static str,
    pub adopted: &'static str,
    pub funded: &'static str,
    pub qualified: &'static str,
    pub median: &'static str,
    /// A majority grade when no ballot graded the proposal.
    pub no_grade: &'static str,
    /// Above a merit profile: what the line at half the width means.
    pub median_line: &'static str,
    pub budget: &'static str,
    pub spent: &'static str,
    pub bundle: &'static str,
    pub verify_text: &'static [&'static str],
    pub about_text: &'static [&'static str],
    pub authority: &'static str,
    pub not_found: &'static str,
    // For the script (data attributes of <body>).
    pub js_need_key: &'static str,
    pub js_done: &'static str,
    pub js_registered: &'static str,
    pub js_restored: &'static str,
    pub js_refused: &'static str,
    pub js_check: &'static str,
    pub js_included: &'static str,
    pub js_not_included: &'static str,
    // Several people on one device, and what follows a registration (issue 20).
    pub have_key: &'static str,
    pub backup_that: &'static str,
    pub another: &'static str,
    pub who_name: &'static str,
    pub after_register: &'static str,
    pub backup_now: &'static str,
    pub vote_now: &'static str,
    pub who_votes: &'static str,
    pub print: &'static str,
    pub receipt_title: &'static str,
    pub receipt_text: &'static str,
    pub receipt_check: &'static str,
    pub receipt_kind: &'static str,
    pub receipt_at: &'static str,
    pub receipt_event: &'static str,
    pub js_choose: &'static str,
    pub js_register_first: &'static str,
    pub js_signed_as: &'static str,
    pub js_change: &'static str,
    pub js_download: &'static str,
    pub js_replaced: &'static str,
    /// Before the words of the vote this browser's key last sent in a consultation.
    pub js_current: &'static str,
    /// The API's refusals a resident may meet, in plain words: `code:words` pairs
    /// separated by `|`.
    pub js_refusals: &'static str,
    pub js_see_receipts: &'static str,
    /// What each kind of event is called, as `kind:word` pairs separated by commas.
    pub js_kinds: &'static str,
}

pub static FR: Texts = Texts {
    switch_to: "English",
    home: "Consultations",
    register: "M'inscrire",
    me: "Ma participation",
    verify: "Vérifier",
    about: "À propos",
    open: "En cours",
    upcoming: "À venir",
    closed: "Terminées",
    none_yet: "Aucune pour l'instant.",
    phase_upcoming: "à venir",
    phase_proposals: "propositions ouvertes",
    phase_voting: "vote ouvert",
    phase_closed: "terminée",
    proposals_window: "Propositions",
    vote_window: "Vote",
    method: "Mode de vote",
    trust: "Confiance",
    trust_single: "Une commune tient ce registre : {town}. Chacun peut vérifier qu'il n'a pas été réécrit.",
    trust_federated: "Plusieurs communes tiennent ce registre et le contresignent : {towns}. Chacun peut vérifier qu'il n'a pas été réécrit ; la clôture compte quand une majorité d'entre elles l'a signée.",
    proposals: "Propositions",
    order_note: "Ordre tiré au hasard (graine {seed}), jamais par popularité.",
    propose: "Faire une proposition",
    results: "Résultats",
    results_hidden: "Les résultats seront publiés à la clôture du vote.",
    vote: "Voter",
    vote_note: "Vous pouvez changer votre vote jusqu'à la clôture : seul le dernier compte.",
    cast: "Envoyer mon vote",
    yes: "Oui",
    no: "Non",
    abstain: "Abstention",
    add_argument: "Ajouter un argument",
    stance_for: "pour",
    stance_against: "contre",
    your_argument: "Votre argument",
    title: "Titre",
    text: "Texte",
    cost: "Coût (euros)",
    send: "Envoyer",
    hidden_by: "Masqué par la modération",
    nojs: "Ce formulaire signe dans votre navigateur et demande JavaScript. Sans lui, l'accueil de la mairie vous aide à participer.",
    code: "Code de votre lettre d'invitation",
    register_intro: "Votre navigateur crée une clé qui reste chez vous ; la mairie la certifie avec le code de votre lettre. Un code ne sert qu'une fois.",
    me_intro: "Vos reçus restent dans ce navigateur. Chaque reçu prouve que la mairie a inscrit votre contribution au registre ; le bouton le vérifie.",
    my_key: "Ma clé",
    no_key: "aucune clé dans ce navigateur",
    backup: "Sauvegarder ma clé",
    restore: "Restaurer une clé",
    receipts: "Mes reçus",
    adopted: "adoptée",
    funded: "financée",
    qualified: "retenue",
    median: "mention majoritaire",
    no_grade: "aucune, pas encore de bulletin",
    median_line: "Les mentions de chaque proposition, de la pire à la meilleure. Le trait marque la moitié des bulletins : la mention sous le trait est la mention majoritaire.",
    budget: "Budget",
    spent: "dépensé",
    bundle: "Dossier de vérification",
    verify_text: &[
        "Tout ce qui compte est signé et inscrit dans un registre public que chacun peut télécharger : /api/v1/logs/{commune}/entries.",
        "Chaque tête de registre signée engage la commune ; les preuves d'inclusion et de cohérence (RFC 9162) montrent qu'un événement y figure et que le registre n'a pas été réécrit.",
        "Un auditeur recompte le résultat à partir des bulletins signés, sans faire confiance au serveur. La description complète des formats est dans PROTOCOL.md.",
        "Chaque consultation propose son dossier de vérification (un fichier) : « palabre audit --bundle fichier » le vérifie hors ligne ; « palabre audit --consultation ID --node adresse » interroge directement une ou plusieurs communes ; « palabre check-receipt reçu.json » vérifie un reçu.",
    ],
    about_text: &[
        "Palabre est le logiciel de consultation de votre commune. Il ne classe jamais les propositions par popularité pendant le vote.",
        "La modération est publique : un contenu masqué reste listé, avec la raison.",
    ],
    authority: "Clé de la commune",
    not_found: "Page introuvable.",
    js_need_key: "Inscrivez-vous d'abord (aucune clé dans ce navigateur).",
    js_done: "Enregistré. Reçu n°",
    js_registered: "Inscription faite : votre clé est dans ce navigateur.",
    js_restored: "Clé restaurée.",
    js_refused: "Refusé :",
    js_check: "Vérifier",
    js_included: "Inclus au registre : vérifié.",
    js_not_included: "Non vérifié.",
    have_key: "Ce navigateur garde déjà la clé d'une personne inscrite. Pour inscrire une autre personne du foyer sur cet appareil, sauvegardez d'abord cette clé, puis cochez la case : les deux clés seront gardées.",
    backup_that: "Sauvegarder cette clé",
    another: "Inscrire une autre personne sur cet appareil",
    who_name: "Prénom (facultatif, reste sur cet appareil)",
    after_register: "Sauvegardez votre clé maintenant : sans sauvegarde, une clé perdue (navigateur effacé, téléphone changé) ne se remplace qu'à l'accueil de la mairie.",
    backup_now: "Sauvegarder ma clé maintenant",
    vote_now: "Voter maintenant",
    who_votes: "Qui participe sur cet appareil",
    print: "Imprimer",
    receipt_title: "Reçu n° {n}",
    receipt_text: "La commune a inscrit cet événement à son registre public, à la position {n}. Gardez ce reçu : il prouve que votre participation y est inscrite, et qu'elle y reste.",
    receipt_check: "Pour le vérifier vous-même : « palabre check-receipt reçu.json » avec le fichier téléchargé depuis « Ma participation », ou le bouton « Vérifier » de cette page.",
    receipt_kind: "Nature",
    receipt_at: "Date",
    receipt_event: "Identifiant de l'événement",
    js_choose: "Rien n'a été envoyé : ce navigateur garde déjà une clé. Cochez « Inscrire une autre personne sur cet appareil » pour l'ajouter sans remplacer la première.",
    js_register_first: "Pour participer, inscrivez-vous d'abord avec le code de votre lettre :",
    js_signed_as: "Participe :",
    js_change: "changer",
    js_download: "Télécharger",
    js_replaced: "remplacé par un vote plus récent",
    js_current: "Votre vote actuel, envoyé depuis cet appareil :",
    js_refusals: "bad_code:un code a 12 lettres et chiffres, comme imprimé sur la lettre.|unknown_invitation:ce code n'existe pas ; vérifiez-le sur votre lettre.|used_invitation:ce code a déjà servi. Si ce n'était pas vous, adressez-vous à l'accueil de la mairie.|revoked_invitation:ce code a été retiré ; l'accueil de la mairie peut vous en donner un autre.|outside_window:le vote n'est pas ouvert en ce moment.|already_closed:ce vote est clos.|invalid_choice:ce choix ne respecte pas les règles du vote.|rate_limited:trop d'essais ; réessayez dans une minute.",
    js_see_receipts: "voir mes reçus",
    js_kinds: "credential:inscription,ballot:vote,proposal:proposition,argument:argument,report:signalement",
};

pub static EN: Texts = Texts {
    switch_to: "Français",
    home: "Consultations",
    register: "Register",
    me: "My participation",
    verify: "Verify",
    about: "About",
    open: "Open",
    upcoming: "Upcoming",
    closed: "Closed",
    none_yet: "None yet.",
    phase_upcoming: "upcoming",
    phase_proposals: "open for proposals",
    phase_voting: "vote open",
    phase_closed: "closed",
    proposals_window: "Proposals",
    vote_window: "Vote",
    method: "Voting method",
    trust: "Trust",
    trust_single: "One town keeps this record: {town}. Anyone can check it has not been rewritten.",
    trust_federated: "Several towns keep this record and countersign it: {towns}. Anyone can check it has not been rewritten; the close counts once a majority of them has signed it.",
    proposals: "Proposals",
    order_note: "Random order (seed {seed}), never by popularity.",
    propose: "Make a proposal",
    results: "Results",
    results_hidden: "Results are published when the vote closes.",
    vote: "Vote",
    vote_note: "You can change your vote until the close: only the last one counts.",
    cast: "Cast my vote",
    yes: "Yes",
    no: "No",
    abstain: "Abstain",
    add_argument: "Add an argument",
    stance_for: "for",
    stance_against: "against",
    your_argument: "Your argument",
    title: "Title",
    text: "Text",
    cost: "Cost (euros)",
    send: "Send",
    hidden_by: "Hidden by moderation",
    nojs: "This form signs in your browser and needs JavaScript. Without it, the town hall desk helps you take part.",
    code: "Code from your invitation letter",
    register_intro: "Your browser makes a key that stays with you; the town hall certifies it with the code from your letter. A code works once.",
    me_intro: "Your receipts stay in this browser. Each proves the town hall put your contribution in its record; the button checks it.",
    my_key: "My key",
    no_key: "no key in this browser",
    backup: "Back up my key",
    restore: "Restore a key",
    receipts: "My receipts",
    adopted: "adopted",
    funded: "funded",
    qualified: "qualified",
    median: "majority grade",
    no_grade: "none, no ballot yet",
    median_line: "Each proposal's grades, from worst to best. The line marks half of the ballots: the grade under the line is the majority grade.",
    budget: "Budget",
    spent: "spent",
    bundle: "Audit bundle",
    verify_text: &[
        "Everything that counts is signed and written in a public record anyone can download: /api/v1/logs/{town}/entries.",
        "Each signed tree head binds the town; inclusion and consistency proofs (RFC 9162) show an event is in it and the record was never rewritten.",
        "An auditor recounts the result from the signed ballots, trusting no server. PROTOCOL.md describes every format.",
        "Each consultation offers its audit bundle (one file): \"palabre audit --bundle file\" verifies it offline; \"palabre audit --consultation ID --node address\" asks one or several towns directly; \"palabre check-receipt receipt.json\" checks a receipt.",
    ],
    about_text: &[
        "Palabre is your town's consultation software. It never ranks proposals by popularity while the vote is open.",
        "Moderation is public: hidden content stays listed, with the reason.",
    ],
    authority: "Town key",
    not_found: "Page not found.",
    js_need_key: "Register first (no key in this browser).",
    js_done: "Recorded. Receipt no.",
    js_registered: "Registered: your key is in this browser.",
    js_restored: "Key restored.",
    js_refused: "Refused:",
    js_check: "Check",
    js_included: "In the record: checked.",
    js_not_included: "Not checked.",
    have_key: "This browser already holds the key of someone registered. To register another person of the household on this device, back up that key first, then tick the box: both keys will be kept.",
    backup_that: "Back up that key",
    another: "Register another person on this device",
    who_name: "First name (optional, stays on this device)",
    after_register: "Back up your key now: without a backup, a lost key (browser cleared, phone changed) can only be replaced at the town hall desk.",
    backup_now: "Back up my key now",
    vote_now: "Vote now",
    who_votes: "Who takes part on this device",
    print: "Print",
    receipt_title: "Receipt no. {n}",
    receipt_text: "The town wrote this event in its public record, at position {n}. Keep this receipt: it proves your participation is in the record, and stays there.",
    receipt_check: "To check it yourself: \"palabre check-receipt receipt.json\" with the file downloaded from \"My participation\", or the \"Check\" button of that page.",
    receipt_kind: "Kind",
    receipt_at: "Date",
    receipt_event: "Event id",
    js_choose: "Nothing was sent: this browser already holds a key. Tick \"Register another person on this device\" to add one without replacing the first.",
    js_register_first: "To take part, register first with the code from your letter:",
    js_signed_as: "Taking part as:",
    js_change: "change",
    js_download: "Download",
    js_replaced: "replaced by a later vote",
    js_current: "Your current vote, sent from this device:",
    js_refusals: "bad_code:a code is 12 letters and digits, as printed on the letter.|unknown_invitation:this code does not exist; check it on your letter.|used_invitation:this code was already used. If it was not you, ask the town hall's desk.|revoked_invitation:this code was withdrawn; the town hall's desk can give you another.|outside_window:the vote is not open now.|already_closed:this vote is closed.|invalid_choice:this choice does not follow the vote's rules.|rate_limited:too many tries; try again in a minute.",
    js_see_receipts: "see my receipts",
    js_kinds: "credential:registration,ballot:vote,proposal:proposal,argument:argument,report:report",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Lang::from_accept_language("en-GB,en;q=0.9,fr;q=0.8"),
            Lang::En
        );
        assert_eq!(
            Lang::from_accept_language("de, fr;q=0.5, en;q=0.4"),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language("de"), Lang::Fr);
        assert_eq!(Lang::from_accept_language(""), Lang::Fr);
        assert_eq!(Lang::from_accept_language("en;q=0.2, fr;q=0.9"), Lang::Fr);
    }

    #[test]
    fn argument_counts_are_words_with_their_plural() {
        let check = |lang: Lang, n: usize, stance: Stance, want: &str| {
            assert_eq!(lang.n_arguments(n, stance), want);
        };
        check(Lang::Fr, 0, Stance::Pro, "0 argument pour");
        check(Lang::Fr, 1, Stance::Con, "1 argument contre");
        check(Lang::Fr, 2, Stance::Pro, "2 arguments pour");
        check(Lang::En, 0, Stance::Con, "0 arguments against");
        check(Lang::En, 1, Stance::Pro, "1 argument for");
        check(Lang::En, 3, Stance::Con, "3 arguments against");
    }

    /// Issue 20, point 10: the results page's counts.
    #[test]
    fn result_counts_take_their_plural() {
        assert_eq!(Lang::Fr.n_ballots(0), "0 bulletin");
        assert_eq!(Lang::Fr.n_ballots(1), "1 bulletin");
        assert_eq!(Lang::Fr.n_ballots(2), "2 bulletins");
        assert_eq!(Lang::En.n_ballots(0), "0 ballots");
        assert_eq!(Lang::En.n_ballots(1), "1 ballot");
        assert_eq!(Lang::Fr.n_sealed_counted(1), "1 bulletin scellé compté");
        assert_eq!(Lang::En.n_supports(1), "1 support");
        assert_eq!(Lang::Fr.n_approvals(0), "0 approbation");
        assert_eq!(Lang::En.n_trustee_towns(2), "2 trustee towns");
    }

    #[test]
    fn a_letter_dates_itself_in_words() {
        // 2026-12-07 and 2027-01-01, 12:00 UTC.
        let (dec7, jan1) = (1_796_644_800_000, 1_798_804_800_000);
        assert_eq!(Lang::Fr.long_date(dec7), "7 décembre 2026");
        assert_eq!(Lang::En.long_date(dec7), "7 December 2026");
        assert_eq!(Lang::Fr.long_date(jan1), "1er janvier 2027");
        assert_eq!(Lang::En.long_date(jan1), "1 January 2027");
        assert_eq!(
            Lang::Fr.long_date_time(dec7 + 90_000, &crate::zone::Zone::utc()),
            "7 décembre 2026 à 12:01 UTC"
        );
        let paris = crate::zone::Zone::named("Europe/Paris").expect("bundled");
        assert_eq!(
            Lang::En.long_date_time(dec7 + 90_000, &paris),
            "7 December 2026 at 13:01 CET"
        );
    }

    #[test]
    fn counts_take_the_plural_of_their_language() {
        let votes = |lang: Lang, n| lang.n(n, ("vote", "votes"), ("vote", "votes"));
        assert_eq!(votes(Lang::Fr, 0), "0 vote");
        assert_eq!(votes(Lang::Fr, 1), "1 vote");
        assert_eq!(votes(Lang::Fr, 2), "2 votes");
        assert_eq!(votes(Lang::En, 0), "0 votes");
        assert_eq!(votes(Lang::En, 1), "1 vote");
    }

    #[test]
    fn names_are_listed_as_a_sentence() {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(Lang::Fr.list(&names(&["Ville"])), "Ville");
        assert_eq!(Lang::Fr.list(&names(&["A", "B"])), "A et B");
        assert_eq!(Lang::En.list(&names(&["A", "B", "C"])), "A, B and C");
    }
}
