//! Echoes every WIT type back, for the round-trip tests.

// wit-bindgen lowers a 12-field record into 12 parameters of its generated glue.
#![allow(clippy::too_many_arguments)]

wit_bindgen::generate!({ world: "kitchen-sink", path: "wit" });

use exports::geometry::{Guest as Geometry, Vec2};

struct KitchenSink;

impl Guest for KitchenSink {
    fn echo_scalars(s: Scalars) -> Scalars {
        s
    }
    fn echo_string(s: String) -> String {
        s
    }
    fn echo_drawing(d: Drawing) -> Drawing {
        d
    }
    fn echo_shape(s: Shape) -> Shape {
        s
    }
    fn echo_color(c: Color) -> Color {
        c
    }
    fn echo_perms(p: Perms) -> Perms {
        p
    }
    fn echo_option(o: Option<Option<u32>>) -> Option<Option<u32>> {
        o
    }
    fn echo_result(r: Result<String, Color>) -> Result<String, Color> {
        r
    }
    fn echo_bare_result(r: Result<(), ()>) -> Result<(), ()> {
        r
    }
    fn echo_tuple(t: (u8, char, String)) -> (u8, char, String) {
        t
    }
    fn echo_points(l: Vec<Point>) -> Vec<Point> {
        l
    }
    fn echo_bytes(b: Vec<u8>) -> Vec<u8> {
        b
    }
    fn sum(l: Vec<u64>) -> u64 {
        l.iter().fold(0u64, |a, b| a.wrapping_add(*b))
    }
    fn checked_div(a: i32, b: i32) -> Result<i32, String> {
        a.checked_div(b)
            .ok_or_else(|| format!("cannot divide {a} by {b}"))
    }
    fn nothing(_: String) {}
}

impl Geometry for KitchenSink {
    fn distance(a: Vec2, b: Vec2) -> f64 {
        let (dx, dy) = (a.x - b.x, a.y - b.y);
        (dx * dx + dy * dy).sqrt()
    }
}

export!(KitchenSink);
