//! Port of the gem's test inmate: `render_reverse("desrever eb dluohs siht")` yields
//! `"test"` to the application's block and returns `"this should be reversed"`.

wit_bindgen::generate!({ world: "render-reverse", path: "wit" });

struct RenderReverse;

impl Guest for RenderReverse {
    fn render_reverse(input: String) -> String {
        yield_("test");
        input.chars().rev().collect()
    }
}

export!(RenderReverse);
