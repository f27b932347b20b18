//! `latency.svg`: each mode's median latency beside its floor's, on a log scale (the
//! modes span microseconds to hundreds of milliseconds).

use crate::bench::report::{Figures, human};
use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::time::Duration;

/// One group of bars: a mode and the floor under it.
struct Group {
    mode: &'static str,
    measured: Duration,
    floor_name: &'static str,
    floor: Duration,
}

fn groups(f: &Figures) -> Vec<Group> {
    let attach = f.attach.p50();
    let api = f.api_container.p50();
    vec![
        Group {
            mode: "in-process call",
            measured: f.in_process.p50(),
            floor_name: "instantiation alone",
            floor: f.instantiate.p50(),
        },
        Group {
            mode: "pooled call",
            measured: f.pooled.p50(),
            floor_name: "attach round trip",
            floor: attach,
        },
        Group {
            mode: "stream: 1st callback",
            measured: f.stream_first.p50(),
            floor_name: "attach round trip",
            floor: attach,
        },
        Group {
            mode: "ephemeral, ready",
            measured: f.ephemeral_ready.p50(),
            floor_name: "attach round trip",
            floor: attach,
        },
        Group {
            mode: "ephemeral, back to back",
            measured: f.ephemeral_b2b.p50(),
            floor_name: "API container",
            floor: api,
        },
        Group {
            mode: "cold call",
            measured: f.cold.p50(),
            floor_name: "API container",
            floor: api,
        },
    ]
}

const MEASURED: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const FLOOR: RGBColor = RGBColor(0xb0, 0xb0, 0xb0);

/// Draws the chart into `path`.
pub fn draw(f: &Figures, path: &Path) -> Result<()> {
    let groups = groups(f);
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let values = groups
        .iter()
        .flat_map(|g| [micros(g.measured), micros(g.floor)]);
    let (low, high) = values.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Whole decades around the data: one below the shortest bar so that it shows, and
    // room above the tallest for its label.
    let low = 10f64.powf(low.log10().floor() - 1.0);
    let high = 10f64.powf((high * 3.0).log10().ceil());

    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    let error = |e| anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(error)?;
    let title = format!(
        "Hoosegow: median latency per mode beside its floor (log scale), {}",
        f.machine.commit
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(80)
        .build_cartesian_2d(0f64..groups.len() as f64, (low..high).log_scale())
        .map_err(error)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("p50 latency")
        .y_label_formatter(&|v| axis_label(*v))
        .draw()
        .map_err(error)?;

    let value_style =
        TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    let bar = |i: usize, left: f64, value: Duration, color: RGBColor| {
        let x = i as f64 + left;
        Rectangle::new([(x, low), (x + 0.36, micros(value))], color.filled())
    };
    chart
        .draw_series(
            groups
                .iter()
                .enumerate()
                .map(|(i, g)| bar(i, 0.12, g.measured, MEASURED)),
        )
        .map_err(error)?
        .label("the mode (p50)")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], MEASURED.filled()));
    chart
        .draw_series(
            groups
                .iter()
                .enumerate()
                .map(|(i, g)| bar(i, 0.52, g.floor, FLOOR)),
        )
        .map_err(error)?
        .label("its floor (p50, same run): Docker's own cost, or the runner core's")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], FLOOR.filled()));
    for (i, g) in groups.iter().enumerate() {
        for (left, value) in [(0.30, g.measured), (0.70, g.floor)] {
            let label = Text::new(
                human(value),
                (i as f64 + left, micros(value) * 1.08),
                value_style.clone(),
            );
            chart.draw_series([label]).map_err(error)?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(error)?;

    // The mode and its floor's name under each group, in pixels below the axis.
    let name_style =
        TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    let floor_style = TextStyle::from(("sans-serif", 11).into_font())
        .color(&RGBColor(0x60, 0x60, 0x60))
        .pos(Pos::new(HPos::Center, VPos::Top));
    for (i, g) in groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, low));
        root.draw(&Text::new(g.mode, (x, y + 8), name_style.clone()))
            .map_err(error)?;
        let floor = format!("vs {}", g.floor_name);
        root.draw(&Text::new(floor, (x, y + 26), floor_style.clone()))
            .map_err(error)?;
    }
    root.present().map_err(error)?;
    Ok(())
}

/// A decade of the axis, in microseconds, as people write it: 10 µs, 1 ms, 1 s.
fn axis_label(micros: f64) -> String {
    let (value, unit) = if micros >= 1e6 {
        (micros / 1e6, "s")
    } else if micros >= 1e3 {
        (micros / 1e3, "ms")
    } else {
        (micros, "µs")
    };
    // Whole numbers print without decimals; the log scale's minor ticks may not be whole.
    if (value - value.round()).abs() < 1e-9 {
        format!("{value:.0} {unit}")
    } else {
        format!("{value} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::axis_label;

    #[test]
    fn axis_labels_name_the_decades() {
        assert_eq!(axis_label(10.0), "10 µs");
        assert_eq!(axis_label(1_000.0), "1 ms");
        assert_eq!(axis_label(100_000.0), "100 ms");
        assert_eq!(axis_label(1e6), "1 s");
    }
}
