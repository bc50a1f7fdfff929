//! [`Report`], [`Finding`] and [`Severity`].

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::Serialize;

use super::FindingCode;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A performance problem: isolation holds, queries are slow.
    Low,
    /// Isolation holds today but breaks easily, or errors leak information.
    Medium,
    /// Isolation can leak in common situations.
    High,
    /// Isolation is off: tenants can see each other's rows.
    Critical,
}

impl Severity {
    /// The severity in words.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            "critical" => Ok(Self::Critical),
            _ => Err(format!(
                "unknown severity {s:?}: expected low, medium, high or critical"
            )),
        }
    }
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem it is: a stable code, such as `rls_not_forced`.
    pub code: FindingCode,
    /// The object concerned, such as `public.orders` or `role pos_app`.
    pub object: String,
    /// What is wrong and why it matters.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// The audit's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The tables recognised as tenant tables (`schema.table`).
    pub tenant_tables: Vec<String>,
    /// What was found, most severe first.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is at least `severity`.
    pub fn has_findings_at(&self, severity: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= severity)
    }

    /// The codes found, in order (handy in tests).
    pub fn codes(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.code.as_str()).collect()
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The report for people.
    pub fn to_text(&self) -> String {
        let count = |s| self.findings.iter().filter(|f| f.severity == s).count();
        let mut out = format!(
            "tenancy audit: {} tenant table(s), {} finding(s) ({} critical, {} high, {} medium, {} low)\n",
            self.tenant_tables.len(),
            self.findings.len(),
            count(Severity::Critical),
            count(Severity::High),
            count(Severity::Medium),
            count(Severity::Low),
        );
        if !self.tenant_tables.is_empty() {
            let _ = writeln!(out, "tenant tables: {}", self.tenant_tables.join(", "));
        }
        for f in &self.findings {
            let _ = write!(
                out,
                "\n{:<8} {} on {}\n         {}\n         fix: {}\n",
                f.severity.as_str().to_uppercase(),
                f.code,
                f.object,
                f.message,
                f.fix
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_parse_in_any_case_and_print_as_they_parse() {
        for (text, severity) in [
            ("low", Severity::Low),
            ("Medium", Severity::Medium),
            ("HIGH", Severity::High),
            ("critical", Severity::Critical),
        ] {
            assert_eq!(text.parse::<Severity>(), Ok(severity));
            assert_eq!(severity.to_string(), text.to_ascii_lowercase());
        }
        let error = "severe".parse::<Severity>().unwrap_err();
        assert!(
            error.contains("expected low, medium, high or critical"),
            "{error}"
        );
    }

    #[test]
    fn the_text_report_counts_findings_by_severity() {
        let finding = |severity, code| Finding {
            severity,
            code,
            object: "public.orders".into(),
            message: "what is wrong".into(),
            fix: "what to do".into(),
        };
        let report = Report {
            tenant_tables: vec!["public.orders".into()],
            findings: vec![
                finding(Severity::Critical, FindingCode::RlsDisabled),
                finding(Severity::Medium, FindingCode::UniqueWithoutTenant),
                finding(Severity::Medium, FindingCode::UniqueWithoutTenant),
            ],
        };
        let text = report.to_text();
        assert!(
            text.starts_with(
                "tenancy audit: 1 tenant table(s), 3 finding(s) (1 critical, 0 high, 2 medium, 0 low)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nCRITICAL rls_disabled on public.orders\n"),
            "{text}"
        );
        assert!(text.contains("\ntenant tables: public.orders\n"), "{text}");
        let empty = Report {
            tenant_tables: vec![],
            findings: vec![],
        };
        assert_eq!(
            empty.to_text(),
            "tenancy audit: 0 tenant table(s), 0 finding(s) (0 critical, 0 high, 0 medium, 0 low)\n"
        );
    }
}
