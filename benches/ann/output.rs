//! What a run reports: one JSON object per setting (the schema plus a few fields), a
//! readable table on stderr, progress bars.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

/// A progress bar on stderr.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Speed of one setting.
#[derive(Clone, Copy, Debug, Default)]
pub struct Speed {
    pub qps_1t: f64,
    pub qps_batch: f64,
    pub p50_us: f64,
    pub p95_us: f64,
    pub p99_us: f64,
}

/// One measured setting.
pub struct Line {
    pub dataset: String,
    pub index: String,
    pub params: Value,
    pub k: usize,
    pub recall: f64,
    pub recall_ids: f64,
    pub speed: Speed,
    pub build_s: f64,
    /// Seconds to reopen the store and the collection after the build (index loaded, not
    /// rebuilt); `None` where not measured.
    pub open_s: Option<f64>,
    pub disk_bytes: u64,
    pub log_bytes: u64,
    pub rss_bytes: u64,
    pub n: usize,
    pub queries: usize,
}

/// What every line measured on one built index shares.
pub struct Built<'a> {
    pub dataset: &'a str,
    pub index: &'a str,
    pub k: usize,
    pub build_s: f64,
    /// Base vectors stored.
    pub n: usize,
}

impl Built<'_> {
    /// A line measured now: the process's peak memory so far and the store's sizes at `path`.
    pub fn line(
        &self,
        params: Value,
        recall: (f64, f64),
        speed: Speed,
        path: &Path,
        queries: usize,
    ) -> Line {
        let (disk_bytes, log_bytes) = store_sizes(path);
        Line {
            dataset: self.dataset.to_owned(),
            index: self.index.to_owned(),
            params,
            k: self.k,
            recall: recall.0,
            recall_ids: recall.1,
            speed,
            build_s: self.build_s,
            open_s: None,
            disk_bytes,
            log_bytes,
            rss_bytes: peak_rss(),
            n: self.n,
            queries,
        }
    }
}

/// Bytes of the store file at `path` and of its log (a fixed-size ring, 64 MiB by default,
/// reported apart); 0 for a file that is not there.
pub fn store_sizes(path: &Path) -> (u64, u64) {
    (
        std::fs::metadata(path).map_or(0, |m| m.len()),
        std::fs::metadata(quiver::log_path(path)).map_or(0, |m| m.len()),
    )
}

impl Line {
    pub fn json(&self) -> Value {
        let mut line = json!({
            "dataset": self.dataset, "index": self.index, "params": self.params, "k": self.k,
            "recall": self.recall, "recall_ids": self.recall_ids,
            "qps_1t": self.speed.qps_1t.round(), "qps_batch": self.speed.qps_batch.round(),
            "p50_us": self.speed.p50_us.round(), "p95_us": self.speed.p95_us.round(),
            "p99_us": self.speed.p99_us.round(), "build_s": (self.build_s * 1000.0).round() / 1000.0,
            "disk_bytes": self.disk_bytes, "log_bytes": self.log_bytes, "rss_bytes": self.rss_bytes,
            "n": self.n, "queries": self.queries,
        });
        if let (Some(open_s), Some(map)) = (self.open_s, line.as_object_mut()) {
            map.insert(
                "open_s".to_owned(),
                json!((open_s * 1000.0).round() / 1000.0),
            );
        }
        line
    }
}

/// Prints the lines as JSON on stdout, appends them to `json` if given, and prints a table.
pub fn report(lines: &[Line], json: Option<&Path>) -> std::io::Result<()> {
    let mut file = match json {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?,
        ),
        None => None,
    };
    for line in lines {
        let value = line.json();
        println!("{value}");
        if let Some(file) = file.as_mut() {
            writeln!(file, "{value}")?;
        }
    }
    eprintln!(
        "| index | params | k | recall | recall (ids) | QPS 1 thread | QPS batched | p50 us | p99 us | build s | disk MB | RSS MB |"
    );
    eprintln!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for line in lines {
        eprintln!(
            "| {} | {} | {} | {:.4} | {:.4} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} |",
            line.index,
            line.params,
            line.k,
            line.recall,
            line.recall_ids,
            line.speed.qps_1t,
            line.speed.qps_batch,
            line.speed.p50_us,
            line.speed.p99_us,
            line.build_s,
            line.disk_bytes as f64 / 1e6,
            line.rss_bytes as f64 / 1e6,
        );
    }
    Ok(())
}

/// Resets the peak resident set size to the current one (Linux: writing 5 to
/// `/proc/self/clear_refs`), so that each index mode of a run reports its own peak instead of the
/// largest so far. Elsewhere (or if the kernel refuses) the peak stays cumulative.
pub fn reset_peak_rss() {
    // Hand the heap the previous mode freed back to the kernel first (glibc keeps it for reuse),
    // so the new peak starts from what is live rather than from what was once allocated.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; no live allocation moves.
    unsafe {
        libc::malloc_trim(0);
    }
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Peak resident memory of this process (Linux), in bytes; 0 where unknown.
pub fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
