//! `skipless simulate` through the real binary on a slice of a real history: deterministic for a seed,
//! with the documented JSON shape.

use std::path::Path;

use serde_json::Value;

fn simulate(data: &Path, seed: &str) -> Value {
    let mica = crate::common::histories().join("mica");
    let mut cmd = crate::common::skipless(data);
    cmd.args(["simulate", "--plays", "120", "--seed", seed, "--json", "--history"])
        .arg(mica);
    serde_json::from_str(crate::common::stdout_of(&mut cmd).trim()).unwrap()
}

#[test]
fn the_simulator_is_deterministic_for_a_seed() {
    let data = tempfile::tempdir().unwrap();
    let first = simulate(data.path(), "7");
    assert_eq!(first["plays"], 120);
    let names: Vec<&str> = first["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["shuffle", "skipless", "oracle"]);
    for policy in first["policies"].as_array().unwrap() {
        assert_eq!(policy["windows"].as_array().unwrap().len(), 2);
        let rate = policy["skip_rate"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&rate));
    }
    let oracle = first["policies"][2]["skip_rate"].as_f64().unwrap();
    let shuffle = first["policies"][0]["skip_rate"].as_f64().unwrap();
    assert!(oracle < shuffle, "the oracle skips less than shuffle: {first}");
    assert_eq!(simulate(data.path(), "7"), first);
    assert_ne!(simulate(data.path(), "8"), first);
}

/// The table's window column says the window it is (a run shorter than 500 plays is its own
/// window), and a run of no plays is refused rather than read as a 0 % skip rate.
#[test]
fn the_table_names_its_window_and_no_plays_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let mica = crate::common::histories().join("mica");
    let mut cmd = crate::common::skipless(data.path());
    cmd.args(["simulate", "--plays", "40", "--history"]).arg(&mica);
    let table = crate::common::stdout_of(&mut cmd);
    let header = table.lines().nth(1).unwrap();
    assert!(header.contains("last 40") && !header.contains("last 500"), "{table}");
    let none = crate::common::skipless(data.path())
        .args(["simulate", "--plays", "0", "--history"])
        .arg(&mica)
        .output()
        .unwrap();
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("--plays"));
}
