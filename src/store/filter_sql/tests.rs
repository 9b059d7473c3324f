//! The SQL's shape. What it selects is checked against the evaluator, on both
//! backends, by `tests/api/filters.rs`.

use super::*;
use crate::scim::filter::parse;
use crate::scim::ScimType;

const BASE: Option<&str> = Some("https://x/scim/v2/t");

fn query(kind: ResourceKind, f: &str, dialect: Dialect) -> RawQuery {
    compile_at(kind, &parse(f).unwrap(), dialect, BASE).unwrap_or_else(|e| panic!("{f}: {e:?}"))
}

fn sql(kind: ResourceKind, f: &str, dialect: Dialect) -> String {
    query(kind, f, dialect).as_sql().to_owned()
}

fn text(bind: &Bind) -> &str {
    match bind {
        Bind::Text(t) => t,
        other => panic!("{other:?}"),
    }
}

#[test]
fn indexed_attributes_compare_their_columns() {
    let user = |f| sql(ResourceKind::User, f, Dialect::Sqlite);
    assert_eq!(
        user("userName eq \"BJensen\""),
        "(users.user_name_folded = $1)"
    );
    assert_eq!(user("id eq \"abc\""), "(users.id = $1)");
    assert_eq!(
        user("externalId sw \"e\""),
        "(users.external_id IS NOT NULL AND (users.external_id LIKE $1 ESCAPE '\\'))"
    );
    let q = query(
        ResourceKind::User,
        "USERNAME eq \"BJensen\"",
        Dialect::Postgres,
    );
    assert_eq!(q.as_sql(), "(users.user_name_folded = $1)");
    assert_eq!(
        text(&q.binds()[0]),
        "bjensen",
        "folded in Rust, like the column"
    );
    let group = sql(
        ResourceKind::Group,
        "members.value eq \"ABC\"",
        Dialect::Sqlite,
    );
    assert!(
        group.starts_with("EXISTS (SELECT 1 FROM group_members gm"),
        "{group}"
    );
    assert!(group.contains(".member_id = $1"), "{group}");
}

#[test]
fn other_attributes_are_json_in_both_dialects() {
    let s = sql(ResourceKind::User, "title co \"vp\"", Dialect::Sqlite);
    assert!(
        s.contains("json_each(") && s.contains("roster_fold("),
        "{s}"
    );
    let p = sql(ResourceKind::User, "title co \"vp\"", Dialect::Postgres);
    assert!(p.contains("jsonb_each(") && p.contains("lower("), "{p}");
    assert!(p.contains("CAST(users.attributes AS jsonb)"), "{p}");
    let ordered = sql(ResourceKind::User, "title gt \"a\"", Dialect::Postgres);
    assert!(ordered.contains("COLLATE \"C\" >"), "{ordered}");
}

#[test]
fn binds_are_numbered_in_order_and_user_text_never_reaches_the_sql() {
    let f = r#"title eq "x'); DROP TABLE users; --" and nickName co "50%_\\" and urn:a'b:c pr"#;
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let q = query(ResourceKind::User, f, dialect);
        assert!(!q.as_sql().contains("DROP") && !q.as_sql().contains("a'b"));
        let n = q.binds().len();
        assert!(
            q.as_sql().contains(&format!("${n}")) && !q.as_sql().contains(&format!("${}", n + 1))
        );
        let texts: Vec<&str> = q.binds().iter().map(text).collect();
        let drop = texts
            .iter()
            .position(|t| t.to_lowercase().contains("drop table"))
            .unwrap();
        let like = texts.iter().position(|t| *t == "%50\\%\\_\\\\%").unwrap();
        assert!(drop < like, "{texts:?}");
    }
}

#[test]
fn like_metacharacters_are_escaped() {
    assert_eq!(sql::escape_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
}

#[test]
fn password_is_an_invalid_filter() {
    for f in [
        "password pr",
        "PASSWORD eq \"x\"",
        "urn:ietf:params:scim:schemas:core:2.0:User:password pr",
        "title pr or not (password.x pr)",
    ] {
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let err = compile(kind, &parse(f).unwrap(), Dialect::Sqlite).unwrap_err();
            assert_eq!(err.scim_type, ScimType::InvalidFilter);
        }
    }
    // Inside a value filter, `password` is a sub-attribute like any other.
    query(ResourceKind::User, "emails[password pr]", Dialect::Sqlite);
}

#[test]
fn urls_need_the_base_url() {
    for f in ["meta.location pr", "groups[$ref co \"x\"]"] {
        let err = compile(ResourceKind::User, &parse(f).unwrap(), Dialect::Sqlite).unwrap_err();
        assert_eq!(err.scim_type, ScimType::InvalidFilter);
        let q = query(ResourceKind::User, f, Dialect::Postgres);
        assert_eq!(q.binds()[0], Bind::Text(BASE.unwrap().into()));
    }
}

#[test]
fn long_chains_nest_shallowly() {
    let chain = vec!["title pr"; 300].join(" or ");
    let s = sql(ResourceKind::User, &chain, Dialect::Sqlite);
    let (mut depth, mut deepest) = (0i32, 0);
    for c in s.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        deepest = deepest.max(depth);
    }
    assert!(deepest < 30, "{deepest}");
}

#[test]
fn nul_in_a_literal_is_never_bound() {
    for f in [
        r#"title eq "a\u0000""#,
        r#"title gt "a\u0000b""#,
        r#"id co "\u0000""#,
    ] {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let q = query(ResourceKind::User, f, dialect);
            assert!(q
                .binds()
                .iter()
                .all(|b| !matches!(b, Bind::Text(t) if t.contains('\0'))));
        }
    }
}

#[test]
fn email_equality_reads_the_user_emails_index_and_nothing_else_does() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let q = query(ResourceKind::User, r#"emails[VALUE eq "B@X.org"]"#, dialect);
        assert_eq!(
            q.as_sql(),
            "((users.tenant_id, users.id) IN (SELECT ue.tenant_id, ue.user_id FROM user_emails ue \
             WHERE ue.value_folded = $1))"
        );
        assert_eq!(text(&q.binds()[0]), "b@x.org");
        let dotted = sql(ResourceKind::User, r#"emails.value eq "b@x.org""#, dialect);
        assert!(dotted.ends_with("AND NOT ue.bare))"), "{dotted}");
        let urn = r#"urn:ietf:params:scim:schemas:core:2.0:User:emails.value eq "b""#;
        assert!(sql(ResourceKind::User, urn, dialect).contains("user_emails"));
        // Entra's form: the index narrows, the walk decides.
        for narrowed in [
            r#"emails[type eq "work"].value eq "B""#,
            r#"emails[value eq "b" and type eq "work"]"#,
        ] {
            let s = sql(ResourceKind::User, narrowed, dialect);
            assert!(
                s.starts_with("(((users.tenant_id, users.id) IN (SELECT"),
                "{s}"
            );
            assert!(s.contains("json"), "{s}");
        }
        for walked in [
            r#"emails[value eq "b" or type eq "work"]"#,
            r#"emails.value co "b""#,
            r#"emails.value eq 1"#,
            r#"emails.type eq "b""#,
        ] {
            let s = sql(ResourceKind::User, walked, dialect);
            assert!(!s.contains("user_emails"), "{walked}: {s}");
        }
    }
}

#[test]
fn sort_keys_use_indexed_columns_and_refuse_what_cannot_sort() {
    let key = |kind, by: &str, dialect| {
        let path = crate::scim::filter::parse_path(by).unwrap().attr;
        sort_key(kind, &path, dialect)
    };
    let user = ResourceKind::User;
    assert_eq!(
        key(user, "USERNAME", Dialect::Postgres).unwrap(),
        SortKey {
            expr: "users.user_name_folded".into(),
            nullable: false
        }
    );
    assert_eq!(
        key(ResourceKind::Group, "displayName", Dialect::Sqlite)
            .unwrap()
            .expr,
        "groups.display_name_folded"
    );
    assert_eq!(
        key(user, "meta.lastModified", Dialect::Sqlite)
            .unwrap()
            .expr,
        "users.updated_at"
    );
    let family = key(user, "name.familyName", Dialect::Sqlite).unwrap();
    assert!(
        family.nullable && family.expr.starts_with("roster_fold("),
        "{family:?}"
    );
    let number = key(
        user,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        Dialect::Postgres,
    )
    .unwrap();
    assert!(
        number.expr.contains(
            "ARRAY['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User', 'employeeNumber']"
        ),
        "{number:?}"
    );
    for by in ["emails", "EMAILS.value", "phoneNumbers.type"] {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            let k = key(user, by, dialect).unwrap();
            assert!(k.nullable && k.expr.contains("primary"), "{by}: {k:?}");
        }
    }
    for refused in [
        "groups",
        "addresses",
        "emails.nope",
        "name",
        "active",
        "password",
        "nope",
        "meta.version",
        "urn:x:y:z",
    ] {
        let err = key(user, refused, Dialect::Sqlite).unwrap_err();
        assert_eq!(err.scim_type, ScimType::InvalidValue, "{refused}");
    }
}
