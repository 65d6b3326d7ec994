//! `converge-bench-plot RESULTS.json... OUT.svg`: wall time against the number of hosts, one
//! line per tool and run (first run in a lighter shade), on a logarithmic time axis, from the results.json
//! files bench/run writes (later files win for the same tool, run and N).

use std::collections::BTreeMap;

use plotters::prelude::*;
use serde_json::Value;

type Series = BTreeMap<(String, String), BTreeMap<u64, f64>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((out, inputs)) = args.split_last().filter(|(_, i)| !i.is_empty()) else {
        eprintln!("usage: converge-bench-plot RESULTS.json... OUT.svg");
        std::process::exit(2);
    };
    let mut series: Series = BTreeMap::new();
    for input in inputs {
        let text = std::fs::read_to_string(input).unwrap_or_else(|e| {
            eprintln!("error: cannot read {input}: {e}");
            std::process::exit(1)
        });
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            eprintln!("error: {input} is not bench/run's results.json: {e}");
            std::process::exit(1)
        });
        for r in json["results"].as_array().into_iter().flatten() {
            let (Some(tool), Some(run), Some(n), Some(wall)) = (
                r["tool"].as_str(),
                r["run"].as_str(),
                r["n"].as_u64(),
                r["wall"].as_f64(),
            ) else {
                continue;
            };
            if run == "setup" || r["rc"].as_i64() != Some(0) {
                continue;
            }
            series
                .entry((tool.to_string(), run.to_string()))
                .or_default()
                .insert(n, wall);
        }
    }
    if let Err(e) = draw(&series, out) {
        eprintln!("error: cannot draw {out}: {e}");
        std::process::exit(1);
    }
}

fn colour(tool: &str) -> RGBColor {
    match tool {
        "converge" => RGBColor(0x1f, 0x77, 0xb4),
        "floor" => RGBColor(0x55, 0x55, 0x55),
        "pyinfra" => RGBColor(0x2c, 0xa0, 0x2c),
        "ansible" => RGBColor(0xd6, 0x27, 0x28),
        _ => RGBColor(0x94, 0x67, 0xbd),
    }
}

fn label(tool: &str, run: &str) -> String {
    let tool = match tool {
        "floor" => "floor (1 OpenSSH connection per host)",
        "ansible" => "ansible-core (pipelining)",
        other => other,
    };
    format!("{tool}, {run} run")
}

fn draw(series: &Series, out: &str) -> Result<(), Box<dyn std::error::Error>> {
    let max_n = series
        .values()
        .flat_map(|s| s.keys())
        .copied()
        .max()
        .unwrap_or(100);
    let (min_wall, max_wall) = series
        .values()
        .flat_map(|s| s.values())
        .fold((f64::MAX, 0.0f64), |(lo, hi), w| (lo.min(*w), hi.max(*w)));
    let root = SVGBackend::new(out, (900, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "No-change and first run: wall time against hosts (2 shared cores)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(
            0u64..(max_n + max_n / 20).max(10),
            ((min_wall * 0.7).max(0.01)..max_wall * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("hosts (N)")
        .y_desc("wall time, s (log scale)")
        .draw()?;
    for ((tool, run), points) in series {
        let colour = colour(tool);
        let style = if run == "first" {
            colour.mix(0.45).stroke_width(2)
        } else {
            colour.stroke_width(3)
        };
        let data: Vec<(u64, f64)> = points.iter().map(|(n, w)| (*n, *w)).collect();
        chart
            .draw_series(LineSeries::new(data.clone(), style))?
            .label(label(tool, run))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart.draw_series(
            data.into_iter()
                .map(move |p| Circle::new(p, 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
