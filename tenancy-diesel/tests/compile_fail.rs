//! Misuse that must not compile, each with a twin that shows the right way.
//!
//! The `.stderr` snapshots come from the workspace toolchain (rustc 1.95).
//! Refresh them with `TRYBUILD=overwrite cargo test -p tenancy-diesel --all-features --test compile_fail`.

#[test]
fn misuse_does_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
    // diesel-async: the same walls on `AsyncTenantTx`.
    #[cfg(feature = "async")]
    {
        cases.compile_fail("tests/ui-async/fail/*.rs");
        cases.pass("tests/ui-async/pass/*.rs");
    }
}
