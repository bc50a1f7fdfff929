//! Scoped SQL macros for tenancy-sqlx: `sqlx::query!` whose tenant scoping
//! is proven at compile time.
//!
//! Use them through `tenancy_sqlx::query!`, `query_as!` and `query_scalar!`
//! (feature `macros`); the documentation is there. Each macro
//!
//! 1. reads the manifest (`tenancy.manifest` next to the calling crate's
//!    `Cargo.toml`, or the file `TENANCY_MANIFEST` names) that lists the
//!    tenant tables and their tenant column;
//! 2. parses the SQL (PostgreSQL dialect) and refuses it, with a compile
//!    error that names the table and the fix, unless every tenant table is
//!    filtered to `$tenant` (see `tenancy_macros_core` for the rule);
//! 3. expands into sqlx's own macro with the tables schema-qualified and
//!    `$tenant` numbered after the caller's arguments, inside a
//!    `tenancy_sqlx::macros::ScopedQuery` that binds the tenant of the
//!    `TenantTx` it runs on. sqlx still checks columns and parameter types
//!    against `DATABASE_URL` or its offline data.
#![deny(missing_docs)]

use std::path::PathBuf;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Path, Token};
use tenancy_macros_core::{Manifest, manifest::FILE_NAME, scope_sql};

/// `query!("SQL", args...)`: see `tenancy_sqlx::query!`.
#[proc_macro]
pub fn query(input: TokenStream) -> TokenStream {
    expand(input, Kind::Query)
}

/// `query_as!(Type, "SQL", args...)`: see `tenancy_sqlx::query_as!`.
#[proc_macro]
pub fn query_as(input: TokenStream) -> TokenStream {
    expand(input, Kind::QueryAs)
}

/// `query_scalar!("SQL", args...)`: see `tenancy_sqlx::query_scalar!`.
#[proc_macro]
pub fn query_scalar(input: TokenStream) -> TokenStream {
    expand(input, Kind::QueryScalar)
}

#[derive(Clone, Copy)]
enum Kind {
    Query,
    QueryAs,
    QueryScalar,
}

/// The macro's input: an optional record type, the SQL, the arguments.
struct Input {
    record: Option<Path>,
    sql: LitStr,
    args: Vec<Expr>,
}

impl Input {
    fn parse(input: ParseStream<'_>, kind: Kind) -> syn::Result<Self> {
        let record = match kind {
            Kind::QueryAs => {
                let path: Path = input.parse()?;
                input.parse::<Token![,]>()?;
                Some(path)
            }
            Kind::Query | Kind::QueryScalar => None,
        };
        let sql: LitStr = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected the SQL as a string literal: tenancy checks it at compile time",
            )
        })?;
        let mut args = Vec::new();
        if input.parse::<Option<Token![,]>>()?.is_some() {
            let rest = Punctuated::<Expr, Token![,]>::parse_terminated(input)?;
            args.extend(rest);
        }
        Ok(Self { record, sql, args })
    }
}

fn expand(input: TokenStream, kind: Kind) -> TokenStream {
    let parsed = syn::parse::Parser::parse(|s: ParseStream<'_>| Input::parse(s, kind), input);
    match parsed.and_then(|input| expand_input(&input, kind)) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// The manifest's path: `TENANCY_MANIFEST` (relative to the crate's root)
/// or `tenancy.manifest` in the crate's root.
fn manifest_path() -> PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(PathBuf::new, PathBuf::from);
    match std::env::var_os("TENANCY_MANIFEST") {
        Some(path) => root.join(path),
        None => root.join(FILE_NAME),
    }
}

fn expand_input(input: &Input, kind: Kind) -> syn::Result<TokenStream2> {
    let span = input.sql.span();
    let path = manifest_path();
    let manifest = Manifest::load(&path).map_err(|e| syn::Error::new(span, e.to_string()))?;
    let scoped = scope_sql(&input.sql.value(), &manifest, input.args.len())
        .map_err(|e| syn::Error::new(span, e.to_string()))?;
    let sql = LitStr::new(&scoped.sql, span);
    let tenant = syn::Ident::new("__tenancy_tenant", Span::mixed_site());
    let mut args: Vec<TokenStream2> = input.args.iter().map(|a| quote!(#a)).collect();
    if scoped.tenant_param.is_some() {
        args.push(quote!(#tenant));
    }
    let record = input.record.as_ref().map(|r| quote!(#r,));
    let call = match kind {
        Kind::Query => quote!(::sqlx::query!(#sql #(, #args)*)),
        Kind::QueryAs => quote!(::sqlx::query_as!(#record #sql #(, #args)*)),
        Kind::QueryScalar => quote!(::sqlx::query_scalar!(#sql #(, #args)*)),
    };
    let path = path.display().to_string();
    Ok(quote! {{
        // Rebuild when the manifest changes.
        const _: &[u8] = ::core::include_bytes!(#path);
        ::tenancy_sqlx::macros::ScopedQuery::__new(
            |#tenant: ::tenancy_sqlx::macros::TenantKey| #call
        )
    }})
}
