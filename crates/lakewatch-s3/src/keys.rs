//! The keys the validator derives from a data key (marker, partition state, report, volume
//! history, sweep state), each within S3's 1,024 bytes, and read by the chat function. A data key may itself be close to that
//! limit, so the variable part of a derived key is shortened when it has to be: its first bytes
//! kept for people, the rest replaced by a hash of the whole, so distinct parts stay distinct.
//! The documents themselves keep the original key.

/// S3's longest key, in bytes of UTF-8.
pub const MAX_KEY: usize = 1024;

/// `{prefix}{part}{suffix}`, with `part` shortened to `{head}~{hash}` when the whole would be
/// longer than [`MAX_KEY`].
pub fn derived(prefix: &str, part: &str, suffix: &str) -> String {
    let whole = prefix.len() + part.len() + suffix.len();
    if whole <= MAX_KEY {
        return format!("{prefix}{part}{suffix}");
    }
    let hash = format!("~{:016x}", fnv(part.as_bytes()));
    let room = MAX_KEY.saturating_sub(prefix.len() + suffix.len() + hash.len());
    let mut head = room.min(part.len());
    while !part.is_char_boundary(head) {
        head -= 1;
    }
    format!("{prefix}{}{hash}{suffix}", &part[..head])
}

/// The alert state of a dataset's partition (`date=2025-11-28`).
pub fn partition_state(state_prefix: &str, dataset: &str, partition: &str) -> String {
    derived(&format!("{state_prefix}partitions/{dataset}/"), partition, ".json")
}

/// Where the index of partitions with open alerts is (one entry per partition).
pub fn open_alerts(state_prefix: &str) -> String {
    format!("{state_prefix}open/")
}

/// A partition's entry in the index of open alerts.
pub fn open_alert(state_prefix: &str, dataset: &str, partition: &str) -> String {
    derived(&format!("{}{dataset}/", open_alerts(state_prefix)), partition, ".json")
}

/// What the last sweep of a bucket did, and when.
pub fn sweep_status(state_prefix: &str) -> String {
    format!("{state_prefix}status/sweep.json")
}

/// The sweep's state of a dataset in a bucket: the sessions alerted as missing.
pub fn sweep_state(state_prefix: &str, bucket: &str, dataset: &str) -> String {
    format!("{}{dataset}.json", sweep_states(state_prefix, bucket))
}

/// Where the sweep's states of a bucket's datasets are.
pub fn sweep_states(state_prefix: &str, bucket: &str) -> String {
    format!("{state_prefix}sweep/{bucket}/")
}

/// A dataset's data-docs summary (`lakewatch_docs::Summary`).
pub fn docs_summary(state_prefix: &str, dataset: &str) -> String {
    format!("{state_prefix}docs/{dataset}.json")
}

/// A partition's versions, one line each, for its page (`lakewatch_docs::History`).
pub fn docs_history(state_prefix: &str, dataset: &str, partition: &str) -> String {
    derived(&format!("{state_prefix}docs/versions/{dataset}/"), partition, ".json")
}

/// A partition's page, beside its reports.
pub fn partition_page(report_prefix: &str, dataset: &str, partition: &str) -> String {
    derived(&format!("{report_prefix}{dataset}/"), &format!("{partition}/index"), ".html")
}

/// FNV-1a, 64 bits: stable across builds and platforms.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_kept_and_long_ones_shortened_within_the_limit() {
        assert_eq!(
            derived("state/markers/lake/", "data/a.parquet", "/v1.json"),
            "state/markers/lake/data/a.parquet/v1.json"
        );
        let long = format!("data/ticks/daily/{}/2025/ticks.parquet", "É".repeat(490));
        let other = format!("data/ticks/daily/{}/2024/ticks.parquet", "É".repeat(490));
        let a = derived("lakewatch/state/markers/lake/", &long, "/3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY.json");
        let b = derived("lakewatch/state/markers/lake/", &other, "/3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY.json");
        for key in [&a, &b] {
            assert!(key.len() <= MAX_KEY, "{}", key.len());
            assert!(key.starts_with("lakewatch/state/markers/lake/data/ticks/daily/ÉÉ"), "{key}");
            assert!(key.ends_with(".json"), "{key}");
        }
        assert_ne!(a, b, "parts that differ only past the kept head stay apart");
        assert_eq!(a, derived("lakewatch/state/markers/lake/", &long, "/3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY.json"));
    }
}
