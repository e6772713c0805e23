//! Unit tests of the aion surface: names, errors, value types, codec and schemas.

use std::error::Error as _;
use std::time::Duration;

use serde_json::json;

use super::*;

// ---- names ----------------------------------------------------------------------------------

type Constructor = fn(&str, &str) -> Result<ChannelName, AionSurfaceError>;

/// The three constructors, with the channel kind and the label of their id part.
const CONSTRUCTORS: [(Constructor, &str, &str); 3] = [
    (dispatch_channel, "dispatch", "task_queue"),
    (signal_channel, "signal", "workflow_id"),
    (history_channel, "history", "workflow_id"),
];

fn invalid(part: &str, input: &str, message: &str) -> AionSurfaceError {
    AionSurfaceError::InvalidChannelName {
        part: part.to_owned(),
        input: input.to_owned(),
        message: message.to_owned(),
    }
}

fn check_name(
    make: Constructor,
    namespace: &str,
    id: &str,
    expect: Result<String, AionSurfaceError>,
) {
    let actual = make(namespace, id).map(String::from);
    assert_eq!(actual, expect, "namespace {namespace:?}, id {id:?}");
}

#[test]
fn names_have_the_three_formats() {
    check_name(
        dispatch_channel,
        "default",
        "payments",
        Ok("aion.dispatch.default.payments".into()),
    );
    check_name(
        signal_channel,
        "default",
        "wf-1",
        Ok("aion.signal.default.wf-1".into()),
    );
    check_name(
        history_channel,
        "default",
        "wf-1",
        Ok("aion.history.default.wf-1".into()),
    );
}

#[test]
fn name_display_as_str_and_string_agree() {
    let name = dispatch_channel("ns", "queue").unwrap();
    assert_eq!(name.to_string(), "aion.dispatch.ns.queue");
    assert_eq!(name.as_str(), "aion.dispatch.ns.queue");
    assert_eq!(String::from(name.clone()), "aion.dispatch.ns.queue");
    assert_eq!(name, dispatch_channel("ns", "queue").unwrap());
    assert_ne!(name, signal_channel("ns", "queue").unwrap());
}

#[test]
fn names_reject_empty_and_dotted_parts_namespace_first() {
    for (make, _, id_part) in CONSTRUCTORS {
        let cases = [
            ("", "id", invalid("namespace", "", "must not be empty")),
            ("ns", "", invalid(id_part, "", "must not be empty")),
            (
                "a.b",
                "id",
                invalid("namespace", "a.b", "must not contain dots"),
            ),
            (
                ".",
                "id",
                invalid("namespace", ".", "must not contain dots"),
            ),
            (
                "ns",
                "x.y",
                invalid(id_part, "x.y", "must not contain dots"),
            ),
            (
                "ns",
                "trailing.",
                invalid(id_part, "trailing.", "must not contain dots"),
            ),
            // The namespace is checked before the id, whatever is wrong with the id.
            ("", "", invalid("namespace", "", "must not be empty")),
            ("", "x.y", invalid("namespace", "", "must not be empty")),
            (
                "a.b",
                "",
                invalid("namespace", "a.b", "must not contain dots"),
            ),
            (
                "a.b",
                "x.y",
                invalid("namespace", "a.b", "must not contain dots"),
            ),
        ];
        for (namespace, id, error) in cases {
            check_name(make, namespace, id, Err(error));
        }
    }
}

#[test]
fn names_accept_anything_else_unchanged() {
    let long = "q".repeat(10_000);
    let parts = [
        " ",
        "with space",
        "\ttab",
        "UPPER",
        "ünïcødé-名前",
        "*",
        ">",
        "a/b",
        "-_+=",
        long.as_str(),
    ];
    for (make, kind, _) in CONSTRUCTORS {
        for part in parts {
            check_name(make, part, "id", Ok(format!("aion.{kind}.{part}.id")));
            check_name(make, "ns", part, Ok(format!("aion.{kind}.ns.{part}")));
        }
    }
}

// ---- errors ---------------------------------------------------------------------------------

#[test]
fn every_error_displays_its_template_and_has_no_source() {
    let cases = [
        (
            AionSurfaceError::DispatchFailed {
                channel_name: "aion.dispatch.ns.q".into(),
                workflow_id: "wf-1".into(),
                message: "no workers available".into(),
            },
            "dispatch failed for workflow 'wf-1' on channel 'aion.dispatch.ns.q': \
             no workers available",
        ),
        (
            AionSurfaceError::WorkerCrashed {
                channel_name: "aion.dispatch.ns.q".into(),
                workflow_id: "wf-1".into(),
                worker_id: "worker-3".into(),
                message: "exit: killed".into(),
            },
            "worker 'worker-3' crashed while serving workflow 'wf-1' on channel \
             'aion.dispatch.ns.q': exit: killed",
        ),
        (
            AionSurfaceError::SignalDeliveryFailed {
                channel_name: "aion.signal.ns.wf-1".into(),
                workflow_id: "wf-1".into(),
                signal_name: "cancel".into(),
                message: "no subscriber".into(),
            },
            "signal 'cancel' could not be delivered to workflow 'wf-1' on channel \
             'aion.signal.ns.wf-1': no subscriber",
        ),
        (
            AionSurfaceError::SignalValidationFailed {
                channel_name: "aion.signal.ns.wf-1".into(),
                workflow_id: "wf-1".into(),
                signal_name: "cancel".into(),
                message: "bad payload".into(),
            },
            "signal 'cancel' for workflow 'wf-1' on channel 'aion.signal.ns.wf-1' \
             failed validation: bad payload",
        ),
        (
            AionSurfaceError::StreamingFailed {
                channel_name: "aion.history.ns.wf-1".into(),
                workflow_id: "wf-1".into(),
                message: "stream closed".into(),
            },
            "history streaming failed for workflow 'wf-1' on channel 'aion.history.ns.wf-1': \
             stream closed",
        ),
        (
            invalid("namespace", "a.b", "must not contain dots"),
            "invalid channel name input 'a.b' for namespace: must not contain dots",
        ),
        (
            AionSurfaceError::ChannelLifecycleError {
                channel_name: "aion.dispatch.ns.q".into(),
                message: "dispatch channel missing".into(),
            },
            "channel lifecycle error for channel 'aion.dispatch.ns.q': dispatch channel missing",
        ),
    ];
    for (error, expect) in cases {
        assert_eq!(error.to_string(), expect);
        assert!(error.source().is_none(), "{error:?} has a source");
    }
}

// ---- value types ----------------------------------------------------------------------------

#[test]
fn default_payload_is_empty() {
    let payload = Payload::default();
    assert!(payload.data.is_empty());
    assert!(payload.content_type.is_empty());
}

// ---- codec ----------------------------------------------------------------------------------

fn request(
    schedule_to_close_timeout: Option<Duration>,
    start_to_close_timeout: Option<Duration>,
) -> DispatchRequest {
    DispatchRequest {
        conversation_id: "conv-1".into(),
        request: ActivityRequest {
            activity_type: "charge_card".into(),
            input: Payload {
                data: vec![1, 2, 255],
                content_type: "application/octet-stream".into(),
            },
            task_queue: "payments".into(),
            schedule_to_close_timeout,
            start_to_close_timeout,
        },
    }
}

fn completed() -> DispatchResponse {
    DispatchResponse {
        worker_id: "worker-7".into(),
        result: ActivityResult::Completed {
            output: Payload {
                data: b"ok".to_vec(),
                content_type: "text/plain".into(),
            },
        },
    }
}

fn failed() -> DispatchResponse {
    DispatchResponse {
        worker_id: "worker-7".into(),
        result: ActivityResult::Failed {
            error: AionSurfaceError::DispatchFailed {
                channel_name: "aion.dispatch.ns.payments".into(),
                workflow_id: "wf-1".into(),
                message: "card declined".into(),
            },
        },
    }
}

fn ack(status: DispatchAckStatus) -> DispatchAck {
    DispatchAck {
        conversation_id: "conv-1".into(),
        status,
    }
}

fn check_encoding(bytes: Vec<u8>, expect: &str) {
    assert_eq!(String::from_utf8(bytes).unwrap(), expect);
}

#[test]
fn content_types_match_the_wire_constants() {
    let cases = [
        (
            DispatchRequest::CONTENT_TYPE,
            DISPATCH_REQUEST_CONTENT_TYPE,
            "request",
        ),
        (
            DispatchResponse::CONTENT_TYPE,
            DISPATCH_RESPONSE_CONTENT_TYPE,
            "response",
        ),
        (DispatchAck::CONTENT_TYPE, DISPATCH_ACK_CONTENT_TYPE, "ack"),
    ];
    for (associated, constant, kind) in cases {
        assert_eq!(associated, constant);
        assert_eq!(
            constant,
            format!("application/vnd.aion.dispatch.{kind}+json")
        );
    }
}

#[test]
fn request_encodes_as_compact_json() {
    check_encoding(
        request(Some(Duration::from_millis(1500)), None).encode(),
        r#"{"content_type":"application/vnd.aion.dispatch.request+json","conversation_id":"conv-1","request":{"activity_type":"charge_card","input":{"content_type":"application/octet-stream","data":[1,2,255]},"schedule_to_close_timeout_ms":1500,"start_to_close_timeout_ms":null,"task_queue":"payments"}}"#,
    );
}

#[test]
fn request_timeouts_are_whole_milliseconds_saturating_at_u64_max() {
    let encoded = request(Some(Duration::from_micros(2_999)), Some(Duration::MAX)).encode();
    let text = String::from_utf8(encoded).unwrap();
    assert!(
        text.contains(r#""schedule_to_close_timeout_ms":2,"#),
        "{text}"
    );
    assert!(
        text.contains(r#""start_to_close_timeout_ms":18446744073709551615,"#),
        "{text}"
    );
}

#[test]
fn responses_encode_as_compact_json() {
    check_encoding(
        completed().encode(),
        r#"{"content_type":"application/vnd.aion.dispatch.response+json","result":{"output":{"content_type":"text/plain","data":[111,107]},"status":"completed"},"worker_id":"worker-7"}"#,
    );
    check_encoding(
        failed().encode(),
        r#"{"content_type":"application/vnd.aion.dispatch.response+json","result":{"error":"dispatch failed for workflow 'wf-1' on channel 'aion.dispatch.ns.payments': card declined","status":"failed"},"worker_id":"worker-7"}"#,
    );
}

#[test]
fn acks_encode_their_wire_status() {
    let cases = [
        (DispatchAckStatus::Accepted, "accepted"),
        (DispatchAckStatus::Deferred, "deferred"),
        (DispatchAckStatus::Rejected, "rejected"),
    ];
    assert_eq!(DispatchAckStatus::ALL, cases.map(|(status, _)| status));
    for (status, wire) in cases {
        assert_eq!(status.as_str(), wire);
        check_encoding(
            ack(status).encode(),
            &format!(
                r#"{{"content_type":"application/vnd.aion.dispatch.ack+json","conversation_id":"conv-1","status":"{wire}"}}"#
            ),
        );
    }
}

// ---- schemas --------------------------------------------------------------------------------

/// `expect` is `"ok"` or the full Display of the expected `SchemaError`.
fn check(schema: MessageSchema, payload: &[u8], expect: &str) {
    let actual = match schema.validate(payload) {
        Ok(()) => "ok".to_owned(),
        Err(error) => error.to_string(),
    };
    let shown = String::from_utf8_lossy(payload);
    assert_eq!(actual, expect, "schema {}, payload {shown}", schema.id());
}

fn bytes(value: serde_json::Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

#[test]
fn schemas_have_stable_ids() {
    assert_eq!(MessageSchema::request().id(), "aion.dispatch.request");
    assert_eq!(MessageSchema::response().id(), "aion.dispatch.response");
    assert_eq!(MessageSchema::ack().id(), "aion.dispatch.ack");
}

#[test]
fn each_schema_accepts_its_own_messages_and_rejects_the_others() {
    let request_bytes = request(None, Some(Duration::from_secs(1))).encode();
    let mut messages = vec![
        (DISPATCH_REQUEST_CONTENT_TYPE, request_bytes),
        (DISPATCH_RESPONSE_CONTENT_TYPE, completed().encode()),
        (DISPATCH_RESPONSE_CONTENT_TYPE, failed().encode()),
    ];
    for status in DispatchAckStatus::ALL {
        messages.push((DISPATCH_ACK_CONTENT_TYPE, ack(status).encode()));
    }
    let schemas = [
        (MessageSchema::request(), DISPATCH_REQUEST_CONTENT_TYPE),
        (MessageSchema::response(), DISPATCH_RESPONSE_CONTENT_TYPE),
        (MessageSchema::ack(), DISPATCH_ACK_CONTENT_TYPE),
    ];
    for (schema, own_type) in schemas {
        for (message_type, message) in &messages {
            let result = schema.validate(message);
            if *message_type == own_type {
                assert_eq!(result, Ok(()), "{} rejected its own message", schema.id());
            } else {
                let message = format!("must be \"{own_type}\", found \"{message_type}\"");
                let field = "content_type".to_owned();
                assert_eq!(result, Err(SchemaError::Mismatch { field, message }));
            }
        }
    }
}

#[test]
fn schemas_reject_payloads_that_are_not_json_objects() {
    for schema in [
        MessageSchema::request(),
        MessageSchema::response(),
        MessageSchema::ack(),
    ] {
        check(
            schema,
            b"",
            "payload is not JSON: EOF while parsing a value at line 1 column 0",
        );
        check(
            schema,
            b"not json",
            "payload is not JSON: expected ident at line 1 column 2",
        );
        check(
            schema,
            b"{\"a\":",
            "payload is not JSON: EOF while parsing a value at line 1 column 5",
        );
        check(
            schema,
            &[0xff, 0xfe],
            "payload is not JSON: expected value at line 1 column 1",
        );
        check(
            schema,
            b"[]",
            "payload must be a JSON object, found an array",
        );
        check(schema, b"null", "payload must be a JSON object, found null");
        check(
            schema,
            b"42",
            "payload must be a JSON object, found a number",
        );
        check(
            schema,
            b"true",
            "payload must be a JSON object, found a boolean",
        );
        check(
            schema,
            b"\"text\"",
            "payload must be a JSON object, found \"text\"",
        );
    }
    assert!(matches!(
        MessageSchema::request().validate(b"nope"),
        Err(SchemaError::NotJson { .. })
    ));
}

#[test]
fn request_schema_checks_content_type_fields_and_foreign_fields() {
    let schema = MessageSchema::request();
    let ct = DISPATCH_REQUEST_CONTENT_TYPE;
    let valid = json!({"content_type": ct, "conversation_id": "c", "request": {}});
    check(schema, &bytes(valid), "ok");
    let cases = [
        (
            json!({"content_type": "application/json", "conversation_id": "c", "request": {}}),
            r#"field 'content_type' must be "application/vnd.aion.dispatch.request+json", found "application/json""#,
        ),
        (
            json!({"conversation_id": "c", "request": {}}),
            "field 'content_type' is required",
        ),
        (
            json!({"content_type": 1, "conversation_id": "c", "request": {}}),
            r#"field 'content_type' must be "application/vnd.aion.dispatch.request+json", found a number"#,
        ),
        (
            json!({"content_type": ct, "request": {}}),
            "field 'conversation_id' is required",
        ),
        (
            json!({"content_type": ct, "conversation_id": "", "request": {}}),
            r#"field 'conversation_id' must be a non-empty string, found """#,
        ),
        (
            json!({"content_type": ct, "conversation_id": 7, "request": {}}),
            "field 'conversation_id' must be a non-empty string, found a number",
        ),
        (
            json!({"content_type": ct, "conversation_id": "c"}),
            "field 'request' is required",
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "request": "x"}),
            r#"field 'request' must be an object, found "x""#,
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "request": {}, "worker_id": "w"}),
            "field 'worker_id' belongs to another message kind and must be absent from \
             aion.dispatch.request",
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "request": {}, "result": {}}),
            "field 'result' belongs to another message kind and must be absent from \
             aion.dispatch.request",
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "request": {}, "status": null}),
            "field 'status' belongs to another message kind and must be absent from \
             aion.dispatch.request",
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "request": {}, "trace": [1]}),
            "ok",
        ),
    ];
    for (payload, expect) in cases {
        check(schema, &bytes(payload), expect);
    }
}

#[test]
fn response_schema_checks_fields_and_foreign_fields() {
    let schema = MessageSchema::response();
    let ct = DISPATCH_RESPONSE_CONTENT_TYPE;
    let cases = [
        (
            json!({"content_type": ct, "worker_id": "w", "result": {}}),
            "ok",
        ),
        (
            json!({"content_type": ct, "worker_id": "w", "result": {}, "extra": 1}),
            "ok",
        ),
        (
            json!({"content_type": ct, "result": {}}),
            "field 'worker_id' is required",
        ),
        (
            json!({"content_type": ct, "worker_id": "", "result": {}}),
            r#"field 'worker_id' must be a non-empty string, found """#,
        ),
        (
            json!({"content_type": ct, "worker_id": "w", "result": []}),
            "field 'result' must be an object, found an array",
        ),
        (
            json!({"content_type": ct, "worker_id": "w", "result": {}, "conversation_id": "c"}),
            "field 'conversation_id' belongs to another message kind and must be absent from \
             aion.dispatch.response",
        ),
        (
            json!({"content_type": ct, "worker_id": "w", "result": {}, "request": {}}),
            "field 'request' belongs to another message kind and must be absent from \
             aion.dispatch.response",
        ),
    ];
    for (payload, expect) in cases {
        check(schema, &bytes(payload), expect);
    }
}

#[test]
fn ack_schema_checks_status_and_foreign_fields() {
    let schema = MessageSchema::ack();
    let ct = DISPATCH_ACK_CONTENT_TYPE;
    let choices = r#""accepted", "deferred", "rejected""#;
    let long_status = "x".repeat(100);
    let cases = [
        (
            json!({"content_type": ct, "conversation_id": "c", "status": "deferred"}),
            "ok".into(),
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "status": "deferred", "n": 1}),
            "ok".into(),
        ),
        (
            json!({"content_type": ct, "conversation_id": "", "status": "accepted"}),
            r#"field 'conversation_id' must be a non-empty string, found """#.into(),
        ),
        (
            json!({"content_type": ct, "conversation_id": "c"}),
            "field 'status' is required".into(),
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "status": "done"}),
            format!(r#"field 'status' must be one of {choices}, found "done""#),
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "status": "Accepted"}),
            format!(r#"field 'status' must be one of {choices}, found "Accepted""#),
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "status": true}),
            format!("field 'status' must be one of {choices}, found a boolean"),
        ),
        (
            // Long strings are cut short in the message: the quote plus 63 characters.
            json!({"content_type": ct, "conversation_id": "c", "status": long_status}),
            format!(
                r#"field 'status' must be one of {choices}, found "{}..."#,
                "x".repeat(63)
            ),
        ),
        (
            json!({"content_type": ct, "conversation_id": "c", "status": "accepted", "request": 1}),
            "field 'request' belongs to another message kind and must be absent from \
             aion.dispatch.ack"
                .into(),
        ),
    ];
    for (payload, expect) in cases {
        check(schema, &bytes(payload), &expect);
    }
}
