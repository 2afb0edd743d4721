//! Upload pipeline: wall time and peak memory of `peerpx_api::pipeline::process` on the 12 MP
//! fixture, compared in the same run with a reference thumbnailer (Pillow) doing the same resize.
//!
//! - **peerpx**: `pipeline::process` on `tests/data/coffee-12mp-gps.jpg` (4000x3000 JPEG with
//!   EXIF and GPS), one untimed warm-up then N timed runs, each into a fresh temporary directory;
//!   median and min wall time. Peak memory is measured in a child process (this program re-executed
//!   with `PEERPX_BENCH_CHILD=1`) that runs one `process` call: it prints its `VmHWM` (peak
//!   resident set) before and after, and the pipeline's own peak is the difference.
//! - **Pillow**: `benches/pillow_reference.py INPUT OUTDIR RUNS` opens the file, applies the EXIF
//!   orientation, writes a 2048 and a 640 long-side JPEG (LANCZOS, quality 85, ICC profile kept),
//!   one untimed warm-up then N timed runs; peak memory is its `VmHWM` after the runs minus the
//!   value after importing PIL (not `ru_maxrss`, which on Linux survives execve and would start at
//!   this bench's own peak). When `import PIL` fails, the bench says so loudly and runs
//!   `python3 -m pip install --quiet Pillow`; if that fails too, only peerpx is reported.
//!
//! The peerpx pipeline does work Pillow does not: it checks limits and sniffs the header, parses
//! the EXIF summary, writes the original without GPS (lossless container surgery), computes a
//! blurhash and syncs every output file before renaming it. The comparison is therefore an upper
//! bound on what the resize path itself costs.
//!
//! `PEERPX_BENCH_RUNS` sets N (default 5). `PEERPX_BENCH_PYTHON` sets the interpreter (default
//! `python3`). Run with `cargo bench --bench pipeline`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use peerpx_media::{self as pipeline, Options, Processed};

type BoxError = Box<dyn Error + Send + Sync>;
type Result<T, E = BoxError> = std::result::Result<T, E>;

const DEFAULT_RUNS: usize = 5;
const CHILD_ENV: &str = "PEERPX_BENCH_CHILD";
const FIXTURE: &str = "tests/data/coffee-12mp-gps.jpg";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

fn runs() -> Result<usize> {
    match std::env::var("PEERPX_BENCH_RUNS") {
        Ok(v) => {
            let n: usize = v.parse()?;
            if n == 0 {
                return Err("PEERPX_BENCH_RUNS must be at least 1".into());
            }
            Ok(n)
        }
        Err(_) => Ok(DEFAULT_RUNS),
    }
}

/// Peak resident set size of this process so far, in KiB (`VmHWM` in `/proc/self/status`).
fn vm_hwm_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or("no VmHWM line in /proc/self/status")?;
    let kib = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kib)
}

/// Checks that the pipeline produced what the comparison assumes.
fn check(p: &Processed) -> Result<()> {
    let ok = p.original.width == 4000
        && p.original.height == 3000
        && p.original.stripped
        && (p.large.width, p.large.height) == (2048, 1536)
        && (p.small.width, p.small.height) == (640, 480)
        && p.large.content_type == "image/jpeg"
        && p.small.content_type == "image/jpeg"
        && !p.blurhash.is_empty();
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected pipeline output: {p:?}").into())
    }
}

/// One `process` call, timed.
fn run_once(input: &Path) -> Result<f64> {
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let processed = pipeline::process(input, &Options::default(), dir.path())?;
    let secs = start.elapsed().as_secs_f64();
    check(&processed)?;
    Ok(secs)
}

/// The child: one `process` call between two `VmHWM` readings, printed as `key value` lines.
fn child() -> Result<()> {
    let input = fixture();
    let baseline = vm_hwm_kib()?;
    let secs = run_once(&input)?;
    let peak = vm_hwm_kib()?;
    println!("seconds {secs:.6}");
    println!("baseline_kib {baseline}");
    println!("peak_kib {peak}");
    Ok(())
}

/// `key value` lines from a child's stdout.
fn values<'a>(stdout: &'a str, key: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.trim())
        .collect()
}

fn one_value<T: std::str::FromStr>(stdout: &str, key: &str) -> Result<T>
where
    T::Err: Error + Send + Sync + 'static,
{
    let v = values(stdout, key)
        .first()
        .copied()
        .ok_or_else(|| format!("no `{key}` line in child output:\n{stdout}"))?;
    Ok(v.parse()?)
}

struct Measure {
    name: String,
    times: Vec<f64>,
    baseline_kib: u64,
    peak_kib: u64,
}

impl Measure {
    fn sorted(&self) -> Vec<f64> {
        let mut t = self.times.clone();
        t.sort_by(f64::total_cmp);
        t
    }
    fn median(&self) -> f64 {
        let t = self.sorted();
        let n = t.len();
        if n % 2 == 1 {
            t[n / 2]
        } else {
            (t[n / 2 - 1] + t[n / 2]) / 2.0
        }
    }
    fn min(&self) -> f64 {
        self.sorted()[0]
    }
    /// Peak of the measured work alone, MiB.
    fn peak_mib(&self) -> f64 {
        self.peak_kib.saturating_sub(self.baseline_kib) as f64 / 1024.0
    }
}

fn peerpx(input: &Path, runs: usize) -> Result<Measure> {
    run_once(input)?; // warm-up: page cache, lazy statics
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(run_once(input)?);
    }

    let out = Command::new(std::env::current_exe()?)
        .env(CHILD_ENV, "1")
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    if !out.status.success() {
        return Err(format!(
            "memory child failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(Measure {
        name: "peerpx pipeline::process".into(),
        times,
        baseline_kib: one_value(&stdout, "baseline_kib")?,
        peak_kib: one_value(&stdout, "peak_kib")?,
    })
}

fn python() -> String {
    std::env::var("PEERPX_BENCH_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Makes sure Pillow can be imported, installing it with pip when it cannot.
fn ensure_pillow(py: &str) -> Result<()> {
    let has = |py: &str| {
        Command::new(py)
            .args(["-c", "import PIL"])
            .output()
            .map(|o| o.status.success())
    };
    if has(py)? {
        return Ok(());
    }
    println!();
    println!("!!! Pillow is not installed for {py}: running `{py} -m pip install --quiet Pillow`");
    println!();
    let status = Command::new(py)
        .args(["-m", "pip", "install", "--quiet", "Pillow"])
        .status()?;
    if !status.success() || !has(py)? {
        return Err(format!("could not install Pillow with pip ({status})").into());
    }
    Ok(())
}

fn pillow(input: &Path, runs: usize) -> Result<Measure> {
    let py = python();
    ensure_pillow(&py)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pillow_reference.py");
    let dir = tempfile::tempdir()?;
    let out = Command::new(&py)
        .arg(&script)
        .arg(input)
        .arg(dir.path())
        .arg(runs.to_string())
        .output()?;
    let stdout = String::from_utf8(out.stdout)?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}):\n{stdout}\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    for i in 0..runs {
        for name in ["large.jpg", "small.jpg"] {
            let p = dir.path().join(format!("run{i}")).join(name);
            if std::fs::metadata(&p)?.len() == 0 {
                return Err(format!("{} is empty", p.display()).into());
            }
        }
    }
    let times = values(&stdout, "run_seconds")
        .into_iter()
        .map(str::parse)
        .collect::<Result<Vec<f64>, _>>()?;
    if times.len() != runs {
        return Err(format!("expected {runs} run_seconds lines:\n{stdout}").into());
    }
    let version: String = one_value(&stdout, "pillow_version")?;
    Ok(Measure {
        name: format!("Pillow {version} (reference)"),
        times,
        baseline_kib: one_value(&stdout, "baseline_kib")?,
        peak_kib: one_value(&stdout, "peak_kib")?,
    })
}

fn main() -> Result<()> {
    if std::env::var_os(CHILD_ENV).is_some() {
        return child();
    }
    let input = fixture();
    let runs = runs()?;
    println!(
        "upload pipeline on {FIXTURE} ({} bytes, 4000x3000): original + large 2048 + small 640, \
         {runs} runs after 1 warm-up",
        std::fs::metadata(&input)?.len()
    );

    let ours = peerpx(&input, runs)?;
    let reference = match pillow(&input, runs) {
        Ok(m) => Some(m),
        Err(e) => {
            println!();
            println!("!!! reference thumbnailer skipped: {e}");
            None
        }
    };

    println!();
    println!(
        "{:<32} {:>9} {:>9} {:>9}   {:>20}",
        "implementation", "median s", "min s", "peak MiB", "(process KiB: base/peak)"
    );
    println!("{}", "-".repeat(86));
    for m in std::iter::once(&ours).chain(reference.as_ref()) {
        println!(
            "{:<32} {:>9.3} {:>9.3} {:>9.1}   {:>20}",
            m.name,
            m.median(),
            m.min(),
            m.peak_mib(),
            format!("{}/{}", m.baseline_kib, m.peak_kib)
        );
    }
    if let Some(r) = &reference {
        println!(
            "{:<32} {:>9.2} {:>9.2} {:>9.2}",
            "ratio peerpx/Pillow",
            ours.median() / r.median(),
            ours.min() / r.min(),
            ours.peak_mib() / r.peak_mib()
        );
    }
    println!();
    println!(
        "Note: peerpx also does work Pillow does not: header sniffing and limits, the EXIF summary, \
         the original rewritten without GPS (lossless), the blurhash, and an fsync of every output \
         file. Peak MiB = peak RSS of one run minus the process's peak before it (peerpx: a child \
         process running one `process` call; Pillow: VmHWM over warm-up and all runs minus after `import PIL`)."
    );
    Ok(())
}
