//! Schedule strings through the public API: corrupt ones get clear errors, never panics.

use std::panic::{AssertUnwindSafe, catch_unwind};

use vigil_core::rt;
use vigil_core::thread::panic_message;
use vigil_sim::{Schedule, ScheduleError, check_replay};

use crate::{explore, models};

#[test]
fn corrupt_schedule_strings_get_clear_errors() {
    let found = explore(300, models::lock_order(false));
    let good = found.failure().expect("a deadlock").schedule.clone();
    assert!(Schedule::decode(&good).is_ok());
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "it is empty"),
        ("seed=5".to_owned(), "it should start with 'v1:'"),
        (
            good.replacen("v1:", "v9:", 1),
            "version \"v9\" is not supported",
        ),
        (format!("{good}!"), "is not a base64url character"),
        (good[..good.len() - 3].to_owned(), "truncated"),
        (good.replacen("v1:", "v1:A", 1), "checksum mismatch"),
        ("v1:".to_owned(), "too short"),
    ];
    for (input, expected) in cases {
        let error = Schedule::decode(&input).expect_err(&input);
        let text = error.to_string();
        assert!(text.starts_with("bad schedule string"), "{input:?}: {text}");
        assert!(text.contains(expected), "{input:?}: {text}");
    }
    let error: ScheduleError = "v1:AB=C".parse::<Schedule>().unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("bad schedule string at byte 5:"),
        "{error}"
    );
}

#[test]
fn check_replay_with_a_corrupt_string_explains_the_problem() {
    let result = catch_unwind(AssertUnwindSafe(|| {
        check_replay(|| rt::step("a"), "v1:%%%%")
    }));
    let message = panic_message(result.expect_err("a corrupt schedule is refused").as_ref());
    assert_eq!(
        message,
        "bad schedule string at byte 3: '%' is not a base64url character (A-Z a-z 0-9 - _)"
    );
}
