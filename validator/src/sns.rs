//! The alert topic on SNS: each notice rendered by `lakewatch_notice::sns` (subject, JSON body,
//! string and string-array attributes for subscription filter policies), with group and
//! deduplication ids on FIFO topics.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use lakewatch_notice::Notice;
use lakewatch_notice::sns::{AttributeValue, render};

use crate::ports::{Alerts, IoError};

/// [`Alerts`] on an SNS topic.
#[derive(Debug, Clone)]
pub struct SnsAlerts {
    client: Client,
    topic_arn: String,
}

impl SnsAlerts {
    /// Publishes to `topic_arn` with `client` (built once at cold start).
    pub fn new(client: Client, topic_arn: String) -> Self {
        SnsAlerts { client, topic_arn }
    }
}

impl Alerts for SnsAlerts {
    async fn publish_alert(&self, notice: &Notice) -> Result<(), IoError> {
        let message = render(notice);
        let error = |reason: String, retryable: bool| IoError {
            operation: "publish alert",
            target: self.topic_arn.clone(),
            reason,
            retryable,
        };
        let mut publish =
            self.client.publish().topic_arn(&self.topic_arn).subject(&message.subject).message(&message.body);
        for (name, value) in &message.attributes {
            let (data_type, text) = match value {
                AttributeValue::One(s) => ("String", s.clone()),
                AttributeValue::Many(list) => ("String.Array", serde_json::to_string(list).unwrap_or_default()),
            };
            if text.is_empty() || text == "[]" {
                continue;
            }
            let attribute = MessageAttributeValue::builder()
                .data_type(data_type)
                .string_value(text)
                .build()
                .map_err(|e| error(e.to_string(), false))?;
            publish = publish.message_attributes(name, attribute);
        }
        if self.topic_arn.ends_with(".fifo") {
            // At most 128 printable ASCII characters; a longer id keeps its head and a hash of
            // the whole, so two ids differing only at the end stay different.
            let mut dedup: String = message.dedup_id.chars().filter(|c| c.is_ascii_graphic()).collect();
            if dedup.len() > 128 {
                let hash = format!("~{:016x}", crate::keys::fnv(dedup.as_bytes()));
                dedup.truncate(128 - hash.len());
                dedup.push_str(&hash);
            }
            publish = publish.message_group_id(&message.group).message_deduplication_id(dedup);
        }
        publish.send().await.map(|_| ()).map_err(|e| {
            let code = e.raw_response().map(|r| r.status().as_u16());
            let retryable = code.is_none_or(|c| c >= 500 || c == 429);
            error(aws_sdk_sns::error::DisplayErrorContext(&e).to_string(), retryable)
        })
    }
}
