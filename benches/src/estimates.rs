//! Reading criterion's results: `target/criterion/<id>/new/estimates.json`.

use std::path::Path;

/// The mean time of one benchmark, with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Mean time per iteration, in nanoseconds.
    pub mean_ns: f64,
    /// Lower bound of the confidence interval, in nanoseconds.
    pub low_ns: f64,
    /// Upper bound of the confidence interval, in nanoseconds.
    pub high_ns: f64,
}

impl Estimate {
    /// Reads the estimate of benchmark `id` (`group/function[/parameter]`)
    /// under `criterion_dir`; `None` if it was not measured.
    pub fn read(criterion_dir: &Path, id: &str) -> Option<Self> {
        let path = criterion_dir.join(id).join("new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let mean = json.get("mean")?;
        let bound = |name: &str| mean.get("confidence_interval")?.get(name)?.as_f64();
        Some(Self {
            mean_ns: mean.get("point_estimate")?.as_f64()?,
            low_ns: bound("lower_bound")?,
            high_ns: bound("upper_bound")?,
        })
    }

    /// The mean, in a readable unit.
    pub fn mean(&self) -> String {
        human(self.mean_ns)
    }

    /// The confidence interval, in readable units.
    pub fn interval(&self) -> String {
        format!("{} – {}", human(self.low_ns), human(self.high_ns))
    }
}

/// `ns` as ns, µs, ms or s with three significant digits.
pub fn human(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_picks_the_unit() {
        assert_eq!(human(87.4), "87.4 ns");
        assert_eq!(human(1_234.0), "1.23 µs");
        assert_eq!(human(456_000.0), "456 µs");
        assert_eq!(human(2_500_000_000.0), "2.50 s");
    }

    #[test]
    fn read_takes_the_mean_and_its_interval() {
        let dir = std::env::temp_dir().join(format!("tenancy-bench-{}", std::process::id()));
        let at = dir.join("g/f/new");
        std::fs::create_dir_all(&at).unwrap();
        std::fs::write(
            at.join("estimates.json"),
            r#"{"mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":9.0,"upper_bound":11.0},"point_estimate":10.0,"standard_error":0.5}}"#,
        )
        .unwrap();
        let estimate = Estimate::read(&dir, "g/f").unwrap();
        assert_eq!(
            estimate,
            Estimate {
                mean_ns: 10.0,
                low_ns: 9.0,
                high_ns: 11.0
            }
        );
        assert_eq!(Estimate::read(&dir, "g/missing"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
