//! Heuristics over policy and view text, as PostgreSQL prints it
//! (`pg_get_expr`): what the rules in [`checks`](super::checks) ask of an
//! expression.

use super::AuditOptions;

/// Whether a policy expression restricts rows to the current tenant: it
/// compares the tenant column with the setting.
pub(super) fn is_tenant_scoped(expr: &str, options: &AuditOptions) -> bool {
    let expr = expr.to_ascii_lowercase();
    expr.contains(&format!("current_setting('{}'", options.setting.as_str()))
        && contains_word(&without_literals(&expr), &options.tenant_column)
}

/// Whether a policy expression restricts rows to the tenant that the
/// session's login role is mapped to (the sealed tier's permissive policy,
/// [`TenantPolicy::sealed_sql`](tenancy_core::rls::TenantPolicy::sealed_sql)).
pub(super) fn is_sealed_scoped(expr: &str, options: &AuditOptions) -> bool {
    let expr = without_literals(&expr.to_ascii_lowercase());
    expr.contains("tenancy_sealed_roles")
        && contains_word(&expr, "session_user")
        && contains_word(&expr, &options.tenant_column)
        && !contains_word(&expr, "or")
}

/// Whether a permissive policy expression pins rows to one tenant, by the
/// setting or by the sealed login role.
pub(super) fn pins_tenant(expr: &str, options: &AuditOptions) -> bool {
    is_tenant_scoped(expr, options) || is_sealed_scoped(expr, options)
}

/// The expression with every `'...'` literal emptied, so names inside
/// strings (such as the setting `'app.tenant_id'`) do not count as columns.
pub(super) fn without_literals(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut in_literal = false;
    for c in expr.chars() {
        if c == '\'' {
            in_literal = !in_literal;
            out.push(c);
        } else if !in_literal {
            out.push(c);
        }
    }
    out
}

pub(super) fn contains_word(haystack: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Whether two policies' commands (`pg_policy.polcmd`: `*` for all) meet.
pub(super) fn commands_overlap(a: &str, b: &str) -> bool {
    a == "*" || b == "*" || a == b
}

/// Whether a policy expression lets rows through when no tenant is set:
/// the setting inside a `coalesce` whose fallback is the tenant column
/// (`tenant_id = coalesce(setting, tenant_id)`), or `... IS NULL` combined with `OR` and
/// the rest.
pub(super) fn fails_open(expr: &str, options: &AuditOptions) -> bool {
    let expr = without_literals(&expr.to_ascii_lowercase());
    let coalesce_fallback = expr.match_indices("coalesce(").any(|(i, _)| {
        let args = balanced(&expr[i + "coalesce".len()..]);
        args.contains("current_setting(") && contains_word(args, &options.tenant_column)
    });
    let setting_is_null = expr
        .match_indices(" is null")
        .any(|(i, _)| enclosing_group(&expr[..i]).contains("current_setting("));
    coalesce_fallback || (setting_is_null && contains_word(&expr, "or"))
}

/// The text from the last unmatched `(` before the end of `s` to its end:
/// the group an operator at the end of `s` belongs to.
fn enclosing_group(s: &str) -> &str {
    let mut depth = 0_usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => return &s[i..],
            '(' => depth -= 1,
            _ => {}
        }
    }
    s
}

/// The parenthesised text at the start of `s` (which starts with `(`),
/// up to its matching `)`; all of `s` if it does not close.
fn balanced(s: &str) -> &str {
    let mut depth = 0_usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// `current_setting('x')` without `missing_ok`, or without `nullif`.
pub(super) fn setting_unset_unsafe(expr: &str) -> bool {
    let expr = expr.to_ascii_lowercase();
    expr.match_indices("current_setting(").any(|(i, _)| {
        let call = &expr[i..];
        let args_end = call.find(')').unwrap_or(call.len());
        let missing_ok = call[..args_end].contains("true");
        let before = &expr[..i];
        let nullif = before.trim_end().ends_with("nullif(");
        !(missing_ok && nullif)
    })
}

/// `current_setting` outside a sub-select.
pub(super) fn per_row_setting(expr: &str) -> bool {
    let expr = expr.to_ascii_lowercase();
    expr.contains("current_setting(") && !expr.contains("select")
}

pub(crate) fn security_invoker(reloptions: &str) -> bool {
    reloptions.split(',').any(|o| {
        let o = o.to_ascii_lowercase();
        matches!(
            o.as_str(),
            "security_invoker=true"
                | "security_invoker=on"
                | "security_invoker=1"
                | "security_invoker=yes"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expression_heuristics() {
        let good = "(tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\"))";
        let options = AuditOptions::default();
        assert!(is_tenant_scoped(good, &options));
        assert!(!setting_unset_unsafe(good));
        assert!(!per_row_setting(good));
        let bare = "(tenant_id = (current_setting('app.tenant_id'::text))::uuid)";
        assert!(setting_unset_unsafe(bare));
        assert!(per_row_setting(bare));
        assert!(!is_tenant_scoped("true", &options));
        assert!(!is_tenant_scoped(
            "(owner_id = (current_setting('app.tenant_id'::text))::uuid)",
            &options
        ));
        assert!(contains_word("a or b", "or"));
        assert!(!contains_word("orders", "or"));
        let coalesce = "(tenant_id = COALESCE(( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\"), tenant_id))";
        assert!(fails_open(coalesce, &options));
        let null_or = "((( SELECT NULLIF(current_setting('app.tenant_id'::text, true), ''::text) AS \"nullif\") IS NULL) OR (tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\")))";
        assert!(fails_open(null_or, &options));
        assert!(!fails_open(good, &options));
        let fallback_constant = "(tenant_id = COALESCE((NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid, '00000000-0000-0000-0000-000000000000'::uuid))";
        assert!(!fails_open(fallback_constant, &options));
        let other_null = "((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\")) AND ((deleted_at IS NULL) OR archived))";
        assert!(!fails_open(other_null, &options));
        assert!(security_invoker("security_invoker=true"));
        assert!(!security_invoker("security_barrier=true"));
    }

    /// The sealed tier's permissive policy, as PostgreSQL prints it, pins a
    /// tenant; the same with an `OR` escape, or without the map, does not.
    #[test]
    fn sealed_expressions() {
        let options = AuditOptions::default();
        let sealed = "(tenant_id = ( SELECT tenancy_sealed_roles.tenant FROM tenancy_sealed_roles WHERE (tenancy_sealed_roles.role_name = SESSION_USER)))";
        assert!(is_sealed_scoped(sealed, &options));
        assert!(pins_tenant(sealed, &options));
        let escape = format!("({sealed} OR true)");
        assert!(!is_sealed_scoped(&escape, &options));
        assert!(!pins_tenant(&escape, &options));
        for partial in [
            "(tenant_id = ( SELECT roles.tenant FROM roles WHERE (roles.role_name = SESSION_USER)))",
            "(owner_id = ( SELECT tenancy_sealed_roles.tenant FROM tenancy_sealed_roles WHERE (tenancy_sealed_roles.role_name = SESSION_USER)))",
            "(tenant_id = ( SELECT tenancy_sealed_roles.tenant FROM tenancy_sealed_roles WHERE (tenancy_sealed_roles.role_name = CURRENT_USER)))",
        ] {
            assert!(!is_sealed_scoped(partial, &options), "{partial}");
            assert!(!pins_tenant(partial, &options), "{partial}");
        }
        let setting = "(tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\"))";
        assert!(pins_tenant(setting, &options));
        assert!(!pins_tenant("true", &options));
    }

    /// Words are whole identifiers wherever they stand.
    #[test]
    fn words_are_whole_identifiers() {
        for (haystack, found) in [
            ("or b", true),
            ("a or", true),
            ("(a)or(b)", true),
            ("xor", false),
            ("or_x", false),
            ("or1", false),
            ("factor or", true),
            ("", false),
        ] {
            assert_eq!(contains_word(haystack, "or"), found, "{haystack:?}");
        }
        assert_eq!(without_literals("a = 'x or y' or b"), "a = '' or b");
        assert_eq!(
            without_literals("'tenant_id' = tenant_id"),
            "'' = tenant_id"
        );
    }

    #[test]
    fn commands_meet_when_either_is_all_or_both_are_one() {
        assert!(commands_overlap("*", "r"));
        assert!(commands_overlap("w", "*"));
        assert!(commands_overlap("r", "r"));
        assert!(!commands_overlap("r", "w"));
        assert!(!commands_overlap("a", "d"));
    }

    /// Fail-open shapes nested deeper still count; an `IS NULL` on another
    /// column, even next to the setting, does not.
    #[test]
    fn fail_open_shapes_in_nested_groups() {
        let options = AuditOptions::default();
        let nested = "((a = 1) AND (tenant_id = COALESCE((current_setting('app.tenant_id'::text, true))::uuid, tenant_id)))";
        assert!(fails_open(nested, &options));
        let other_column = "(tenant_id = COALESCE((current_setting('app.tenant_id'::text, true))::uuid, owner_id))";
        assert!(!fails_open(other_column, &options));
        let null_and = "(((current_setting('app.tenant_id'::text, true)) IS NULL) AND (tenant_id = (current_setting('app.tenant_id'::text, true))::uuid))";
        assert!(!fails_open(null_and, &options));
        let sibling_null = "((tenant_id = (current_setting('app.tenant_id'::text, true))::uuid) OR ((f(x)) IS NULL))";
        assert!(!fails_open(sibling_null, &options));
        assert_eq!(enclosing_group("a (b (c) d"), "(b (c) d");
        assert_eq!(enclosing_group("(a) b"), "(a) b");
        // A short tenant column just before COALESCE is not one of its
        // arguments.
        let org = AuditOptions::default().tenant_column("org");
        assert!(!fails_open(
            "(org = coalesce((current_setting('app.tenant_id'::text, true))::uuid, owner))",
            &org
        ));
        assert!(fails_open(
            "(org = coalesce((current_setting('app.tenant_id'::text, true))::uuid, org))",
            &org
        ));
        assert_eq!(balanced("(a (b) c) d"), "(a (b) c)");
        assert_eq!(balanced("(a (b"), "(a (b");
    }

    #[test]
    fn an_unset_setting_is_safe_only_with_missing_ok_and_nullif() {
        for (expr, unsafe_) in [
            (
                "NULLIF(current_setting('app.tenant_id'::text, true), ''::text)",
                false,
            ),
            ("nullif( current_setting('app.tenant_id', true), '')", false),
            ("current_setting('app.tenant_id'::text, true)", true),
            (
                "NULLIF(current_setting('app.tenant_id'::text), ''::text)",
                true,
            ),
            ("tenant_id = 1", false),
        ] {
            assert_eq!(setting_unset_unsafe(expr), unsafe_, "{expr}");
        }
    }

    #[test]
    fn security_invoker_in_any_spelling() {
        for on in [
            "security_invoker=on",
            "SECURITY_INVOKER=1",
            "security_barrier=true,security_invoker=yes",
        ] {
            assert!(security_invoker(on), "{on}");
        }
        for off in [
            "",
            "security_invoker=false",
            "security_invoker=off",
            "check_option=local",
        ] {
            assert!(!security_invoker(off), "{off}");
        }
    }
}
