//! `SharedStr`: an immutable string whose clone never allocates, for the ids every snapshot
//! hands out (worker ids, consumer ids).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// The longest text kept inline, without a heap allocation or a reference count.
const INLINE_MAX: usize = 22;

/// An immutable string that clones cheaply: text of up to 22 bytes (every generated worker
/// id) is stored inline and a clone is a plain copy; longer text is shared by reference count
/// and a clone is one counter increment. Never an allocation either way. Compares, orders and
/// hashes as its text.
#[derive(Clone)]
pub struct SharedStr(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is the text; the rest is zero and never read.
    Inline {
        len: u8,
        bytes: [u8; INLINE_MAX],
    },
    Shared(Arc<str>),
}

impl SharedStr {
    fn new(text: &str) -> Self {
        if text.len() <= INLINE_MAX {
            let mut bytes = [0; INLINE_MAX];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            // The cast cannot truncate: the length is at most `INLINE_MAX`.
            SharedStr(Repr::Inline {
                len: text.len() as u8,
                bytes,
            })
        } else {
            SharedStr(Repr::Shared(Arc::from(text)))
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Inline { len, bytes } => {
                let text = &bytes[..usize::from(*len)];
                // SAFETY: `new` is the only constructor of `Inline`; it copies `len` bytes of a
                // `&str` into `bytes`, and nothing mutates them afterwards, so `bytes[..len]` is
                // exactly that string's UTF-8 (a copy of a whole `str`, never cut mid-character).
                unsafe { std::str::from_utf8_unchecked(text) }
            }
            Repr::Shared(text) => text,
        }
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialOrd for SharedStr {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SharedStr {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for SharedStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SharedStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for SharedStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> Self {
        SharedStr::new(text)
    }
}

impl From<String> for SharedStr {
    fn from(text: String) -> Self {
        SharedStr::new(&text)
    }
}

impl From<SharedStr> for String {
    fn from(text: SharedStr) -> Self {
        text.as_str().to_owned()
    }
}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SharedStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SharedStr> for String {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<SharedStr> for &str {
    fn eq(&self, other: &SharedStr) -> bool {
        *self == other.as_str()
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::SharedStr;

    #[test]
    fn short_and_long_text_round_trip_and_compare_as_text() {
        let cases = [
            "",
            "worker-1",
            "ünïcødé-id",
            "a-worker-id-longer-than-twenty-two-bytes",
        ];
        for text in cases {
            let shared = SharedStr::from(text);
            assert_eq!(shared.as_str(), text);
            assert_eq!(shared.clone(), shared);
            assert_eq!(String::from(shared.clone()), text);
        }
        let mut sorted: Vec<SharedStr> = cases.iter().map(|text| SharedStr::from(*text)).collect();
        sorted.sort();
        let mut expect = cases.to_vec();
        expect.sort_unstable();
        assert_eq!(
            sorted,
            expect
                .iter()
                .map(|t| SharedStr::from(*t))
                .collect::<Vec<_>>()
        );
    }
}
