//! Tests of the playbook loader against the fixture playbooks and roles in
//! `tests/fixtures/playbooks/`: `valid/` is one playbook using every feature, `errors/` holds
//! one small file per problem.

use super::*;
use crate::playbook::model::{Block, Include, IncludeSource, NotImplemented, SerialStep};
use serde_json::json;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/playbooks")
}

fn options() -> LoadOptions {
    LoadOptions {
        shipped_roles: None,
        ..LoadOptions::default()
    }
}

fn valid() -> Playbook {
    match load_playbook(&fixtures().join("valid/site.yml"), &options()) {
        Ok(playbook) => playbook,
        Err(diagnostics) => panic!(
            "{}",
            diagnostics
                .0
                .iter()
                .map(Diagnostic::render)
                .collect::<String>()
        ),
    }
}

/// Each diagnostic as `file:line:col: message [hint]`, paths (in hints too) relative to the
/// fixtures.
fn errors(name: &str) -> Vec<String> {
    let root = fixtures();
    let diagnostics = match load_playbook(&root.join("errors").join(name), &options()) {
        Ok(_) => panic!("`{name}` loaded without errors"),
        Err(diagnostics) => diagnostics,
    };
    let root_text = format!("{}/", root.display());
    diagnostics
        .0
        .iter()
        .map(|d| {
            let location = d
                .location
                .as_ref()
                .map(Location::to_string)
                .unwrap_or_default();
            let hint = d
                .hint
                .as_ref()
                .map(|h| format!(" [{h}]"))
                .unwrap_or_default();
            format!("{location}: {}{hint}", d.message).replace(&root_text, "")
        })
        .collect()
}

/// A short picture of a task tree: `name` for tasks, `block(...)`, `include(...)`, `flush`.
fn outline(nodes: &[TaskNode]) -> Vec<String> {
    nodes
        .iter()
        .map(|node| match node {
            TaskNode::Task(task) => task
                .common
                .name
                .clone()
                .unwrap_or_else(|| format!("<{}>", task.module)),
            TaskNode::Block(block) => format!(
                "block({} | {} | {})",
                outline(&block.block).join(", "),
                outline(&block.rescue).join(", "),
                outline(&block.always).join(", ")
            ),
            TaskNode::Include(include) => match &include.source {
                IncludeSource::Static(nodes) => format!("include({})", outline(nodes).join(", ")),
                IncludeSource::Dynamic { file, .. } => format!("include({file})"),
            },
            TaskNode::FlushHandlers => "flush".into(),
        })
        .collect()
}

/// Every task of the tree, depth first.
fn all_tasks(nodes: &[TaskNode]) -> Vec<&Task> {
    let mut tasks = Vec::new();
    for node in nodes {
        match node {
            TaskNode::Task(task) => tasks.push(task),
            TaskNode::Block(block) => {
                tasks.extend(all_tasks(&block.block));
                tasks.extend(all_tasks(&block.rescue));
                tasks.extend(all_tasks(&block.always));
            }
            TaskNode::Include(Include {
                source: IncludeSource::Static(nodes),
                ..
            }) => tasks.extend(all_tasks(nodes)),
            _ => {}
        }
    }
    tasks
}

fn task<'p>(play: &'p Play, name: &str) -> &'p Task {
    all_tasks(&play.tasks)
        .into_iter()
        .find(|task| task.common.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no task `{name}`"))
}

fn when(task: &Task) -> Vec<&str> {
    task.common
        .when
        .iter()
        .map(|c| c.expression.as_str())
        .collect()
}

#[test]
fn play_sections_run_in_ansible_order() {
    let playbook = valid();
    assert_eq!(playbook.plays.len(), 2, "import_playbook spliced first");
    let play = &playbook.plays[1];
    assert_eq!(
        outline(&play.tasks),
        [
            "say hello",
            "flush",
            // Roles: `common`, then `web` with its dependencies first (`common` already ran
            // with the same parameters, so only `base_dep`), then `common` again: skipped.
            "common task",
            "base dep task",
            "web task",
            "include(other task)",
            "list tmp",
            "flush",
            "block(in block | <debug> | <debug>)",
            "extra one",
            "nested",
            "include(looped)",
            "include(tasks/{{ ansible_os_family }}.yml)",
            "config",
            "flush",
            "<set_fact>",
            "flush",
        ]
    );
}

#[test]
fn play_keywords() {
    let playbook = valid();
    let base = &playbook.plays[0];
    assert_eq!((base.name.as_str(), base.hosts.as_str()), ("all", "all"));
    assert!(!base.gather_facts);
    let play = &playbook.plays[1];
    assert_eq!(play.name, "web servers");
    assert_eq!(play.hosts, "web:db");
    assert!(play.gather_facts);
    assert_eq!(play.become_settings.enabled, Some(true));
    assert_eq!(play.serial, [SerialStep::Count(1), SerialStep::Percent(50)]);
    assert_eq!(play.vars.get("http_port"), Some(&json!(80)));
    assert_eq!(play.vars_files.len(), 1);
    assert_eq!(play.vars_files[0].vars.get("common_var"), Some(&json!(1)));
    assert_eq!((play.location.line, play.location.column), (4, 3));
}

#[test]
fn roles_are_instances_with_params_defaults_and_vars() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let roles: Vec<(&str, Value)> = play
        .roles
        .iter()
        .map(|instance| {
            (
                instance.role.name.as_str(),
                Value::Object(instance.params.clone()),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("common", json!({})),
            ("base_dep", json!({"dep_param": 2})),
            ("base_dep", json!({})),
            ("web", json!({"port": 8080})),
        ]
    );
    assert_eq!(
        play.roles[0].role.defaults.get("common_default"),
        Some(&json!(1))
    );
    assert_eq!(play.roles[3].role.vars.get("web_var"), Some(&json!(2)));
    assert!(play.roles[3].role.path.ends_with("valid/roles/web"));
    let web_task = task(play, "web task");
    let role = web_task
        .common
        .role
        .as_ref()
        .expect("role task has its role");
    assert_eq!(role.role.name, "web");
}

#[test]
fn role_when_tags_and_become_reach_each_task() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let web = task(play, "web task");
    assert_eq!(web.common.tags, ["site", "web"]);
    assert_eq!(when(web), ["web_enabled"]);
    assert_eq!(web.common.become_settings.user.as_deref(), Some("www"));
    // A dependency inherits the depending role's keywords.
    let dependency = task(play, "base dep task");
    assert_eq!(dependency.common.tags, ["site", "web"]);
    assert_eq!(when(dependency), ["web_enabled"]);
    assert_eq!(
        dependency
            .common
            .role
            .as_ref()
            .map(|r| r.role.name.as_str()),
        Some("base_dep")
    );
    let common = task(play, "common task");
    assert_eq!(common.common.tags, ["site"]);
    assert!(common.common.when.is_empty());
}

#[test]
fn imports_apply_their_keywords_to_each_task() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let extra = task(play, "extra one");
    assert_eq!(extra.common.tags, ["site", "extra", "own"]);
    assert_eq!(when(extra), ["extra_enabled"]);
    assert_eq!(extra.common.vars.get("extra_var"), Some(&json!(1)));
    // An import inside an import, resolved next to the importing file.
    let nested = task(play, "nested");
    assert_eq!(nested.common.tags, ["site", "extra"]);
    assert_eq!(when(nested), ["extra_enabled"]);
    assert!(nested
        .common
        .location
        .file
        .ends_with("valid/tasks/nested.yml"));
    // import_playbook's tags reach the imported play's tasks.
    let ping = task(&playbook.plays[0], "ping");
    assert_eq!(ping.common.tags, ["imported"]);
}

#[test]
fn blocks_keep_their_when_and_pass_their_tags() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let block: &Block = play
        .tasks
        .iter()
        .find_map(|node| match node {
            TaskNode::Block(block) => Some(block),
            _ => None,
        })
        .expect("a block");
    assert_eq!(block.common.name.as_deref(), Some("grouped"));
    assert_eq!(block.common.tags, ["site", "blk"]);
    assert_eq!(
        block.common.when[0].expression,
        "ansible_os_family == \"Debian\""
    );
    let inner = task(play, "in block");
    assert_eq!(inner.common.tags, ["site", "blk"]);
    assert!(inner.common.when.is_empty(), "evaluated once, on the block");
    assert_eq!(
        inner.module, "file",
        "canonical name of ansible.builtin.file"
    );
    assert_eq!(inner.args, json!({"path": "/tmp/a", "state": "directory"}));
    let items = inner.loop_items.as_ref().expect("a loop");
    assert_eq!(items.items, json!([1, 2]));
    assert_eq!(items.loop_var, "dir");
    assert_eq!(items.label.as_deref(), Some("{{ dir }}"));
    assert!(!items.flatten);
}

#[test]
fn includes_are_static_unless_templated() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let includes: Vec<&Include> = play
        .tasks
        .iter()
        .filter_map(|node| match node {
            TaskNode::Include(include) => Some(include),
            _ => None,
        })
        .collect();
    assert_eq!(includes.len(), 3);
    let with_items = includes[1].loop_items.as_ref().expect("include loop");
    assert_eq!(with_items.items, json!([["a", "b"], "c"]));
    assert!(with_items.flatten);
    match &includes[2].source {
        IncludeSource::Dynamic { file, base_dir } => {
            assert_eq!(file, "tasks/{{ ansible_os_family }}.yml");
            assert_eq!(
                base_dir,
                &fixtures().join("valid"),
                "the including file's directory"
            );
        }
        IncludeSource::Static(_) => panic!("a templated name is included at run time"),
    }
    // include_role in a role: the included role's tasks carry that role.
    let other = task(play, "other task");
    assert_eq!(
        other.common.role.as_ref().map(|r| r.role.name.as_str()),
        Some("base_dep")
    );
}

#[test]
fn free_form_arguments_are_split() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let list = task(play, "list tmp");
    assert_eq!(list.module, "command");
    assert_eq!(
        list.args,
        json!({"cmd": "ls -l /tmp", "chdir": "/var", "creates": "/tmp/x"})
    );
    assert_eq!(list.argument_locations["cmd"].line, 27);
    let hello = task(play, "say hello");
    assert_eq!(hello.args, json!({"msg": "hello {{ inventory_hostname }}"}));
    let config = task(play, "config");
    assert_eq!(
        config.args,
        json!({"src": "app.conf.j2", "dest": "/etc/app.conf"})
    );
    let src = &config.argument_locations["src"];
    assert_eq!((src.line, src.column), (55, 9));
    assert_eq!(config.notify, ["restart app"]);
    assert_eq!(
        config
            .changed_when
            .as_ref()
            .map(|c| c[0].expression.as_str()),
        Some("false")
    );
    let last = all_tasks(&play.tasks).pop().expect("post task");
    assert_eq!(last.module, "set_fact");
    assert_eq!(last.args, json!({"finished": "yes"}));
}

#[test]
fn handlers_come_from_the_play_then_its_roles() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let handlers: Vec<(&str, &[String])> = play
        .handlers
        .iter()
        .map(|h| (h.common.name.as_deref().unwrap_or(""), h.listen.as_slice()))
        .collect();
    assert_eq!(
        handlers,
        [
            ("restart app", &["app changed".to_string()][..]),
            ("common handler", &[][..]),
        ]
    );
    assert_eq!(
        play.handlers[1]
            .common
            .role
            .as_ref()
            .map(|r| r.role.name.as_str()),
        Some("common")
    );
    assert_eq!(
        play.handlers[0].args,
        json!({"name": "app", "state": "restarted"})
    );
}

#[test]
fn sources_are_found_in_the_role_then_the_playbook() {
    let playbook = valid();
    let play = &playbook.plays[1];
    let web = task(play, "web task");
    let dir = fixtures().join("valid");
    let found = resolve_source(
        SourceKind::Template,
        "web.conf.j2",
        web.common.role.as_deref(),
        &dir,
    );
    assert_eq!(found, Ok(dir.join("roles/web/templates/web.conf.j2")));
    let found = resolve_source(
        SourceKind::Template,
        "app.conf.j2",
        web.common.role.as_deref(),
        &dir,
    );
    assert_eq!(found, Ok(dir.join("templates/app.conf.j2")));
    let missing = resolve_source(SourceKind::File, "nope", web.common.role.as_deref(), &dir);
    assert_eq!(
        missing,
        Err(vec![
            dir.join("roles/web/files/nope"),
            dir.join("roles/web/nope"),
            dir.join("roles/web/tasks/files/nope"),
            dir.join("roles/web/tasks/nope"),
            dir.join("files/nope"),
            dir.join("nope")
        ])
    );
}

#[test]
fn task_file_loads_alone_for_run_time_includes() {
    let path = fixtures().join("valid/tasks/extra.yml");
    let nodes = load_task_file(&path, None, &options()).expect("loads");
    assert_eq!(outline(&nodes), ["extra one", "nested"]);
}

#[test]
fn malformed_yaml() {
    assert_eq!(
        errors("malformed.yml"),
        ["errors/malformed.yml:4:14: invalid YAML: unclosed bracket '['"]
    );
}

#[test]
fn task_without_module() {
    let errors = errors("no_module.yml");
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "errors/no_module.yml:3:7: task has no module [expected one of `apt`, `apt_repository`, `assert`,"
        ),
        "{}",
        errors[0]
    );
}

#[test]
fn task_with_two_modules() {
    assert_eq!(
        errors("two_modules.yml"),
        ["errors/two_modules.yml:5:7: task has two modules: `copy` and `file` [a task runs one module; split it into two tasks]"]
    );
}

#[test]
fn unknown_module_suggests_the_closest() {
    assert_eq!(
        errors("unknown_module.yml"),
        ["errors/unknown_module.yml:4:7: unknown module `cpy` [did you mean `copy`?]"]
    );
}

#[test]
fn misspelt_keyword_suggests_the_keyword() {
    assert_eq!(
        errors("misspelt_keyword.yml"),
        ["errors/misspelt_keyword.yml:5:7: unknown task keyword `whne` [did you mean `when`?]"]
    );
}

#[test]
fn missing_role_lists_the_searched_paths() {
    let root = fixtures();
    let options = LoadOptions {
        roles_path: vec![PathBuf::from("/srv/roles")],
        shipped_roles: Some(PathBuf::from("/usr/share/converge/roles")),
        ..LoadOptions::default()
    };
    let diagnostics = load_playbook(&root.join("errors/missing_role.yml"), &options)
        .expect_err("role is missing");
    let diagnostic = &diagnostics.0[0];
    assert_eq!(diagnostic.message, "role `nosuchrole` not found");
    let location = diagnostic.location.as_ref().expect("location");
    assert_eq!((location.line, location.column), (3, 13));
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some(
            format!(
                "looked in {}, /srv/roles/nosuchrole, /usr/share/converge/roles/nosuchrole",
                root.join("errors/roles/nosuchrole").display()
            )
            .as_str()
        )
    );
}

#[test]
fn circular_role_dependency_names_the_chain() {
    assert_eq!(
        errors("role_cycle.yml"),
        ["errors/roles/cycle_b/meta/main.yml:2:11: role `cycle_a` depends on itself: cycle_a -> cycle_b -> cycle_a [remove one of the dependencies in the roles' `meta/main.yml`]"]
    );
}

#[test]
fn missing_task_files() {
    assert_eq!(
        errors("missing_task_file.yml"),
        [
            "errors/missing_task_file.yml:3:21: task file `tasks/nope.yml` not found [looked in errors/tasks/nope.yml]",
            "errors/missing_task_file.yml:5:15: task file `other/nope.yml` not found [looked in errors/other/nope.yml]",
        ]
    );
}

#[test]
fn import_of_itself() {
    assert_eq!(
        errors("import_cycle.yml"),
        ["errors/tasks/self_import.yml:1:17: `self_import.yml` imports itself: tasks/self_import.yml -> tasks/self_import.yml [use `include_tasks` with a `when:` that ends the recursion]"]
    );
}

#[test]
fn missing_template_and_copy_sources() {
    assert_eq!(
        errors("missing_source.yml"),
        [
            "errors/missing_source.yml:6:9: template `sshd.conf.j2` not found [looked in errors/templates/sshd.conf.j2, errors/sshd.conf.j2]",
            "errors/missing_source.yml:8:13: file `motd` not found [looked in errors/files/motd, errors/motd]",
        ]
    );
}

#[test]
fn unknown_and_unsupported_play_keys() {
    assert_eq!(
        errors("unknown_play_key.yml"),
        [
            "errors/unknown_play_key.yml:2:3: unknown play keyword `gather_fact` [did you mean `gather_facts`?]",
            "errors/unknown_play_key.yml:3:3: `strategy` is not supported by converge yet",
        ]
    );
}

#[test]
fn keyword_with_the_wrong_type() {
    assert_eq!(
        errors("wrong_type.yml"),
        [
            "errors/wrong_type.yml:2:11: `become` must be a boolean (yes/no, true/false), found `maybe`",
            "errors/wrong_type.yml:6:13: `tags` must be a string or a list of strings, found a mapping",
        ]
    );
}

#[test]
fn unsupported_task_keyword_is_not_ignored() {
    assert_eq!(
        errors("unsupported.yml"),
        ["errors/unsupported.yml:5:7: `async` is not supported by converge yet"]
    );
}

#[test]
fn argument_errors_point_at_the_argument() {
    assert_eq!(
        errors("bad_args.yml"),
        [
            "errors/bad_args.yml:5:9: unknown argument `mgs` for module `debug` [did you mean `msg`?]",
            // With a template the value is not checked, the name still is.
            "errors/bad_args.yml:8:9: unknown argument `mgs` for module `debug` [did you mean `msg`?]",
            "errors/bad_args.yml:10:13: `/etc/b` is not a `key=value` argument [write `copy` arguments as a mapping, or as `key=value` words quoted like a shell]",
            "errors/bad_args.yml:13:15: no handler is named or listens to `restart sshd` [did you mean `restart ssh`?]",
        ]
    );
}

#[test]
fn run_time_task_file_checks_sources_only_with_the_playbook_dir() {
    // The role's task file loaded without its role: `motd` is only in the role's `files/`.
    let tasks = fixtures().join("valid/roles/common/tasks/main.yml");
    assert!(load_task_file(&tasks, None, &options()).is_ok());
    let with_dir = LoadOptions {
        playbook_dir: Some(fixtures().join("valid")),
        ..options()
    };
    let diagnostics = load_task_file(&tasks, None, &with_dir).expect_err("motd is in the role");
    assert_eq!(diagnostics.0[0].message, "file `motd` not found");
}

#[test]
fn recursive_include_is_left_to_run_time() {
    let playbook = load_playbook(&fixtures().join("recursive/site.yml"), &options())
        .expect("a recursion ended by `when` is valid");
    let outer = match &playbook.plays[0].tasks[1] {
        TaskNode::Include(include) => include,
        _ => panic!("expected the include"),
    };
    let IncludeSource::Static(nodes) = &outer.source else {
        panic!("the first include has a fixed name");
    };
    assert_eq!(nodes.len(), 2);
    assert_eq!(outline(nodes)[0], "count");
    match &nodes[1] {
        TaskNode::Include(Include {
            source: IncludeSource::Dynamic { file, base_dir },
            common,
            ..
        }) => {
            let path = base_dir.join(file);
            assert!(Path::new(file).is_absolute(), "{file}");
            assert!(path.ends_with("recursive/tasks/countdown.yml"));
            assert_eq!(common.when[0].expression, "count | int > 0");
        }
        _ => panic!("the inner include loads at run time"),
    }
}

#[test]
fn keywords_in_the_wrong_place() {
    assert_eq!(
        errors("misplaced.yml"),
        [
            "errors/misplaced.yml:3:7: vars file `vars/missing.yml` not found [looked in errors/vars/missing.yml]",
            "errors/misplaced.yml:7:7: `listen` only works on handlers [move the task under `handlers:`]",
            "errors/misplaced.yml:11:7: `loop` cannot be used on a block",
            "errors/misplaced.yml:15:7: task has both `loop` and `with_items` [use one `loop:`]",
            "errors/misplaced.yml:21:7: `rescue` needs a `block` [put the tasks `rescue` handles under `block:` in the same task]",
            "errors/misplaced.yml:25:22: `become_method` must be `sudo` or `su`, found `doas` [converge becomes with `sudo` or `su`]",
            "errors/misplaced.yml:26:7: `import_playbook` only works between plays, not among tasks [move it to the top level of the playbook, next to the plays]",
        ]
    );
}

/// Write `files` (relative path, content) into a temp dir and load `site.yml` from it.
fn load_in_temp(
    files: &[(&str, &str)],
    options: &LoadOptions,
) -> (tempfile::TempDir, Result<Playbook, Diagnostics>) {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    let loaded = load_playbook(&dir.path().join("site.yml"), options);
    (dir, loaded)
}

fn loaded(result: Result<Playbook, Diagnostics>) -> Playbook {
    result.unwrap_or_else(|diagnostics| {
        panic!(
            "{}",
            diagnostics
                .0
                .iter()
                .map(Diagnostic::render)
                .collect::<String>()
        )
    })
}

#[test]
fn keyword_modules_accept_collection_spellings() {
    let (_dir, result) = load_in_temp(
        &[
            (
                "site.yml",
                "- ansible.builtin.import_playbook: other.yml\n\
                 - hosts: all\n  tasks:\n\
                 \x20   - ansible.builtin.include_tasks: inc.yml\n\
                 \x20   - ansible.legacy.import_tasks: inc.yml\n\
                 \x20   - ansible.builtin.include_role: {name: r}\n\
                 \x20   - ansible.legacy.import_role: {name: r}\n\
                 \x20   - ansible.builtin.meta: flush_handlers\n\
                 \x20   - {name: facts, ansible.legacy.setup: {}}\n\
                 \x20   - {name: fact, ansible.builtin.set_fact: {a: 1}}\n\
                 \x20   - {name: vars, ansible.legacy.include_vars: v.yml}\n\
                 \x20   - {name: say, ansible.legacy.debug: {msg: hi}}\n\
                 \x20   - {name: check, ansible.builtin.assert: {that: [a == 1]}}\n\
                 \x20   - {name: stop, ansible.legacy.fail: {msg: stop}}\n\
                 \x20   - {name: group, ansible.builtin.group_by: {key: x}}\n",
            ),
            ("other.yml", "- hosts: all\n  tasks: []\n"),
            ("inc.yml", "- {name: included, debug: {msg: in}}\n"),
            ("v.yml", "b: 2\n"),
            (
                "roles/r/tasks/main.yml",
                "- {name: from role, debug: {msg: r}}\n",
            ),
        ],
        &options(),
    );
    let playbook = loaded(result);
    assert_eq!(playbook.plays.len(), 2, "import_playbook spliced");
    let play = &playbook.plays[1];
    let modules: Vec<&str> = play
        .tasks
        .iter()
        .filter_map(|node| match node {
            TaskNode::Task(task) => Some(task.module.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        modules,
        [
            "debug",
            "debug",
            "setup",
            "set_fact",
            "include_vars",
            "debug",
            "assert",
            "fail",
            "group_by"
        ]
    );
    assert!(play
        .tasks
        .iter()
        .skip(2)
        .any(|node| matches!(node, TaskNode::FlushHandlers)));
    assert_eq!(task(play, "vars").args, json!({"file": "v.yml"}));
    assert!(matches!(
        task(play, "group").not_implemented(),
        Some(NotImplemented::Module { .. })
    ));
}

#[test]
fn collection_roles_are_found_beside_the_playbook_and_in_the_collections_path() {
    let role = "- {name: nginx task, debug: {msg: n}}\n";
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let other_role = elsewhere
        .path()
        .join("ansible_collections/other/db/roles/pg/tasks");
    std::fs::create_dir_all(&other_role).expect("mkdir");
    std::fs::write(
        other_role.join("main.yml"),
        "- {name: pg task, debug: {msg: p}}\n",
    )
    .expect("write");
    let options = LoadOptions {
        collections_path: vec![elsewhere.path().to_path_buf()],
        ..options()
    };
    let (_dir, result) = load_in_temp(
        &[
            (
                "site.yml",
                "- hosts: all\n  collections: [acme.web]\n  roles:\n    - nginx\n    - acme.web.nginx\n    - other.db.pg\n",
            ),
            ("collections/ansible_collections/acme/web/roles/nginx/tasks/main.yml", role),
            (
                "collections/ansible_collections/acme/web/roles/nginx/meta/main.yml",
                "allow_duplicates: true\n",
            ),
        ],
        &options,
    );
    let playbook = loaded(result);
    let play = &playbook.plays[0];
    let names: Vec<&str> = all_tasks(&play.tasks)
        .iter()
        .filter_map(|task| task.common.name.as_deref())
        .collect();
    assert_eq!(names, ["nginx task", "nginx task", "pg task"]);

    let (_dir, result) = load_in_temp(
        &[("site.yml", "- hosts: all\n  roles: [acme.web.nginx]\n")],
        &options,
    );
    let diagnostics = result.expect_err("no such collection");
    assert_eq!(diagnostics.0[0].message, "role `acme.web.nginx` not found");
}

#[test]
fn a_module_only_ansible_has_loads_and_says_why_it_cannot_run() {
    let (_dir, result) = load_in_temp(
        &[(
            "site.yml",
            "- hosts: all\n  tasks:\n\
             \x20   - {name: rpm, yum: {name: httpd, enablerepo: epel}, when: \"ansible_os_family == 'RedHat'\"}\n\
             \x20   - {name: fw, community.general.snap: {name: hello}}\n\
             \x20   - {name: short, snap: {name: hello}}\n\
             \x20   - {name: run, ansible.builtin.script: setup.sh --fast}\n",
        )],
        &options(),
    );
    let playbook = loaded(result);
    let play = &playbook.plays[0];
    let yum = task(play, "rpm");
    assert_eq!(yum.module, "yum");
    let reason = yum.not_implemented().expect("not implemented");
    assert_eq!(
        reason.to_string(),
        "module `yum` exists in Ansible but is not implemented by converge"
    );
    assert!(reason.hint().contains("`package`"), "{}", reason.hint());
    assert_eq!(when(yum), ["ansible_os_family == 'RedHat'"]);
    assert_eq!(task(play, "fw").module, "community.general.snap");
    assert_eq!(
        task(play, "short").not_implemented(),
        Some(&NotImplemented::Module {
            module: "snap".into(),
            fqcn: "community.general.snap".into(),
            equivalent: None,
        })
    );
    assert_eq!(
        task(play, "run").args,
        json!({"_raw_params": "setup.sh --fast"})
    );
}

#[test]
fn arguments_only_ansible_has_are_kept_for_the_runner_or_dropped_with_a_note() {
    let (_dir, result) = load_in_temp(
        &[(
            "site.yml",
            "- hosts: all\n  tasks:\n\
             \x20   - {name: pkg, package: {name: httpd, enablerepo: epel}}\n\
             \x20   - {name: motd, replace: {path: /etc/motd, regexp: a, replace: b, setype: etc_t, unsafe_writes: true}}\n",
        )],
        &options(),
    );
    let playbook = loaded(result);
    let play = &playbook.plays[0];
    let package = task(play, "pkg");
    assert_eq!(
        package
            .not_implemented()
            .map(ToString::to_string)
            .as_deref(),
        Some("argument `enablerepo` of `package` is not implemented by converge")
    );
    assert_eq!(
        package.args["enablerepo"],
        json!("epel"),
        "kept, so it cannot be skipped"
    );
    // `replace` lacks the SELinux arguments `copy` and `file` accept (without effect).
    let replace = task(play, "motd");
    assert_eq!(replace.not_implemented, None);
    assert_eq!(
        replace.args,
        json!({"path": "/etc/motd", "regexp": "a", "replace": "b"})
    );
    let notes: Vec<&str> = playbook.notes.iter().map(|n| n.message.as_str()).collect();
    assert_eq!(
        notes,
        [
            "argument `setype` of `replace` is ignored: it has no effect on the hosts converge manages",
            "argument `unsafe_writes` of `replace` is ignored: it has no effect on the hosts converge manages",
        ]
    );
}

#[test]
fn names_unknown_to_ansible_too_stay_errors() {
    let (_dir, result) = load_in_temp(
        &[(
            "site.yml",
            "- hosts: all\n  tasks:\n\
             \x20   - yum: {nme: httpd}\n\
             \x20   - copy: {dest: /x, content: y, setypo: z}\n\
             \x20   - yumm: {name: httpd}\n",
        )],
        &options(),
    );
    let messages: Vec<String> = result
        .expect_err("typos")
        .0
        .iter()
        .map(|d| format!("{} [{}]", d.message, d.hint.clone().unwrap_or_default()))
        .collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert_eq!(
        messages[0],
        "unknown argument `nme` for module `yum` [did you mean `name`?]"
    );
    assert!(
        messages[1].starts_with("unknown argument `setypo`"),
        "{}",
        messages[1]
    );
    assert!(
        messages[2].starts_with("unknown module `yumm`"),
        "{}",
        messages[2]
    );
}

/// robertdebock's users role puts `loop_control: {label: ...}` on tasks without a loop;
/// Ansible ignores it, so it loads with a warning instead of refusing the run.
#[test]
fn loop_control_without_a_loop_is_a_warning() {
    let (_dir, result) = load_in_temp(
        &[(
            "site.yml",
            "- hosts: all\n  tasks:\n\
             \x20   - debug: {msg: hi}\n\
             \x20     loop_control: {label: x}\n",
        )],
        &options(),
    );
    let playbook = loaded(result);
    let notes: Vec<String> = playbook
        .notes
        .iter()
        .map(|n| {
            format!(
                "{}: {}",
                n.location.as_ref().map(|l| l.line).unwrap_or(0),
                n.message
            )
        })
        .collect();
    assert_eq!(
        notes,
        ["4: `loop_control` without a loop has no effect (Ansible ignores it too)"]
    );
}

/// An include's `args:` is merged into its arguments; those written with the include win.
#[test]
fn include_args_merge_under_the_includes_own() {
    let (_dir, result) = load_in_temp(
        &[
            (
                "site.yml",
                "- hosts: all\n  tasks:\n\
                 \x20   - include_tasks: {file: a.yml}\n\
                 \x20     args: {file: b.yml, apply: {tags: [x]}}\n",
            ),
            ("a.yml", "- debug: {msg: a}\n"),
            ("b.yml", "- debug: {msg: b}\n"),
        ],
        &options(),
    );
    let playbook = loaded(result);
    let include = playbook.plays[0]
        .tasks
        .iter()
        .find_map(|node| match node {
            TaskNode::Include(include) => Some(include),
            _ => None,
        })
        .expect("the include");
    let IncludeSource::Static(nodes) = &include.source else {
        panic!("a fixed name loads statically");
    };
    let TaskNode::Task(task) = &nodes[0] else {
        panic!("expected a task");
    };
    assert_eq!(task.args["msg"], json!("a"));
    assert!(include.apply.is_some(), "apply from args");
}
