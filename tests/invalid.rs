//! Invalid lab files: every validation rule has a fixture under
//! `tests/fixtures/invalid/`, and each case asserts the diagnostic's key, a
//! substring of its message and its exact `line:column`. Every fixture holds
//! exactly one mistake, so a rule that starts reporting extra (cascading) errors
//! fails here too.
//!
//! Columns count characters from 1; a string value is located at its opening
//! quote, a table at its `[[header]]`, a key at its first character.

use labctl::diag::{Diagnostic, SourceFile};
use labctl::load as lab;
use labctl::roles::RoleSet;
use labctl::Error;
use rstest::rstest;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join("invalid").join(format!("{name}.toml"))
}

/// Every diagnostic of a lab file, through the library, with the roles a lab
/// file there sees: the shipped ones plus the `provision/` folder beside it
/// (tests/fixtures/invalid/provision/ holds test roles whose `after` does not
/// change when the shipped roles do).
fn diagnose(path: &Path) -> Vec<Diagnostic> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let source = SourceFile::new(path, text);
    lab::diagnose(&source, &RoleSet::load(path.parent()).unwrap())
}

fn listing(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("  {d}\n")).collect()
}

#[rstest]
// TOML syntax
#[case::toml_syntax(
    "toml_syntax",
    "4:26",
    "",
    "invalid TOML: invalid character in string: `\\n`"
)]
#[case::toml_duplicate_key("toml_duplicate_key", "2:1", "", "invalid TOML: duplicate key: `name`")]
// Strict keys: unknown keys are errors (did-you-mean hints are asserted in `did_you_mean_hints`)
#[case::unknown_top_key("unknown_top_key", "2:1", "descripton", "unknown key `descripton`")]
#[case::unknown_node_key("unknown_node_key", "9:1", "node[0].memroy", "unknown key `memroy`")]
#[case::unknown_defaults_key("unknown_defaults_key", "4:1", "defaults.name", "unknown key `name`")]
#[case::unknown_network_key(
    "unknown_network_key",
    "5:1",
    "network.gateway",
    "unknown key `gateway`"
)]
#[case::unknown_check_key_for_kind(
    "unknown_check_key_for_kind",
    "14:1",
    "check[0].run",
    "unknown key `run`"
)]
// Wrong types
#[case::wrong_type_cpus("wrong_type_cpus", "9:8", "node[0].cpus", "wrong type: found string")]
#[case::wrong_type_roles("wrong_type_roles", "9:9", "node[0].roles", "wrong type: found string")]
#[case::wrong_type_bool(
    "wrong_type_bool",
    "9:21",
    "node[0].nested_containers",
    "wrong type: found string"
)]
#[case::wrong_type_network("wrong_type_network", "2:11", "network", "wrong type: found string")]
#[case::wrong_type_node("wrong_type_node", "2:8", "node", "wrong type: found string")]
#[case::var_value_wrong_type(
    "var_value_wrong_type",
    "9:17",
    "node[0].vars.motd",
    "wrong type: found array"
)]
// Required keys and tables
#[case::missing_name("missing_name", "1:1", "name", "missing required key `name`")]
#[case::missing_network(
    "missing_network",
    "1:1",
    "network",
    "missing required table [network]"
)]
#[case::missing_subnet(
    "missing_subnet",
    "3:1",
    "network.subnet",
    "missing required key `subnet`"
)]
#[case::missing_node("missing_node", "1:1", "node", "a lab needs at least one [[node]]")]
#[case::node_empty_array("node_empty_array", "2:8", "node", "a lab needs at least one [[node]]")]
#[case::missing_node_name("missing_node_name", "6:1", "node[0]", "node needs a `name`")]
#[case::missing_node_ip("missing_node_ip", "7:8", "node[0]", "node `a` needs an `ip`")]
// Lab name
#[case::bad_lab_name("bad_lab_name", "1:8", "name", "invalid value \"Work_Flow\"")]
#[case::lab_name_too_long(
    "lab_name_too_long",
    "1:8",
    "name",
    "invalid value \"a-lab-name-that-is-much-too-long-x\""
)]
// Subnet
#[case::subnet_host_bits(
    "subnet_host_bits",
    "4:10",
    "network.subnet",
    "192.168.60.1/24 has host bits set"
)]
#[case::subnet_prefix_too_long(
    "subnet_prefix_too_long",
    "4:10",
    "network.subnet",
    "prefix /30 is not usable"
)]
#[case::subnet_prefix_too_short(
    "subnet_prefix_too_short",
    "4:10",
    "network.subnet",
    "prefix /7 is not usable"
)]
#[case::subnet_not_cidr(
    "subnet_not_cidr",
    "4:10",
    "network.subnet",
    "invalid subnet \"192.168.60.0\""
)]
#[case::subnet_public(
    "subnet_public",
    "4:10",
    "network.subnet",
    "8.8.8.0/24 is public address space"
)]
#[case::subnet_loopback(
    "subnet_loopback",
    "5:10",
    "network.subnet",
    "127.0.0.0/24 is loopback address space"
)]
// Node addresses
#[case::ip_invalid(
    "ip_invalid",
    "8:6",
    "node[0].ip",
    "invalid IPv4 address \"192.168.60.300\""
)]
#[case::ip_outside_subnet(
    "ip_outside_subnet",
    "8:6",
    "node[0].ip",
    "192.168.61.10 is outside the lab subnet 192.168.60.0/24"
)]
#[case::ip_network_address(
    "ip_network_address",
    "8:6",
    "node[0].ip",
    "192.168.60.0 is the network address of 192.168.60.0/24"
)]
#[case::ip_broadcast_address(
    "ip_broadcast_address",
    "8:6",
    "node[0].ip",
    "192.168.60.255 is the broadcast address of 192.168.60.0/24"
)]
#[case::ip_gateway_address(
    "ip_gateway_address",
    "8:6",
    "node[0].ip",
    "192.168.60.1 is the first address of 192.168.60.0/24, reserved for the host side"
)]
#[case::ip_duplicate(
    "ip_duplicate",
    "12:6",
    "node[1].ip",
    "duplicate address 192.168.60.10 (`a` and `b`)"
)]
#[case::ip_duplicate_count(
    "ip_duplicate_count",
    "13:6",
    "node[1].ip",
    "duplicate address 192.168.60.10 (`a` and `web3`)"
)]
#[case::count_past_subnet(
    "count_past_subnet",
    "9:6",
    "node[0].ip",
    "count runs past the subnet: `web4` would get the broadcast address 192.168.60.255"
)]
#[case::count_out_of_range("count_out_of_range", "8:9", "node[0].count", "65 is out of range")]
// Node names (hostname rules, unique after count expansion)
#[case::duplicate_node_name(
    "duplicate_node_name",
    "12:8",
    "node[1].name",
    "duplicate node name `web2`"
)]
#[case::bad_hostname("bad_hostname", "7:8", "node[0].name", "invalid value \"Web_1\"")]
#[case::hostname_trailing_dash(
    "hostname_trailing_dash",
    "7:8",
    "node[0].name",
    "invalid value \"web-\""
)]
#[case::hostname_too_long_after_count(
    "hostname_too_long_after_count",
    "7:8",
    "node[0].name",
    "is 64 characters long after count expansion"
)]
// Resources with units and ranges
#[case::memory_out_of_range(
    "memory_out_of_range",
    "9:10",
    "node[0].memory",
    "32 MiB is out of range"
)]
#[case::memory_too_big(
    "memory_too_big",
    "9:10",
    "node[0].memory",
    "131072 MiB is out of range"
)]
#[case::memory_bad_unit(
    "memory_bad_unit",
    "9:10",
    "node[0].memory",
    "invalid memory size \"2GB\""
)]
#[case::cpus_out_of_range("cpus_out_of_range", "9:8", "node[0].cpus", "0 is out of range")]
#[case::cpus_too_many("cpus_too_many", "4:8", "defaults.cpus", "65 is out of range")]
#[case::boot_timeout_bad(
    "boot_timeout_bad",
    "9:16",
    "node[0].boot_timeout",
    "invalid duration \"forever\""
)]
#[case::box_invalid(
    "box_invalid",
    "9:7",
    "node[0].box",
    "invalid value \"debian/bookworm64; rm -rf /\""
)]
#[case::disk_size_bad(
    "disk_size_bad",
    "9:34",
    "node[0].disks[0].size",
    "invalid size \"8Q\""
)]
#[case::disk_size_out_of_range(
    "disk_size_out_of_range",
    "9:34",
    "node[0].disks[0].size",
    "disk size 5T is out of range"
)]
#[case::disk_missing_size("disk_missing_size", "9:10", "node[0].disks[0]", "disk needs a `size`")]
#[case::disk_duplicate_name(
    "disk_duplicate_name",
    "9:42",
    "node[0].disks",
    "duplicate disk name `data`"
)]
#[case::disk_duplicate_name_count(
    "disk_duplicate_name_count",
    "11:39",
    "node[0].disks",
    "duplicate disk name `d`"
)]
// Forwarded ports
#[case::forward_duplicate_host_port(
    "forward_duplicate_host_port",
    "14:12",
    "node[1].forward",
    "host port 18080 is forwarded twice (`a` and `b`)"
)]
#[case::forward_count_copies(
    "forward_count_copies",
    "10:12",
    "node[0].forward",
    "host port 18080 is forwarded twice (`web1` and `web2`)"
)]
#[case::forward_duplicate_guest_port(
    "forward_duplicate_guest_port",
    "9:42",
    "node[0].forward",
    "guest port 80 is forwarded twice"
)]
#[case::forward_missing_host(
    "forward_missing_host",
    "9:12",
    "node[0].forward[0]",
    "forward needs `guest` and `host`"
)]
#[case::forward_port_out_of_range(
    "forward_port_out_of_range",
    "9:33",
    "node[0].forward[0].host",
    "70000 is out of range"
)]
// Roles
#[case::unknown_role("unknown_role", "9:23", "node[0].roles", "unknown role `nginx`")]
#[case::role_path_escape(
    "role_path_escape",
    "9:10",
    "node[0].roles[0]",
    "invalid value \"../x\""
)]
#[case::role_absolute_path(
    "role_absolute_path",
    "9:10",
    "node[0].roles[0]",
    "invalid value \"/etc/passwd\""
)]
#[case::role_listed_twice(
    "role_listed_twice",
    "9:22",
    "node[0].roles",
    "role `netshape` listed twice"
)]
#[case::role_missing_dependency(
    "role_missing_dependency",
    "9:20",
    "node[0].roles",
    "role `waits` waits for `*:hub`, but no node has role `hub`"
)]
#[case::role_missing_node_dependency(
    "role_missing_node_dependency",
    "9:10",
    "node[0].roles",
    "role `pinned` waits for `git:hub`, which this lab does not have"
)]
#[case::role_order_cycle(
    "role_order_cycle",
    "9:10",
    "node[0].roles",
    "role ordering has a cycle: a:waits -> a:needed -> a:waits"
)]
// Variables and text that reaches Ruby or shell
#[case::var_name_invalid(
    "var_name_invalid",
    "9:10",
    "node[0].vars.Bad-Name",
    "invalid value \"Bad-Name\""
)]
#[case::var_value_newline(
    "var_value_newline",
    "9:17",
    "node[0].vars.motd",
    "contains control character '\\n'"
)]
#[case::var_value_nul(
    "var_value_nul",
    "9:17",
    "node[0].vars.motd",
    "contains control character '\\0'"
)]
#[case::var_value_escape(
    "var_value_escape",
    "9:17",
    "node[0].vars.motd",
    "contains control character '\\u{1b}'"
)]
#[case::var_value_too_long(
    "var_value_too_long",
    "9:17",
    "node[0].vars.motd",
    "is 1025 bytes long"
)]
#[case::description_multiline(
    "description_multiline",
    "2:15",
    "description",
    "contains control character '\\n'"
)]
#[case::check_command_run_newline(
    "check_command_run_newline",
    "13:7",
    "check[0].run",
    "contains control character '\\n'"
)]
#[case::check_undo_not_disruptive(
    "check_undo_not_disruptive",
    "10:1",
    "check[0].undo",
    "a check with `undo` changes its node"
)]
#[case::secret_var_bad_env(
    "secret_var_bad_env",
    "2:25",
    "secret_vars.token",
    "invalid value \"lower-case\""
)]
// Checks
#[case::check_unknown_kind(
    "check_unknown_kind",
    "12:8",
    "check[0].kind",
    "unknown check kind \"ping\""
)]
#[case::check_missing_kind(
    "check_missing_kind",
    "10:1",
    "check[0]",
    "missing required key `kind`"
)]
#[case::check_unknown_node("check_unknown_node", "12:8", "check[0].node", "unknown node `b`")]
#[case::check_reach_unknown_node(
    "check_reach_unknown_node",
    "13:6",
    "check[0].to",
    "unknown node `zz`"
)]
#[case::check_http_spread_unknown_node(
    "check_http_spread_unknown_node",
    "13:16",
    "check[0].spread[1]",
    "unknown node `web9`"
)]
#[case::check_http_from_unknown_node(
    "check_http_from_unknown_node",
    "10:1",
    "check[0].from",
    "unknown node `ghost`"
)]
#[case::check_http_outside_lab(
    "check_http_outside_lab",
    "10:1",
    "check[0].url",
    "URL host `10.1.2.3` is not an address of this lab"
)]
#[case::check_http_hostname_outside_lab(
    "check_http_hostname_outside_lab",
    "10:1",
    "check[0].url",
    "URL host `example.com` is not an address of this lab"
)]
#[case::check_http_loopback_unforwarded(
    "check_http_loopback_unforwarded",
    "10:1",
    "check[0].url",
    "URL host `127.0.0.1` is not an address of this lab"
)]
#[case::check_http_bad_scheme(
    "check_http_bad_scheme",
    "12:7",
    "check[0].url",
    "URL scheme is not http"
)]
#[case::check_http_status_out_of_range(
    "check_http_status_out_of_range",
    "13:10",
    "check[0].status",
    "999 is out of range"
)]
#[case::check_invalid_regex(
    "check_invalid_regex",
    "13:8",
    "check[0].body",
    "invalid regex: error: unclosed group"
)]
#[case::check_missing_port(
    "check_missing_port",
    "10:1",
    "check[0]",
    "missing required key `port`"
)]
#[case::check_missing_run("check_missing_run", "10:1", "check[0]", "missing required key `run`")]
#[case::check_bad_name(
    "check_bad_name",
    "11:8",
    "check[0].name",
    "invalid value \"say #{hi}\""
)]
#[case::check_duplicate_name(
    "check_duplicate_name",
    "16:1",
    "check[1].name",
    "duplicate check name `ssh` (also check[0])"
)]
#[case::check_file_relative_path(
    "check_file_relative_path",
    "13:8",
    "check[0].path",
    "path \"../etc/passwd\" is not absolute or escapes with .."
)]
#[case::check_bad_duration(
    "check_bad_duration",
    "14:11",
    "check[0].timeout",
    "invalid duration \"5 parsecs\""
)]
#[case::check_duration_out_of_range(
    "check_duration_out_of_range",
    "14:12",
    "check[0].interval",
    "duration 1h is out of range"
)]
// Bench scenarios
#[case::scenario_unknown_node(
    "scenario_unknown_node",
    "23:19",
    "scenario[1].server.node",
    "unknown node `sever`"
)]
#[case::scenario_two_baselines(
    "scenario_two_baselines",
    "21:8",
    "scenario",
    "2 scenarios are marked baseline = true"
)]
#[case::scenario_no_baseline(
    "scenario_no_baseline",
    "15:8",
    "scenario",
    "0 scenarios are marked baseline = true"
)]
#[case::scenario_omit_not_below_duration(
    "scenario_omit_not_below_duration",
    "20:8",
    "scenario[0].omit",
    "omit (5s) is not below duration (5s)"
)]
#[case::scenario_duration_out_of_range(
    "scenario_duration_out_of_range",
    "19:12",
    "scenario[0].duration",
    "0 is out of range"
)]
#[case::scenario_missing_server(
    "scenario_missing_server",
    "14:1",
    "scenario[0]",
    "missing required key `server`"
)]
#[case::scenario_container_without_nested(
    "scenario_container_without_nested",
    "23:19",
    "scenario[1].server.node",
    "node `server` runs no containers"
)]
#[case::scenario_container_address_needs_bridge(
    "scenario_container_address_needs_bridge",
    "24:59",
    "scenario[1].server.address",
    "address = \"container\" needs a bridge container"
)]
#[case::scenario_unknown_container_mode(
    "scenario_unknown_container_mode",
    "23:41",
    "scenario[1].server.container",
    "unknown container mode \"podman\""
)]
#[case::scenario_duplicate_name(
    "scenario_duplicate_name",
    "21:8",
    "scenario[1].name",
    "duplicate scenario `raw`"
)]
// Ratios, rates, [bench]
#[case::ratio_unknown_scenario(
    "ratio_unknown_scenario",
    "21:12",
    "ratio[0].scenario",
    "unknown scenario `rwa`"
)]
#[case::ratio_rate_without_bandwidth(
    "ratio_rate_without_bandwidth",
    "22:6",
    "ratio[0].of",
    "ratio against the rate, but the lab sets no [network] bandwidth"
)]
#[case::ratio_min_above_max(
    "ratio_min_above_max",
    "23:7",
    "ratio[0].max",
    "max 0.8 is below min 1.2"
)]
#[case::ratio_no_bounds(
    "ratio_no_bounds",
    "20:1",
    "ratio[0]",
    "a ratio needs `min`, `max` or both"
)]
#[case::ratio_bound_out_of_range(
    "ratio_bound_out_of_range",
    "22:7",
    "ratio[0].min",
    "bound -1 is out of range"
)]
#[case::ratio_unknown_base(
    "ratio_unknown_base",
    "22:6",
    "ratio[0].of",
    "unknown ratio base \"median\""
)]
#[case::bad_rate("bad_rate", "5:13", "network.bandwidth", "invalid rate \"2GB\"")]
#[case::rate_out_of_range(
    "rate_out_of_range",
    "5:13",
    "network.bandwidth",
    "rate 500kbit is out of range"
)]
#[case::bench_rounds_out_of_range(
    "bench_rounds_out_of_range",
    "11:10",
    "bench.rounds",
    "0 is out of range"
)]
// Existing machines: [provider] kind = "hosts" and a node's `ssh`
#[case::hosts_provider_unknown(
    "hosts_provider_unknown",
    "4:8",
    "provider.kind",
    "unknown provider kind \"docker\""
)]
#[case::hosts_node_without_ssh(
    "hosts_node_without_ssh",
    "10:8",
    "node[0]",
    "node `a` of a hosts lab needs `ssh`"
)]
#[case::hosts_ssh_missing_user("hosts_ssh_missing_user", "12:7", "node[0].ssh", "ssh needs `user`")]
#[case::hosts_ssh_address_option(
    "hosts_ssh_address_option",
    "12:19",
    "node[0].ssh.address",
    "invalid value \"-oProxyCommand=touch\""
)]
#[case::hosts_ssh_key_relative(
    "hosts_ssh_key_relative",
    "12:54",
    "node[0].ssh.key",
    "invalid key path \"keys/lab\""
)]
#[case::hosts_ssh_port_out_of_range(
    "hosts_ssh_port_out_of_range",
    "12:75",
    "node[0].ssh.port",
    "70000 is out of range"
)]
#[case::hosts_ssh_with_count("hosts_ssh_with_count", "13:9", "node[0].count", "no `count`")]
#[case::hosts_ssh_without_provider(
    "hosts_ssh_without_provider",
    "9:7",
    "node[0].ssh",
    "`ssh` is for existing machines"
)]
#[case::hosts_role_without_undo(
    "hosts_role_without_undo",
    "13:10",
    "node[0].roles",
    "role `gitserver` cannot be undone: it has no undo.sh"
)]
// An existing machine runs the bench's containers only with docker-host
// (nested_containers says nothing there).
#[case::hosts_bench_container_without_docker_host(
    "hosts_bench_container_without_docker_host",
    "30:19",
    "scenario[1].server.node",
    "node `server` runs no containers"
)]
#[case::hosts_forward(
    "hosts_forward",
    "13:12",
    "node[0]",
    "forwarded ports are not made on existing machines"
)]
fn invalid_lab_file(
    #[case] name: &str,
    #[case] at: &str,
    #[case] key: &str,
    #[case] message: &str,
) {
    let path = fixture(name);
    let diags = diagnose(&path);
    let errors: Vec<&Diagnostic> = diags.iter().filter(|d| d.is_error()).collect();
    assert_eq!(
        errors.len(),
        1,
        "{name}: expected exactly one error, got:\n{}",
        listing(&diags)
    );
    let e = errors[0];
    assert!(
        e.message.contains(message),
        "{name}: message {:?} does not contain {message:?}",
        e.message
    );
    assert_eq!(e.key, key, "{name}: wrong key in {e}");
    assert_eq!(
        format!("{}:{}", e.line, e.column),
        at,
        "{name}: wrong location of {e}"
    );

    // The loader behind `validate`/`render` refuses it too, naming file:line:column.
    match lab::load(path.to_str().unwrap()) {
        Err(Error::Invalid {
            rendered, count, ..
        }) => {
            assert_eq!(count, 1, "{rendered}");
            let loc = format!("{}:{at}", path.display());
            assert!(rendered.contains(&loc), "{name}: {loc} not in:\n{rendered}");
            assert!(
                rendered.contains(message),
                "{name}: {message:?} not in:\n{rendered}"
            );
        }
        Err(e) => panic!("{name}: unexpected error {e}"),
        Ok(_) => panic!("{name}: the lab loaded although it is invalid"),
    }
}

/// Unknown keys name the allowed ones and suggest the closest.
#[rstest]
#[case("unknown_top_key", "did you mean `description`?")]
#[case("unknown_node_key", "did you mean `memory`?")]
#[case("unknown_check_key_missing_value", "did you mean `status`?")]
fn did_you_mean_hints(#[case] name: &str, #[case] hint: &str) {
    let diags = diagnose(&fixture(name));
    let d = diags
        .iter()
        .find(|d| d.message.starts_with("unknown key"))
        .unwrap_or_else(|| panic!("{name}: no unknown-key error in\n{}", listing(&diags)));
    assert_eq!(d.hint.as_deref(), Some(hint), "{d}");
    assert!(
        d.expected.as_deref().unwrap_or("").starts_with("one of: "),
        "{d}"
    );
}

/// A check whose required key is missing still has its unknown keys reported.
#[test]
fn missing_check_value_and_unknown_key_both_reported() {
    let diags = diagnose(&fixture("unknown_check_key_missing_value"));
    let got: Vec<String> = diags
        .iter()
        .map(|d| format!("{}:{} {}: {}", d.line, d.column, d.key, d.message))
        .collect();
    assert_eq!(
        got,
        [
            "10:1 check[0]: missing required key `url`",
            "12:1 check[0].stauts: unknown key `stauts`"
        ]
    );
}

/// The caret of a string value covers its quotes, and the expected value is shown.
#[test]
fn rendered_diagnostic_shows_line_and_caret() {
    let path = fixture("role_path_escape");
    let Err(Error::Invalid { rendered, .. }) = lab::load(path.to_str().unwrap()) else {
        panic!("must be invalid")
    };
    assert!(
        rendered.contains("error: node[0].roles[0]: invalid value \"../x\""),
        "{rendered}"
    );
    assert!(rendered.contains("9 | roles = [\"../x\"]"), "{rendered}");
    assert!(
        rendered.contains("  |          ^^^^^^ expected a role name"),
        "{rendered}"
    );
}

/// Every fixture in tests/fixtures/invalid/ is a case in this file.
#[test]
fn every_invalid_fixture_is_tested() {
    let me = include_str!("invalid.rs");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(fixtures().join("invalid")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.extension().is_some_and(|e| e == "toml") && !me.contains(&format!("\"{stem}\"")) {
            missing.push(stem);
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures without a test case: {missing:?}"
    );
}

/// One file with several mistakes, structural and semantic, reports all of them
/// in one run, in file order.
#[test]
fn all_errors_reported_in_one_run() {
    let path = fixtures().join("multi/many_errors.toml");
    let diags = diagnose(&path);
    let got: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}:{} {}", d.line, d.column, d.key))
        .collect();
    let want = [
        "4:1 descripton",
        "12:10 node[0].memory",
        "13:10 node[0].roles",
        "17:6 node[1].ip",
        "18:8 node[1].cpus",
        "22:8 check[0].node",
        "25:1 check[1].url",
    ];
    assert_eq!(got, want, "\n{}", listing(&diags));

    // The same through the binary: exit code 2 and every location on stderr.
    let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for w in want {
        let loc = w.split(' ').next().unwrap();
        assert!(
            stderr.contains(&format!("{}:{loc}", path.display())),
            "{loc} missing from:\n{stderr}"
        );
    }
    assert!(stderr.contains("7 errors found"), "{stderr}");
}

/// Warnings are printed apart from errors and never fail validation.
#[test]
fn warnings_do_not_fail_validation() {
    let path = fixtures().join("valid/warning_subnet.toml");
    let diags = diagnose(&path);
    assert!(diags.iter().all(|d| !d.is_error()), "{}", listing(&diags));
    let w: Vec<String> = diags
        .iter()
        .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        w,
        [
            "7:10 10.20.0.0/24 is outside VirtualBox's default host-only range 192.168.56.0/21",
            "12:12 host port 80 needs root to bind",
        ]
    );

    let out = Command::new(env!("CARGO_BIN_EXE_labctl"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains("warning: network.subnet: 10.20.0.0/24 is outside"),
        "{stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
    assert!(
        stdout.contains("ok (1 nodes, 0 checks, 2 warnings)"),
        "{stdout}"
    );
}

/// Public address space is fine once the lab says it owns it.
#[test]
fn public_subnet_allowed_explicitly() {
    let path = fixtures().join("valid/public_allowed.toml");
    let loaded = lab::load(path.to_str().unwrap()).unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(loaded.warnings.is_empty(), "{}", loaded.render_warnings());
}

/// The shipped labs have no errors and no warnings.
#[test]
fn shipped_labs_are_clean() {
    for name in labctl::assets::lab_names() {
        let loaded = lab::load(&name).unwrap_or_else(|e| panic!("{name}: {}", e.render()));
        assert!(
            loaded.warnings.is_empty(),
            "{name}: {}",
            loaded.render_warnings()
        );
    }
}
