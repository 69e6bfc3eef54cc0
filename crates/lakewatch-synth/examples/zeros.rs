//! Writes a hostile Parquet file: ROWS zeros, zstd-compressed, in row groups of 10 million.
//!   zeros ROWS PATH
//! (`cargo build --workspace --examples`, then `$CARGO_TARGET_DIR/debug/examples/zeros`.)

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, rows, path] = args.as_slice() else { return Err("usage: zeros ROWS PATH".into()) };
    let bytes = lakewatch_synth::zeros_parquet(rows.parse()?, 10_000_000)?;
    std::fs::write(path, &bytes)?;
    eprintln!("{path}: {rows} rows, {} bytes", bytes.len());
    Ok(())
}
