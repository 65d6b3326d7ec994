//! Loading the fixture inventories under `tests/fixtures/inventory/`: hosts, groups, merged
//! variables and their precedence, every pattern form, and each error with its place.

use super::*;
use serde_json::json;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventory")
        .join(path)
}

fn load(path: &str) -> Inventory {
    match Inventory::load(&[fixture(path)]) {
        Ok(inventory) => inventory,
        Err(error) => panic!("{error}"),
    }
}

fn load_error(path: &str) -> Diagnostic {
    match Inventory::load(&[fixture(path)]) {
        Ok(_) => panic!("`{path}` loaded without error"),
        Err(error) => error,
    }
}

/// (file name, line, column) of a diagnostic.
fn place(error: &Diagnostic) -> (String, usize, usize) {
    let location = error.location.clone().unwrap_or_default();
    let name = location
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (name, location.line, location.column)
}

fn names(hosts: &[&InventoryHost]) -> Vec<String> {
    hosts.iter().map(|h| h.name.clone()).collect()
}

fn select(inventory: &Inventory, pattern: &str) -> Vec<String> {
    names(&inventory.select(pattern))
}

const ALL_HOSTS: [&str; 7] = [
    "bastion.example.org",
    "web01.example.org",
    "web02.example.org",
    "web03.example.org",
    "db-a",
    "db-b",
    "db-c",
];

#[test]
fn yaml_inventory_hosts_in_order_with_ranges_expanded() {
    let inventory = load("basic/hosts.yml");
    let hosts: Vec<&str> = inventory.hosts().iter().map(|h| h.name.as_str()).collect();
    assert_eq!(hosts, ALL_HOSTS);
}

#[test]
fn host_groups_in_precedence_order() {
    let inventory = load("basic/hosts.yml");
    let groups = |name: &str| {
        inventory
            .host(name)
            .map(|h| h.groups.clone())
            .unwrap_or_default()
    };
    assert_eq!(groups("bastion.example.org"), ["all", "ungrouped"]);
    assert_eq!(groups("web01.example.org"), ["all", "prod", "web"]);
    // Listed under `web` (via prod) and `staging`: one host, every group.
    assert_eq!(
        groups("web03.example.org"),
        ["all", "prod", "staging", "web"]
    );
    // `ordered` has ansible_group_priority 10, so it sorts after `prod` at the same depth.
    assert_eq!(groups("db-a"), ["all", "prod", "ordered", "db"]);
    assert_eq!(
        inventory
            .host("web03.example.org")
            .map(InventoryHost::group_names)
            .unwrap_or_default(),
        ["prod", "staging", "web"]
    );
}

#[test]
fn groups_magic_variable() {
    let inventory = load("basic/hosts.yml");
    let groups = inventory.groups_map();
    // Ansible lists a group's own hosts, then its descendants' breadth first: `staging` and
    // `ordered` are children of `all`, `web` and `db` grandchildren.
    assert_eq!(
        groups["all"],
        json!([
            "bastion.example.org",
            "web03.example.org",
            "db-a",
            "web01.example.org",
            "web02.example.org",
            "db-b",
            "db-c"
        ])
    );
    assert_eq!(groups["ungrouped"], json!(["bastion.example.org"]));
    assert_eq!(
        groups["prod"],
        json!([
            "web01.example.org",
            "web02.example.org",
            "web03.example.org",
            "db-a",
            "db-b",
            "db-c"
        ])
    );
    assert_eq!(groups["staging"], json!(["web03.example.org"]));
    assert_eq!(groups["ordered"], json!(["db-a"]));
    let keys: Vec<&String> = groups.keys().collect();
    assert_eq!(
        keys,
        [
            "all",
            "ungrouped",
            "prod",
            "web",
            "db",
            "staging",
            "ordered"
        ]
    );
}

#[test]
fn ini_and_yaml_describe_the_same_inventory() {
    let yaml = load("basic/hosts.yml");
    let ini = load("basic/hosts.ini");
    assert_eq!(yaml.hosts(), ini.hosts());
    assert_eq!(yaml.groups_map(), ini.groups_map());
    for host in ALL_HOSTS {
        assert_eq!(yaml.host_vars(host), ini.host_vars(host), "{host}");
    }
    for pattern in [
        "all",
        "prod:!staging",
        "web[0]",
        "db-*:&ordered",
        "~web0[12]",
    ] {
        assert_eq!(select(&yaml, pattern), select(&ini, pattern), "{pattern}");
    }
}

#[test]
fn merged_variables_follow_ansible_precedence() {
    let inventory = load("basic/hosts.yml");
    let web01 = inventory.host_vars("web01.example.org");
    assert_eq!(
        Value::Object(web01),
        json!({
            // inventory `all` vars
            "ntp_server": "ntp.example.org",
            // host_vars/web01 beats group_vars/web beats group_vars/all beats inventory groups
            "level": "web01-hv",
            "env": "production",
            "role_name": "web",
            "timezone": "UTC",
            "monitoring": "enabled",
            "packages": ["nginx"],
            // 20-override.yaml replaced the whole dict from 10-main.yml
            "tuning": {"workers": 8},
            "http_port": 8080,
            "ansible_host": "10.0.0.11",
        })
    );
    let web02 = inventory.host_vars("web02.example.org");
    assert_eq!(web02["level"], json!("web-gv"));
    // web03 is in prod and staging (same depth): staging sorts later and wins; its host
    // entry under staging came last and wins too.
    let web03 = inventory.host_vars("web03.example.org");
    assert_eq!(web03["env"], json!("staging"));
    assert_eq!(web03["http_port"], json!(9090));
    let db_a = inventory.host_vars("db-a");
    assert_eq!(db_a["level"], json!("all-gv"));
    assert_eq!(db_a["ansible_user"], json!("postgres"));
    // group_vars/db (no extension) shadows db.json entirely.
    assert_eq!(db_a["backup"], json!(true));
    assert!(!db_a.contains_key("from_json"));
    let bastion = inventory.host_vars("bastion.example.org");
    assert_eq!(bastion["ansible_port"], json!(2222));
    assert_eq!(bastion["level"], json!("all-gv"));
    assert!(!bastion.contains_key("env"));
    assert!(inventory.host_vars("nosuchhost").is_empty());
}

#[test]
fn group_priority_decides_between_groups_at_the_same_depth() {
    // Without group_vars the inventory-file values show the order: `ordered` (priority 10)
    // beats `prod` (priority 1) although `prod` sorts later by name.
    let inventory = Inventory::load(&[fixture("basic/hosts.ini")]).map(|mut inventory| {
        inventory.vars_dirs.clear();
        inventory
    });
    let inventory = inventory.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inventory.host_vars("db-a")["level"], json!("ordered-inv"));
    assert_eq!(inventory.host_vars("db-b")["level"], json!("prod-inv"));
    assert_eq!(
        inventory.host_vars("web01.example.org")["level"],
        json!("web-inv")
    );
}

#[test]
fn playbook_vars_dirs_win_over_inventory_ones() {
    let mut inventory = load("basic/hosts.yml");
    inventory
        .add_vars_dir(&fixture("playbook"))
        .unwrap_or_else(|e| panic!("{e}"));
    let web01 = inventory.host_vars("web01.example.org");
    assert_eq!(web01["level"], json!("web01-playbook-hv"));
    assert_eq!(web01["timezone"], json!("Europe/Paris"));
    // playbook group_vars/all still loses to inventory group_vars/web
    assert_eq!(
        inventory.host_vars("web02.example.org")["level"],
        json!("web-gv")
    );
}

#[test]
fn implicit_localhost() {
    let mut inventory = Inventory::implicit();
    assert!(inventory.hosts().is_empty());
    assert!(inventory.select("all").is_empty());
    assert_eq!(select(&inventory, "localhost"), ["localhost"]);
    assert_eq!(select(&inventory, "127.0.0.1"), ["localhost"]);
    assert_eq!(
        inventory.host_vars("localhost")["ansible_connection"],
        json!("local")
    );
    inventory
        .add_vars_dir(&fixture("playbook"))
        .unwrap_or_else(|e| panic!("{e}"));
    let vars = inventory.host_vars("localhost");
    assert_eq!(vars["local_only"], json!(true));
    assert_eq!(vars["timezone"], json!("Europe/Paris"));
    // The implicit host is in no group, so `all` and `*` do not reach it either.
    let inventory = load("basic/hosts.yml");
    assert!(!select(&inventory, "*").contains(&"localhost".to_string()));
    assert_eq!(
        select(&inventory, "localhost:web[0]"),
        ["web01.example.org", "localhost"]
    );
    assert_eq!(inventory.host("localhost").map(|h| h.groups.len()), Some(0));
}

#[test]
fn every_pattern_form() {
    let inventory = load("basic/hosts.yml");
    let web = [
        "web01.example.org",
        "web02.example.org",
        "web03.example.org",
    ];
    assert_eq!(select(&inventory, "all"), ALL_HOSTS);
    assert_eq!(select(&inventory, "*"), ALL_HOSTS);
    assert_eq!(select(&inventory, "web"), web);
    assert_eq!(select(&inventory, "db-b"), ["db-b"]);
    assert_eq!(
        select(&inventory, "web:db"),
        [&web[..], &["db-a", "db-b", "db-c"]].concat()
    );
    // Deduplicated and in inventory order, whatever the order of the terms.
    assert_eq!(
        select(&inventory, "db-c,web01.example.org, db-c"),
        ["web01.example.org", "db-c"]
    );
    assert_eq!(select(&inventory, "prod:&staging"), ["web03.example.org"]);
    assert_eq!(
        select(&inventory, "web:!staging"),
        ["web01.example.org", "web02.example.org"]
    );
    assert_eq!(select(&inventory, "!prod"), ["bastion.example.org"]);
    assert_eq!(select(&inventory, "web*"), web);
    assert_eq!(
        select(&inventory, "*.example.org:!web0[13]*"),
        ["bastion.example.org", "web02.example.org"]
    );
    assert_eq!(select(&inventory, "db-?"), ["db-a", "db-b", "db-c"]);
    assert_eq!(
        select(&inventory, "~(web|db-)0?[1a]"),
        ["web01.example.org", "db-a"]
    );
    assert_eq!(select(&inventory, "web[0]"), ["web01.example.org"]);
    assert_eq!(select(&inventory, "web[-1]"), ["web03.example.org"]);
    assert_eq!(
        select(&inventory, "prod[1:2]"),
        ["web02.example.org", "web03.example.org"]
    );
    assert!(select(&inventory, "nosuch").is_empty());
    assert!(select(&inventory, "~web(").is_empty());
    let error = inventory
        .try_select("~web(")
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert!(
        error.starts_with("invalid regular expression in host pattern `~web(`"),
        "{error}"
    );
}

#[test]
fn limit_narrows_a_selection() {
    let inventory = load("basic/hosts.yml");
    let limited = inventory.limit(inventory.select("all"), "web:!web02*");
    assert_eq!(names(&limited), ["web01.example.org", "web03.example.org"]);
    let limited = inventory.limit(inventory.select("db"), "staging");
    assert!(limited.is_empty());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("retry");
    std::fs::write(&file, "db-b\n\nweb03.example.org\n").unwrap_or_else(|e| panic!("{e}"));
    let limited = inventory.limit(inventory.select("all"), &format!("@{}", file.display()));
    assert_eq!(names(&limited), ["web03.example.org", "db-b"]);
    let error = inventory
        .try_limit(inventory.select("all"), "@/nonexistent/retry")
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert_eq!(
        error,
        "cannot read `/nonexistent/retry`: no such file or directory"
    );
}

#[test]
fn directory_source_and_several_sources() {
    let inventory = load("dir");
    let hosts: Vec<&str> = inventory.hosts().iter().map(|h| h.name.as_str()).collect();
    assert_eq!(hosts, ["web1", "web2", "db1"]);
    assert_eq!(inventory.host_vars("db1")["ansible_port"], json!(5432));
    assert_eq!(inventory.host_vars("web2")["stack_name"], json!("shop"));
    assert_eq!(select(&inventory, "stack"), ["web1", "web2", "db1"]);

    let both = Inventory::load(&[fixture("basic/hosts.yml"), fixture("dir")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(both.hosts().len(), ALL_HOSTS.len() + 3);
    // Each source's vars directory applies to the merged inventory.
    assert_eq!(both.host_vars("web1")["stack_name"], json!("shop"));
    assert_eq!(both.host_vars("web1")["level"], json!("web-gv"));
}

#[test]
fn host_list_source() {
    let inventory =
        Inventory::load(&[PathBuf::from("web1,db1:2222,")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(select(&inventory, "ungrouped"), ["web1", "db1"]);
    assert_eq!(inventory.host_vars("db1")["ansible_port"], json!(2222));
}

#[test]
fn error_missing_source() {
    let error = Inventory::load(&[PathBuf::from("/nonexistent/hosts.yml")])
        .err()
        .unwrap_or_else(|| panic!("loaded"));
    assert_eq!(
        error.message,
        "inventory source `/nonexistent/hosts.yml` does not exist"
    );
    assert!(error.hint.unwrap_or_default().contains("`-i web1,web2,`"));
}

#[test]
fn error_malformed_yaml() {
    let error = load_error("errors/malformed.yml");
    assert!(
        error.message.starts_with("invalid YAML: "),
        "{}",
        error.message
    );
    let (file, line, _) = place(&error);
    assert_eq!((file.as_str(), line), ("malformed.yml", 4));
}

#[test]
fn error_group_cycle() {
    let error = load_error("errors/cycle.yml");
    assert_eq!(error.message, "group `a` is its own child: a -> b -> a");
    assert_eq!(place(&error), ("cycle.yml".into(), 7, 13));
    let error = load_error("errors/self-child.ini");
    assert_eq!(error.message, "group `web` is its own child: web -> web");
    assert_eq!(place(&error), ("self-child.ini".into(), 5, 1));
}

#[test]
fn error_hosts_not_a_mapping() {
    let error = load_error("errors/hosts-list.yml");
    assert_eq!(
        error.message,
        "`hosts` of group `web` must be a mapping, not a list"
    );
    assert_eq!(place(&error), ("hosts-list.yml".into(), 5, 9));
    assert!(error
        .hint
        .unwrap_or_default()
        .contains("`web1.example.org:`"));
}

#[test]
fn error_unknown_group_key() {
    let error = load_error("errors/unknown-key.yml");
    assert_eq!(error.message, "unknown key `host` in group `web`");
    assert_eq!(place(&error), ("unknown-key.yml".into(), 4, 7));
    assert_eq!(error.hint.as_deref(), Some("did you mean `hosts`?"));
}

#[test]
fn error_bad_port() {
    let error = load_error("errors/bad-port.yml");
    assert_eq!(
        error.message,
        "`ansible_port` must be a port number (1-65535), not `abc`"
    );
    assert_eq!(place(&error), ("bad-port.yml".into(), 4, 21));
    let error = load_error("errors/bad-port.ini");
    assert_eq!(
        error.message,
        "`ansible_port` must be a port number (1-65535), not `abc`"
    );
    assert_eq!(place(&error), ("bad-port.ini".into(), 2, 19));
}

#[test]
fn error_unparsable_ini_lines() {
    let error = load_error("errors/bad-line.ini");
    assert_eq!(
        error.message,
        "cannot parse inventory line: expected `key=value` after the host name, found `http_port`"
    );
    assert_eq!(place(&error), ("bad-line.ini".into(), 2, 6));
    let error = load_error("errors/bad-section.ini");
    assert_eq!(error.message, "unknown section type `var` in `[web:var]`");
    assert_eq!(place(&error), ("bad-section.ini".into(), 4, 6));
    assert_eq!(error.hint.as_deref(), Some("did you mean `vars`?"));
    let error = load_error("errors/undefined-child.ini");
    assert_eq!(
        error.message,
        "group `webb` in `[prod:children]` is not defined"
    );
    assert_eq!(place(&error), ("undefined-child.ini".into(), 5, 1));
    assert_eq!(error.hint.as_deref(), Some("did you mean `web`?"));
}

#[test]
fn error_vars_file_not_a_mapping() {
    let error = load_error("errors/bad-group-vars/hosts");
    assert!(
        error.message.starts_with("the variables file `"),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .ends_with("web.yml` must be a mapping, not a list"),
        "{}",
        error.message
    );
    assert_eq!(place(&error), ("web.yml".into(), 1, 1));
}

#[test]
fn rendered_error_points_at_the_line() {
    let error = load_error("errors/unknown-key.yml");
    let rendered = error.render();
    assert!(
        rendered.starts_with("error: unknown key `host` in group `web`\n"),
        "{rendered}"
    );
    assert!(rendered.contains("unknown-key.yml:4:7\n"), "{rendered}");
    assert!(rendered.contains("4 |       host:\n"), "{rendered}");
    assert!(
        rendered.ends_with("= hint: did you mean `hosts`?\n"),
        "{rendered}"
    );
}

#[test]
fn format_detection() {
    let yaml = |text: &str| detect_format(Path::new("hosts"), text);
    assert_eq!(yaml("# comment\nall:\n  hosts:\n"), Format::Yaml);
    assert_eq!(yaml("---\nweb: {}\n"), Format::Yaml);
    assert_eq!(yaml("webservers:\n  hosts:\n"), Format::Yaml);
    assert_eq!(yaml("web1:2222\n"), Format::Ini);
    assert_eq!(yaml("[web]\nweb1\n"), Format::Ini);
    assert_eq!(detect_format(Path::new("x.yml"), "[web]"), Format::Yaml);
}

/// Write `text` as an inventory file called `name` in a fresh directory and load it.
fn load_text(name: &str, text: &str) -> Result<Inventory, Diagnostic> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    Inventory::load(&[path])
}

#[test]
fn ini_forward_references_and_ungrouped_cleanup() {
    let text = "web1\n[prod:children]\nweb\n[web]\nweb1\nweb2\n[prod:vars]\nenv=prod\n";
    let inventory = load_text("hosts", text).unwrap_or_else(|e| panic!("{e}"));
    // web1 was listed before any section, then in `web`: it is not ungrouped.
    assert_eq!(inventory.groups_map()["ungrouped"], json!([]));
    assert_eq!(select(&inventory, "prod"), ["web1", "web2"]);
    assert_eq!(inventory.host_vars("web2")["env"], json!("prod"));
}

#[test]
fn ini_vars_for_an_undefined_group() {
    let error = load_text("hosts", "[web]\nweb1\n\n[webs:vars]\nx=1\n")
        .err()
        .unwrap_or_else(|| panic!("loaded"));
    assert_eq!(
        error.message,
        "`[webs:vars]` is for a group that is not defined"
    );
    assert_eq!((error.location.map(|l| (l.line, l.column))), Some((4, 1)));
    assert_eq!(error.hint.as_deref(), Some("did you mean `web`?"));
}

#[test]
fn ini_values() {
    let text = "[web]\nweb1 a=1 b=\"1\" c=True d=yes e='x y' f=1.5 g=\"['p', 'q']\"\n[web:vars]\nh=\"2\"\ni=[1, 2]\nj=hello world\nk=0644\n";
    let inventory = load_text("hosts.ini", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        Value::Object(inventory.host_vars("web1")),
        json!({"h": "2", "i": [1, 2], "j": "hello world", "k": "0644",
               "a": 1, "b": "1", "c": true, "d": "yes", "e": "x y", "f": 1.5, "g": ["p", "q"]})
    );
}

#[test]
fn ini_variable_where_a_host_belongs() {
    let error = load_text("hosts", "[web]\nansible_user=deploy\n")
        .err()
        .unwrap_or_else(|| panic!("loaded"));
    assert_eq!(
        error.message,
        "cannot parse inventory line: `ansible_user=deploy` is a variable, not a host"
    );
    assert_eq!(
        error.hint.as_deref(),
        Some("set group variables under `[web:vars]`; host variables follow the host name")
    );
}

#[test]
fn yaml_short_forms_and_top_level_groups() {
    let text = "web:\n  hosts: web1\n  children: canary\ncanary:\n  hosts:\n    web2:\n";
    let inventory = load_text("inventory.yml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(select(&inventory, "web"), ["web1", "web2"]);
    assert_eq!(
        inventory
            .host("web2")
            .map(|h| h.groups.clone())
            .unwrap_or_default(),
        ["all", "web", "canary"]
    );
}

#[test]
fn yaml_group_that_is_not_a_mapping() {
    let error = load_text("inventory.yml", "all:\n  children:\n    web: [web1]\n")
        .err()
        .unwrap_or_else(|| panic!("loaded"));
    assert_eq!(error.message, "group `web` must be a mapping, not a list");
    assert_eq!(error.location.map(|l| (l.line, l.column)), Some((3, 10)));
}

#[test]
fn large_ranges_load_quickly() {
    let text = "all:\n  children:\n    web:\n      hosts:\n        web[00001:20000]:\n    odd:\n      hosts:\n        web[00001:20000:2]:\n";
    let inventory = load_text("big.yml", text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(inventory.hosts().len(), 20000);
    assert_eq!(inventory.select("web:!odd").len(), 10000);
    assert_eq!(select(&inventory, "odd[-1]"), ["web19999"]);
}
