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
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::path::PathBuf;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Path, Token};
use tenancy_macros_core::{Manifest, manifest::FILE_NAME, scope_sql};

/// `sqlx::query!` with the tenant scoping proven at compile time.
///
/// ```ignore
/// // Needs DATABASE_URL or sqlx's offline data at compile time, like sqlx::query!.
/// let lines = tenancy_sqlx::query!(
///     "SELECT l.line_no, p.sku, l.qty
///        FROM orders o
///        JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
///        JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
///       WHERE o.tenant_id = $tenant AND o.id = $1",
///     order_id,
/// )
/// .fetch_all(&mut tx) // tx: TenantTx; binds its tenant to $tenant
/// .await?;
/// ```
///
/// The SQL must be a string literal. `$tenant` stands for the tenant of the
/// `TenantTx` the query runs on; `$1`, `$2`, ... are the arguments, as in
/// sqlx. Every tenant table (from `tenancy.manifest`) must be filtered to
/// `$tenant`, directly or through a join on the tenant column, or the crate
/// does not compile; the error names the table, its alias and the fix:
///
/// ```text
/// error: `order_lines` (alias `l`) is not scoped to the tenant: add
///        `l.tenant_id = $tenant` or join it on `l.tenant_id = o.tenant_id`, ...
/// ```
///
/// The result is a `tenancy_sqlx::macros::ScopedQuery`: `fetch_all`,
/// `fetch_one`, `fetch_optional` and `execute` take a `&mut TenantTx`, and
/// nothing else. Rows are sqlx's anonymous records, as with `sqlx::query!`;
/// sqlx checks the columns and parameter types as usual. The arguments are
/// evaluated when the query runs, not where the macro is written. See
/// `tenancy_sqlx::macros` for the rules and the manifest.
#[proc_macro]
pub fn query(input: TokenStream) -> TokenStream {
    expand(input, Kind::Query)
}

/// `sqlx::query_as!` with the tenant scoping proven at compile time: the
/// rows are read into `Type` (a struct whose fields match the columns).
///
/// ```ignore
/// let customer: Option<Customer> = tenancy_sqlx::query_as!(
///     Customer,
///     "SELECT id, name, email FROM customers WHERE tenant_id = $tenant AND email = $1",
///     email,
/// )
/// .fetch_optional(&mut tx)
/// .await?;
/// ```
///
/// Everything else is as for [`query!`].
#[proc_macro]
pub fn query_as(input: TokenStream) -> TokenStream {
    expand(input, Kind::QueryAs)
}

/// `sqlx::query_scalar!` with the tenant scoping proven at compile time:
/// one column, read as its Rust type.
///
/// ```ignore
/// let id: i64 = tenancy_sqlx::query_scalar!(
///     "INSERT INTO customers (tenant_id, id, name) VALUES ($tenant, $1, $2) RETURNING id",
///     id,
///     name,
/// )
/// .fetch_one(&mut tx)
/// .await?;
/// ```
///
/// Everything else is as for [`query!`].
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
    // `$tenant` is bound as the Rust type of the tenant column, so sqlx
    // checks it against the column and the query runs only on a transaction
    // of that id type. A query of shared tables only runs on any.
    let param = match scoped.id_type {
        Some("bigint") => quote!(#tenant: i64),
        Some("integer") => quote!(#tenant: i32),
        Some("text") => quote!(#tenant: ::std::string::String),
        Some(_) => quote!(#tenant: ::tenancy_sqlx::__private::Uuid),
        None => quote!(#tenant),
    };
    let path = path.display().to_string();
    Ok(quote! {{
        // Rebuild when the manifest changes.
        const _: &[u8] = ::core::include_bytes!(#path);
        ::tenancy_sqlx::macros::ScopedQuery::__new(|#param| #call)
    }})
}
