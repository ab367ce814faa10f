//! `skipless eval` end to end on a real history slice: every row of the protocol, the learned rows
//! as means over the seeds with their spread, and the ablations with paired bootstrap intervals.

use crate::common::{histories, skipless, stdout_of};

#[test]
fn eval_reports_every_row_with_seeds_spread_and_intervals() {
    let data = tempfile::tempdir().unwrap();
    let out = stdout_of(
        skipless(data.path())
            .args(["eval", "--json", "--seeds", "0,1", "--history"])
            .arg(histories().join("mica")),
    );
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(report["seeds"], serde_json::json!([0, 1]));
    let models = report["models"].as_array().unwrap();
    let names: Vec<&str> = models.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "popularity",
            "cooccurrence",
            "sasrec",
            "sasrec+cl",
            "skipless",
            "skipless-no-transformer",
            "skipless-no-negatives"
        ]
    );
    for m in models {
        for field in ["hr@10", "ndcg@10", "mrr", "skip_mrr", "train_s", "ndcg@10_sd"] {
            assert!(m[field].as_f64().is_some_and(f64::is_finite), "{field} of {m}");
        }
        let name = m["name"].as_str().unwrap_or_default();
        let ablation = name.starts_with("skipless-no");
        assert_eq!(m.get("ci95").is_some(), ablation, "{m}");
        if ablation {
            for metric in ["ndcg@10", "skip_mrr"] {
                let [lo, hi] = [0, 1].map(|i| m["ci95"][metric][i].as_f64().unwrap());
                assert!(lo <= hi, "{name} {metric} interval [{lo}, {hi}]");
            }
        }
    }
    let field = |name: &str, field: &str| {
        models
            .iter()
            .find(|m| m["name"] == name)
            .and_then(|m| m[field].as_f64())
            .unwrap()
    };
    let ndcg = |name: &str| field(name, "ndcg@10");
    // The features model is the first stage of the served model's runs: it costs that stage only.
    assert!(
        field("skipless-no-transformer", "train_s") < field("skipless", "train_s"),
        "{out}"
    );
    assert_eq!(models[0]["ndcg@10_sd"].as_f64(), Some(0.0), "popularity learns nothing");
    // The served model, which knows the listener's repeats, is above popularity and SASRec.
    for baseline in ["popularity", "sasrec", "sasrec+cl"] {
        assert!(ndcg("skipless") > ndcg(baseline), "skipless against {baseline}: {out}");
    }
    assert!(report["test_listened"].as_u64().is_some_and(|n| n > 50));
}
