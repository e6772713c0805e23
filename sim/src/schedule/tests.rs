//! Unit tests of the schedule codec: roundtrips by property, corrupt inputs case by case.

use proptest::prelude::*;
use vigil_core::rt::TaskId;

use super::*;

fn task(id: u32) -> Choice {
    Choice::Task(TaskId(id))
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        4 => (0u32..4).prop_map(task),
        1 => any::<u32>().prop_map(task),
        2 => any::<u64>().prop_map(Choice::Draw),
        1 => any::<u32>().prop_map(Choice::Fault),
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    let parts = (
        any::<u64>(),
        prop::collection::vec(choice(), 0..300),
        prop::option::of(any::<u64>()),
    );
    parts.prop_map(|(seed, choices, fingerprint)| Schedule {
        seed,
        choices,
        fingerprint,
    })
}

proptest! {
    #[test]
    fn string_encoding_roundtrips(schedule in schedule()) {
        let text = schedule.encode();
        let version = if schedule.fingerprint.is_some() { "v2:" } else { "v1:" };
        prop_assert!(text.starts_with(version));
        prop_assert!(text[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(Schedule::decode(&text), Ok(schedule));
    }

    #[test]
    fn file_encoding_roundtrips(schedule in schedule()) {
        prop_assert_eq!(Schedule::from_file_text(&schedule.to_file_text()), Ok(schedule));
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".{0,64}") {
        let _ = Schedule::decode(&text);
        let _ = Schedule::decode(&format!("v1:{text}"));
        let _ = Schedule::from_file_text(&text);
    }

    #[test]
    fn a_changed_character_is_detected(schedule in schedule(), at in any::<prop::sample::Index>(), to in 0usize..64) {
        let text = schedule.encode();
        let at = 3 + at.index(text.len() - 3);
        let replacement = char::from(BASE64URL[to]);
        let mut edited: Vec<char> = text.chars().collect();
        prop_assume!(edited[at] != replacement);
        edited[at] = replacement;
        let edited: String = edited.into_iter().collect();
        prop_assert!(Schedule::decode(&edited).is_err(), "{} decoded", edited);
    }
}

/// The string form of a raw payload with a correct checksum: lets tests reach the record
/// parser with structurally bad data.
fn with_checksum(payload: &[u8]) -> String {
    let mut bytes = payload.to_vec();
    bytes.extend_from_slice(&(fnv1a64(payload) as u32).to_le_bytes());
    let mut out = String::from("v1:");
    base64url_encode(&bytes, &mut out);
    out
}

fn check(input: &str, expected: &str) {
    match Schedule::decode(input) {
        Ok(schedule) => panic!("{input:?} decoded to {schedule:?}, expected: {expected}"),
        Err(error) => assert_eq!(error.to_string(), expected, "for input {input:?}"),
    }
}

#[test]
fn corrupt_strings_get_errors_that_say_what_and_where() {
    check(
        "",
        "bad schedule string: it is empty; pass the whole text printed after VIGIL_REPLAY=",
    );
    check(
        "hello",
        "bad schedule string: it should start with 'v1:' but starts with \"hello\"; pass the \
         whole text printed after VIGIL_REPLAY=",
    );
    check(
        "v7:AAAAAAAA",
        "bad schedule string: version \"v7\" is not supported (this build reads v1 and v2)",
    );
    check(
        "v1:AAAA!AAA",
        "bad schedule string at byte 7: '!' is not a base64url character (A-Z a-z 0-9 - _)",
    );
    check(
        "  v1:AAAA*AAA",
        "bad schedule string at byte 9: '*' is not a base64url character (A-Z a-z 0-9 - _)",
    );
    check(
        "v1:AAAAA",
        "bad schedule string at byte 8: the base64 text has an impossible length (truncated?)",
    );
    check(
        "v1:AAAA",
        "bad schedule string at byte 7: only 3 bytes of data, too short to hold a seed and a \
         checksum (truncated?)",
    );
    check(
        "v1:AAAAAB",
        "bad schedule string at byte 8: the last base64 character has stray low bits (edited?)",
    );
}

#[test]
fn truncated_and_edited_strings_fail_the_checksum() {
    let schedule = Schedule {
        seed: 42,
        choices: vec![task(0), task(1), task(1), Choice::Draw(7), task(0)],
        fingerprint: None,
    };
    let text = schedule.encode();
    for cut in 1..text.len() - 3 {
        let truncated = &text[..text.len() - cut];
        let error = Schedule::decode(truncated).unwrap_err().to_string();
        assert!(
            error.contains("truncated") || error.contains("edited"),
            "{truncated}: {error}"
        );
    }
    let mut edited = text.clone().into_bytes();
    edited[5] = if edited[5] == b'A' { b'B' } else { b'A' };
    let error = Schedule::decode(std::str::from_utf8(&edited).unwrap()).unwrap_err();
    assert!(matches!(error, ScheduleError::Checksum { .. }), "{error}");
}

#[test]
fn structurally_bad_payloads_with_good_checksums_are_rejected() {
    let cases: [(&[u8], &str); 5] = [
        (&[0x80], "the data ends in the middle of a number"),
        (
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            "a number larger than 64 bits",
        ),
        (
            &[0x00, (1 << 2) | 3],
            "a repeat record with no task choice before it",
        ),
        (&[0x00, 0x00, 3], "a repeat record with a count of zero"),
        (&[0x00, (5 << 2) | 1], "unknown record header 0x15"),
    ];
    for (payload, problem) in cases {
        let text = with_checksum(payload);
        match Schedule::decode(&text) {
            Err(ScheduleError::Corrupt { problem: found, .. }) => assert_eq!(found, problem),
            other => panic!("{payload:?}: expected a corrupt-data error, got {other:?}"),
        }
    }
}

#[test]
fn a_huge_repeat_count_is_refused_instead_of_allocated() {
    let mut payload = vec![0x00, 0x04];
    write_varint(&mut payload, (1u64 << 40) << 2 | 3);
    let error = Schedule::decode(&with_checksum(&payload)).unwrap_err();
    assert!(
        error.to_string().contains("more than 16777216 choices"),
        "{error}"
    );
}

#[test]
fn runs_of_one_task_encode_compactly() {
    let schedule = Schedule {
        seed: 1,
        choices: vec![task(2); 1000],
        fingerprint: None,
    };
    let text = schedule.encode();
    assert!(text.len() < 20, "{text}");
    assert_eq!(Schedule::decode(&text), Ok(schedule));
}

#[test]
fn surrounding_whitespace_is_ignored() {
    let schedule = Schedule {
        seed: 3,
        choices: vec![task(1), Choice::Fault(0)],
        fingerprint: None,
    };
    let text = format!("  {}\n", schedule.encode());
    assert_eq!(Schedule::decode(&text), Ok(schedule));
}

#[test]
fn the_file_form_is_readable_and_its_errors_name_the_line() {
    let schedule = Schedule {
        seed: 0x2a,
        choices: vec![
            task(0),
            task(1),
            task(1),
            task(1),
            Choice::Draw(0xdead_beef),
            Choice::Fault(2),
        ],
        fingerprint: None,
    };
    let text = schedule.to_file_text();
    let body: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(
        body,
        [
            "vigil-schedule 1",
            "seed 0x000000000000002a",
            "task 0",
            "task 1 x3",
            "draw 0x00000000deadbeef",
            "fault 2",
        ]
    );
    let cases = [
        (
            "",
            "bad schedule file, line 1: empty; expected 'vigil-schedule 1'",
        ),
        (
            "vigil-schedule 2\n",
            "bad schedule file, line 1: expected the header 'vigil-schedule 1', found \"vigil-schedule 2\"",
        ),
        (
            "# c\nvigil-schedule 1\nsed 4\n",
            "bad schedule file, line 3: expected 'seed N', found \"sed 4\"",
        ),
        (
            "vigil-schedule 1\nseed 4\ntask 1\ntsk 2\n",
            "bad schedule file, line 4: expected 'task N', 'task N xK', 'draw N' or 'fault N', found \"tsk 2\"",
        ),
        (
            "vigil-schedule 1\nseed 4\ntask 1 x0\n",
            "bad schedule file, line 3: a repeat count must be at least x1",
        ),
        (
            "vigil-schedule 1\nseed 4\ntask 99999999999\n",
            "bad schedule file, line 3: 99999999999 does not fit in 32 bits",
        ),
        (
            "vigil-schedule 1\nseed 0xzz\n",
            "bad schedule file, line 2: expected a number (decimal or 0x hex), found \"0xzz\"",
        ),
    ];
    for (input, expected) in cases {
        let error = Schedule::from_file_text(input).unwrap_err();
        assert_eq!(error.to_string(), expected, "for {input:?}");
    }
}
