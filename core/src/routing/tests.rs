//! Unit tests of the routing helpers: capacity arithmetic and affinity matching.

use super::*;

fn view(current_in_flight: u32, max_in_flight: u32, affinity_tags: &[&str]) -> ConsumerStateView {
    ConsumerStateView {
        consumer: ConsumerId("worker-1".into()),
        current_in_flight,
        max_in_flight,
        buffer_depth: 0,
        affinity_tags: affinity_tags.iter().map(|tag| (*tag).to_owned()).collect(),
    }
}

#[test]
fn capacity_is_max_minus_current_and_saturates_at_zero() {
    // (current, max, expected available, expected has_capacity)
    let cases = [
        (0, 0, 0, false),
        (0, 4, 4, true),
        (3, 4, 1, true),
        (4, 4, 0, false),
        (9, 4, 0, false),
        (u32::MAX, 0, 0, false),
        (0, u32::MAX, u32::MAX, true),
    ];
    for (current, max, available, has_capacity) in cases {
        let state = view(current, max, &[]);
        assert_eq!(
            state.available_capacity(),
            available,
            "current {current}, max {max}"
        );
        assert_eq!(
            state.has_capacity(),
            has_capacity,
            "current {current}, max {max}"
        );
    }
}

#[test]
fn affinity_is_an_exact_string_match() {
    let state = view(0, 1, &["gpu", "eu-west"]);
    let cases = [
        ("gpu", true),
        ("eu-west", true),
        ("GPU", false),
        ("eu", false),
        ("gpu ", false),
        ("", false),
    ];
    for (tag, expect) in cases {
        assert_eq!(state.has_affinity(tag), expect, "tag {tag:?}");
    }
    assert!(!view(0, 1, &[]).has_affinity("gpu"));
}

#[test]
fn consumer_ids_display_their_raw_string() {
    for raw in ["worker-1", "with space", "quote\"d", ""] {
        assert_eq!(ConsumerId(raw.into()).to_string(), raw);
    }
}
