//! The requests that carry recordings. Their bodies are large and arrive at the uploader's
//! pace, and their answer comes only after the replica has read the whole file (inspected,
//! hashed and stored it), so the front door gives their paths room: the body may be as
//! large as a replica takes, and the answer is due this long after the body has ended.

use std::time::Duration;

/// Path prefixes of uploads: the web form (and its direct-to-S3 calls) and the token API.
pub const PATHS: [&str; 2] = ["/upload", "/api/v1/recordings"];

/// The largest recording a replica takes unless told otherwise (`--max-upload-mb`), in MiB.
pub const MAX_UPLOAD_MB: u64 = 4096;

/// What a multipart form adds around the file, at most.
pub const FORM_FRAMING_BYTES: u64 = 1 << 20;

/// The largest request body on an upload path: the largest recording and its framing.
pub const MAX_BODY_BYTES: u64 = MAX_UPLOAD_MB * 1024 * 1024 + FORM_FRAMING_BYTES;

/// How long after its body has ended an upload's answer may take: reading back, hashing
/// and storing a file of the largest size, with room for a slow media store.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(600);
