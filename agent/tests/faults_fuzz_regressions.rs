//! Regression tests for findings of the cargo-fuzz targets (fuzz/) in the
//! agent library. Each test names the target and the finding; the inputs
//! are the minimised crash inputs, inlined.

use stamen_agent::onegate::docs::{ServiceDocument, VmDocument};
use stamen_agent::onegate::ruby_json::pretty_generate;

/// onegate_docs, finding F5: a JSON integer too big for u64 is read as a
/// float; serde_json's default float parser could be one ulp off, so
/// `pretty_generate` printed a number that parses back to a different value
/// (3.333333333333333e+90 vs 3.3333333333333327e+90). Fixed by enabling
/// serde_json's `float_roundtrip` (correctly rounded parsing).
#[test]
fn pretty_generate_keeps_the_value_of_huge_integers() {
    let input = format!("{}1{} ", "3".repeat(72), "3".repeat(18));
    let printed = pretty_generate(input.as_bytes()).unwrap();
    let a: serde_json::Value = serde_json::from_str(&input).unwrap();
    let b: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(a, b, "printed {printed:?}");
    // The same inside a document, where OneFlow puts numbers.
    let doc = format!("{{\"SERVICE\":{{\"state\":{input},\"roles\":[]}}}}");
    let printed = pretty_generate(doc.as_bytes()).unwrap();
    let a: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let b: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(a, b, "printed {printed:?}");
    // And the typed reader accepts it (state is a scalar read as text).
    let svc: ServiceDocument = serde_json::from_str(&doc).unwrap();
    assert!(svc.service.state.is_some());
    assert!(serde_json::from_str::<VmDocument>(&doc).is_err());
}
