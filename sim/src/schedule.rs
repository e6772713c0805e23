//! A schedule: the seed plus every choice an execution made, as a short string and as a file.
//!
//! Replaying a schedule's choices in order reproduces its execution exactly (the executor is
//! deterministic given its choices). Only real choices are recorded: a step with a single
//! runnable task asks nobody and records nothing.
//!
//! # String encoding, version 1
//!
//! `v1:` followed by unpadded base64url (`A-Z a-z 0-9 - _`, safe unquoted in a shell) of:
//!
//! 1. the seed as an unsigned LEB128 varint;
//! 2. the choices as records, each a varint header whose low two bits are a tag:
//!    - `0` task: `header >> 2` is the task id;
//!    - `1` draw: `header >> 2` is zero, and a varint with the drawn value follows;
//!    - `2` fault: `header >> 2` is the fault index;
//!    - `3` repeat: `header >> 2` is `n >= 1`: the previous choice, a task, `n` more times;
//! 3. a checksum: the low 32 bits of FNV-1a 64 over the bytes of 1 and 2, little-endian.
//!
//! # Version 2
//!
//! `v2:` is version 1 with one more varint right after the seed: the fingerprint of the
//! scenario the schedule was recorded for (`Scenario::fingerprint`). Scenario runs record v2,
//! and replaying one against a scenario with another fingerprint is refused. Models run from
//! code have no scenario and still record v1; v1 strings (older schedules) are read as
//! schedules without a fingerprint and replay anywhere, as before. The file form adds an
//! optional `scenario 0x...` line for the same number.
//!
//! Decoding never panics: a corrupt string gets a [`ScheduleError`] saying what is wrong and
//! where, and the checksum catches edits and truncation that would otherwise decode into a
//! different, valid-looking schedule.
//!
//! # File format, version 1
//!
//! Text, one item per line; blank lines and lines starting with `#` are ignored:
//!
//! ```text
//! # any comments
//! vigil-schedule 1
//! seed 0x000000000000002a
//! task 0
//! task 1 x3
//! draw 0x00000000deadbeef
//! fault 2
//! ```
//!
//! `task N xK` is task `N` chosen `K` times in a row. Numbers are decimal or `0x` hex.

use std::fmt;
use std::str::FromStr;

use vigil_core::rt::TaskId;

use crate::trace::{FNV_OFFSET_BASIS, fnv1a64, fnv1a64_extend};

/// One decision of an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Choice {
    /// Run this task next.
    Task(TaskId),
    /// The model drew this random number.
    Draw(u64),
    /// Fire pending fault number `k` (see `Faults`).
    Fault(u32),
}

impl fmt::Display for Choice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Choice::Task(task) => write!(f, "{task}"),
            Choice::Draw(value) => write!(f, "draw {value:#018x}"),
            Choice::Fault(idx) => write!(f, "fault {idx}"),
        }
    }
}

/// The seed of an execution and every choice it made, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// The seed the strategy reported when the execution started (see `strategy::Start`).
    pub seed: u64,
    pub choices: Vec<Choice>,
    /// A fingerprint of the scenario the schedule was recorded for (see
    /// `Scenario::fingerprint`), so that replaying it against another scenario is refused.
    /// `None` for models run from code, and for schedules recorded before fingerprints.
    pub fingerprint: Option<u64>,
}

/// Why a schedule string or file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("bad schedule string: it is empty; pass the whole text printed after VIGIL_REPLAY=")]
    Empty,
    #[error(
        "bad schedule string: it should start with 'v1:' but starts with {found:?}; \
         pass the whole text printed after VIGIL_REPLAY="
    )]
    MissingVersion { found: String },
    #[error(
        "bad schedule string: version {version:?} is not supported (this build reads v1 and v2)"
    )]
    UnsupportedVersion { version: String },
    #[error("bad schedule string at byte {byte}: {problem}")]
    Corrupt { byte: usize, problem: String },
    #[error(
        "bad schedule string: checksum mismatch (stored {stored:#010x}, computed \
         {computed:#010x}); the string was truncated or edited, copy it again in full"
    )]
    Checksum { stored: u32, computed: u32 },
    #[error("bad schedule file, line {line}: {problem}")]
    File { line: usize, problem: String },
}

/// More choices than this in one schedule is treated as corruption (a limit on everything).
pub const CHOICES_MAX: usize = 1 << 24;

const PREFIX: &str = "v1:";
/// The prefix of a schedule that carries its scenario's fingerprint.
const PREFIX_V2: &str = "v2:";
const TAG_TASK: u64 = 0;
const TAG_DRAW: u64 = 1;
const TAG_FAULT: u64 = 2;
const TAG_REPEAT: u64 = 3;
const FILE_HEADER: &str = "vigil-schedule 1";

impl Schedule {
    pub fn new(seed: u64) -> Self {
        Schedule {
            seed,
            choices: Vec::new(),
            fingerprint: None,
        }
    }

    /// The version-1 string form (see the module documentation).
    /// A digest of the choices (not the seed): equal for executions that chose alike.
    pub fn digest(&self) -> u64 {
        self.choices.iter().fold(FNV_OFFSET_BASIS, |hash, choice| {
            let (tag, value) = match *choice {
                Choice::Task(task) => (0u8, u64::from(task.0)),
                Choice::Draw(value) => (1, value),
                Choice::Fault(fault) => (2, u64::from(fault)),
            };
            fnv1a64_extend(fnv1a64_extend(hash, &[tag]), &value.to_le_bytes())
        })
    }

    pub fn encode(&self) -> String {
        let mut payload = Vec::with_capacity(16 + self.choices.len());
        write_varint(&mut payload, self.seed);
        if let Some(fingerprint) = self.fingerprint {
            write_varint(&mut payload, fingerprint);
        }
        let mut idx = 0;
        while idx < self.choices.len() {
            let choice = self.choices[idx];
            match choice {
                Choice::Task(task) => {
                    write_varint(&mut payload, (u64::from(task.0) << 2) | TAG_TASK);
                    let run = self.choices[idx + 1..]
                        .iter()
                        .take_while(|&&next| next == choice)
                        .count();
                    if run > 0 {
                        write_varint(&mut payload, ((run as u64) << 2) | TAG_REPEAT);
                    }
                    idx += 1 + run;
                    continue;
                }
                Choice::Draw(value) => {
                    write_varint(&mut payload, TAG_DRAW);
                    write_varint(&mut payload, value);
                }
                Choice::Fault(fault) => {
                    write_varint(&mut payload, (u64::from(fault) << 2) | TAG_FAULT);
                }
            }
            idx += 1;
        }
        let checksum = fnv1a64(&payload) as u32;
        payload.extend_from_slice(&checksum.to_le_bytes());
        let mut out = String::with_capacity(PREFIX.len() + payload.len() * 4 / 3 + 4);
        out.push_str(match self.fingerprint {
            Some(_) => PREFIX_V2,
            None => PREFIX,
        });
        base64url_encode(&payload, &mut out);
        out
    }

    /// Reads the string form; surrounding whitespace is ignored.
    pub fn decode(text: &str) -> Result<Schedule, ScheduleError> {
        let leading = text.len() - text.trim_start().len();
        let text = text.trim();
        if text.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let Some((version, body)) = text.split_once(':') else {
            let found: String = text.chars().take(8).collect();
            return Err(ScheduleError::MissingVersion { found });
        };
        if !version.starts_with('v') || version.len() > 8 {
            let found: String = text.chars().take(8).collect();
            return Err(ScheduleError::MissingVersion { found });
        }
        let fingerprinted = match version {
            "v1" => false,
            "v2" => true,
            _ => {
                return Err(ScheduleError::UnsupportedVersion {
                    version: version.to_owned(),
                });
            }
        };
        let body_start = leading + version.len() + 1;
        let bytes = base64url_decode(body, body_start)?;
        if bytes.len() < 5 {
            return Err(ScheduleError::Corrupt {
                byte: leading + text.len(),
                problem: format!(
                    "only {} bytes of data, too short to hold a seed and a checksum (truncated?)",
                    bytes.len()
                ),
            });
        }
        let (payload, stored) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([stored[0], stored[1], stored[2], stored[3]]);
        let computed = fnv1a64(payload) as u32;
        if stored != computed {
            return Err(ScheduleError::Checksum { stored, computed });
        }
        PayloadReader {
            payload,
            pos: 0,
            body_start,
        }
        .read(fingerprinted)
    }

    /// The version-1 file form (see the module documentation), with the string form in a
    /// comment for copying.
    pub fn to_file_text(&self) -> String {
        let mut out = format!(
            "# replay with VIGIL_REPLAY={}\n{FILE_HEADER}\n",
            self.encode()
        );
        out.push_str(&format!("seed {:#018x}\n", self.seed));
        if let Some(fingerprint) = self.fingerprint {
            out.push_str(&format!("scenario {fingerprint:#018x}\n"));
        }
        let mut idx = 0;
        while idx < self.choices.len() {
            let choice = self.choices[idx];
            let run = 1 + self.choices[idx + 1..]
                .iter()
                .take_while(|&&next| next == choice)
                .count();
            match choice {
                Choice::Task(task) if run > 1 => out.push_str(&format!("task {} x{run}\n", task.0)),
                Choice::Task(task) => out.push_str(&format!("task {}\n", task.0)),
                Choice::Draw(value) => out.push_str(&format!("draw {value:#018x}\n")),
                Choice::Fault(fault) => out.push_str(&format!("fault {fault}\n")),
            }
            idx += if matches!(choice, Choice::Task(_)) {
                run
            } else {
                1
            };
        }
        out
    }

    /// Reads the file form. Errors name the line (1-based) and what was expected there.
    pub fn from_file_text(text: &str) -> Result<Schedule, ScheduleError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(idx, line)| (idx + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'));
        let file_error = |line: usize, problem: String| ScheduleError::File { line, problem };
        match lines.next() {
            Some((_, line)) if line == FILE_HEADER => {}
            Some((number, line)) => {
                return Err(file_error(
                    number,
                    format!("expected the header '{FILE_HEADER}', found {line:?}"),
                ));
            }
            None => return Err(file_error(1, format!("empty; expected '{FILE_HEADER}'"))),
        }
        let mut schedule = match lines.next() {
            Some((number, line)) => match line.strip_prefix("seed ") {
                Some(seed) => Schedule::new(parse_number(seed).map_err(|p| file_error(number, p))?),
                None => {
                    return Err(file_error(
                        number,
                        format!("expected 'seed N', found {line:?}"),
                    ));
                }
            },
            None => return Err(file_error(1, "no 'seed N' line".to_owned())),
        };
        for (number, line) in lines {
            if let Some(fingerprint) = line.strip_prefix("scenario ") {
                let fingerprint = parse_number(fingerprint).map_err(|p| file_error(number, p))?;
                schedule.fingerprint = Some(fingerprint);
                continue;
            }
            parse_file_choice(line, &mut schedule.choices).map_err(|p| file_error(number, p))?;
        }
        Ok(schedule)
    }
}

fn parse_file_choice(line: &str, choices: &mut Vec<Choice>) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (choice, count) = match words.as_slice() {
        ["task", id] => (Choice::Task(TaskId(parse_u32(id)?)), 1),
        ["task", id, times] => {
            let count = times
                .strip_prefix('x')
                .ok_or_else(|| format!("expected a repeat count like 'x3', found {times:?}"))?;
            let count = parse_number(count)?;
            if count == 0 {
                return Err("a repeat count must be at least x1".to_owned());
            }
            (Choice::Task(TaskId(parse_u32(id)?)), count)
        }
        ["draw", value] => (Choice::Draw(parse_number(value)?), 1),
        ["fault", idx] => (Choice::Fault(parse_u32(idx)?), 1),
        _ => {
            return Err(format!(
                "expected 'task N', 'task N xK', 'draw N' or 'fault N', found {line:?}"
            ));
        }
    };
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if choices.len().saturating_add(count) > CHOICES_MAX {
        return Err(format!("more than {CHOICES_MAX} choices"));
    }
    choices.extend(std::iter::repeat_n(choice, count));
    Ok(())
}

fn parse_number(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("expected a number (decimal or 0x hex), found {text:?}"))
}

fn parse_u32(text: &str) -> Result<u32, String> {
    let value = parse_number(text)?;
    u32::try_from(value).map_err(|_| format!("{value} does not fit in 32 bits"))
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Schedule::decode(text)
    }
}

/// Walks the decoded payload; positions in errors are translated back to string bytes.
struct PayloadReader<'a> {
    payload: &'a [u8],
    pos: usize,
    body_start: usize,
}

impl PayloadReader<'_> {
    fn read(mut self, fingerprinted: bool) -> Result<Schedule, ScheduleError> {
        let mut schedule = Schedule::new(self.varint()?);
        if fingerprinted {
            schedule.fingerprint = Some(self.varint()?);
        }
        while self.pos < self.payload.len() {
            let record_start = self.pos;
            let header = self.varint()?;
            let value = header >> 2;
            match header & 3 {
                TAG_TASK => schedule
                    .choices
                    .push(Choice::Task(TaskId(self.fits_u32(value, record_start)?))),
                TAG_DRAW if value == 0 => schedule.choices.push(Choice::Draw(self.varint()?)),
                TAG_DRAW => {
                    return Err(
                        self.corrupt(record_start, format!("unknown record header {header:#x}"))
                    );
                }
                TAG_FAULT => schedule
                    .choices
                    .push(Choice::Fault(self.fits_u32(value, record_start)?)),
                _ => self.repeat(&mut schedule.choices, value, record_start)?,
            }
            if schedule.choices.len() > CHOICES_MAX {
                return Err(self.corrupt(record_start, format!("more than {CHOICES_MAX} choices")));
            }
        }
        Ok(schedule)
    }

    fn repeat(
        &self,
        choices: &mut Vec<Choice>,
        count: u64,
        at: usize,
    ) -> Result<(), ScheduleError> {
        let Some(&previous @ Choice::Task(_)) = choices.last() else {
            return Err(self.corrupt(
                at,
                "a repeat record with no task choice before it".to_owned(),
            ));
        };
        if count == 0 {
            return Err(self.corrupt(at, "a repeat record with a count of zero".to_owned()));
        }
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if choices.len().saturating_add(count) > CHOICES_MAX {
            return Err(self.corrupt(at, format!("more than {CHOICES_MAX} choices")));
        }
        choices.extend(std::iter::repeat_n(previous, count));
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, ScheduleError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&byte) = self.payload.get(self.pos) else {
                return Err(
                    self.corrupt(start, "the data ends in the middle of a number".to_owned())
                );
            };
            self.pos += 1;
            let bits = u64::from(byte & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.corrupt(start, "a number larger than 64 bits".to_owned()));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.corrupt(start, "a number longer than 10 bytes".to_owned()))
    }

    fn fits_u32(&self, value: u64, at: usize) -> Result<u32, ScheduleError> {
        u32::try_from(value).map_err(|_| self.corrupt(at, format!("index {value} is too large")))
    }

    /// Payload byte `at` starts in base64 character `at * 8 / 6` of the body.
    fn corrupt(&self, at: usize, problem: String) -> ScheduleError {
        ScheduleError::Corrupt {
            byte: self.body_start + at * 4 / 3,
            problem,
        }
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64url_encode(bytes: &[u8], out: &mut String) {
    for chunk in bytes.chunks(3) {
        let word = chunk.iter().enumerate().fold(0u32, |word, (idx, &byte)| {
            word | (u32::from(byte) << (16 - 8 * idx))
        });
        let chars = chunk.len() + 1;
        for idx in 0..chars {
            let sextet = (word >> (18 - 6 * idx)) & 0x3f;
            out.push(char::from(BASE64URL[sextet as usize]));
        }
    }
}

fn base64url_value(byte: u8) -> Option<u32> {
    let value = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes unpadded base64url; `offset` is where `text` starts in the whole string.
fn base64url_decode(text: &str, offset: usize) -> Result<Vec<u8>, ScheduleError> {
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return Err(ScheduleError::Corrupt {
            byte: offset + bytes.len(),
            problem: "the base64 text has an impossible length (truncated?)".to_owned(),
        });
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for (chunk_idx, chunk) in bytes.chunks(4).enumerate() {
        let mut word = 0u32;
        for (idx, &byte) in chunk.iter().enumerate() {
            let Some(value) = base64url_value(byte) else {
                let at = offset + chunk_idx * 4 + idx;
                let found = text[chunk_idx * 4 + idx..].chars().next().unwrap_or('?');
                return Err(ScheduleError::Corrupt {
                    byte: at,
                    problem: format!("{found:?} is not a base64url character (A-Z a-z 0-9 - _)"),
                });
            };
            word |= value << (18 - 6 * idx);
        }
        let produced = chunk.len() - 1;
        let unused_bits = word & (0x00ff_ffff >> (8 * produced));
        if unused_bits != 0 {
            return Err(ScheduleError::Corrupt {
                byte: offset + chunk_idx * 4 + chunk.len() - 1,
                problem: "the last base64 character has stray low bits (edited?)".to_owned(),
            });
        }
        out.extend((0..produced).map(|idx| (word >> (16 - 8 * idx)) as u8));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
