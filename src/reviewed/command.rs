//! The command-line side of reviewed plans: writing a plan after a `--check --plan-out` run,
//! `converge show` and `converge apply`.

use super::file::{PlanFile, PlanKey, FORMAT};
use super::inputs::{changed_inputs, hash_inputs};
use super::{Recorder, Review, Session};
use crate::cli::{OutputFormat, RunArgs};
use crate::error::Exit;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `converge apply`'s options.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The plan file.
    pub plan: PathBuf,
    /// `--plan-key`.
    pub plan_key: Option<PathBuf>,
    /// `--digest`.
    pub digest: Option<String>,
    /// `--reviewed-only`.
    pub reviewed_only: bool,
    /// `--max-age`.
    pub max_age: Option<String>,
    /// `--diff`.
    pub diff: bool,
    /// `-v`.
    pub verbose: u8,
    /// `--format`.
    pub format: OutputFormat,
}

/// The roots whose files are the run's inputs, and the files among them that are secrets
/// or the plan itself (left out).
fn input_roots(args: &RunArgs, plan: &Path, key: Option<&Path>) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let parent = |path: &Path| {
        path.parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    };
    let mut roots: Vec<PathBuf> = args.playbooks.iter().map(|path| parent(path)).collect();
    // An inventory file brings only its own variables directories: what else lies beside it
    // (a lab's state, other inventories) is no input of this run.
    for source in &args.inventory {
        if source.is_dir() {
            roots.push(source.clone());
        } else {
            roots.push(source.clone());
            roots.push(parent(source).join("group_vars"));
            roots.push(parent(source).join("host_vars"));
        }
    }
    roots.extend(args.roles_path.iter().cloned());
    roots.extend(
        args.extra_vars
            .iter()
            .filter_map(|vars| vars.strip_prefix('@'))
            .map(PathBuf::from),
    );
    let mut exclude = vec![plan.to_path_buf()];
    exclude.extend(key.map(Path::to_path_buf));
    exclude.extend(args.vault.vault_password_files.iter().cloned());
    exclude.extend(
        args.vault
            .vault_ids
            .iter()
            .map(|id| PathBuf::from(id.split_once('@').map_or(id.as_str(), |(_, source)| source))),
    );
    exclude.extend(args.connection_password_file.iter().cloned());
    exclude.extend(args.become_password_file.iter().cloned());
    (roots, exclude)
}

/// Write the plan a `--check --plan-out` run recorded; returns its digest.
pub fn write_plan(
    args: &RunArgs,
    recorder: &Recorder,
    path: &Path,
    key: Option<&PlanKey>,
) -> Result<String, super::file::PlanFileError> {
    let (roots, exclude) = input_roots(args, path, args.plan_key.as_deref());
    let mut saved = args.clone();
    saved.plan_out = None;
    saved.plan_key = None;
    let mut plan = PlanFile {
        format: FORMAT,
        converge_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix: now_unix(),
        workdir: std::env::current_dir().unwrap_or_default(),
        run: serde_json::to_value(&saved).expect("arguments serialize"),
        inputs: hash_inputs(&roots, &exclude),
        hosts: recorder.hosts(),
        sealed: None,
    };
    plan.seal_secrets(key)?;
    plan.write(path, key)
}

/// `converge show PLAN`.
pub fn show(path: &Path, key: Option<&Path>, format: OutputFormat) -> Exit {
    let key = match key.map(PlanKey::read).transpose() {
        Ok(key) => key,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::BadOptions;
        }
    };
    let mut plan = match PlanFile::read(path, key.as_ref(), None) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Invalid;
        }
    };
    let digest = plan.digest();
    if let Some(key) = &key {
        if let Err(error) = plan.unseal(key) {
            eprintln!("error: {error}");
            return Exit::Invalid;
        }
    }
    match format {
        OutputFormat::Human => print!("{}", super::show::render(&plan, &digest)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan).expect("plan serializes")
        ),
    }
    Exit::Success
}

/// `converge apply PLAN`.
pub fn apply(options: &ApplyOptions) -> Exit {
    let key = match options.plan_key.as_deref().map(PlanKey::read).transpose() {
        Ok(key) => key,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::BadOptions;
        }
    };
    let mut plan = match PlanFile::read(&options.plan, key.as_ref(), options.digest.as_deref()) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::Invalid;
        }
    };
    if key.is_none() && options.digest.is_none() {
        eprintln!(
            "warning: {} is checked only against the digest it carries; pass --digest (printed by --plan-out) or use --plan-key to be sure it is the plan that was reviewed",
            options.plan.display()
        );
    }
    if let Some(key) = &key {
        if let Err(error) = plan.unseal(key) {
            eprintln!("error: {error}");
            return Exit::Invalid;
        }
    }
    if let Some(max_age) = &options.max_age {
        let limit = match parse_age(max_age) {
            Ok(limit) => limit,
            Err(message) => {
                eprintln!("error: --max-age: {message}");
                return Exit::BadOptions;
            }
        };
        let age = now_unix().saturating_sub(plan.created_unix);
        if age > limit {
            eprintln!(
                "error: {} was made {age} s ago, more than --max-age {max_age}; make a new plan",
                options.plan.display()
            );
            return Exit::Invalid;
        }
    }
    let mut args: RunArgs = match serde_json::from_value(plan.run.clone()) {
        Ok(args) => args,
        Err(error) => {
            eprintln!(
                "error: {} holds arguments this converge does not read: {error}",
                options.plan.display()
            );
            return Exit::Invalid;
        }
    };
    let (roots, exclude) = input_roots(&args, &options.plan, options.plan_key.as_deref());
    let changed = changed_inputs(&plan.inputs, &hash_inputs(&roots, &exclude));
    if !changed.is_empty() {
        eprintln!(
            "error: the inputs changed since {} was made; refusing to apply it (make a new plan):\n  {}",
            options.plan.display(),
            changed.join("\n  ")
        );
        return Exit::Invalid;
    }
    let sealed: Vec<String> = plan
        .hosts
        .iter()
        .flat_map(|(host, tasks)| {
            tasks
                .iter()
                .filter(|task| task.secret && task.content.is_none())
                .map(move |task| format!("{host}: {}", task.name))
        })
        .collect();
    if !sealed.is_empty() {
        eprintln!(
            "error: {} seals the content of {} (secrets): give --plan-key FILE",
            options.plan.display(),
            sealed.join(", ")
        );
        return Exit::BadOptions;
    }
    args.check = false;
    args.diff = options.diff;
    args.verbose = options.verbose;
    args.format = options.format;
    args.detailed_exitcode = false;
    let review = Review::new(plan.hosts, options.reviewed_only);
    crate::app::run_playbooks_with(&args, Some(Arc::new(Session::Apply(review))))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// `90m`, `12h`, `2d`, `30s` or plain seconds.
fn parse_age(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age like 90m, 12h or 2d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit must be s, m, h or d")),
    };
    Ok(number * seconds)
}

#[cfg(test)]
mod tests {
    use super::parse_age;

    #[test]
    fn ages_take_units() {
        assert_eq!(parse_age("90m"), Ok(5400));
        assert_eq!(parse_age("2d"), Ok(172_800));
        assert_eq!(parse_age("45"), Ok(45));
        assert!(parse_age("2w").is_err());
        assert!(parse_age("soon").is_err());
    }
}
