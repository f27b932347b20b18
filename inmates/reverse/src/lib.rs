//! The gem's README inmate: `reverse("foobar") == "raboof"`.

wit_bindgen::generate!({ world: "reverse", path: "wit" });

struct Reverse;

impl Guest for Reverse {
    fn reverse(input: String) -> String {
        input.chars().rev().collect()
    }
}

export!(Reverse);
