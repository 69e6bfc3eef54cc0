//! What the lakewatch Lambdas share of S3.
//!
//! S3 answers a GET or HEAD of a key that does not exist with **403 AccessDenied, not 404**,
//! when the caller may not `s3:ListBucket` that key's prefix: a 404 would tell it what the
//! bucket holds. So a 403 on a read can mean "absent" as well as "refused". [`diagnose`] asks
//! the one question that tells them apart, a listing of exactly that key, and answers with a
//! [`Refusal`] that names the permission that is missing and the template statement that grants
//! it; [`refused_write`] does the same for writes. Every function role in `template.yaml` names
//! its S3 statements with the constants below, so the names in these messages are true (a test
//! on the parsed template checks it).

pub mod keys;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

/// The statement that grants `s3:ListBucket` with `s3:prefix` conditions for the prefixes a
/// function reads.
pub const LIST_STATEMENT: &str = "ListOwnPrefixes";
/// The statement that grants `s3:GetObject` (and `s3:GetObjectVersion`) on those prefixes.
pub const READ_STATEMENT: &str = "ReadObjects";
/// The statement that grants `s3:PutObject` on the prefixes a function writes.
pub const WRITE_STATEMENT: &str = "WriteObjects";
/// The statement that grants `s3:DeleteObject` on the prefixes a function deletes from.
pub const DELETE_STATEMENT: &str = "DeleteObjects";
/// The statement that grants the KMS key's use through S3, SNS, SQS and Secrets Manager.
pub const KEY_STATEMENT: &str = "UseTheKey";

/// Reads a GET's body into one buffer sized from its `Content-Length`, chunk by chunk: each
/// network chunk is freed once copied, so memory peaks at the object plus one chunk rather than
/// twice the object (`collect().to_vec()` holds every chunk and the copy at once). A body that
/// runs past `limit` bytes is an error, whatever the length header said.
pub async fn read_body(mut body: ByteStream, content_length: Option<i64>, limit: u64) -> Result<Vec<u8>, String> {
    let hint = content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0).min(limit);
    let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(format!("the body passed {limit} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The HTTP status of an SDK error, when a response came back.
pub fn status<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// What a 403 on a read of a key meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The key does not exist (and the role could not be told so with a 404).
    Absent,
    /// The listing was refused as well: nobody can say whether the key exists.
    Unlistable,
    /// The key exists and the read itself was refused (or its KMS key may not be used).
    Unreadable,
}

/// What a listing of exactly `key` (prefix `key`, one result) answered: `Some(true)` when it
/// holds the key itself, `Some(false)` when it does not, `None` when the listing was refused.
pub fn refusal(listed: Option<bool>) -> Refusal {
    match listed {
        Some(false) => Refusal::Absent,
        Some(true) => Refusal::Unreadable,
        None => Refusal::Unlistable,
    }
}

impl Refusal {
    /// One line for an operator: which action on which key was refused, and what would allow
    /// it. `None` for [`Refusal::Absent`], which is no error.
    pub fn explain(&self, action: &str, bucket: &str, key: &str) -> Option<String> {
        match self {
            Refusal::Absent => None,
            Refusal::Unlistable => Some(format!(
                "{action} of `s3://{bucket}/{key}` was refused (403 AccessDenied) and so was s3:ListBucket of its \
                 prefix, so S3 will not say whether the key exists: grant s3:ListBucket on `arn:aws:s3:::{bucket}` \
                 with an s3:prefix condition that covers `{key}` (template.yaml: the function role's \
                 `{LIST_STATEMENT}` statement)"
            )),
            Refusal::Unreadable => Some(format!(
                "{action} of `s3://{bucket}/{key}` was refused (403 AccessDenied) although the key exists: grant \
                 {action} on `arn:aws:s3:::{bucket}/{key}` (template.yaml: the function role's `{READ_STATEMENT}` \
                 statement) and kms:Decrypt of the key that encrypts it (`{KEY_STATEMENT}`)"
            )),
        }
    }
}

/// Lists exactly `key` to learn what a 403 on reading it meant. `Err` carries the listing's
/// own failure when it was neither an answer nor a refusal (a throttle, a timeout).
pub async fn diagnose(client: &Client, bucket: &str, key: &str) -> Result<Refusal, String> {
    match client.list_objects_v2().bucket(bucket).prefix(key).max_keys(1).send().await {
        Ok(out) => Ok(refusal(Some(out.contents().iter().any(|o| o.key() == Some(key))))),
        Err(e) if status(&e) == Some(403) => Ok(refusal(None)),
        Err(e) => Err(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()),
    }
}

/// One line for a refused write or delete: the action, the key, and what would allow it.
pub fn refused_write(action: &str, bucket: &str, key: &str) -> String {
    let statement = if action == "s3:DeleteObject" { DELETE_STATEMENT } else { WRITE_STATEMENT };
    let kms = if action == "s3:PutObject" {
        format!(" and kms:GenerateDataKey of the lake's key (`{KEY_STATEMENT}`)")
    } else {
        String::new()
    };
    format!(
        "{action} of `s3://{bucket}/{key}` was refused (403 AccessDenied): this function's role does not grant \
         it; the prefixes it may write are those of its `{statement}` statement in template.yaml{kms}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_tells_a_missing_key_from_a_refused_read() {
        let cases = [
            (Some(false), Refusal::Absent, None),
            (Some(true), Refusal::Unreadable, Some(READ_STATEMENT)),
            (None, Refusal::Unlistable, Some(LIST_STATEMENT)),
        ];
        for (listed, want, statement) in cases {
            let got = refusal(listed);
            assert_eq!(got, want, "{listed:?}");
            let line = got.explain("s3:GetObject", "lake", "lakewatch/checkpoints/daily/2025-11-26.json");
            match statement {
                None => assert_eq!(line, None),
                Some(s) => {
                    let line = line.unwrap();
                    assert!(!line.contains('\n'), "{line}");
                    assert!(line.starts_with(
                        "s3:GetObject of `s3://lake/lakewatch/checkpoints/daily/2025-11-26.json` was refused (403"
                    ));
                    assert!(line.contains(&format!("`{s}` statement")), "{line}");
                }
            }
        }
    }

    #[test]
    fn a_refused_write_names_the_action_the_key_and_the_statement() {
        let put = refused_write("s3:PutObject", "lake", "lakewatch/state/x.json");
        assert!(put.starts_with("s3:PutObject of `s3://lake/lakewatch/state/x.json` was refused (403 AccessDenied)"));
        assert!(put.contains("`WriteObjects` statement") && put.contains("`UseTheKey`"), "{put}");
        let delete = refused_write("s3:DeleteObject", "lake", "data/x.parquet");
        assert!(delete.contains("`DeleteObjects` statement") && !delete.contains("UseTheKey"), "{delete}");
    }
}
