//! The command line: argument definitions (clap derive) and one function per subcommand.
//!
//! Glue only: reading files, calling the library, printing and writing. Nothing in the library
//! depends on this module. Flags mean the same on every subcommand: `-o/--out` the output
//! folder, `-j/--jobs` worker threads, `-q/--quiet` nothing but errors, `--seed` and `--set`
//! scenario overrides, `--json` the result document on standard output, `--fail-on-slo` exit
//! code 3 when the SLO is missed.

mod table;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::Error;
use crate::output;
use crate::run::{self, RunRecord};
use crate::scenario::{self, Loaded, QUICKSTART, QUICKSTART_NAME, Severity};

/// flysim: try your Fly.io app's Machines, autostop and concurrency settings against traffic
/// before production does.
#[derive(Debug, Parser)]
#[command(name = "flysim", version, about, long_about = None, after_help = TOP_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What `flysim --help` ends with: examples, then the exit codes.
const TOP_HELP: &str = "Examples:
  flysim run                                   run the built-in quickstart scenario
  flysim run scenarios/two-regions.toml --seed 3
  flysim run my.toml --set app.web.machines[0].count=3 --set platform.max_queue_wait=10s
  flysim run scenarios/quickstart.toml --set app.web.machines[0].count=1,2,3   a sweep
  flysim run my.toml --json --fail-on-slo > summary.json   gate a config change in CI
  flysim sweep scenarios/sweeps/autostop-burst.toml -j 2
  flysim plan plans/shop.toml                  the cheapest configuration meeting the SLO
  flysim validate scenarios/*.toml             check files, run nothing
  flysim completions bash > /etc/bash_completion.d/flysim

Exit codes:
  0  success (with --fail-on-slo: and the SLO was met)
  1  an error: a bad input file, a refused output folder, a failed write
  2  a usage error: an unknown flag, a bad flag value, a missing argument
  3  the SLO was missed: with --fail-on-slo (run: the run missed it; sweep, merge: no point
     met it with confidence), and always for a plan none of whose candidates meets it";

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario (or its replications), print a summary, write outputs.
    #[command(after_help = "Examples:
  flysim run
  flysim run scenarios/quickstart.toml --set app.web.fly.http_service.auto_stop_machines=suspend
  flysim run my.toml --seed 3 -o out/x --set replications=10 -j 4
  flysim run my.toml --json | jq .requests.availability
  flysim run my.toml --fail-on-slo -q            exit code 3 when the SLO is missed

A --set with several values (a=1,2,3) runs a sweep over them.")]
    Run(RunArgs),
    /// Run a parameter sweep: a grid of scenario values × replications, in parallel.
    #[command(after_help = "Examples:
  flysim sweep scenarios/sweeps/resilience.toml
  flysim sweep my-sweep.toml -j 8 -o out/big --seed 7
  flysim sweep my-sweep.toml --shard 3/10 -o out/big/shard-3   (then: flysim merge out/big/shard-*)
  flysim sweep my-sweep.toml --json -q > sweep.json

Rerunning the same command after an interruption resumes: finished runs are kept.")]
    Sweep(SweepArgs),
    /// Find the cheapest configuration that meets the SLO in every scenario, with confidence.
    #[command(after_help = "Examples:
  flysim plan plans/shop.toml
  flysim plan plans/shop.toml -j 8 -o out/shop
  flysim plan plans/shop.toml --set platform.max_queue_wait=5s --seed 11
  flysim plan plans/shop.toml --exhaustive 20      every candidate at 20 replications, for reference

Rerunning the same command after an interruption resumes from the journal.
Exit code 3 when no candidate meets the SLO (the files say which constraint binds).")]
    Plan(PlanArgs),
    /// Join the folders of a sharded sweep into the results of one run.
    #[command(after_help = "Examples:
  flysim merge out/big/shard-* -o out/big/all
  flysim merge out/big/shard-* -o out/big/all --json -q > sweep.json")]
    Merge(MergeArgs),
    /// Redraw the charts and the HTML report of a finished run, sweep or plan from its files.
    #[command(after_help = "Examples:
  flysim chart output/quickstart
  flysim chart output/autostop-burst")]
    Chart(ChartArgs),
    /// Write a starter scenario around a real fly.toml (to standard output, or a new file).
    #[command(after_help = "Examples:
  flysim import fly.toml -o scenario.toml && flysim run scenario.toml
  flysim import my/fly.toml -o my/scenario.toml      the path to the fly.toml is relative to my/
  flysim import fly.toml --inline > scenario.toml  the fly.toml embedded as [app.fly]
  flysim import fly.toml --regions ams,ewr --rps 40")]
    Import(ImportArgs),
    /// Check scenario, sweep, plan or fly.toml files and print every problem with its position.
    #[command(after_help = "Examples:
  flysim validate scenarios/quickstart.toml
  flysim validate fly.toml                 typos, ignored keys and missing primary_region
  flysim validate -q scenarios/*.toml      only the problems")]
    Validate(ValidateArgs),
    /// Print a shell completion script.
    #[command(after_help = "Examples:
  flysim completions bash > ~/.local/share/bash-completion/completions/flysim
  flysim completions zsh > ~/.zfunc/_flysim
  flysim completions fish > ~/.config/fish/completions/flysim.fish")]
    Completions(CompletionsArgs),
    /// Print the manual page (roff).
    #[command(after_help = "Examples:
  flysim man > flysim.1 && man ./flysim.1")]
    Man,
}

/// `--seed` and `--set`: overrides of the scenario's values, applied before validation.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Master seed, overriding the scenario's `seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override a scenario value before validation, e.g. app.web.machines[0].count=3
    /// (repeatable). Paths under app.NAME.fly reach into a referenced fly_toml file.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

impl Overrides {
    /// The `--set` overrides with `--seed` as one more (a string, so that any u64 fits).
    fn all(&self) -> Vec<String> {
        let mut sets = self.sets.clone();
        if let Some(seed) = self.seed {
            sets.push(format!("seed=\"{seed}\""));
        }
        sets
    }
}

/// Arguments of `flysim run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML). Without it, the built-in quickstart scenario runs.
    pub scenario: Option<PathBuf>,
    /// `--seed` and `--set`.
    #[command(flatten)]
    pub overrides: Overrides,
    /// Output folder [default: output/NAME, NAME being the scenario's name].
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads for the replications [default: all cores]. Files are identical whatever
    /// the number.
    #[arg(long, short, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Write no output files; print the summary only.
    #[arg(long)]
    pub no_output: bool,
    /// Write no charts and no HTML report (the CSV and JSON files only).
    #[arg(long)]
    pub no_charts: bool,
    /// Print the summary as JSON (what summary.json holds) on standard output instead of the
    /// table.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 3 when the run misses its SLO (availability or p99 latency).
    #[arg(long)]
    pub fail_on_slo: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `flysim sweep`.
#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// Sweep file (TOML).
    pub sweep: PathBuf,
    /// `--seed` and `--set`.
    #[command(flatten)]
    pub overrides: Overrides,
    /// Worker threads [default: all cores]. Results are identical whatever the number.
    #[arg(long, short, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Run only shard K of N (1 ≤ K ≤ N), e.g. 3/10; join shards with `flysim merge`.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(usize, usize)>,
    /// Output folder [default: output/NAME, NAME being the sweep's name].
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print sweep.json on standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 3 when no point meets the SLO with confidence.
    #[arg(long)]
    pub fail_on_slo: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `flysim plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Plan file (TOML).
    pub plan: PathBuf,
    /// `--seed` and `--set`.
    #[command(flatten)]
    pub overrides: Overrides,
    /// Worker threads [default: all cores]. The answer is identical whatever the number.
    #[arg(long, short, value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Output folder [default: output/NAME, NAME being the plan's name].
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run every candidate at N replications and judge each alone, as a sweep would (the
    /// reference the search is checked against) [default folder: output/NAME-exhaustive].
    #[arg(long, value_name = "N", value_parser = parse_replications)]
    pub exhaustive: Option<u32>,
    /// Write no charts and no HTML report.
    #[arg(long)]
    pub no_charts: bool,
    /// Print plan.json on standard output instead of the recommendation.
    #[arg(long)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_replications(s: &str) -> std::result::Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (2..=crate::plan::MAX_REPLICATIONS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected replications from 2 to {}, got {s:?}",
            crate::plan::MAX_REPLICATIONS
        )),
    }
}

/// Arguments of `flysim merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard output folders.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Folder for the merged results.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Print sweep.json on standard output instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit with code 3 when no point meets the SLO with confidence.
    #[arg(long)]
    pub fail_on_slo: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Most worker threads `--jobs` may ask for.
const MAX_JOBS: usize = 1024;

fn parse_jobs(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of threads from 1 to {MAX_JOBS}, got {s:?}"
        )),
    }
}

fn parse_rps(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1e7 => Ok(r),
        _ => Err(format!(
            "expected requests per second above 0 and at most 10000000, got {s:?}"
        )),
    }
}

fn parse_shard(s: &str) -> std::result::Result<(usize, usize), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 3/10")?;
    let k: usize = k
        .trim()
        .parse()
        .map_err(|_| format!("K in {s:?} is not a whole number"))?;
    let n: usize = n
        .trim()
        .parse()
        .map_err(|_| format!("N in {s:?} is not a whole number"))?;
    if k == 0 || k > n {
        return Err(format!("expected 1 ≤ K ≤ N, got {k}/{n}"));
    }
    Ok((k, n))
}

/// Arguments of `flysim chart`.
#[derive(Debug, clap::Args)]
pub struct ChartArgs {
    /// A run's, a sweep's or a plan's output folder.
    pub dir: PathBuf,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `flysim import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The app's fly.toml.
    pub fly_toml: PathBuf,
    /// Write the scenario to this new file (never over an existing one) instead of standard
    /// output; the path to the fly.toml is then written relative to the file's folder.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Embed the fly.toml in the scenario as [app.fly] instead of referring to it.
    #[arg(long)]
    pub inline: bool,
    /// Regions to run Machines in, comma-separated [default: the fly.toml's primary_region].
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Mean requests per second of the starter traffic.
    #[arg(long, default_value_t = 10.0, value_parser = parse_rps)]
    pub rps: f64,
    /// Print nothing but errors (no warnings about the fly.toml).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `flysim validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Scenario, sweep, plan or fly.toml files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print only the problems: no `ok:` lines, no ignored keys.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `flysim completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run_cmd(args),
        Command::Sweep(args) => sweep_cmd(args),
        Command::Plan(args) => plan_cmd(args),
        Command::Merge(args) => merge_cmd(args),
        Command::Import(args) => import_cmd(args),
        Command::Chart(args) => chart_cmd(args),
        Command::Validate(args) => validate_cmd(args),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "flysim", &mut std::io::stdout());
            Ok(())
        }
        Command::Man => {
            std::io::stdout().write_all(&man_page())?;
            Ok(())
        }
    }
}

/// The manual page of `flysim`, in roff: the top page, then each subcommand's.
pub fn man_page() -> Vec<u8> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .expect("writing to memory");
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub = sub.clone().name(format!("flysim-{}", sub.get_name()));
        let mut page = Vec::new();
        clap_mangen::Man::new(sub)
            .render(&mut page)
            .expect("writing to memory");
        out.extend_from_slice(&page);
    }
    out
}

/// Worker threads: `--jobs`, or every core.
fn jobs_or_all(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Writes a JSON document's bytes to standard output.
fn print_json(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

fn load_scenario(args: &RunArgs) -> Result<Loaded> {
    let sets = args.overrides.all();
    let loaded = match &args.scenario {
        Some(path) => scenario::load(path, &sets),
        None => scenario::from_str(QUICKSTART, QUICKSTART_NAME, &sets),
    };
    loaded.map_err(|e| Error::from(e).into())
}

/// How a sweep command reports: human text, JSON, nothing; and whether a miss fails it.
#[derive(Clone, Copy, Debug)]
struct Report {
    quiet: bool,
    json: bool,
    fail_on_slo: bool,
}

fn run_cmd(args: RunArgs) -> Result<()> {
    let report = Report {
        quiet: args.quiet,
        json: args.json,
        fail_on_slo: args.fail_on_slo,
    };
    if crate::sweep::is_sweep(&args.overrides.sets) {
        let sets = args.overrides.all();
        let sweep =
            crate::sweep::from_run_args(args.scenario.as_deref(), &sets).map_err(Error::from)?;
        return execute_sweep(&sweep, args.out, args.jobs, None, report);
    }
    let loaded = load_scenario(&args)?;
    let sc = &loaded.scenario;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(&sc.name));
    if !args.no_output {
        // Before simulating: a refused folder should not cost the user a long run.
        output::place::check_replaceable(&out_dir).map_err(user)?;
    }
    if !args.quiet {
        for n in loaded
            .notes
            .iter()
            .filter(|n| n.severity == Severity::Warning)
        {
            eprintln!("{n}");
        }
    }
    let started = Instant::now();
    let jobs = jobs_or_all(args.jobs);
    let records = run_replications(sc, jobs, !args.quiet && std::io::stderr().is_terminal())?;
    let elapsed = started.elapsed();
    let (summary, files) = if records.len() == 1 {
        (
            records[0].summary.to_value(),
            run::run_files(&records[0], ""),
        )
    } else {
        let summaries: Vec<serde_json::Value> =
            records.iter().map(|r| r.summary.to_value()).collect();
        let agg = run::aggregate(&summaries);
        let mut files = vec![("summary.json".to_string(), output::json_bytes(&agg))];
        let flat: Vec<Vec<(String, serde_json::Value)>> =
            summaries.iter().map(run::flatten).collect();
        let header: Vec<String> = flat[0].iter().map(|(k, _)| k.clone()).collect();
        let rows: Vec<Vec<String>> = flat
            .iter()
            .map(|r| {
                r.iter()
                    .map(|(_, v)| match v {
                        serde_json::Value::String(s) => s.clone(),
                        v => v.to_string(),
                    })
                    .collect()
            })
            .collect();
        files.push((
            "replications.csv".to_string(),
            output::csv_bytes(&header, &rows),
        ));
        for (i, r) in records.iter().enumerate() {
            files.extend(run::run_files(r, &format!("rep-{i:03}/")));
        }
        (agg, files)
    };
    let mut files = files;
    files.push((
        crate::chart::report::SCENARIO_FILE.to_string(),
        loaded.text.clone().into_bytes(),
    ));
    files.push((
        crate::chart::report::INPUTS_FILE.to_string(),
        output::json_bytes(
            &serde_json::to_value(run::summary::inputs(sc)).expect("inputs serialise"),
        ),
    ));
    if !args.no_output && !args.no_charts {
        let prefix = if records.len() == 1 { "" } else { "rep-000/" };
        files.extend(
            crate::chart::charts_for_run_files(&files, prefix)
                .map_err(|e| anyhow::anyhow!("drawing the charts: {e}"))?,
        );
    }
    if !args.no_output {
        output::replace_dir(&out_dir, &files).map_err(user)?;
    }
    let typed = crate::metrics::results::RunSummary::from_value(&summary).map_err(Error::Input)?;
    if args.json {
        print_json(&output::json_bytes(&summary))?;
    } else if !args.quiet {
        let written = (!args.no_output).then_some(out_dir.as_path());
        print!("{}", table::render(&typed, elapsed.as_secs_f64(), written));
    }
    if args.fail_on_slo && !(typed.slo.availability_met && typed.slo.latency_p99_met) {
        return Err(Error::SloMissed(format!(
            "scenario {} missed its SLO: availability {} (target {}), p99 latency {} (target {}){}",
            sc.name,
            crate::output::figures::pct(typed.requests.availability),
            crate::output::figures::pct(typed.slo.availability_target),
            crate::output::figures::duration_ms(typed.latency_ms.p99),
            crate::output::figures::duration_ms(typed.slo.latency_p99_target_ms),
            if records.len() > 1 {
                "; means over the replications"
            } else {
                ""
            }
        ))
        .into());
    }
    Ok(())
}

/// Runs every replication of `sc` on `jobs` threads, in replication order (the files do not
/// depend on the number of threads: each replication has its own streams).
fn run_replications(
    sc: &scenario::Scenario,
    jobs: usize,
    progress: bool,
) -> Result<Vec<RunRecord>> {
    use rayon::prelude::*;
    let bar = progress.then(|| crate::progress::simulation_bar(&sc.name, sc.replications));
    let reps = u64::from(sc.replications);
    let records = if jobs > 1 && reps > 1 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs.min(reps as usize))
            .build()
            .map_err(|e| anyhow::anyhow!("starting {jobs} worker threads: {e}"))?;
        pool.install(|| {
            (0..reps)
                .into_par_iter()
                .map(|rep| {
                    let record = run::run_replication(sc, rep);
                    if let Some(b) = &bar {
                        b.inc(1000);
                    }
                    record
                })
                .collect()
        })
    } else {
        (0..reps)
            .map(|rep| {
                run::run_replication_with_progress(sc, rep, &mut |done| {
                    if let Some(b) = &bar {
                        b.set_position(rep * 1000 + (done * 1000.0) as u64);
                    }
                })
            })
            .collect()
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(records)
}

fn sweep_cmd(args: SweepArgs) -> Result<()> {
    let sweep = crate::sweep::load_with(&args.sweep, &args.overrides.all()).map_err(Error::from)?;
    let report = Report {
        quiet: args.quiet,
        json: args.json,
        fail_on_slo: args.fail_on_slo,
    };
    execute_sweep(&sweep, args.out, args.jobs, args.shard, report)
}

fn execute_sweep(
    sweep: &crate::sweep::Sweep,
    out: Option<PathBuf>,
    jobs: Option<usize>,
    shard: Option<(usize, usize)>,
    report: Report,
) -> Result<()> {
    use crate::sweep::exec;
    let dir = crate::sweep::out_dir(sweep, out);
    let jobs = jobs_or_all(jobs);
    let shard = shard.unwrap_or((1, 1));
    let quiet = report.quiet;
    let started = Instant::now();
    let opts = exec::RunOptions {
        jobs,
        shard,
        progress: !quiet && std::io::stderr().is_terminal(),
    };
    let mut owned = output::OwnedDir::open(&dir).map_err(user)?;
    let finished = exec::run(sweep, &mut owned, opts).map_err(user)?;
    if !quiet && (finished.resumed > 0 || finished.dropped_torn_line) {
        eprintln!(
            "resumed: {} of {} runs were already done in {}{}",
            finished.resumed,
            finished.entries.len(),
            dir.display(),
            if finished.dropped_torn_line {
                "; one run interrupted while it was recorded was done again"
            } else {
                ""
            }
        );
    }
    let entries = finished.entries;
    if shard.1 > 1 {
        if !quiet && !report.json {
            println!(
                "flysim {}: sweep {}, shard {}/{}: {} runs in {:.2} s, journaled in {}/{}; join the shards with `flysim merge`",
                env!("CARGO_PKG_VERSION"),
                sweep.name,
                shard.0,
                shard.1,
                entries.len(),
                started.elapsed().as_secs_f64(),
                dir.display(),
                exec::JOURNAL
            );
        }
        return Ok(());
    }
    let manifest = exec::manifest(sweep, shard);
    let res = exec::result_files(&manifest, &entries);
    let mut files = res.files.clone();
    files.extend(
        crate::chart::charts_for_sweep_files(&res.files)
            .map_err(|e| Error::Input(format!("drawing the charts: {e}")))?,
    );
    exec::write_results(&mut owned, &files).map_err(user)?;
    let headline = format!(
        "flysim {}: sweep {}, {} points × {} replications = {} runs in {:.2} s ({} threads)",
        env!("CARGO_PKG_VERSION"),
        sweep.name,
        sweep.points.len(),
        sweep.replications,
        sweep.total_runs(),
        started.elapsed().as_secs_f64(),
        jobs
    );
    let axes: Vec<String> = sweep.axes.iter().map(|a| a.path.clone()).collect();
    report_sweep(&headline, &axes, &res, &dir, report)
}

/// Prints a finished sweep's results (the table, or sweep.json) and applies `--fail-on-slo`.
fn report_sweep(
    headline: &str,
    axes: &[String],
    res: &crate::sweep::exec::SweepResults,
    dir: &Path,
    report: Report,
) -> Result<()> {
    if report.json {
        if let Some((_, bytes)) = res.files.iter().find(|(n, _)| n == "sweep.json") {
            print_json(bytes)?;
        }
    } else if !report.quiet {
        println!("{headline}");
        print!(
            "{}",
            table::render_sweep(axes, &res.stats, res.cheapest, dir)
        );
    }
    if report.fail_on_slo && res.cheapest.is_none() {
        return Err(Error::SloMissed(format!(
            "no point of the sweep meets its SLO with confidence ({} points; points.csv in {} has each one's figures)",
            res.stats.len(),
            dir.display()
        ))
        .into());
    }
    Ok(())
}

fn plan_cmd(args: PlanArgs) -> Result<()> {
    use crate::plan::{outcome, search};
    let plan = crate::plan::load_with(&args.plan, &args.overrides.all()).map_err(Error::from)?;
    let dir = args.out.clone().unwrap_or_else(|| {
        let name = match args.exhaustive {
            Some(_) => format!("{}-exhaustive", plan.name),
            None => plan.name.clone(),
        };
        Path::new("output").join(name)
    });
    let jobs = jobs_or_all(args.jobs);
    let started = Instant::now();
    let mut owned = output::OwnedDir::open(&dir).map_err(user)?;
    let found = search::run(
        &plan,
        &mut owned,
        search::SearchOptions {
            jobs,
            progress: !args.quiet && std::io::stderr().is_terminal(),
            exhaustive: args.exhaustive,
        },
    )
    .map_err(user)?;
    if !args.quiet && found.resumed > 0 {
        eprintln!(
            "resumed: {} of {} runs were already in {}",
            found.resumed,
            found.runs,
            dir.join(search::JOURNAL).display()
        );
    }
    let made = outcome::files(&plan, &found);
    let mut files = made.files.clone();
    if !args.no_charts {
        files.extend(
            crate::chart::charts_for_plan(&made.doc, &made.text)
                .map_err(|e| Error::Input(format!("drawing the charts: {e}")))?,
        );
    }
    for (name, bytes) in &files {
        owned.write(name, bytes).map_err(user)?;
    }
    if args.json {
        if let Some((_, bytes)) = made.files.iter().find(|(n, _)| n == "plan.json") {
            print_json(bytes)?;
        }
    } else if !args.quiet {
        print!("{}", made.text);
        println!(
            "{:.2} s, {} threads; files in {}",
            started.elapsed().as_secs_f64(),
            jobs,
            dir.display()
        );
    }
    if found.recommended.is_none() {
        return Err(Error::SloMissed(format!(
            "no candidate of plan {} meets every constraint; {} says which binds and how close the best came",
            plan.name,
            dir.join("recommendation.txt").display()
        ))
        .into());
    }
    Ok(())
}

fn merge_cmd(args: MergeArgs) -> Result<()> {
    use crate::sweep::exec;
    // The inputs are only read: the merged folder may be none of them, nor hold or sit in one.
    let out_abs = std::path::absolute(&args.out).unwrap_or_else(|_| args.out.clone());
    let out_abs = std::fs::canonicalize(&out_abs).unwrap_or(out_abs);
    for d in &args.dirs {
        let d_abs = std::fs::canonicalize(d).unwrap_or_else(|_| d.clone());
        if out_abs.starts_with(&d_abs) || d_abs.starts_with(&out_abs) {
            return Err(Error::Usage(format!(
                "--out {}: is, holds or sits in the input folder {}; flysim merge only reads its inputs. Give a new folder, e.g. {}-merged",
                args.out.display(),
                d.display(),
                d.display()
            ))
            .into());
        }
    }
    output::place::inspect(&args.out).map_err(user)?;
    let (manifest, entries) = exec::merge(&args.dirs).map_err(user)?;
    let res = exec::result_files(&manifest, &entries);
    let mut files = exec::folder_files(&manifest, &entries);
    files.extend(res.files.iter().cloned());
    files.extend(
        crate::chart::charts_for_sweep_files(&res.files)
            .map_err(|e| Error::Input(format!("drawing the charts: {e}")))?,
    );
    output::replace_dir(&args.out, &files).map_err(user)?;
    let headline = format!(
        "flysim {}: merged {} runs from {} folders",
        env!("CARGO_PKG_VERSION"),
        entries.len(),
        args.dirs.len()
    );
    let report = Report {
        quiet: args.quiet,
        json: args.json,
        fail_on_slo: args.fail_on_slo,
    };
    report_sweep(&headline, &manifest.axis_paths(), &res, &args.out, report)
}
/// A library error for the user.
fn user(e: impl Into<Error>) -> anyhow::Error {
    e.into().into()
}

fn chart_cmd(args: ChartArgs) -> Result<()> {
    let dir = &args.dir;
    // Charts are written only into a folder flysim made, locked while they are redrawn.
    let mut owned = output::OwnedDir::open(dir).map_err(user)?;
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .ok()
            .map(|b| (name.to_string(), b))
    };
    let charts = if dir.join("plan.json").is_file() {
        let doc = read("plan.json")
            .ok_or_else(|| "plan.json cannot be read".to_string())
            .and_then(|(_, b)| {
                serde_json::from_slice::<crate::plan::outcome::PlanDoc>(&b)
                    .map_err(|e| format!("plan.json: {e}"))
            });
        let text = read("recommendation.txt")
            .map(|(_, b)| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        doc.and_then(|d| crate::chart::charts_for_plan(&d, &text))
    } else if dir.join("points.csv").is_file() {
        let files: Vec<(String, Vec<u8>)> = ["points.csv", "sweep.json"]
            .iter()
            .filter_map(|n| read(n))
            .collect();
        crate::chart::charts_for_sweep_files(&files)
    } else if dir.join("summary.json").is_file() {
        let prefix = if dir.join("rep-000").is_dir() {
            "rep-000/"
        } else {
            ""
        };
        let mut files: Vec<(String, Vec<u8>)> = [
            "timeseries.csv",
            "states.csv",
            "latency.csv",
            "cost.csv",
            "incidents.csv",
            "actions.csv",
            "deploys.csv",
            "machines.csv",
            "summary.json",
        ]
        .iter()
        .filter_map(|n| read(&format!("{prefix}{n}")))
        .collect();
        if !prefix.is_empty() {
            files.extend(read("summary.json"));
        }
        for name in [
            crate::chart::report::SCENARIO_FILE,
            crate::chart::report::INPUTS_FILE,
        ] {
            files.extend(read(name));
        }
        crate::chart::charts_for_run_files(&files, prefix)
    } else {
        return Err(Error::Input(format!(
            "{}: no summary.json (a run), points.csv (a sweep) or plan.json (a plan) found; give a folder written by flysim run, sweep or plan",
            dir.display()
        ))
        .into());
    };
    let charts = charts.map_err(|e| Error::Input(format!("{}: {e}", dir.display())))?;
    for (name, bytes) in &charts {
        owned.write(name, bytes).map_err(user)?;
    }
    if !args.quiet {
        println!(
            "{} charts and report.html redrawn in {}",
            charts.len() - 1,
            dir.display()
        );
    }
    Ok(())
}

fn import_cmd(args: ImportArgs) -> Result<()> {
    let regions = (!args.regions.is_empty()).then_some(args.regions.as_slice());
    // Where the scenario will live decides how it names the fly.toml.
    let reference = if args.inline {
        crate::import::FlyReference::Inline
    } else {
        match &args.out {
            Some(file) => crate::import::FlyReference::Path(
                crate::import::relative_to_file(&args.fly_toml, file).map_err(Error::Input)?,
            ),
            None => crate::import::FlyReference::Path(args.fly_toml.clone()),
        }
    };
    if let Some(file) = &args.out {
        output::place::check_new_file(file).map_err(user)?;
    }
    let imported = match crate::import::import(&args.fly_toml, regions, args.rps, &reference) {
        Ok(imported) => imported,
        Err(problems) => {
            let errors = problems
                .into_iter()
                .filter(|p| p.severity == Severity::Error)
                .collect();
            return Err(Error::Problems(errors).into());
        }
    };
    // What import writes must run: validate it as `flysim run` would, from where it will be.
    let as_file = args.out.as_ref().map_or_else(
        || "starter scenario".to_string(),
        |f| f.display().to_string(),
    );
    if let Err(e) = scenario::from_str(&imported.text, &as_file, &[]) {
        return Err(Error::Import {
            problems: e,
            fly_toml: args.fly_toml.display().to_string(),
        }
        .into());
    }
    if !args.quiet {
        for n in imported
            .notes
            .iter()
            .filter(|n| n.severity == Severity::Warning)
        {
            eprintln!("{n}");
        }
    }
    match &args.out {
        Some(file) => {
            output::place::write_new_file(file, imported.text.as_bytes()).map_err(user)?;
            if !args.quiet {
                eprintln!(
                    "wrote {}; run it with: flysim run {}",
                    file.display(),
                    file.display()
                );
            }
        }
        None => print!("{}", imported.text),
    }
    Ok(())
}

fn validate_cmd(args: ValidateArgs) -> Result<()> {
    let mut errors = 0;
    for path in &args.files {
        let (ok, problems) = match validate_one(path) {
            Ok(notes) => (true, notes),
            Err(problems) => (false, problems),
        };
        if ok && !args.quiet {
            println!("ok: {}", path.display());
        }
        for p in &problems {
            if !args.quiet || p.severity != Severity::Ignored {
                println!("  {p}");
            }
        }
        errors += problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
    }
    if errors > 0 {
        return Err(Error::Counted(errors).into());
    }
    Ok(())
}
/// Validates one file, recognising scenarios (an `[[app]]` or a `duration`) and fly.toml files.
fn validate_one(
    path: &Path,
) -> std::result::Result<Vec<scenario::Problem>, Vec<scenario::Problem>> {
    let name = path.display().to_string();
    let text = scenario::doc::read_text(path, scenario::doc::MAX_TEXT_BYTES).map_err(
        |(origin, message)| {
            vec![scenario::Problem {
                severity: Severity::Error,
                file: name.clone(),
                origin,
                path: String::new(),
                message,
            }]
        },
    )?;
    let parsed = scenario::doc::parse(&text);
    // The same classification `run` and `sweep` use, so that what `validate` accepts runs.
    if parsed.as_ref().is_ok_and(crate::plan::looks_like_plan) {
        return crate::plan::load(path)
            .map(|_| Vec::new())
            .map_err(|e| e.problems);
    }
    if parsed.as_ref().is_ok_and(crate::sweep::looks_like_sweep) {
        return crate::sweep::load(path)
            .map(|_| Vec::new())
            .map_err(|e| e.problems);
    }
    if !parsed
        .as_ref()
        .is_ok_and(scenario::validate::looks_like_fly_toml)
    {
        return scenario::load(path, &[])
            .map(|l| l.notes)
            .map_err(|e| e.problems);
    }
    // A fly.toml on its own.
    let mut p = scenario::reader::Problems::new(&name);
    if let Ok(root) = parsed {
        let fly = scenario::fly::read(&root, "", &mut p);
        if let Some((code, origin)) = &fly.primary_region {
            if scenario::regions::lookup(code).is_none() && !scenario::fly::is_placeholder(code) {
                p.warning(
                    origin,
                    "primary_region",
                    format!("{code:?} is not a Fly region code"),
                );
            } else if scenario::fly::is_placeholder(code) {
                p.warning(
                    origin,
                    "primary_region",
                    format!("{code:?} looks like a template placeholder, not a region"),
                );
            }
        } else {
            // The same warning `flysim import` gives.
            p.warning(
                &root.origin,
                "primary_region",
                "missing; flysim import would put the Machines in iad (give --regions to choose)",
            );
        }
    }
    if p.has_errors() {
        Err(p.list)
    } else {
        Ok(p.list)
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn shards_parse() {
        assert_eq!(super::parse_shard("3/10"), Ok((3, 10)));
        assert!(super::parse_shard("0/3").is_err());
        assert!(super::parse_shard("4/3").is_err());
        assert!(super::parse_shard("x").is_err());
    }
}
