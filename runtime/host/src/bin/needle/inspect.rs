//! `needle inspect`: a model's configuration, size and memory per bag.

use std::path::Path;

use anyhow::{Context, Result};
use needle_runtime::Model;
use serde_json::json;

pub fn load(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading model {}", path.display()))
}

pub fn inspect(path: &Path, as_json: bool) -> Result<()> {
    let bytes = load(path)?;
    let model = Model::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))?;
    let c = model.config();
    let w = usize::from(c.window);
    let t = usize::from(c.featurizer.max_tokens);
    let stream_bytes = w * t * 2 + w * 2;
    let info = json!({
        "file": path.display().to_string(),
        "file_bytes": bytes.len(),
        "parameters": model.parameter_count(),
        "threshold": model.threshold(),
        "config": {
            "buckets": c.featurizer.buckets, "max_tokens": c.featurizer.max_tokens,
            "hash_seed": c.featurizer.hash_seed, "embed_dim": c.embed_dim,
            "hidden_dim": c.hidden_dim, "encoder_layers": c.encoder_layers,
            "encoder_heads": c.encoder_heads, "ff_dim": c.ff_dim, "prototypes": c.prototypes,
            "pool_heads": c.pool_heads, "pool_dim": c.pool_dim, "classifier_dim": c.classifier_dim,
            "window": c.window, "stride": c.stride, "top_k": c.top_k,
        },
        "scratch_bytes": model.scratch_len() * 4,
        "bag_memory_bytes": model.bag_memory_bytes(),
        "stream_buffer_bytes": stream_bytes,
        "stream_kept_rows_bytes": (model.stream_scratch_len() - model.scratch_len()) * 4,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("{}", path.display());
    println!(
        "  file           {} bytes ({:.1} KiB)",
        bytes.len(),
        bytes.len() as f64 / 1024.0
    );
    println!("  parameters     {}", model.parameter_count());
    println!("  threshold      {:.4}", model.threshold());
    println!(
        "  featurizer     {} buckets, {} tokens/line, hash seed {}",
        c.featurizer.buckets, c.featurizer.max_tokens, c.featurizer.hash_seed
    );
    println!(
        "  model          d={} d_h={} layers={} heads={} ff={} prototypes={} pool heads={} pool dim={} classifier={}",
        c.embed_dim, c.hidden_dim, c.encoder_layers, c.encoder_heads, c.ff_dim, c.prototypes,
        c.pool_heads, c.pool_dim, c.classifier_dim
    );
    println!(
        "  bags           window {} lines, stride {}, top {}",
        c.window, c.stride, c.top_k
    );
    println!(
        "  RAM per bag    {} bytes ({:.1} KiB) scratch + token buffer; stream window {} bytes",
        model.bag_memory_bytes(),
        model.bag_memory_bytes() as f64 / 1024.0,
        stream_bytes
    );
    println!(
        "  stream reuse   {} bytes more scratch keep the rows consecutive windows share",
        (model.stream_scratch_len() - model.scratch_len()) * 4
    );
    Ok(())
}
