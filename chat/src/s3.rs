//! [`Store`] on the lake's bucket: documents read with their ETags and written with S3's
//! conditional writes (`If-None-Match: *`, `If-Match`), 412 and 409 meaning someone else wrote
//! first.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;

use lakewatch_s3::status;

use crate::ports::{Doc, Listed, Store, StoreError, When};

/// The largest document read (a report of a partition with many findings is a few MB).
const MAX_DOC: usize = 16 << 20;

/// The bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// `bucket` through `client` (built once at cold start).
    pub fn new(client: Client, bucket: String) -> Self {
        S3Store { client, bucket }
    }

    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        key: &str,
        e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    ) -> StoreError {
        StoreError {
            operation,
            bucket: self.bucket.clone(),
            key: key.into(),
            reason: DisplayErrorContext(&e).to_string(),
        }
    }
}

impl Store for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn load(&self, key: &str) -> Result<Option<Doc>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag().unwrap_or_default().trim_matches('"').to_string();
                let bytes =
                    lakewatch_s3::read_body(out.body, out.content_length, MAX_DOC as u64).await.map_err(|reason| {
                        StoreError { operation: "load", bucket: self.bucket.clone(), key: key.into(), reason }
                    })?;
                Ok(Some(Doc { bytes, etag }))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) || status(&e) == Some(404) => Ok(None),
            Err(e) => Err(self.error("load", key, e)),
        }
    }

    async fn save(&self, key: &str, bytes: Vec<u8>, when: When<'_>) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes));
        let put = match when {
            When::Absent => put.if_none_match("*"),
            When::Unchanged(etag) => put.if_match(format!("\"{etag}\"")),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e) if matches!(status(&e), Some(412 | 409)) => Ok(false),
            Err(e) => Err(self.error("save", key, e)),
        }
    }

    async fn list(&self, prefix: &str, limit: usize) -> Result<Vec<Listed>, StoreError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.error("list", prefix, e))?;
            keys.extend(page.contents().iter().filter_map(|o| {
                let modified =
                    o.last_modified().and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()));
                o.key().map(|k| Listed { key: k.to_string(), modified })
            }));
            token = page.next_continuation_token().map(str::to_string);
            if token.is_none() || keys.len() >= limit {
                keys.truncate(limit);
                return Ok(keys);
            }
        }
    }
}
