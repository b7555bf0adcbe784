//! `GET /api/v1/openapi.json`: the API described in OpenAPI 3.1, built with utoipa's
//! model from one table, [`ROUTES`], that lists every route the router serves (a test
//! calls each of them through the router). The formats of signed objects are in
//! PROTOCOL.md, which the schemas point to rather than repeat.

use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, Required, ResponseBuilder,
};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
    /// A query parameter that only a page after the first carries (from `next`).
    Cursor,
}

/// One documented parameter: name, place, meaning, format (a schema name).
pub type Param = (&'static str, In, &'static str, &'static str);

/// One route of the API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    /// The schema of the JSON request body, if any.
    pub body: Option<&'static str>,
    /// Status, meaning, schema of the JSON answer ("" for plain text).
    pub answers: &'static [(u16, &'static str, &'static str)],
}

const AUTHORITY: Param = ("authority", In::Path, "The log's authority key.", "Key");
const ID: Param = ("id", In::Path, "An event id.", "Id");
const REFUSED: (u16, &str, &str) = (400, "Malformed input (see the error code).", "Error");
const MISSING: (u16, &str, &str) = (404, "No such thing here.", "Error");

/// Every route of the API, in the order the router declares them.
pub const ROUTES: &[Route] = &[
    Route {
        method: "get",
        path: "/healthz",
        summary: "Liveness: answers `ok`.",
        params: &[],
        body: None,
        answers: &[(200, "The node is up.", "")],
    },
    Route {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics: events admitted by kind, refused by code, group-commit sizes, log size.",
        params: &[],
        body: None,
        answers: &[(200, "Prometheus text format.", "")],
    },
    Route {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This description.",
        params: &[],
        body: None,
        answers: &[(200, "OpenAPI 3.1.", "Object")],
    },
    Route {
        method: "post",
        path: "/api/v1/events",
        summary: "Submit one signed event (the body is the event's exact canonical bytes) or a batch (a JSON array of events); answered once durably stored.",
        params: &[],
        body: Some("SignedEvent"),
        answers: &[
            (201, "One event: stored, with its receipt.", "ReceiptAnswer"),
            (
                200,
                "A batch: one receipt or error per event, in order.",
                "BatchAnswer",
            ),
            REFUSED,
            (
                409,
                "Already recorded, or a rule about what came before.",
                "Error",
            ),
            (413, "The body is too large.", "Error"),
            (
                422,
                "Well formed but not admissible (window, credential, consultation…).",
                "Error",
            ),
            (
                429,
                "Too many requests from this address; see Retry-After.",
                "Error",
            ),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/events/{id}",
        summary: "An event, with the log and index where it sits.",
        params: &[ID],
        body: None,
        answers: &[(200, "The event.", "StoredEvent"), REFUSED, MISSING],
    },
    Route {
        method: "get",
        path: "/api/v1/authority",
        summary: "This node's authority key and its `authority` event.",
        params: &[],
        body: None,
        answers: &[(200, "The authority.", "Authority")],
    },
    Route {
        method: "get",
        path: "/api/v1/logs/{authority}/checkpoint",
        summary: "The latest signed tree head of a log.",
        params: &[AUTHORITY],
        body: None,
        answers: &[(200, "The head.", "SignedTreeHead"), REFUSED, MISSING],
    },
    Route {
        method: "get",
        path: "/api/v1/logs/{authority}/entries",
        summary: "Entries `start..end` of a log (at most 1,000 per page), as signed; a purged entry as its tombstone (PROTOCOL.md, Purged entries).",
        params: &[
            AUTHORITY,
            ("start", In::Query, "First index.", "Index"),
            ("end", In::Query, "One past the last index.", "Index"),
        ],
        body: None,
        answers: &[(200, "The entries.", "Entries"), REFUSED, MISSING],
    },
    Route {
        method: "get",
        path: "/api/v1/logs/{authority}/cosignatures",
        summary: "Witnesses' cosignatures of the log's heads held by this node, closing heads among them, 500 a page by (size, witness, root) (PROTOCOL.md, \"HTTP API\").",
        params: &[
            AUTHORITY,
            (
                "after_size",
                In::Cursor,
                "Size of the head of the last cosignature of the previous page (from `next`).",
                "Index",
            ),
            (
                "after_witness",
                In::Cursor,
                "Its witness (from `next`).",
                "Key",
            ),
            (
                "after_root",
                In::Cursor,
                "Its head's root (from `next`).",
                "Hash",
            ),
        ],
        body: None,
        answers: &[
            (
                200,
                "`{\"cosignatures\": [...], \"next\": path or null}`.",
                "Object",
            ),
            REFUSED,
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/logs/{authority}/proof/inclusion",
        summary: "RFC 9162 inclusion proof of entry `index` in the tree of size `size`.",
        params: &[
            AUTHORITY,
            ("index", In::Query, "The entry.", "Index"),
            ("size", In::Query, "The tree size.", "Index"),
        ],
        body: None,
        answers: &[(200, "The proof.", "Proof"), REFUSED, MISSING],
    },
    Route {
        method: "get",
        path: "/api/v1/logs/{authority}/proof/consistency",
        summary: "RFC 9162 consistency proof between tree sizes `from` and `to`.",
        params: &[
            AUTHORITY,
            ("from", In::Query, "The older size.", "Index"),
            ("to", In::Query, "The newer size.", "Index"),
        ],
        body: None,
        answers: &[(200, "The proof.", "Proof"), REFUSED, MISSING],
    },
    Route {
        method: "post",
        path: "/api/v1/credentials/redeem",
        summary: "Redeem an invitation code for a credential on a fresh key (with a proof of possession of that key). A code works once.",
        params: &[],
        body: Some("Redeem"),
        answers: &[
            (
                201,
                "The credential event, appended, and its receipt.",
                "Redeemed",
            ),
            REFUSED,
            (409, "The code was used already.", "Error"),
            (422, "Unknown code, or the proof does not verify.", "Error"),
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/consultations",
        summary: "Every consultation known here, latest vote close first, with its phase.",
        params: &[],
        body: None,
        answers: &[(200, "The list.", "Object")],
    },
    Route {
        method: "get",
        path: "/api/v1/consultations/{id}",
        summary: "A consultation with a page of its proposals and their first arguments; hidden items stay listed, flagged, with the moderation that hid them; a purged one has `purged: true`, a null `body` and its tombstone as `event`. Optional queries: `after` (the cursor of a `next` link) for the next proposals, `proposal` with `after` for a page of one proposal's arguments (a `more_arguments` link); PROTOCOL.md, Pages of a consultation.",
        params: &[ID],
        body: None,
        answers: &[(200, "The consultation.", "Object"), REFUSED, MISSING],
    },
    Route {
        method: "get",
        path: "/api/v1/consultations/{id}/tally",
        summary: "The running or final tally of the ballots in this node's view.",
        params: &[ID],
        body: None,
        answers: &[
            (200, "The tally.", "Object"),
            REFUSED,
            (403, "Results stay hidden until the vote closes.", "Error"),
            MISSING,
        ],
    },
    Route {
        method: "get",
        path: "/api/v1/consultations/{id}/bundle",
        summary: "The audit bundle: every participating log this node holds, entry by entry exactly as stored, with its latest signed head (PROTOCOL.md, \"Audit bundle\"). Verify it with `palabre audit --bundle`.",
        params: &[ID],
        body: None,
        answers: &[(200, "The bundle.", "Object"), REFUSED, MISSING],
    },
    Route {
        method: "get",
        path: "/api/v1/evidence",
        summary: "Every proof of equivocation this node holds (two heads of one authority that no history joins), each checkable alone, and the authorities they convict; their consultations are flagged `disputed`.",
        params: &[],
        body: None,
        answers: &[(
            200,
            "`{\"evidence\": [...], \"disputed_authorities\": [...]}`.",
            "Object",
        )],
    },
];

fn string(pattern: Option<&str>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(pattern)
        .description(Some(description))
}

fn object(description: &str, required: &[&str]) -> ObjectBuilder {
    required.iter().fold(
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Object))
            .description(Some(description)),
        |o, name| o.required(*name),
    )
}

fn schemas() -> ComponentsBuilder {
    let hex32 = Some("^[0-9a-f]{64}$");
    let see = "See PROTOCOL.md.";
    ComponentsBuilder::new()
        .schema("Key", string(hex32, "An Ed25519 public key, lowercase hex."))
        .schema("Id", string(hex32, "An event id: SHA-256 of its signed bytes, lowercase hex."))
        .schema("Hash", string(hex32, "A SHA-256 hash (a Merkle root), lowercase hex."))
        .schema(
            "Index",
            ObjectBuilder::new()
                .schema_type(SchemaType::Type(Type::Integer))
                .minimum(Some(0))
                .description(Some("A position or size in a log.")),
        )
        .schema("Object", object("A JSON object (fields in PROTOCOL.md).", &[]))
        .schema(
            "Error",
            object("A refusal: `{\"error\": {\"code\", \"message\"}}` with a stable code.", &["error"])
                .property(
                    "error",
                    object("", &["code", "message"])
                        .property("code", string(None, "Stable machine code."))
                        .property("message", string(None, "For people.")),
                ),
        )
        .schema(
            "SignedEvent",
            object(
                "A signed event in RFC 8785 canonical JSON: author, body, created_at_ms, kind, sig, v.",
                &["author", "body", "created_at_ms", "kind", "sig", "v"],
            ),
        )
        .schema("SignedTreeHead", object(see, &["head", "sig"]))
        .schema("ReceiptAnswer", object(see, &["receipt"]))
        .schema("BatchAnswer", object("One `{receipt}` or `{error}` per event.", &["results"]))
        .schema("StoredEvent", object(see, &["event", "log", "index"]))
        .schema("Authority", object(see, &["key"]))
        .schema("Entries", object(see, &["entries"]))
        .schema("Proof", object("Hashes of the proof, lowercase hex, in RFC 9162 order.", &[]))
        .schema(
            "Redeem",
            object(
                "An invitation code, a fresh public key, and a signature by that key over the code's hash.",
                &["code", "key", "proof"],
            ),
        )
        .schema("Redeemed", object(see, &["credential", "receipt"]))
}

fn method(name: &str) -> HttpMethod {
    match name {
        "post" => HttpMethod::Post,
        _ => HttpMethod::Get,
    }
}

/// The OpenAPI document of [`ROUTES`].
pub fn spec() -> OpenApi {
    let mut paths = PathsBuilder::new();
    for route in ROUTES {
        let mut op = OperationBuilder::new().summary(Some(route.summary));
        for (name, place, description, format) in route.params {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(match place {
                        In::Path => ParameterIn::Path,
                        In::Query | In::Cursor => ParameterIn::Query,
                    })
                    .required(match place {
                        In::Cursor => Required::False,
                        In::Path | In::Query => Required::True,
                    })
                    .description(Some(*description))
                    .schema(Some(Ref::from_schema_name(*format))),
            );
        }
        if let Some(body) = route.body {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(body)))
                            .build(),
                    )
                    .build(),
            ));
        }
        for (status, description, schema) in route.answers {
            let mut answer = ResponseBuilder::new().description(*description);
            answer = if schema.is_empty() {
                answer.content("text/plain", ContentBuilder::new().build())
            } else {
                answer.content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(*schema)))
                        .build(),
                )
            };
            op = op.response(status.to_string(), answer);
        }
        paths = paths.path(route.path, PathItem::new(method(route.method), op));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Palabre node API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The JSON API of one Palabre node. Signed formats, codes and rules: PROTOCOL.md.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(schemas().build()))
        .build()
}
