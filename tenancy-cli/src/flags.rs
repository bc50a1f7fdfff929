//! What the commands share in reading their options: `--flag value` pairs
//! and the database URL.

/// A command's arguments, read one flag at a time.
pub(crate) struct Flags<'a> {
    iter: std::slice::Iter<'a, String>,
}

impl<'a> Flags<'a> {
    pub(crate) fn new(args: &'a [String]) -> Self {
        Self { iter: args.iter() }
    }

    /// The next argument.
    pub(crate) fn next(&mut self) -> Option<&'a str> {
        self.iter.next().map(String::as_str)
    }

    /// The value after `flag`, or the error saying it is missing.
    pub(crate) fn value(&mut self, flag: &str) -> Result<String, String> {
        self.iter
            .next()
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value"))
    }
}

/// The default of `--database-url`: `$DATABASE_URL`.
pub(crate) fn database_url_from_env() -> Option<String> {
    std::env::var("DATABASE_URL").ok()
}

/// The database URL, or the error that says how to give one.
pub(crate) fn require_database(url: Option<String>) -> Result<String, String> {
    url.ok_or_else(|| "no database: pass --database-url or set DATABASE_URL".to_owned())
}
