//! `converge show plan.json`: the plan as `--check --diff` printed it, and the tasks decided
//! at apply time, which nobody has reviewed.

use super::file::PlanFile;
use super::{Decision, PlannedTask};
use crate::report::diff::Palette;
use crate::report::{format_task, Status, TaskReport};

/// The plan as text: a header, each host's tasks with their diffs, then a summary.
pub fn render(plan: &PlanFile, digest: &str) -> String {
    let list = |key: &str| -> String {
        plan.run[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    };
    let limit = plan.run["limit"]
        .as_str()
        .map(|limit| format!(" --limit {limit}"))
        .unwrap_or_default();
    let mut out = format!(
        "plan made {} by converge {} in {}\n  playbooks: {}  inventory: {}{limit}\n  digest {digest}\n  {} input files\n",
        age_text(plan.created_unix),
        plan.converge_version,
        plan.workdir.display(),
        list("playbooks"),
        list("inventory"),
        plan.inputs.len(),
    );
    let mut apply_time = Vec::new();
    let mut changed = 0;
    for (host, tasks) in &plan.hosts {
        out.push_str(&format!("\nHOST {host}\n"));
        for task in tasks {
            out.push_str(&render_task(host, task));
            match task.decision {
                Decision::Changed => changed += 1,
                Decision::ApplyTime => apply_time.push(format!("{host}: {}", task.name)),
                Decision::Ok => {}
            }
        }
    }
    out.push_str(&format!(
        "\n{} hosts, {changed} tasks that change something, {} decided at apply time\n",
        plan.hosts.len(),
        apply_time.len()
    ));
    if !apply_time.is_empty() {
        out.push_str(
            "decided at apply time (not reviewed; `apply --reviewed-only` refuses them):\n",
        );
        for line in &apply_time {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

fn render_task(host: &str, task: &PlannedTask) -> String {
    let (status, message) = match (&task.decision, &task.content) {
        (Decision::ApplyTime, _) => (
            Status::Skipped,
            Some(format!(
                "decided at apply time: {}",
                task.reason.as_deref().unwrap_or("check mode cannot tell")
            )),
        ),
        (_, None) => (
            Status::Changed,
            Some("content sealed (it holds secrets); give --plan-key to show it".into()),
        ),
        (Decision::Changed, Some(_)) => (Status::Changed, None),
        (Decision::Ok, Some(_)) => (Status::Ok, None),
    };
    let changes = task
        .content
        .as_ref()
        .map(|content| content.changes.as_slice())
        .unwrap_or_default();
    let report = TaskReport {
        host,
        task: &task.name,
        item: None,
        status,
        changes,
        message,
        ignored: false,
        no_log: false,
    };
    // Verbosity 2 so that tasks decided at apply time (shown as skipped) are listed.
    format_task(&report, true, 2, Palette::PLAIN)
}

/// "2026-12-07 04:00 UTC".
fn age_text(unix: u64) -> String {
    let days = unix / 86_400;
    let (hour, minute) = ((unix % 86_400) / 3600, (unix % 3600) / 60);
    let (year, month, day) = converge_modules::setup::civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(age_text(0), "1970-01-01 00:00 UTC");
        assert_eq!(age_text(1_796_616_000), "2026-12-07 04:00 UTC");
        assert_eq!(age_text(951_782_400), "2000-02-29 00:00 UTC");
    }
}
