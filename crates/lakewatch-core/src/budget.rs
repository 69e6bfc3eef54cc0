//! What decoding one object may cost, from the memory the process has. A Parquet file says in
//! its footer how many row groups, columns and rows it holds and how large its pages are once
//! uncompressed; a file whose figures would not fit is a `too_large` finding and is never
//! decoded. A few megabytes of zstd-compressed zeros can decode to gigabytes: the footer says so
//! before anything is allocated for them.

use polars_parquet::parquet::metadata::{FileMetadata, RowGroupMetadata};

/// Decoded bytes per value assumed for a column the footer gives no larger size for (an
/// `i64`, `f64` or timestamp; dictionary- or run-length-encoded pages are far smaller on disk).
const VALUE_BYTES: u64 = 8;

/// What one object may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The process's memory, in bytes.
    pub memory_bytes: u64,
}

impl Default for Budget {
    /// 2,048 MB, the CLI's default (the validator uses its function's memory).
    fn default() -> Self {
        Budget::of_memory_mb(2048)
    }
}

/// A figure of a file over its limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{figure} {value} exceeds the limit of {limit} for a process of {memory_mb} MB")]
pub struct OverBudget {
    /// What was measured (`rows`, `decoded bytes`...).
    pub figure: &'static str,
    /// The file's figure.
    pub value: u64,
    /// The limit.
    pub limit: u64,
    /// The memory the limit was derived from.
    pub memory_mb: u64,
}

impl Budget {
    /// The budget of a process with `mb` megabytes.
    pub fn of_memory_mb(mb: u64) -> Self {
        Budget { memory_bytes: mb.saturating_mul(1 << 20) }
    }

    /// The decoded frame may take a quarter of memory: the object's bytes, the checks' copies of
    /// the columns they read, the findings and the report share the rest.
    pub fn max_decoded_bytes(&self) -> u64 {
        self.memory_bytes / 4
    }

    /// Row groups a file may have (each costs metadata and a reader).
    pub fn max_row_groups(&self) -> u64 {
        10_000
    }

    /// Columns a file may have.
    pub fn max_columns(&self) -> u64 {
        1_000
    }

    /// `value` of `figure` against `limit`: over it is an [`OverBudget`] naming both.
    pub(crate) fn over(&self, figure: &'static str, value: u64, limit: u64) -> Result<(), OverBudget> {
        if value > limit {
            Err(OverBudget { figure, value, limit, memory_mb: self.memory_bytes >> 20 })
        } else {
            Ok(())
        }
    }

    /// Checks a Parquet footer's figures against the budget, before any page is decoded: the
    /// whole file decoded at once.
    pub fn check_parquet(&self, metadata: &FileMetadata) -> Result<(), OverBudget> {
        self.check_shape(metadata)?;
        self.check_row_groups(metadata.num_rows as u64, &metadata.row_groups)
    }

    /// The file's row groups and columns.
    pub fn check_shape(&self, metadata: &FileMetadata) -> Result<(), OverBudget> {
        let groups = metadata.row_groups.len() as u64;
        self.over("row groups", groups, self.max_row_groups())?;
        let columns = metadata.row_groups.iter().map(|g| g.n_columns() as u64).max().unwrap_or(0);
        self.over("columns", columns, self.max_columns())
    }

    /// What decoding `groups` at once would cost, rows and bytes (`declared_rows`: what the file
    /// says they hold in total, which may disagree with them).
    pub fn check_row_groups(&self, declared_rows: u64, groups: &[RowGroupMetadata]) -> Result<(), OverBudget> {
        let rows = rows(declared_rows, groups);
        let decoded = groups
            .iter()
            .flat_map(|g| {
                let rows = g.num_rows() as u64;
                g.parquet_columns().iter().map(move |c| {
                    let values = rows.max(c.num_values().max(0) as u64);
                    (c.uncompressed_size().max(0) as u64).max(values.saturating_mul(VALUE_BYTES))
                })
            })
            .fold(0u64, u64::saturating_add);
        self.check_rows(rows)?;
        self.over("decoded bytes", decoded, self.max_decoded_bytes())
    }

    /// Rows a file may hold, whatever the groups it is read in: what is kept per symbol grows
    /// with them.
    pub fn check_rows(&self, rows: u64) -> Result<(), OverBudget> {
        self.over("rows", rows, self.max_decoded_bytes() / VALUE_BYTES)
    }
}

/// The rows a Parquet footer declares: its total or its row groups' sum, whichever is larger (a
/// hostile footer may understate either).
pub fn file_rows(metadata: &FileMetadata) -> u64 {
    rows(metadata.num_rows as u64, &metadata.row_groups)
}

fn rows(declared: u64, groups: &[RowGroupMetadata]) -> u64 {
    declared.max(groups.iter().map(|g| g.num_rows() as u64).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_follow_the_memory() {
        let b = Budget::of_memory_mb(2048);
        assert_eq!(b.max_decoded_bytes(), 512 << 20);
        assert_eq!(Budget::of_memory_mb(128).max_decoded_bytes(), 32 << 20);
        let e = OverBudget { figure: "rows", value: 300_000_000, limit: 67_108_864, memory_mb: 2048 };
        assert_eq!(e.to_string(), "rows 300000000 exceeds the limit of 67108864 for a process of 2048 MB");
    }
}
