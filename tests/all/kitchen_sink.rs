//! Every WIT type round-trips, through typed bindings and through the JSON `call`, over
//! both backends.

use crate::support;
use hoosegow::{Error, Hoosegow};
use serde_json::{Value, json};

hoosegow::bindgen!({ world: "kitchen-sink", path: "../inmates/kitchen-sink/wit" });

fn scalars_at_the_extremes() -> Scalars {
    Scalars {
        flag: true,
        small: u8::MAX,
        tiny: i8::MIN,
        short: u16::MAX,
        signed_short: i16::MIN,
        word: u32::MAX,
        signed_word: i32::MIN,
        big: u64::MAX,
        signed_big: i64::MIN,
        single: f32::NEG_INFINITY,
        double: f64::MAX,
        letter: '🦀',
    }
}

#[tokio::test]
async fn every_type_round_trips_through_typed_bindings() {
    for jail in support::jails("kitchen-sink", "typed").await {
        let at = support::backend(&jail);
        let sink = KitchenSink::new(jail);

        let scalars = scalars_at_the_extremes();
        assert_eq!(sink.echo_scalars(&scalars).await.unwrap(), scalars, "{at}");
        let nan = Scalars {
            single: f32::NAN,
            double: f64::INFINITY,
            signed_big: i64::MAX,
            ..scalars.clone()
        };
        let back = sink.echo_scalars(&nan).await.unwrap();
        assert!(
            back.single.is_nan() && back.double == f64::INFINITY && back.signed_big == i64::MAX,
            "{at}"
        );
        let nan = Scalars {
            double: f64::NAN,
            single: f32::INFINITY,
            ..scalars
        };
        assert!(
            sink.echo_scalars(&nan).await.unwrap().double.is_nan(),
            "{at}"
        );

        for s in ["", "plain", "naïve 🦀 \u{0} \"quoted\" \\ \n"] {
            assert_eq!(sink.echo_string(s).await.unwrap(), s, "{at}");
        }

        let drawing = Drawing {
            name: "house".into(),
            points: (0..100).map(|i| Point { x: i, y: -i }).collect(),
            origin: Some(Point { x: 1, y: 2 }),
            tags: vec!["a".into(), String::new()],
        };
        assert_eq!(sink.echo_drawing(&drawing).await.unwrap(), drawing, "{at}");
        let bare = Drawing {
            name: String::new(),
            points: vec![],
            origin: None,
            tags: vec![],
        };
        assert_eq!(sink.echo_drawing(&bare).await.unwrap(), bare, "{at}");

        for shape in [
            Shape::Circle(2.5),
            Shape::Polygon(vec![Point { x: 0, y: 0 }]),
            Shape::Polygon(vec![]),
            Shape::Empty,
        ] {
            assert_eq!(sink.echo_shape(&shape).await.unwrap(), shape, "{at}");
        }
        for color in [Color::Red, Color::Green, Color::Blue] {
            assert_eq!(sink.echo_color(color).await.unwrap(), color, "{at}");
        }
        for perms in [
            Perms::default(),
            Perms {
                read: true,
                write: false,
                exec: true,
            },
            Perms {
                read: true,
                write: true,
                exec: true,
            },
        ] {
            assert_eq!(sink.echo_perms(perms).await.unwrap(), perms, "{at}");
        }
        for option in [None, Some(None), Some(Some(0)), Some(Some(u32::MAX))] {
            assert_eq!(sink.echo_option(&option).await.unwrap(), option, "{at}");
        }
        for result in [Ok("fine".to_string()), Err(Color::Blue)] {
            assert_eq!(sink.echo_result(&result).await.unwrap(), result, "{at}");
        }
        for result in [Ok(()), Err(())] {
            assert_eq!(
                sink.echo_bare_result(&result).await.unwrap(),
                result,
                "{at}"
            );
        }
        let tuple = (7u8, 'é', "x".to_string());
        assert_eq!(sink.echo_tuple(&tuple).await.unwrap(), tuple, "{at}");
        assert_eq!(sink.echo_points(&[]).await.unwrap(), vec![], "{at}");
        let many: Vec<Point> = (0..20_000)
            .map(|i| Point {
                x: i,
                y: i32::MAX - i,
            })
            .collect();
        assert_eq!(sink.echo_points(&many).await.unwrap(), many, "{at}");
        let bytes: Vec<u8> = (0..256 * 1024).map(|i| i as u8).collect();
        assert_eq!(sink.echo_bytes(&bytes).await.unwrap(), bytes, "{at}");
        let numbers: Vec<u64> = (0..100_000).collect();
        assert_eq!(
            sink.sum(&numbers).await.unwrap(),
            numbers.iter().sum::<u64>(),
            "{at}"
        );

        // The inmate's own error is a value, not a failure.
        assert_eq!(sink.checked_div(7, 2).await.unwrap(), Ok(3), "{at}");
        assert_eq!(
            sink.checked_div(1, 0).await.unwrap(),
            Err("cannot divide 1 by 0".to_string()),
            "{at}"
        );
        sink.nothing("ignored").await.unwrap();
        let d = sink
            .geometry_distance(&Vec2 { x: 0.0, y: 0.0 }, &Vec2 { x: 3.0, y: 4.0 })
            .await
            .unwrap();
        assert_eq!(d, 5.0, "{at}");
    }
}

async fn echo(jail: &Hoosegow, func: &str, value: Value) {
    let back = jail
        .call(func, vec![value.clone()])
        .await
        .unwrap_or_else(|e| panic!("{func}({value}): {e}"));
    assert_eq!(back, value, "{func} over {}", support::backend(jail));
}

#[tokio::test]
async fn every_type_round_trips_through_json() {
    for jail in support::jails("kitchen-sink", "json").await {
        echo(&jail, "echo-scalars", json!({
            "flag": false, "small": 0, "tiny": -128, "short": 65535, "signed-short": -32768,
            "word": 4294967295u32, "signed-word": -2147483648i32, "big": u64::MAX, "signed-big": i64::MIN,
            "single": "NaN", "double": "-inf", "letter": "日"
        })).await;
        echo(
            &jail,
            "echo-drawing",
            json!({"name": "n", "points": [{"x": 1, "y": 2}], "origin": null, "tags": []}),
        )
        .await;
        for shape in [
            json!({"circle": 1.5}),
            json!({"polygon": []}),
            json!("empty"),
        ] {
            echo(&jail, "echo-shape", shape).await;
        }
        echo(&jail, "echo-color", json!("green")).await;
        echo(&jail, "echo-perms", json!(["read", "exec"])).await;
        echo(&jail, "echo-perms", json!([])).await;
        for option in [json!(null), json!({"some": null}), json!({"some": 5})] {
            echo(&jail, "echo-option", option).await;
        }
        for result in [json!({"ok": "yes"}), json!({"err": "red"})] {
            echo(&jail, "echo-result", result).await;
        }
        for result in [json!({"ok": null}), json!({"err": null})] {
            echo(&jail, "echo-bare-result", result).await;
        }
        echo(&jail, "echo-tuple", json!([255, "x", ""])).await;
        echo(&jail, "echo-bytes", json!([])).await;
        assert_eq!(
            jail.call("nothing", vec![json!("x")]).await.unwrap(),
            json!(null)
        );
        let d = jail
            .call(
                "geometry#distance",
                vec![json!({"x": 0, "y": 0}), json!({"x": 6, "y": 8})],
            )
            .await
            .unwrap();
        assert_eq!(d, json!(10.0));
    }
}

#[tokio::test]
async fn bad_values_are_refused_with_the_path_to_the_bad_part() {
    for jail in support::jails("kitchen-sink", "bad_values").await {
        let cases = [
            (
                "echo-drawing",
                json!({"name": "n", "points": [{"x": 1, "y": 2}, {"x": "3", "y": 4}], "origin": null, "tags": []}),
                r#"args[0].points[1].x: expected s32, got "3""#,
            ),
            (
                "echo-shape",
                json!({"square": 1}),
                "args[0]: expected variant",
            ),
            (
                "echo-color",
                json!("purple"),
                r#"args[0]: expected enum { red, green, blue }, got "purple""#,
            ),
            (
                "echo-perms",
                json!(["read", "fly"]),
                r#"args[0][1]: expected a flag of flags { read, write, exec }, got "fly""#,
            ),
            (
                "echo-option",
                json!(5),
                r#"args[0]: expected option<option<u32>> as null or {"some": ...}, got 5"#,
            ),
            (
                "echo-result",
                json!({"ok": 1}),
                "args[0].ok: expected string, got 1",
            ),
            (
                "echo-tuple",
                json!([1, "ab", ""]),
                "args[0][1]: expected char",
            ),
            (
                "echo-scalars",
                json!({"flag": true}),
                "args[0]: expected record",
            ),
            (
                "echo-bytes",
                json!([1, 256]),
                "args[0][1]: expected u8, got 256",
            ),
        ];
        for (func, value, says) in cases {
            let err = jail.call(func, vec![value]).await.unwrap_err();
            assert!(matches!(err, Error::BadArgument { .. }), "{func}: {err:?}");
            assert!(
                err.to_string().contains(says),
                "{func} over {}: {err}",
                support::backend(&jail)
            );
        }
    }
}

#[tokio::test]
async fn every_type_round_trips_through_the_cli() {
    let image = support::image("kitchen-sink");
    let cases = [
        (
            "echo-scalars",
            json!({
                "flag": true, "small": 255, "tiny": -128, "short": 65535, "signed-short": -32768,
                "word": 4294967295u32, "signed-word": -2147483648i32, "big": u64::MAX,
                "signed-big": i64::MIN, "single": "inf", "double": "NaN", "letter": "🦀"
            }),
        ),
        (
            "echo-drawing",
            json!({"name": "n", "points": [{"x": -1, "y": 2}], "origin": {"x": 0, "y": 0}, "tags": ["a"]}),
        ),
        ("echo-shape", json!({"circle": 1.5})),
        ("echo-shape", json!("empty")),
        ("echo-color", json!("green")),
        ("echo-perms", json!(["read", "exec"])),
        ("echo-option", json!({"some": null})),
        ("echo-result", json!({"err": "red"})),
        ("echo-tuple", json!([255, "x", ""])),
    ];
    for (func, value) in cases {
        let (code, out, err) =
            crate::bad_input::run(&["call", "--image", &image, func, &value.to_string()]);
        assert_eq!(code, 0, "{func}: {err}");
        let back: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
        assert_eq!(back, value, "{func}");
    }
    let (code, out, err) = crate::bad_input::run(&[
        "call",
        "--image",
        &image,
        "geometry#distance",
        r#"{"x": 0, "y": 0}"#,
        r#"{"x": 6, "y": 8}"#,
    ]);
    assert_eq!((code, out.as_str()), (0, "10.0"), "{err}");
    // A bad part is refused with its path, before anything runs: a usage error.
    let bad = json!({"name": "n", "points": [{"x": "3", "y": 4}], "origin": null, "tags": []});
    let (code, _, err) =
        crate::bad_input::run(&["call", "--image", &image, "echo-drawing", &bad.to_string()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(r#"args[0].points[0].x: expected s32, got "3""#),
        "{err}"
    );
}
