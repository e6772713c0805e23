//! Compact per-execution records for a search's [`super::Log`].
//!
//! A log keeps one row per execution (its lock-dependent check counts) and one entry per
//! distinct schedule, so that parts can be cut at the global first failure and merged. A
//! systematic search runs millions of executions in one process: in ordered maps those
//! rows cost about 150 bytes of heap per execution, in many small allocations that outlive
//! every execution's own and fragment the heap. A part's executions arrive in increasing
//! key order, so a sorted vector takes them at its end; distinct schedules are a sorted vector compacted
//! as it grows.

/// One value per execution key, kept sorted by key; a key inserted twice keeps the later
/// value (as a map would).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rows<V> {
    rows: Vec<(u64, V)>,
}

impl<V> Default for Rows<V> {
    fn default() -> Self {
        Rows { rows: Vec::new() }
    }
}

impl<V> Rows<V> {
    pub(crate) fn insert(&mut self, key: u64, value: V) {
        match self.rows.last() {
            Some((last, _)) if *last >= key => match self.position(key) {
                Ok(idx) => self.rows[idx].1 = value,
                Err(idx) => self.rows.insert(idx, (key, value)),
            },
            _ => self.rows.push((key, value)),
        }
    }

    fn position(&self, key: u64) -> Result<usize, usize> {
        self.rows.binary_search_by_key(&key, |(k, _)| *k)
    }

    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows in key order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, &V)> + Clone {
        self.rows.iter().map(|(key, value)| (*key, value))
    }

    /// The keys in increasing order.
    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = u64> + Clone + '_ {
        self.rows.iter().map(|(key, _)| *key)
    }

    /// The rows with keys up to and including `limit`, in key order.
    pub(crate) fn up_to(&self, limit: u64) -> impl Iterator<Item = (u64, &V)> + Clone {
        let end = match self.position(limit) {
            Ok(idx) => idx + 1,
            Err(idx) => idx,
        };
        self.rows[..end].iter().map(|(key, value)| (*key, value))
    }

    /// Adds another log's rows; on a key both hold, `other`'s value wins.
    pub(crate) fn absorb(&mut self, other: Rows<V>) {
        let disjoint_after = match (self.rows.last(), other.rows.first()) {
            (Some((last, _)), Some((first, _))) => first > last,
            _ => true,
        };
        if disjoint_after {
            self.rows.extend(other.rows);
            return;
        }
        for (key, value) in other.rows {
            self.insert(key, value);
        }
    }
}

impl<V> FromIterator<(u64, V)> for Rows<V> {
    fn from_iter<I: IntoIterator<Item = (u64, V)>>(iter: I) -> Self {
        let mut rows = Rows::default();
        for (key, value) in iter {
            rows.insert(key, value);
        }
        rows
    }
}

/// For each item (a schedule digest or a state hash), the lowest execution key that produced it.
///
/// Notes are appended and compacted (sorted by item, one entry per item) whenever they
/// outnumber the compacted entries: amortised `O(log n)` per note, 16 bytes per distinct
/// item, and nothing whose order depends on a hash.
#[derive(Clone, Debug, Default)]
pub(crate) struct FirstSeen {
    /// `(item, key)`: the first `compacted` sorted by item with one entry per item, the
    /// rest as noted.
    notes: Vec<(u64, u64)>,
    compacted: usize,
}

impl FirstSeen {
    /// Notes that execution `key` produced `item`.
    pub(crate) fn note(&mut self, item: u64, key: u64) {
        self.notes.push((item, key));
        if self.notes.len() >= 2 * self.compacted.max(512) {
            Self::compact(&mut self.notes);
            self.compacted = self.notes.len();
        }
    }

    /// Sorts `notes` by item and keeps each item's lowest key.
    fn compact(notes: &mut Vec<(u64, u64)>) {
        notes.sort_unstable();
        notes.dedup_by_key(|(item, _)| *item);
    }

    /// Every `(item, lowest key)` pair, sorted by item.
    pub(crate) fn sorted(&self) -> Vec<(u64, u64)> {
        let mut notes = self.notes.clone();
        Self::compact(&mut notes);
        notes
    }

    /// How many items were first produced by an execution up to and including `limit`.
    pub(crate) fn count_up_to(&self, limit: u64) -> u64 {
        self.firsts_up_to(limit).len() as u64
    }

    /// The lowest keys that are at most `limit`, one per item, in item order.
    pub(crate) fn firsts_up_to(&self, limit: u64) -> Vec<u64> {
        let sorted = self.sorted().into_iter();
        sorted
            .map(|(_, key)| key)
            .filter(|key| *key <= limit)
            .collect()
    }

    pub(crate) fn absorb(&mut self, other: FirstSeen) {
        for (item, key) in other.notes {
            self.note(item, key);
        }
    }

    /// The same items with their keys mapped by `rank`; items whose key has no rank are
    /// dropped.
    pub(crate) fn renumber(&self, rank: impl Fn(u64) -> Option<u64>) -> FirstSeen {
        let mut out = FirstSeen::default();
        for (item, key) in self.sorted() {
            if let Some(key) = rank(key) {
                out.note(item, key);
            }
        }
        out
    }
}

/// Equal when they hold the same items with the same lowest keys, however compacted.
impl PartialEq for FirstSeen {
    fn eq(&self, other: &Self) -> bool {
        self.sorted() == other.sorted()
    }
}

impl Eq for FirstSeen {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// Rows behave as an ordered map whatever order the keys arrive in.
    #[test]
    fn rows_agree_with_an_ordered_map() {
        let keys = [5u64, 6, 9, 2, 7, 9, 0, 12, 6, 13];
        let (mut rows, mut map) = (Rows::default(), BTreeMap::new());
        for (value, key) in keys.iter().enumerate() {
            rows.insert(*key, value);
            map.insert(*key, value);
        }
        let as_map: Vec<(u64, usize)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        let as_rows: Vec<(u64, usize)> = rows.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(as_rows, as_map);
        assert_eq!(rows.len(), map.len());
        for limit in 0..15 {
            let expected: Vec<u64> = map.range(..=limit).map(|(k, _)| *k).collect();
            let found: Vec<u64> = rows.up_to(limit).map(|(k, _)| k).collect();
            assert_eq!(found, expected, "limit {limit}");
        }
    }

    #[test]
    fn absorbing_rows_is_a_map_union_where_the_absorbed_value_wins() {
        let mut left: Rows<char> = [(1, 'a'), (4, 'b'), (8, 'c')].into_iter().collect();
        let right: Rows<char> = [(2, 'x'), (4, 'y'), (9, 'z')].into_iter().collect();
        left.absorb(right);
        let all: Vec<(u64, char)> = left.iter().map(|(k, v)| (k, *v)).collect();
        assert_eq!(all, [(1, 'a'), (2, 'x'), (4, 'y'), (8, 'c'), (9, 'z')]);
        let mut tail: Rows<char> = [(20, 'q')].into_iter().collect();
        tail.absorb(left);
        assert_eq!(tail.keys().collect::<Vec<_>>(), [1, 2, 4, 8, 9, 20]);
    }

    #[test]
    fn first_seen_keeps_the_lowest_key_and_counts_within_a_limit() {
        let mut seen = FirstSeen::default();
        // Enough notes to compact a few times on the way.
        for key in 100..3000 {
            seen.note(0x1000 + key % 700, key);
        }
        assert_eq!(seen.count_up_to(99), 0);
        assert_eq!(seen.count_up_to(799), 700);
        assert_eq!(seen.sorted().len(), 700);
        assert_eq!(seen.sorted()[0], (0x1000, 700));
        let mut seen = FirstSeen::default();
        seen.note(0xaa, 7);
        seen.note(0xbb, 3);
        seen.note(0xaa, 2);
        seen.note(0xbb, 9);
        let mut other = FirstSeen::default();
        other.note(0xcc, 5);
        other.note(0xaa, 4);
        seen.absorb(other);
        assert_eq!(seen.sorted(), [(0xaa, 2), (0xbb, 3), (0xcc, 5)]);
        assert_eq!(seen.count_up_to(2), 1);
        assert_eq!(seen.count_up_to(4), 2);
        assert_eq!(seen.count_up_to(u64::MAX), 3);
        let renumbered = seen.renumber(|key| (key != 3).then_some(key * 10));
        assert_eq!(renumbered.sorted(), [(0xaa, 20), (0xcc, 50)]);
    }
}
