//! One error type for every stage: a list of issues, each with a stable code, the JSON path
//! (or XML location) it concerns, a message and, where one applies, the ZATCA rule id.

use std::fmt;

use serde::Serialize;

/// How serious an issue is. ZATCA rejects documents with errors and accepts (HTTP 202) documents
/// with warnings, so builders report warnings next to their result instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The document would be rejected (or cannot be produced at all).
    Error,
    /// ZATCA accepts the document but reports the rule as a warning.
    Warning,
}

/// One finding: a stable snake_case `code`, an optional `path` (JSON path of the input field,
/// e.g. `line_items[2].quantity`), a human message and the ZATCA rule id when one applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// Stable machine-readable code, e.g. `invalid_vat_number`.
    pub code: &'static str,
    /// JSON path of the offending input field, when the issue concerns one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Human-readable message (lowercase fragment, no trailing period).
    pub message: String,
    /// ZATCA / EN 16931 rule id (`BR-KSA-39`, `BR-CO-15`) when the issue is a violated rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// Error or warning.
    pub severity: Severity,
}

impl Issue {
    /// A new error-severity issue.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Issue {
            code,
            path: None,
            message: message.into(),
            rule: None,
            severity: Severity::Error,
        }
    }

    /// A new warning-severity issue.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Issue {
            severity: Severity::Warning,
            ..Issue::error(code, message)
        }
    }

    /// Sets the path.
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets the ZATCA rule id.
    #[must_use]
    pub fn rule(mut self, rule: &'static str) -> Self {
        self.rule = Some(rule);
        self
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{path}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(rule) = self.rule {
            write!(f, " [{rule}]")?;
        }
        write!(f, " ({})", self.code)
    }
}

/// The error of every fallible core operation: one or more issues, all reported at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Error {
    issues: Vec<Issue>,
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with a single issue.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Error {
            issues: vec![Issue::error(code, message)],
        }
    }

    /// An error made of several issues; the first one is the primary.
    /// An empty list becomes an `internal` error rather than an empty error.
    pub fn from_issues(issues: Vec<Issue>) -> Self {
        if issues.is_empty() {
            return Error::new("internal", "error raised without issues");
        }
        Error { issues }
    }

    /// Sets the path of the primary issue.
    #[must_use]
    pub fn at(mut self, path: impl Into<String>) -> Self {
        if let Some(first) = self.issues.first_mut() {
            first.path = Some(path.into());
        }
        self
    }

    /// Sets the rule id of the primary issue.
    #[must_use]
    pub fn rule(mut self, rule: &'static str) -> Self {
        if let Some(first) = self.issues.first_mut() {
            first.rule = Some(rule);
        }
        self
    }

    /// The primary issue.
    pub fn primary(&self) -> &Issue {
        // `from_issues` and `new` guarantee at least one issue.
        &self.issues[0]
    }

    /// The code of the primary issue.
    pub fn code(&self) -> &'static str {
        self.primary().code
    }

    /// All issues (errors first, then any warnings collected on the way).
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<Issue> for Error {
    fn from(issue: Issue) -> Self {
        Error { issues: vec![issue] }
    }
}
