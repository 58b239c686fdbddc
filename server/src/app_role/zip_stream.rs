//! A ZIP archive written as a stream (PKWARE APPNOTE 6.3): entries stored as they are, each
//! followed by a data descriptor with its CRC-32 and sizes (known only once its bytes have
//! passed), then the central directory — ZIP64 throughout, so no entry, offset or count
//! has a 4 GiB ceiling. Only the entries' names and offsets are kept while writing, never
//! their bytes.

use bytes::{BufMut, Bytes, BytesMut};

/// Version 4.5: ZIP64.
const VERSION: u16 = 45;
/// Bit 3 (sizes and CRC in a data descriptor) and bit 11 (names in UTF-8).
const FLAGS: u16 = 0x0808;

struct Written {
    name: String,
    offset: u64,
    size: u64,
    crc: u32,
}

/// The archive's bookkeeping; the caller sends what each call returns, in order, and the
/// entries' bytes between [`ZipWriter::start`] and [`ZipWriter::end`].
pub struct ZipWriter {
    offset: u64,
    entries: Vec<Written>,
    current: Option<(String, u64, u64, crc32fast::Hasher)>,
    /// MS-DOS time and date of every entry.
    dos: (u16, u16),
}

impl ZipWriter {
    pub fn new(at: chrono::DateTime<chrono::Utc>) -> Self {
        use chrono::{Datelike, Timelike};
        let year = u16::try_from(at.year().clamp(1980, 2107) - 1980).unwrap_or(0);
        let date = (year << 9) | ((at.month() as u16) << 5) | at.day() as u16;
        let time =
            ((at.hour() as u16) << 11) | ((at.minute() as u16) << 5) | (at.second() as u16 / 2);
        Self {
            offset: 0,
            entries: Vec::new(),
            current: None,
            dos: (time, date),
        }
    }

    /// The local header of an entry named `name`.
    pub fn start(&mut self, name: &str) -> Bytes {
        let mut b = BytesMut::with_capacity(30 + name.len() + 20);
        b.put_u32_le(0x0403_4b50);
        b.put_u16_le(VERSION);
        b.put_u16_le(FLAGS);
        b.put_u16_le(0); // stored
        b.put_u16_le(self.dos.0);
        b.put_u16_le(self.dos.1);
        b.put_u32_le(0); // CRC-32: in the descriptor
        b.put_u32_le(0xFFFF_FFFF); // sizes: in the ZIP64 descriptor
        b.put_u32_le(0xFFFF_FFFF);
        b.put_u16_le(u16::try_from(name.len()).unwrap_or(u16::MAX));
        b.put_u16_le(20);
        b.put_slice(name.as_bytes());
        // ZIP64 extended information: the sizes, zero here (they follow the data).
        b.put_u16_le(0x0001);
        b.put_u16_le(16);
        b.put_u64_le(0);
        b.put_u64_le(0);
        let header = b.freeze();
        self.current = Some((name.to_owned(), self.offset, 0, crc32fast::Hasher::new()));
        self.offset += header.len() as u64;
        header
    }

    /// Counts `chunk` of the current entry (which the caller sends as it is).
    pub fn data(&mut self, chunk: &[u8]) {
        if let Some((_, _, size, crc)) = self.current.as_mut() {
            *size += chunk.len() as u64;
            crc.update(chunk);
        }
        self.offset += chunk.len() as u64;
    }

    /// The current entry's data descriptor.
    pub fn end(&mut self) -> Bytes {
        let Some((name, offset, size, crc)) = self.current.take() else {
            return Bytes::new();
        };
        let crc = crc.finalize();
        let mut b = BytesMut::with_capacity(24);
        b.put_u32_le(0x0807_4b50);
        b.put_u32_le(crc);
        b.put_u64_le(size);
        b.put_u64_le(size);
        self.offset += b.len() as u64;
        self.entries.push(Written {
            name,
            offset,
            size,
            crc,
        });
        b.freeze()
    }

    /// A whole small entry (a manifest): header, bytes and descriptor at once.
    pub fn small(&mut self, name: &str, content: &[u8]) -> Bytes {
        let mut b = BytesMut::new();
        b.put(self.start(name));
        self.data(content);
        b.put_slice(content);
        b.put(self.end());
        b.freeze()
    }

    /// The central directory and the end records.
    pub fn finish(self) -> Bytes {
        let mut b = BytesMut::new();
        let start = self.offset;
        for e in &self.entries {
            b.put_u32_le(0x0201_4b50);
            b.put_u16_le((3 << 8) | VERSION); // made on Unix, 4.5
            b.put_u16_le(VERSION);
            b.put_u16_le(FLAGS);
            b.put_u16_le(0);
            b.put_u16_le(self.dos.0);
            b.put_u16_le(self.dos.1);
            b.put_u32_le(e.crc);
            b.put_u32_le(0xFFFF_FFFF);
            b.put_u32_le(0xFFFF_FFFF);
            b.put_u16_le(u16::try_from(e.name.len()).unwrap_or(u16::MAX));
            b.put_u16_le(28);
            b.put_u16_le(0); // comment
            b.put_u16_le(0); // disk
            b.put_u16_le(0); // internal attributes
            b.put_u32_le(0o100_644 << 16); // a regular file, rw-r--r--
            b.put_u32_le(0xFFFF_FFFF);
            b.put_slice(e.name.as_bytes());
            b.put_u16_le(0x0001);
            b.put_u16_le(24);
            b.put_u64_le(e.size);
            b.put_u64_le(e.size);
            b.put_u64_le(e.offset);
        }
        let size = b.len() as u64;
        let end64 = start + size;
        let count = self.entries.len() as u64;
        // ZIP64 end of central directory record, and its locator.
        b.put_u32_le(0x0606_4b50);
        b.put_u64_le(44);
        b.put_u16_le((3 << 8) | VERSION);
        b.put_u16_le(VERSION);
        b.put_u32_le(0);
        b.put_u32_le(0);
        b.put_u64_le(count);
        b.put_u64_le(count);
        b.put_u64_le(size);
        b.put_u64_le(start);
        b.put_u32_le(0x0706_4b50);
        b.put_u32_le(0);
        b.put_u64_le(end64);
        b.put_u32_le(1);
        // The classic end record, pointing readers at the ZIP64 one.
        b.put_u32_le(0x0605_4b50);
        b.put_u16_le(0);
        b.put_u16_le(0);
        b.put_u16_le(0xFFFF);
        b.put_u16_le(0xFFFF);
        b.put_u32_le(0xFFFF_FFFF);
        b.put_u32_le(0xFFFF_FFFF);
        b.put_u16_le(0);
        b.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::ZipWriter;

    /// An archive made here is read back by Python's zipfile, byte for byte.
    #[test]
    fn python_reads_what_is_written() {
        let mut w = ZipWriter::new(chrono::Utc::now());
        let mut out = Vec::new();
        out.extend_from_slice(&w.small("README.txt", b"hello\n"));
        out.extend_from_slice(&w.start("001-sound.wav"));
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for chunk in data.chunks(65_536) {
            w.data(chunk);
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&w.end());
        out.extend_from_slice(&w.finish());
        let path = std::env::temp_dir().join(format!("ambisonia-zip-{}.zip", std::process::id()));
        std::fs::write(&path, &out).unwrap_or_else(|e| panic!("{e}"));
        let check = std::process::Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\n\
                 z = zipfile.ZipFile(sys.argv[1])\n\
                 assert z.testzip() is None\n\
                 assert z.read('README.txt') == b'hello\\n'\n\
                 d = z.read('001-sound.wav')\n\
                 assert d == bytes(i % 251 for i in range(300000)), len(d)\n\
                 print(z.namelist())",
            ])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("python3: {e}"));
        let _ = std::fs::remove_file(&path);
        assert!(
            check.status.success(),
            "{}{}",
            String::from_utf8_lossy(&check.stdout),
            String::from_utf8_lossy(&check.stderr)
        );
    }
}
