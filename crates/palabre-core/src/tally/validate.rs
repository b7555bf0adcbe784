//! Which methods and ballot contents a consultation accepts: [`validate_method`],
//! [`validate_choice`] and their typed refusal, [`ChoiceError`], with a stable code each.
//!
//! It leaves counting to the method modules beside it; [`super::tally`] calls these checks
//! and ignores (counts as invalid) any ballot they refuse.

use super::{Choice, MAX_CHOICE_ENTRIES, MAX_GRADE_LABEL_CHARS, MAX_GRADES, MIN_GRADES, Method};
use crate::ids::EventId;
use crate::limits::MAX_SAFE_INTEGER;

/// Why a method or a ballot content is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    /// `zero_threshold`: a support method with threshold 0.
    #[error("the support threshold must be at least 1")]
    ZeroThreshold,
    /// `max_choices_out_of_range`: an approval method allowing 0 choices, or more
    /// than [`MAX_CHOICE_ENTRIES`].
    #[error("max_choices must be between 1 and {MAX_CHOICE_ENTRIES}")]
    MaxChoicesOutOfRange,
    /// `zero_budget`: a budget method with nothing to spend.
    #[error("the budget must be at least 1")]
    ZeroBudget,
    /// `number_too_large`: a support threshold or a budget above 2^53 − 1, which signed
    /// JSON cannot carry exactly.
    #[error("a number is larger than 2^53 − 1")]
    NumberTooLarge,
    /// `grade_count_out_of_range`: fewer than [`MIN_GRADES`] or more than
    /// [`MAX_GRADES`] grades.
    #[error("a majority judgment needs between {MIN_GRADES} and {MAX_GRADES} grades")]
    GradeCountOutOfRange,
    /// `bad_grade_label`: a grade label that is blank, holds a control character or is
    /// too long.
    #[error(
        "a grade label must be non-blank, without control characters, and at most {MAX_GRADE_LABEL_CHARS} characters"
    )]
    BadGradeLabel,
    /// `duplicate_grade_label`: two grades with the same label.
    #[error("two grades have the same label")]
    DuplicateGradeLabel,
    /// `wrong_choice_kind`: a ballot of another method's shape (grades in an approval
    /// consultation, ...).
    #[error("this kind of ballot does not fit the consultation's method")]
    WrongChoiceKind,
    /// `unknown_proposal`: the ballot names an id that is not one of the
    /// consultation's proposals; carries it.
    #[error("the ballot names {0}, which is not a proposal of this consultation")]
    UnknownProposal(EventId),
    /// `approvals_not_ascending`: an approve list that is not strictly
    /// ascending (unsorted or repeated ids).
    #[error("approved proposals must be listed once each, in ascending order of id")]
    ApprovalsNotAscending,
    /// `too_many_approvals`: an approval ballot over the method's `max_choices`.
    #[error("the ballot approves {n_approved} proposals but at most {max_choices} are allowed")]
    TooManyApprovals {
        /// How many the ballot approves.
        n_approved: usize,
        /// How many the method allows.
        max_choices: u32,
    },
    /// `too_many_entries`: a ballot naming more than [`MAX_CHOICE_ENTRIES`] proposals.
    #[error("a ballot may name at most {MAX_CHOICE_ENTRIES} proposals")]
    TooManyEntries,
    /// `grade_out_of_range`: a grade index with no label.
    #[error("grade {grade} does not exist: there are {n_grades} grades")]
    GradeOutOfRange {
        /// The grade index given (0 = worst).
        grade: u32,
        /// How many grades the method has.
        n_grades: usize,
    },
    /// `running_results_secret`: a secret consultation with
    /// `show_running_results` set.
    #[error("a secret consultation cannot show running results")]
    RunningResultsSecret,
    /// `split_not_allowed`: split sealing asked for approval or budget, whose ballots
    /// are sealed as one row.
    #[error("split mode is only for support, yes/no/abstain and majority judgment")]
    SplitNotAllowed,
    /// `split_required`: yes/no/abstain or majority judgment sealed as one row; they are
    /// sealed in split mode only.
    #[error("yes/no/abstain and majority judgment are sealed in split mode only")]
    SplitRequired,
    /// `sealed_shape`: a sealed ballot whose groups or proof do not have the layout's
    /// shape.
    #[error("the sealed ballot's groups or proof do not have the layout's shape")]
    SealedShape,
}

impl ChoiceError {
    /// A stable, machine-readable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ChoiceError::ZeroThreshold => "zero_threshold",
            ChoiceError::MaxChoicesOutOfRange => "max_choices_out_of_range",
            ChoiceError::ZeroBudget => "zero_budget",
            ChoiceError::NumberTooLarge => "number_too_large",
            ChoiceError::GradeCountOutOfRange => "grade_count_out_of_range",
            ChoiceError::BadGradeLabel => "bad_grade_label",
            ChoiceError::DuplicateGradeLabel => "duplicate_grade_label",
            ChoiceError::WrongChoiceKind => "wrong_choice_kind",
            ChoiceError::UnknownProposal(_) => "unknown_proposal",
            ChoiceError::ApprovalsNotAscending => "approvals_not_ascending",
            ChoiceError::TooManyApprovals { .. } => "too_many_approvals",
            ChoiceError::TooManyEntries => "too_many_entries",
            ChoiceError::GradeOutOfRange { .. } => "grade_out_of_range",
            ChoiceError::RunningResultsSecret => "running_results_secret",
            ChoiceError::SplitNotAllowed => "split_not_allowed",
            ChoiceError::SplitRequired => "split_required",
            ChoiceError::SealedShape => "sealed_shape",
        }
    }
}

/// Checks a method's parameters: threshold ≥ 1; 1 ≤ max_choices ≤ [`MAX_CHOICE_ENTRIES`];
/// budget ≥ 1; integers at most 2^53 − 1; [`MIN_GRADES`]..=[`MAX_GRADES`] grades, each
/// label non-blank, at most [`MAX_GRADE_LABEL_CHARS`] characters, and all distinct.
pub fn validate_method(method: &Method) -> Result<(), ChoiceError> {
    match method {
        Method::Support { threshold } => {
            if *threshold == 0 {
                return Err(ChoiceError::ZeroThreshold);
            }
            if *threshold > MAX_SAFE_INTEGER {
                return Err(ChoiceError::NumberTooLarge);
            }
        }
        Method::YesNoAbstain {} => {}
        Method::Approval { max_choices } => {
            if *max_choices == 0 || *max_choices as usize > MAX_CHOICE_ENTRIES {
                return Err(ChoiceError::MaxChoicesOutOfRange);
            }
        }
        Method::Budget { budget, rule: _ } => {
            if *budget == 0 {
                return Err(ChoiceError::ZeroBudget);
            }
            if *budget > MAX_SAFE_INTEGER {
                return Err(ChoiceError::NumberTooLarge);
            }
        }
        Method::MajorityJudgment { grades } => {
            if !(MIN_GRADES..=MAX_GRADES).contains(&grades.len()) {
                return Err(ChoiceError::GradeCountOutOfRange);
            }
            for (i, label) in grades.iter().enumerate() {
                // A label is one line of text, like a title: not blank, no control
                // character (PROTOCOL.md, "Event kinds").
                let bad = label.trim().is_empty()
                    || label.chars().count() > MAX_GRADE_LABEL_CHARS
                    || label.chars().any(char::is_control);
                if bad {
                    return Err(ChoiceError::BadGradeLabel);
                }
                if grades[..i].contains(label) {
                    return Err(ChoiceError::DuplicateGradeLabel);
                }
            }
        }
    }
    Ok(())
}

/// Checks one ballot content against a method: the variant fits the method, every named
/// id is a candidate, an approve list is strictly ascending (so without duplicates) and,
/// for approval, no longer than `max_choices`; grades exist; at most
/// [`MAX_CHOICE_ENTRIES`] entries. Empty contents are valid blank ballots.
pub fn validate_choice(
    method: &Method,
    is_candidate: impl Fn(&EventId) -> bool,
    choice: &Choice,
) -> Result<(), ChoiceError> {
    let known = |id: &EventId| {
        if is_candidate(id) {
            Ok(())
        } else {
            Err(ChoiceError::UnknownProposal(*id))
        }
    };
    match (method, choice) {
        (
            Method::Support { .. } | Method::Approval { .. } | Method::Budget { .. },
            Choice::Approve(ids),
        ) => {
            if ids.len() > MAX_CHOICE_ENTRIES {
                return Err(ChoiceError::TooManyEntries);
            }
            if let Method::Approval { max_choices } = method
                && ids.len() > *max_choices as usize
            {
                return Err(ChoiceError::TooManyApprovals {
                    n_approved: ids.len(),
                    max_choices: *max_choices,
                });
            }
            if ids.windows(2).any(|pair| pair[0] >= pair[1]) {
                return Err(ChoiceError::ApprovalsNotAscending);
            }
            ids.iter().try_for_each(known)
        }
        (Method::YesNoAbstain {}, Choice::Answers(answers)) => {
            if answers.len() > MAX_CHOICE_ENTRIES {
                return Err(ChoiceError::TooManyEntries);
            }
            answers.keys().try_for_each(known)
        }
        (Method::MajorityJudgment { grades }, Choice::Grades(given)) => {
            if given.len() > MAX_CHOICE_ENTRIES {
                return Err(ChoiceError::TooManyEntries);
            }
            for (id, grade) in given {
                known(id)?;
                if *grade as usize >= grades.len() {
                    return Err(ChoiceError::GradeOutOfRange {
                        grade: *grade,
                        n_grades: grades.len(),
                    });
                }
            }
            Ok(())
        }
        _ => Err(ChoiceError::WrongChoiceKind),
    }
}
