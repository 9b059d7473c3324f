//! SCIM 2.0 schema definitions (RFC 7643) as static Rust data.
//!
//! This module holds the three schemas roster serves — the core `User`
//! (§4.1) and `Group` (§4.2) schemas and the enterprise `User` extension
//! (§4.3) — with attribute characteristics taken from the normative schema
//! representation in RFC 7643 §8.7.1. Every definition is a `static`, so
//! lookups allocate nothing and cost only a short case-insensitive scan.
//!
//! It also provides:
//! * the schema and message URNs used throughout the protocol,
//! * the JSON rendering of a schema for the `/Schemas` endpoint (§7) and of a
//!   resource type for the `/ResourceTypes` endpoint (§6),
//! * attribute lookups by path pieces ([`find_attribute`], [`is_case_exact`]),
//!   which the filter, PATCH and validation code use to learn an attribute's
//!   type, mutability and case sensitivity.
//!
//! Deviations from the letter of §8.7.1, each marked where it occurs:
//! * `User` and `Group` list the common attributes `id` and `externalId`
//!   (§3.1) so that lookups find them; `meta` is the separate
//!   [`META_ATTRIBUTE`], found by lookups but not rendered in `/Schemas`.
//! * `Group.displayName` is required, as the prose of §4.2 says.
//! * `Group.members` has a `display` sub-attribute and `User.addresses` a
//!   `primary` one; both appear in the RFC's own examples (§8.2, §8.4).

use serde_json::{json, Map, Value};

use AttrType::{Binary, DateTime};
use Mutability::{Immutable, ReadOnly, WriteOnly};

// ---------------------------------------------------------------------------
// URNs
// ---------------------------------------------------------------------------

/// Core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Service provider configuration (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Resource type (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Schema definition (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// List response message (RFC 7644 §3.4.2).
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PATCH request message (RFC 7644 §3.5.2).
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error response message (RFC 7644 §3.12).
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Search request message, `POST .search` (RFC 7644 §3.4.3).
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Bulk request message (RFC 7644 §3.7).
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// Bulk response message (RFC 7644 §3.7).
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    /// The name used in schema representations, e.g. `"dateTime"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Decimal => "decimal",
            Self::Integer => "integer",
            Self::DateTime => "dateTime",
            Self::Binary => "binary",
            Self::Reference => "reference",
            Self::Complex => "complex",
        }
    }
}

/// Whether and how an attribute may be modified (RFC 7643 §7, `mutability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    /// The name used in schema representations, e.g. `"readOnly"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "readOnly",
            Self::ReadWrite => "readWrite",
            Self::Immutable => "immutable",
            Self::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned in responses (RFC 7643 §7, `returned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    /// The name used in schema representations, e.g. `"default"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Default => "default",
            Self::Request => "request",
        }
    }
}

/// How the service provider enforces uniqueness (RFC 7643 §7, `uniqueness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    /// The name used in schema representations, e.g. `"server"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Server => "server",
            Self::Global => "global",
        }
    }
}

/// One attribute (or sub-attribute) definition (RFC 7643 §7).
///
/// `sub_attributes` is non-empty exactly when `attr_type` is
/// [`AttrType::Complex`]; sub-attributes are never complex themselves.
#[derive(Debug, Clone)]
pub struct AttributeDef {
    pub name: &'static str,
    pub attr_type: AttrType,
    pub multi_valued: bool,
    pub description: &'static str,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub sub_attributes: &'static [AttributeDef],
}

impl AttributeDef {
    /// The sub-attribute called `name` (case-insensitive), if any.
    pub fn sub_attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_by_name(self.sub_attributes, name)
    }

    /// Whether this is a complex attribute.
    pub fn is_complex(&self) -> bool {
        self.attr_type == AttrType::Complex
    }

    // Const builders for the tables below. `new` gives the RFC 7643 §2.2
    // defaults: single-valued, optional, case-insensitive, readWrite,
    // returned by default, no uniqueness constraint.

    const fn new(name: &'static str, attr_type: AttrType, description: &'static str) -> Self {
        Self {
            name,
            attr_type,
            multi_valued: false,
            description,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: &[],
            reference_types: &[],
            sub_attributes: &[],
        }
    }

    const fn string(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    const fn boolean(name: &'static str, description: &'static str) -> Self {
        Self::new(name, AttrType::Boolean, description)
    }

    const fn reference(
        name: &'static str,
        reference_types: &'static [&'static str],
        description: &'static str,
    ) -> Self {
        let mut attr = Self::new(name, AttrType::Reference, description);
        attr.reference_types = reference_types;
        attr
    }

    const fn complex(
        name: &'static str,
        description: &'static str,
        sub_attributes: &'static [AttributeDef],
    ) -> Self {
        let mut attr = Self::new(name, AttrType::Complex, description);
        attr.sub_attributes = sub_attributes;
        attr
    }

    const fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    const fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    const fn mutability(mut self, mutability: Mutability) -> Self {
        self.mutability = mutability;
        self
    }

    const fn returned(mut self, returned: Returned) -> Self {
        self.returned = returned;
        self
    }

    const fn uniqueness(mut self, uniqueness: Uniqueness) -> Self {
        self.uniqueness = uniqueness;
        self
    }

    const fn canonical(mut self, values: &'static [&'static str]) -> Self {
        self.canonical_values = values;
        self
    }
}

/// A schema definition (RFC 7643 §7).
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttributeDef],
}

impl SchemaDef {
    /// The top-level attribute called `name` (case-insensitive), if any.
    pub fn attribute(&self, name: &str) -> Option<&'static AttributeDef> {
        find_by_name(self.attributes, name)
    }
}

fn find_by_name(attrs: &'static [AttributeDef], name: &str) -> Option<&'static AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

// ---------------------------------------------------------------------------
// Common attributes (RFC 7643 §3.1)
// ---------------------------------------------------------------------------

const ID: AttributeDef = AttributeDef::string(
    "id",
    "Unique identifier of the resource, assigned by the service provider.",
)
.case_exact()
.mutability(ReadOnly)
.returned(Returned::Always)
.uniqueness(Uniqueness::Server);

const EXTERNAL_ID: AttributeDef = AttributeDef::string(
    "externalId",
    "Identifier of the resource as defined by the provisioning client.",
)
.case_exact();

/// The common `meta` attribute (RFC 7643 §3.1). Found by [`find_attribute`]
/// for every resource kind; not part of any rendered schema.
pub static META_ATTRIBUTE: AttributeDef = AttributeDef::complex(
    "meta",
    "Resource metadata maintained by the service provider.",
    &[
        AttributeDef::string("resourceType", "Name of the resource type of the resource.")
            .case_exact()
            .mutability(ReadOnly),
        AttributeDef::new(
            "created",
            DateTime,
            "When the resource was added to the service provider.",
        )
        .mutability(ReadOnly),
        AttributeDef::new(
            "lastModified",
            DateTime,
            "When the resource was last updated at the service provider.",
        )
        .mutability(ReadOnly),
        AttributeDef::reference("location", &["uri"], "URI of the resource.")
            .case_exact()
            .mutability(ReadOnly),
        AttributeDef::string("version", "Version (entity tag) of the resource.")
            .case_exact()
            .mutability(ReadOnly),
    ],
)
.mutability(ReadOnly);

// ---------------------------------------------------------------------------
// Sub-attributes shared by multi-valued attributes (RFC 7643 §2.4)
// ---------------------------------------------------------------------------

const DISPLAY: AttributeDef = AttributeDef::string(
    "display",
    "A human-readable name, primarily used for display purposes.",
);

const PRIMARY: AttributeDef = AttributeDef::boolean(
    "primary",
    "Whether this is the primary or preferred value; true at most once.",
);

const TYPE_LABEL: AttributeDef =
    AttributeDef::string("type", "A label indicating the attribute's function.");

const WORK_HOME_OTHER: &[&str] = &["work", "home", "other"];

// ---------------------------------------------------------------------------
// User (RFC 7643 §4.1, §8.7.1)
// ---------------------------------------------------------------------------

/// The core User schema.
pub static USER_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: USER_SCHEMA,
    name: "User",
    description: "User Account",
    attributes: USER_ATTRIBUTES,
};

const USER_ATTRIBUTES: &[AttributeDef] = &[
    // `id` and `externalId` are common attributes (§3.1) that §8.7.1 leaves
    // out; they are listed here so lookups and `/Schemas` include them.
    ID,
    EXTERNAL_ID,
    AttributeDef::string(
        "userName",
        "Unique identifier for the User, typically used to authenticate to the service provider.",
    )
    .required()
    .uniqueness(Uniqueness::Server),
    AttributeDef::complex(
        "name",
        "The components of the User's real name.",
        &[
            AttributeDef::string("formatted", "The full name, formatted for display."),
            AttributeDef::string("familyName", "The family name, or last name."),
            AttributeDef::string("givenName", "The given name, or first name."),
            AttributeDef::string("middleName", "The middle name(s)."),
            AttributeDef::string("honorificPrefix", "The honorific prefix(es), e.g. 'Ms.'."),
            AttributeDef::string("honorificSuffix", "The honorific suffix(es), e.g. 'III'."),
        ],
    ),
    AttributeDef::string("displayName", "The name of the User, suitable for display."),
    AttributeDef::string("nickName", "The casual way to address the User."),
    AttributeDef::reference(
        "profileUrl",
        &["external"],
        "URL of a page representing the User's online profile.",
    ),
    AttributeDef::string("title", "The User's title, such as 'Vice President'."),
    AttributeDef::string(
        "userType",
        "The relationship between the organization and the User, e.g. 'Employee'.",
    ),
    AttributeDef::string(
        "preferredLanguage",
        "The User's preferred written or spoken language.",
    ),
    AttributeDef::string(
        "locale",
        "The User's default location for localizing currency, dates and numbers.",
    ),
    AttributeDef::string(
        "timezone",
        "The User's time zone in IANA format, e.g. 'America/Los_Angeles'.",
    ),
    AttributeDef::boolean("active", "The User's administrative status."),
    AttributeDef::string(
        "password",
        "The User's cleartext password, for setting only.",
    )
    .mutability(WriteOnly)
    .returned(Returned::Never),
    AttributeDef::complex(
        "emails",
        "Email addresses for the User.",
        &[
            AttributeDef::string("value", "An email address of the User."),
            DISPLAY,
            TYPE_LABEL.canonical(WORK_HOME_OTHER),
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "phoneNumbers",
        "Phone numbers for the User.",
        &[
            AttributeDef::string("value", "A phone number of the User."),
            DISPLAY,
            TYPE_LABEL.canonical(&["work", "home", "mobile", "fax", "pager", "other"]),
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "ims",
        "Instant messaging addresses for the User.",
        &[
            AttributeDef::string("value", "An instant messaging address of the User."),
            DISPLAY,
            TYPE_LABEL.canonical(&["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "photos",
        "URLs of photos of the User.",
        &[
            AttributeDef::reference("value", &["external"], "URL of a photo of the User."),
            DISPLAY,
            TYPE_LABEL.canonical(&["photo", "thumbnail"]),
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "addresses",
        "Physical mailing addresses for the User.",
        &[
            AttributeDef::string(
                "formatted",
                "The full mailing address, formatted for display.",
            ),
            AttributeDef::string("streetAddress", "The full street address component."),
            AttributeDef::string("locality", "The city or locality component."),
            AttributeDef::string("region", "The state or region component."),
            AttributeDef::string("postalCode", "The zip code or postal code component."),
            AttributeDef::string("country", "The country name component."),
            TYPE_LABEL.canonical(WORK_HOME_OTHER),
            // Not in §8.7.1, but §2.4 and the §8.2 example use it.
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "groups",
        "Groups the User belongs to, directly, through nesting or dynamically.",
        &[
            AttributeDef::string("value", "The identifier of the User's group.")
                .mutability(ReadOnly),
            // §8.7.1 lists both reference types (nested groups are Groups).
            AttributeDef::reference(
                "$ref",
                &["User", "Group"],
                "The URI of the Group resource the User belongs to.",
            )
            .mutability(ReadOnly),
            DISPLAY.mutability(ReadOnly),
            TYPE_LABEL
                .canonical(&["direct", "indirect"])
                .mutability(ReadOnly),
        ],
    )
    .multi()
    .mutability(ReadOnly),
    AttributeDef::complex(
        "entitlements",
        "Entitlements of the User: things the User has.",
        &[
            AttributeDef::string("value", "The value of an entitlement."),
            DISPLAY,
            TYPE_LABEL,
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "roles",
        "Roles of the User: who the User is, e.g. 'Student' or 'Faculty'.",
        &[
            AttributeDef::string("value", "The value of a role."),
            DISPLAY,
            TYPE_LABEL,
            PRIMARY,
        ],
    )
    .multi(),
    AttributeDef::complex(
        "x509Certificates",
        "Certificates issued to the User.",
        &[
            AttributeDef::new("value", Binary, "The value of an X.509 certificate."),
            DISPLAY,
            TYPE_LABEL,
            PRIMARY,
        ],
    )
    .multi(),
];

// ---------------------------------------------------------------------------
// Group (RFC 7643 §4.2, §8.7.1)
// ---------------------------------------------------------------------------

/// The core Group schema.
pub static GROUP_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: GROUP_ATTRIBUTES,
};

const GROUP_ATTRIBUTES: &[AttributeDef] = &[
    // Common attributes (§3.1), as for User.
    ID,
    EXTERNAL_ID,
    // §4.2 says REQUIRED; §8.7.1 has `"required": false`. We follow §4.2.
    AttributeDef::string("displayName", "A human-readable name for the Group.").required(),
    // §4.2: members may be added or removed, but their sub-attributes are
    // immutable.
    AttributeDef::complex(
        "members",
        "A list of members of the Group.",
        &[
            AttributeDef::string("value", "Identifier of a member of this Group.")
                .mutability(Immutable),
            AttributeDef::reference(
                "$ref",
                &["User", "Group"],
                "The URI of a SCIM resource that is a member of this Group.",
            )
            .mutability(Immutable),
            AttributeDef::string("type", "The type of the member resource.")
                .canonical(&["User", "Group"])
                .mutability(Immutable),
            // Not in §8.7.1, but used by the §8.4 example and most clients.
            DISPLAY.mutability(Immutable),
        ],
    )
    .multi(),
];

// ---------------------------------------------------------------------------
// Enterprise User extension (RFC 7643 §4.3, §8.7.1)
// ---------------------------------------------------------------------------

/// The enterprise User extension schema.
pub static ENTERPRISE_USER_SCHEMA_DEF: SchemaDef = SchemaDef {
    id: ENTERPRISE_USER_SCHEMA,
    name: "EnterpriseUser",
    description: "Enterprise User",
    attributes: &[
        AttributeDef::string(
            "employeeNumber",
            "Identifier assigned to a person, typically by order of hire or association.",
        ),
        AttributeDef::string("costCenter", "Identifies the name of a cost center."),
        AttributeDef::string("organization", "Identifies the name of an organization."),
        AttributeDef::string("division", "Identifies the name of a division."),
        AttributeDef::string("department", "Identifies the name of a department."),
        // §4.3 calls `value` and `$ref` REQUIRED, §8.7.1 marks them
        // `"required": false`; we follow §8.7.1.
        AttributeDef::complex(
            "manager",
            "The User's manager, referencing the 'id' of another User.",
            &[
                AttributeDef::string("value", "The id of the User's manager."),
                AttributeDef::reference(
                    "$ref",
                    &["User"],
                    "The URI of the SCIM resource of the User's manager.",
                ),
                AttributeDef::string("displayName", "The displayName of the User's manager.")
                    .mutability(ReadOnly),
            ],
        ),
    ],
};

static ALL_SCHEMAS: [&SchemaDef; 3] = [
    &USER_SCHEMA_DEF,
    &GROUP_SCHEMA_DEF,
    &ENTERPRISE_USER_SCHEMA_DEF,
];

// ---------------------------------------------------------------------------
// Schema lookups and rendering
// ---------------------------------------------------------------------------

/// The schema whose id is `id` (URNs compare case-insensitively, RFC 8141).
pub fn schema(id: &str) -> Option<&'static SchemaDef> {
    ALL_SCHEMAS
        .iter()
        .copied()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

/// Every schema this server supports, in `/Schemas` order.
pub fn all_schemas() -> &'static [&'static SchemaDef] {
    &ALL_SCHEMAS
}

/// The RFC 7643 §7 representation of `def`, as served by `/Schemas/{id}`.
///
/// `location_base` is the server's SCIM base URL (e.g.
/// `https://host/scim/v2`); a trailing `/` is ignored.
pub fn schema_json(def: &SchemaDef, location_base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": def.id,
        "name": def.name,
        "description": def.description,
        "attributes": def.attributes.iter().map(attribute_json).collect::<Vec<_>>(),
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{}", trim_base(location_base), def.id),
        },
    })
}

/// One attribute with all characteristics; the optional lists only when
/// non-empty.
fn attribute_json(attr: &AttributeDef) -> Value {
    let mut obj = Map::new();
    obj.insert("name".into(), attr.name.into());
    obj.insert("type".into(), attr.attr_type.as_str().into());
    obj.insert("multiValued".into(), attr.multi_valued.into());
    obj.insert("description".into(), attr.description.into());
    obj.insert("required".into(), attr.required.into());
    obj.insert("caseExact".into(), attr.case_exact.into());
    obj.insert("mutability".into(), attr.mutability.as_str().into());
    obj.insert("returned".into(), attr.returned.as_str().into());
    obj.insert("uniqueness".into(), attr.uniqueness.as_str().into());
    if !attr.canonical_values.is_empty() {
        obj.insert("canonicalValues".into(), json!(attr.canonical_values));
    }
    if !attr.reference_types.is_empty() {
        obj.insert("referenceTypes".into(), json!(attr.reference_types));
    }
    if !attr.sub_attributes.is_empty() {
        let subs = attr.sub_attributes.iter().map(attribute_json).collect();
        obj.insert("subAttributes".into(), Value::Array(subs));
    }
    Value::Object(obj)
}

fn trim_base(location_base: &str) -> &str {
    location_base.trim_end_matches('/')
}

// ---------------------------------------------------------------------------
// Resource types (RFC 7643 §6)
// ---------------------------------------------------------------------------

/// The resource types roster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// Every resource kind, in `/ResourceTypes` order.
    pub const ALL: [ResourceKind; 2] = [Self::User, Self::Group];

    /// URN of the core schema of this kind.
    pub const fn core_schema(self) -> &'static str {
        match self {
            Self::User => USER_SCHEMA,
            Self::Group => GROUP_SCHEMA,
        }
    }

    /// Definition of the core schema of this kind.
    pub const fn core_schema_def(self) -> &'static SchemaDef {
        match self {
            Self::User => &USER_SCHEMA_DEF,
            Self::Group => &GROUP_SCHEMA_DEF,
        }
    }

    /// URNs of the (optional) schema extensions of this kind.
    pub const fn extensions(self) -> &'static [&'static str] {
        match self {
            Self::User => &[ENTERPRISE_USER_SCHEMA],
            Self::Group => &[],
        }
    }

    /// Endpoint path relative to the base URL, e.g. `"/Users"`.
    pub const fn endpoint(self) -> &'static str {
        match self {
            Self::User => "/Users",
            Self::Group => "/Groups",
        }
    }

    /// Resource type name and id, also `meta.resourceType`, e.g. `"User"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::User => "User",
            Self::Group => "Group",
        }
    }

    /// Human-readable description of the resource type.
    pub const fn description(self) -> &'static str {
        match self {
            Self::User => "User Account",
            Self::Group => "Group",
        }
    }
}

/// The RFC 7643 §6 representation of `kind`, as served by
/// `/ResourceTypes/{name}`. `schemaExtensions` is always present (empty for
/// Group); no extension is required.
pub fn resource_type_json(kind: ResourceKind, location_base: &str) -> Value {
    let extensions: Vec<Value> = kind
        .extensions()
        .iter()
        .map(|urn| json!({ "schema": urn, "required": false }))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": kind.endpoint(),
        "description": kind.description(),
        "schema": kind.core_schema(),
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{}", trim_base(location_base), kind.name()),
        },
    })
}

// ---------------------------------------------------------------------------
// Attribute lookups
// ---------------------------------------------------------------------------

/// Splits an attribute path `[URN:]attribute[.subAttribute]` (RFC 7644
/// §3.10) into the pieces [`find_attribute`] takes.
///
/// A path starting with `urn:` has its URN end at the last `:` (URNs contain
/// dots, as in `2.0`, so the sub-attribute is split off only after that).
/// A path that is a bare schema URN (a PATCH path targeting a whole
/// extension) is not an attribute path: check it with [`schema`] first.
/// Value filters (`emails[type eq "work"]`) must be removed by the caller.
pub fn split_attr_path(path: &str) -> (Option<&str>, &str, Option<&str>) {
    let is_urn = path
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest) = match path.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn), rest),
        _ => (None, path),
    };
    match rest.split_once('.') {
        Some((name, sub)) => (urn, name, Some(sub)),
        None => (urn, rest, None),
    }
}

/// Finds an attribute definition by SCIM path pieces, case-insensitively:
/// (optional schema URN, attribute name, optional sub-attribute name).
///
/// With `urn` `None`, the core schema of `kind` is searched first, then its
/// extensions (the enterprise extension for User), then the common `meta`
/// attribute. With a URN, only that schema is searched (plus `meta` when it
/// is the core schema); a URN that is not a schema of `kind` finds nothing.
/// A `sub_attr` finds nothing on a non-complex attribute.
pub fn find_attribute(
    kind: ResourceKind,
    urn: Option<&str>,
    name: &str,
    sub_attr: Option<&str>,
) -> Option<&'static AttributeDef> {
    let attr = find_top_level(kind, urn, name)?;
    match sub_attr {
        None => Some(attr),
        Some(sub) => attr.sub_attribute(sub),
    }
}

fn find_top_level(
    kind: ResourceKind,
    urn: Option<&str>,
    name: &str,
) -> Option<&'static AttributeDef> {
    let core = kind.core_schema_def();
    let meta = || Some(&META_ATTRIBUTE).filter(|m| m.name.eq_ignore_ascii_case(name));
    match urn {
        None => core
            .attribute(name)
            .or_else(|| {
                kind.extensions()
                    .iter()
                    .filter_map(|urn| schema(urn))
                    .find_map(|ext| ext.attribute(name))
            })
            .or_else(meta),
        Some(urn) if urn.eq_ignore_ascii_case(core.id) => core.attribute(name).or_else(meta),
        Some(urn) => kind
            .extensions()
            .iter()
            .find(|ext| ext.eq_ignore_ascii_case(urn))
            .and_then(|ext| schema(ext))
            .and_then(|ext| ext.attribute(name)),
    }
}

/// Whether values of the given attribute compare case-sensitively.
///
/// A complex attribute named without a sub-attribute (e.g. `emails` in a
/// `sortBy`) answers for its `value` sub-attribute. Unknown attributes are
/// **case-insensitive** (`false`): RFC 7643 §2.2 makes `caseExact` default to
/// false, and matching loosely on an attribute we know nothing about (e.g.
/// one of an unsupported extension) errs on the side of finding a match
/// rather than silently missing one.
pub fn is_case_exact(
    kind: ResourceKind,
    urn: Option<&str>,
    name: &str,
    sub_attr: Option<&str>,
) -> bool {
    match find_attribute(kind, urn, name, sub_attr) {
        Some(attr) if attr.is_complex() => {
            attr.sub_attribute("value").is_some_and(|v| v.case_exact)
        }
        Some(attr) => attr.case_exact,
        None => false,
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://example.com/scim/v2";

    fn rendered(def: &SchemaDef) -> Value {
        schema_json(def, BASE)
    }

    /// The rendered attribute at `path` ("name" or "name.sub") of `def`.
    fn rendered_attr(def: &SchemaDef, path: &str) -> Value {
        let json = rendered(def);
        let mut attrs = json["attributes"].as_array().unwrap().clone();
        let mut found = Value::Null;
        for piece in path.split('.') {
            found = attrs
                .iter()
                .find(|a| a["name"] == piece)
                .unwrap_or_else(|| panic!("{path}: no {piece} in {}", def.id))
                .clone();
            attrs = found["subAttributes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        found
    }

    /// Asserts type, multiValued, required, caseExact, mutability, returned
    /// and uniqueness of a rendered attribute.
    #[allow(clippy::too_many_arguments)]
    fn check(
        def: &SchemaDef,
        path: &str,
        ty: &str,
        multi: bool,
        required: bool,
        case_exact: bool,
        mutability: &str,
        returned: &str,
        uniqueness: &str,
    ) {
        let a = rendered_attr(def, path);
        assert_eq!(a["type"], ty, "{path} type");
        assert_eq!(a["multiValued"], multi, "{path} multiValued");
        assert_eq!(a["required"], required, "{path} required");
        assert_eq!(a["caseExact"], case_exact, "{path} caseExact");
        assert_eq!(a["mutability"], mutability, "{path} mutability");
        assert_eq!(a["returned"], returned, "{path} returned");
        assert_eq!(a["uniqueness"], uniqueness, "{path} uniqueness");
    }

    #[test]
    fn user_characteristics_match_rfc() {
        let u = &USER_SCHEMA_DEF;
        #[rustfmt::skip]
        let table = [
            ("id", "string", false, false, true, "readOnly", "always", "server"),
            ("externalId", "string", false, false, true, "readWrite", "default", "none"),
            ("userName", "string", false, true, false, "readWrite", "default", "server"),
            ("name", "complex", false, false, false, "readWrite", "default", "none"),
            ("name.givenName", "string", false, false, false, "readWrite", "default", "none"),
            ("profileUrl", "reference", false, false, false, "readWrite", "default", "none"),
            ("active", "boolean", false, false, false, "readWrite", "default", "none"),
            ("password", "string", false, false, false, "writeOnly", "never", "none"),
            ("emails", "complex", true, false, false, "readWrite", "default", "none"),
            ("emails.value", "string", false, false, false, "readWrite", "default", "none"),
            ("emails.primary", "boolean", false, false, false, "readWrite", "default", "none"),
            ("photos.value", "reference", false, false, false, "readWrite", "default", "none"),
            ("addresses.postalCode", "string", false, false, false, "readWrite", "default", "none"),
            ("groups", "complex", true, false, false, "readOnly", "default", "none"),
            ("groups.value", "string", false, false, false, "readOnly", "default", "none"),
            ("groups.$ref", "reference", false, false, false, "readOnly", "default", "none"),
            ("groups.type", "string", false, false, false, "readOnly", "default", "none"),
            ("x509Certificates.value", "binary", false, false, false, "readWrite", "default", "none"),
        ];
        for (path, ty, multi, req, ce, mutab, ret, uniq) in table {
            check(u, path, ty, multi, req, ce, mutab, ret, uniq);
        }
        assert_eq!(
            rendered_attr(u, "profileUrl")["referenceTypes"],
            json!(["external"])
        );
        assert_eq!(
            rendered_attr(u, "groups.$ref")["referenceTypes"],
            json!(["User", "Group"])
        );
    }

    #[test]
    fn group_characteristics_match_rfc() {
        let g = &GROUP_SCHEMA_DEF;
        #[rustfmt::skip]
        let table = [
            ("id", "string", false, false, true, "readOnly", "always", "server"),
            ("displayName", "string", false, true, false, "readWrite", "default", "none"),
            ("members", "complex", true, false, false, "readWrite", "default", "none"),
            ("members.value", "string", false, false, false, "immutable", "default", "none"),
            ("members.$ref", "reference", false, false, false, "immutable", "default", "none"),
            ("members.type", "string", false, false, false, "immutable", "default", "none"),
            ("members.display", "string", false, false, false, "immutable", "default", "none"),
        ];
        for (path, ty, multi, req, ce, mutab, ret, uniq) in table {
            check(g, path, ty, multi, req, ce, mutab, ret, uniq);
        }
        assert_eq!(
            rendered_attr(g, "members.$ref")["referenceTypes"],
            json!(["User", "Group"])
        );
        assert_eq!(
            rendered_attr(g, "members.type")["canonicalValues"],
            json!(["User", "Group"])
        );
    }

    #[test]
    fn enterprise_characteristics_match_rfc() {
        let e = &ENTERPRISE_USER_SCHEMA_DEF;
        #[rustfmt::skip]
        let table = [
            ("employeeNumber", "string", false, false, false, "readWrite", "default", "none"),
            ("department", "string", false, false, false, "readWrite", "default", "none"),
            ("manager", "complex", false, false, false, "readWrite", "default", "none"),
            ("manager.value", "string", false, false, false, "readWrite", "default", "none"),
            ("manager.$ref", "reference", false, false, false, "readWrite", "default", "none"),
            ("manager.displayName", "string", false, false, false, "readOnly", "default", "none"),
        ];
        for (path, ty, multi, req, ce, mutab, ret, uniq) in table {
            check(e, path, ty, multi, req, ce, mutab, ret, uniq);
        }
        assert_eq!(
            rendered_attr(e, "manager.$ref")["referenceTypes"],
            json!(["User"])
        );
        let names: Vec<_> = e.attributes.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ]
        );
    }

    #[test]
    fn user_lists_all_rfc_attributes_in_order() {
        let names: Vec<_> = USER_SCHEMA_DEF.attributes.iter().map(|a| a.name).collect();
        assert_eq!(
            names,
            [
                "id",
                "externalId",
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates",
            ]
        );
        let name = USER_SCHEMA_DEF.attribute("name").unwrap();
        let name_subs: Vec<_> = name.sub_attributes.iter().map(|a| a.name).collect();
        assert_eq!(
            name_subs,
            [
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix"
            ]
        );
    }

    fn assert_all_keys(attr: &Value, schema: &str) {
        const KEYS: [&str; 9] = [
            "name",
            "type",
            "multiValued",
            "description",
            "required",
            "caseExact",
            "mutability",
            "returned",
            "uniqueness",
        ];
        for key in KEYS {
            assert!(attr.get(key).is_some(), "{schema}: {key} missing in {attr}");
        }
        let complex = attr["type"] == "complex";
        let subs = attr.get("subAttributes").and_then(Value::as_array);
        assert_eq!(
            complex,
            subs.is_some_and(|s| !s.is_empty()),
            "{schema}: {attr}"
        );
        for sub in subs.into_iter().flatten() {
            assert_ne!(sub["type"], "complex", "{schema}: nested complex {sub}");
            assert_all_keys(sub, schema);
        }
    }

    #[test]
    fn every_attribute_renders_every_characteristic() {
        for def in all_schemas() {
            let json = rendered(def);
            assert_eq!(json["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(json["id"], def.id);
            assert_eq!(json["name"], def.name);
            assert!(json["description"].is_string());
            let attrs = json["attributes"].as_array().unwrap();
            assert_eq!(attrs.len(), def.attributes.len());
            for attr in attrs {
                assert_all_keys(attr, def.id);
            }
        }
    }

    #[test]
    fn definitions_are_consistent() {
        fn check_level(attrs: &[AttributeDef], at: &str) {
            for (i, a) in attrs.iter().enumerate() {
                assert!(!a.description.is_empty(), "{at}{}", a.name);
                assert_eq!(
                    a.is_complex(),
                    !a.sub_attributes.is_empty(),
                    "{at}{}",
                    a.name
                );
                assert_eq!(
                    a.attr_type == AttrType::Reference,
                    !a.reference_types.is_empty(),
                    "{at}{}",
                    a.name
                );
                let dup = attrs[..i]
                    .iter()
                    .any(|b| b.name.eq_ignore_ascii_case(a.name));
                assert!(!dup, "duplicate {at}{}", a.name);
                check_level(a.sub_attributes, &format!("{at}{}.", a.name));
            }
        }
        for def in all_schemas() {
            check_level(def.attributes, &format!("{}:", def.id));
        }
        check_level(std::slice::from_ref(&META_ATTRIBUTE), "");
    }

    #[test]
    fn canonical_values_render_only_when_present() {
        let u = &USER_SCHEMA_DEF;
        assert_eq!(
            rendered_attr(u, "emails.type")["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert_eq!(
            rendered_attr(u, "phoneNumbers.type")["canonicalValues"],
            json!(["work", "home", "mobile", "fax", "pager", "other"])
        );
        assert_eq!(
            rendered_attr(u, "ims.type")["canonicalValues"],
            json!(["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"])
        );
        assert_eq!(
            rendered_attr(u, "photos.type")["canonicalValues"],
            json!(["photo", "thumbnail"])
        );
        assert_eq!(
            rendered_attr(u, "addresses.type")["canonicalValues"],
            json!(["work", "home", "other"])
        );
        assert_eq!(
            rendered_attr(u, "groups.type")["canonicalValues"],
            json!(["direct", "indirect"])
        );
        for path in ["roles.type", "userName", "emails.value"] {
            let a = rendered_attr(u, path);
            assert!(a.get("canonicalValues").is_none(), "{path}");
            assert!(a.get("referenceTypes").is_none(), "{path}");
            assert!(a.get("subAttributes").is_none(), "{path}");
        }
    }

    #[test]
    fn complex_attributes_have_their_sub_attributes() {
        let u = &USER_SCHEMA_DEF;
        let subs = |path: &str| -> Vec<String> {
            rendered_attr(u, path)["subAttributes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned())
                .collect()
        };
        for multi in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
        ] {
            assert_eq!(
                subs(multi),
                ["value", "display", "type", "primary"],
                "{multi}"
            );
        }
        assert_eq!(
            subs("addresses"),
            [
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary"
            ]
        );
        assert_eq!(subs("groups"), ["value", "$ref", "display", "type"]);
        let members = rendered_attr(&GROUP_SCHEMA_DEF, "members");
        assert_eq!(members["subAttributes"].as_array().unwrap().len(), 4);
        let manager = rendered_attr(&ENTERPRISE_USER_SCHEMA_DEF, "manager");
        assert_eq!(manager["subAttributes"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn schema_meta_location() {
        let json = schema_json(&USER_SCHEMA_DEF, "https://example.com/scim/v2/");
        assert_eq!(
            json["meta"],
            json!({
                "resourceType": "Schema",
                "location": format!("https://example.com/scim/v2/Schemas/{USER_SCHEMA}"),
            })
        );
    }

    #[test]
    fn schema_lookup_is_case_insensitive() {
        assert_eq!(schema(USER_SCHEMA).unwrap().name, "User");
        let odd = "URN:IETF:params:scim:schemas:CORE:2.0:group";
        assert_eq!(schema(odd).unwrap().id, GROUP_SCHEMA);
        let ext = ENTERPRISE_USER_SCHEMA.to_uppercase();
        assert_eq!(schema(&ext).unwrap().id, ENTERPRISE_USER_SCHEMA);
        assert!(schema(RESOURCE_TYPE_SCHEMA).is_none());
        assert!(schema("").is_none());
        let ids: Vec<_> = all_schemas().iter().map(|s| s.id).collect();
        assert_eq!(ids, [USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    }

    #[test]
    fn resource_types_render() {
        let user = resource_type_json(ResourceKind::User, BASE);
        assert_eq!(
            user,
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": USER_SCHEMA,
                "schemaExtensions": [{"schema": ENTERPRISE_USER_SCHEMA, "required": false}],
                "meta": {
                    "resourceType": "ResourceType",
                    "location": "https://example.com/scim/v2/ResourceTypes/User",
                },
            })
        );
        let group = resource_type_json(ResourceKind::Group, "http://h/");
        assert_eq!(group["id"], "Group");
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], GROUP_SCHEMA);
        assert_eq!(group["schemaExtensions"], json!([]));
        assert_eq!(group["meta"]["location"], "http://h/ResourceTypes/Group");
    }

    #[test]
    fn resource_kinds_are_consistent() {
        for kind in ResourceKind::ALL {
            assert_eq!(kind.core_schema_def().id, kind.core_schema());
            assert_eq!(schema(kind.core_schema()).unwrap().id, kind.core_schema());
            for ext in kind.extensions() {
                assert!(schema(ext).is_some(), "{ext}");
            }
            assert_eq!(kind.endpoint(), format!("/{}s", kind.name()));
        }
    }

    #[test]
    fn find_attribute_with_odd_casing() {
        use ResourceKind::{Group, User};
        let a = find_attribute(User, None, "USERNAME", None).unwrap();
        assert_eq!(a.name, "userName");
        assert_eq!(a.uniqueness, Uniqueness::Server);
        let a = find_attribute(User, None, "Emails", Some("VALUE")).unwrap();
        assert_eq!(a.name, "value");
        assert!(!a.case_exact);
        let a = find_attribute(User, None, "name", Some("givenname")).unwrap();
        assert_eq!(a.name, "givenName");
        let a = find_attribute(User, None, "Groups", Some("$REF")).unwrap();
        assert_eq!(a.mutability, Mutability::ReadOnly);
        let a = find_attribute(Group, None, "MEMBERS", Some("Value")).unwrap();
        assert_eq!(a.mutability, Mutability::Immutable);
        let a = find_attribute(Group, None, "displayname", None).unwrap();
        assert!(a.required);
    }

    #[test]
    fn find_attribute_with_urn_prefixes() {
        use ResourceKind::{Group, User};
        let upper = USER_SCHEMA.to_uppercase();
        let a = find_attribute(User, Some(&upper), "userName", None).unwrap();
        assert_eq!(a.name, "userName");
        let ext = "urn:ietf:params:scim:schemas:extension:Enterprise:2.0:user";
        let a = find_attribute(User, Some(ext), "Manager", Some("displayname")).unwrap();
        assert_eq!(a.mutability, Mutability::ReadOnly);
        // Without a URN the extension is searched after the core schema.
        let a = find_attribute(User, None, "employeeNumber", None).unwrap();
        assert_eq!(a.name, "employeeNumber");
        // With a URN only that schema is searched.
        assert!(find_attribute(User, Some(USER_SCHEMA), "manager", None).is_none());
        assert!(find_attribute(User, Some(ext), "userName", None).is_none());
        assert!(find_attribute(User, Some(ext), "meta", None).is_none());
        // URNs of other resource kinds or unknown schemas find nothing.
        assert!(find_attribute(User, Some(GROUP_SCHEMA), "displayName", None).is_none());
        assert!(find_attribute(Group, Some(USER_SCHEMA), "displayName", None).is_none());
        assert!(find_attribute(Group, Some(ext), "manager", None).is_none());
        assert!(find_attribute(Group, None, "manager", None).is_none());
        assert!(find_attribute(User, Some("urn:x:y"), "userName", None).is_none());
        let a = find_attribute(Group, Some(GROUP_SCHEMA), "Members", Some("type")).unwrap();
        assert_eq!(a.canonical_values, ["User", "Group"]);
    }

    #[test]
    fn find_common_attributes() {
        for kind in ResourceKind::ALL {
            let id = find_attribute(kind, None, "ID", None).unwrap();
            assert!(id.case_exact);
            assert_eq!(id.returned, Returned::Always);
            assert_eq!(id.mutability, Mutability::ReadOnly);
            let ext = find_attribute(kind, None, "externalid", None).unwrap();
            assert!(ext.case_exact);
            assert_eq!(ext.mutability, Mutability::ReadWrite);
            let meta = find_attribute(kind, None, "Meta", None).unwrap();
            assert!(std::ptr::eq(meta, &META_ATTRIBUTE));
            let core = Some(kind.core_schema());
            let modified = find_attribute(kind, core, "meta", Some("LASTMODIFIED")).unwrap();
            assert_eq!(modified.attr_type, AttrType::DateTime);
            assert_eq!(modified.mutability, Mutability::ReadOnly);
            let location = find_attribute(kind, None, "meta", Some("location")).unwrap();
            assert_eq!(location.reference_types, ["uri"]);
        }
        // `meta` is not rendered in /Schemas.
        assert!(rendered(&USER_SCHEMA_DEF)["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"] != "meta"));
    }

    #[test]
    fn find_attribute_unknowns() {
        use ResourceKind::User;
        assert!(find_attribute(User, None, "nope", None).is_none());
        assert!(find_attribute(User, None, "", None).is_none());
        assert!(find_attribute(User, None, "emails", Some("nope")).is_none());
        // Sub-attributes of a simple attribute do not exist.
        assert!(find_attribute(User, None, "userName", Some("value")).is_none());
    }

    #[test]
    fn case_exactness() {
        use ResourceKind::{Group, User};
        assert!(is_case_exact(User, None, "id", None));
        assert!(is_case_exact(Group, None, "EXTERNALID", None));
        assert!(is_case_exact(User, None, "meta", Some("version")));
        assert!(!is_case_exact(User, None, "userName", None));
        assert!(!is_case_exact(User, None, "emails", Some("value")));
        assert!(!is_case_exact(Group, None, "displayName", None));
        // Complex attribute alone: answers for its `value`.
        assert!(!is_case_exact(User, None, "emails", None));
        assert!(!is_case_exact(User, None, "meta", None));
        // Unknown attributes compare case-insensitively.
        assert!(!is_case_exact(User, None, "nope", None));
        assert!(!is_case_exact(User, Some("urn:x:y"), "id", None));
    }

    #[test]
    fn split_paths() {
        assert_eq!(split_attr_path("userName"), (None, "userName", None));
        assert_eq!(
            split_attr_path("name.givenName"),
            (None, "name", Some("givenName"))
        );
        assert_eq!(
            split_attr_path("groups.$ref"),
            (None, "groups", Some("$ref"))
        );
        let path = format!("{ENTERPRISE_USER_SCHEMA}:manager.value");
        assert_eq!(
            split_attr_path(&path),
            (Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value"))
        );
        let path = format!("{}:userName", USER_SCHEMA.to_uppercase());
        let (urn, name, sub) = split_attr_path(&path);
        assert_eq!(
            find_attribute(ResourceKind::User, urn, name, sub)
                .unwrap()
                .name,
            "userName"
        );
        // A colon outside a URN is left alone.
        assert_eq!(split_attr_path("a:b"), (None, "a:b", None));
    }
}
