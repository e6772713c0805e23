//! A small binary encoding for search checkpoints: little-endian integers, length-prefixed
//! strings and sequences, and a reader whose every failure names what it was reading and
//! where, so a truncated or corrupt file is an error, never a panic.

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) bytes: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    pub(crate) fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, value: u64) {
        self.bytes.extend_from_slice(&value.to_le_bytes());
    }

    /// A length or index (stored as 64 bits whatever the platform).
    pub(crate) fn len(&mut self, value: usize) {
        self.u64(value as u64);
    }

    pub(crate) fn str(&mut self, value: &str) {
        self.len(value.len());
        self.bytes.extend_from_slice(value.as_bytes());
    }

    /// A sequence: its length, then each item written by `item`.
    pub(crate) fn seq<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.len(items.len());
        for value in items {
            item(self, value);
        }
    }
}

/// Reads values back in the order a [`Writer`] wrote them.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    pub(crate) fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, count: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(count)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "{what} at byte {} runs past the end ({} bytes): the file is truncated",
                self.at,
                self.bytes.len()
            ));
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    pub(crate) fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn bool(&mut self, what: &str) -> Result<bool, String> {
        let at = self.at;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(format!(
                "{what} at byte {at} is {other}, not a flag (0 or 1)"
            )),
        }
    }

    pub(crate) fn u32(&mut self, what: &str) -> Result<u32, String> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("four bytes")))
    }

    pub(crate) fn u64(&mut self, what: &str) -> Result<u64, String> {
        let bytes = self.take(8, what)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("eight bytes")))
    }

    /// A length or index; one larger than the bytes left could hold is corrupt (each item
    /// takes at least a byte), which also keeps a corrupt length from reserving memory.
    pub(crate) fn len(&mut self, what: &str) -> Result<usize, String> {
        let at = self.at;
        let value = self.u64(what)?;
        let left = (self.bytes.len() - self.at) as u64;
        if value > left.max(1 << 20) {
            return Err(format!(
                "{what} at byte {at} is {value}, more than the file could hold: the file is corrupt"
            ));
        }
        Ok(value as usize)
    }

    pub(crate) fn str(&mut self, what: &str) -> Result<String, String> {
        let count = self.len(what)?;
        let at = self.at;
        let bytes = self.take(count, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("{what} at byte {at} is not UTF-8: the file is corrupt"))
    }

    pub(crate) fn seq<T>(
        &mut self,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<Vec<T>, String> {
        let count = self.len(what)?;
        let mut items = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            items.push(item(self)?);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written() {
        let mut writer = Writer::default();
        writer.u8(7);
        writer.bool(true);
        writer.u32(0xdead_beef);
        writer.u64(u64::MAX - 1);
        writer.str("fault: participant 'a'");
        writer.seq(&[3u32, 1, 4], |w, v| w.u32(*v));
        let mut reader = Reader::new(&writer.bytes);
        assert_eq!(reader.u8("a").unwrap(), 7);
        assert!(reader.bool("b").unwrap());
        assert_eq!(reader.u32("c").unwrap(), 0xdead_beef);
        assert_eq!(reader.u64("d").unwrap(), u64::MAX - 1);
        assert_eq!(reader.str("e").unwrap(), "fault: participant 'a'");
        assert_eq!(reader.seq("f", |r| r.u32("g")).unwrap(), vec![3, 1, 4]);
        assert!(reader.at_end());
    }

    #[test]
    fn truncated_and_corrupt_input_is_an_error_that_says_where() {
        let mut writer = Writer::default();
        writer.str("abc");
        let cut = &writer.bytes[..writer.bytes.len() - 1];
        let error = Reader::new(cut).str("the name").unwrap_err();
        assert!(
            error.contains("the name at byte 8") && error.contains("truncated"),
            "{error}"
        );
        let error = Reader::new(&[2]).bool("a flag").unwrap_err();
        assert!(error.contains("not a flag"), "{error}");
        let mut huge = Writer::default();
        huge.u64(u64::MAX);
        let error = Reader::new(&huge.bytes)
            .seq("rows", |r| r.u8("row"))
            .unwrap_err();
        assert!(error.contains("corrupt"), "{error}");
    }
}
