//! Small SVG charts for the pages, drawn by plotters' SVG backend without a font library (the
//! browser draws the text). Each returns the `<svg>` element as text; a chart with nothing to
//! draw returns `None`.

use chrono::{DateTime, NaiveDate, Utc};
use lakewatch_core::finding::PricePoint;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordi32;
use plotters::prelude::*;

/// Pixels.
const WIDTH: u32 = 640;
/// Pixels.
const HEIGHT: u32 = 200;
/// The pages' ink.
const INK: RGBColor = RGBColor(0x33, 0x41, 0x55);
/// The pages' accent.
const BLUE: RGBColor = RGBColor(0x25, 0x63, 0xeb);
/// Errors.
const RED: RGBColor = RGBColor(0xdc, 0x26, 0x26);
/// Colours of the checks in stacked bars, in order.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0x25, 0x63, 0xeb),
    RGBColor(0xdc, 0x26, 0x26),
    RGBColor(0xd9, 0x77, 0x06),
    RGBColor(0x05, 0x96, 0x69),
    RGBColor(0x7c, 0x3a, 0xed),
    RGBColor(0xdb, 0x27, 0x77),
    RGBColor(0x08, 0x91, 0xb2),
    RGBColor(0x65, 0xa3, 0x0d),
];

/// The palette's colour as CSS.
pub fn css(i: usize) -> String {
    let c = PALETTE[i % PALETTE.len()];
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

fn svg(
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<(), String>,
) -> Option<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root).ok()?;
        root.present().ok()?;
    }
    Some(out)
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// The frame every chart has: margins, and room for the axes' labels.
fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder.margin(8).margin_right(24).x_label_area_size(24).y_label_area_size(56);
    builder
}

/// Labels the i-th of `days` with its month and day.
fn day_label<T>(days: &[(NaiveDate, T)]) -> impl Fn(&i32) -> String + '_ {
    move |i| days.get(*i as usize).map(|(d, _)| d.format("%m-%d").to_string()).unwrap_or_default()
}

/// Draws a chart's light grid and its axes: `x` labels the bar or session at an index.
fn axes<Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<RangedCoordi32, Y>>,
    y_desc: &str,
    x: &dyn Fn(&i32) -> String,
) -> Result<(), String>
where
    Y: Ranged + ValueFormatter<Y::ValueType>,
{
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_labels(6)
        .y_labels(4)
        .y_desc(y_desc)
        .x_label_formatter(x)
        .label_style(("sans-serif", 11).into_font().color(&INK))
        .draw()
        .map_err(err)
}

/// A line over sessions, evenly spaced: `points` as (session, value), `y` naming the value.
pub fn line(points: &[(NaiveDate, f64)], y: &str) -> Option<String> {
    let n = points.len() as i32;
    let (lo, hi) = bounds(points.iter().map(|p| p.1))?;
    svg(|root| {
        let mut chart = frame(root).build_cartesian_2d(0..(n - 1).max(1), lo..hi).map_err(err)?;
        axes(&mut chart, y, &day_label(points))?;
        let series = points.iter().enumerate().map(|(i, (_, v))| (i as i32, *v));
        chart.draw_series(LineSeries::new(series.clone(), BLUE.stroke_width(2))).map_err(err)?;
        chart.draw_series(series.map(|(i, v)| Circle::new((i, v), 2, BLUE.filled()))).map_err(err)?;
        Ok(())
    })
}

/// Stacked bars over sessions: per session, a count per series (`series[i]` is the i-th
/// colour of [`PALETTE`]).
pub fn stacked(days: &[(NaiveDate, Vec<u64>)]) -> Option<String> {
    let top = days.iter().map(|(_, counts)| counts.iter().sum::<u64>()).max().filter(|t| *t > 0)?;
    let n = days.len() as i32;
    svg(|root| {
        let mut chart = frame(root).build_cartesian_2d(0..n + 1, 0u64..top + top.div_ceil(10)).map_err(err)?;
        axes(&mut chart, "findings", &day_label(days))?;
        for (i, (_, counts)) in days.iter().enumerate() {
            let mut base = 0;
            for (k, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                let bar =
                    Rectangle::new([(i as i32, base), (i as i32 + 1, base + c)], PALETTE[k % PALETTE.len()].filled());
                chart.draw_series(std::iter::once(bar)).map_err(err)?;
                base += c;
            }
        }
        Ok(())
    })
}

/// A symbol's closes around a price move, the move's bars (`from..=to`) shaded.
pub fn prices(points: &[PricePoint], from: DateTime<Utc>, to: DateTime<Utc>) -> Option<String> {
    let n = points.len() as i32;
    let (lo, hi) = bounds(points.iter().map(|p| p.close))?;
    svg(|root| {
        let mut chart = frame(root).build_cartesian_2d(0..n - 1, lo..hi).map_err(err)?;
        let label = |i: &i32| {
            let t = points.get(*i as usize).map(|p| p.t);
            let daily = points.windows(2).all(|w| (w[1].t - w[0].t).num_hours() >= 20);
            t.map(|t| t.format(if daily { "%m-%d" } else { "%H:%M" }).to_string()).unwrap_or_default()
        };
        axes(&mut chart, "close", &label)?;
        let inside: Vec<i32> = (0..n).filter(|i| (from..=to).contains(&points[*i as usize].t)).collect();
        if let (Some(a), Some(b)) = (inside.first(), inside.last()) {
            let shade = Rectangle::new([(a - 1, lo), (*b, hi)], RED.mix(0.12).filled());
            chart.draw_series(std::iter::once(shade)).map_err(err)?;
        }
        let series = points.iter().enumerate().map(|(i, p)| (i as i32, p.close));
        chart.draw_series(LineSeries::new(series.clone(), BLUE.stroke_width(2))).map_err(err)?;
        chart.draw_series(series.map(|(i, c)| Circle::new((i, c), 2, BLUE.filled()))).map_err(err)?;
        Ok(())
    })
}

/// A span of time, first and last instant included.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// Missing ranges on the session's clock: one lane per symbol, `open..close` across.
pub fn timeline(open: DateTime<Utc>, close: DateTime<Utc>, lanes: &[(String, Vec<Span>)]) -> Option<String> {
    if lanes.is_empty() || close <= open {
        return None;
    }
    let minutes = (close - open).num_minutes() as i32;
    let height = (40 + 16 * lanes.len() as u32).min(600);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, height)).into_drawing_area();
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(24)
            .y_label_area_size(72)
            .build_cartesian_2d(0..minutes, 0..lanes.len() as i32)
            .ok()?;
        let names: Vec<&str> = lanes.iter().map(|(s, _)| s.as_str()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .x_labels(7)
            .y_labels(lanes.len().min(30))
            .x_label_formatter(&|m| (open + chrono::Duration::minutes(i64::from(*m))).format("%H:%M").to_string())
            .y_label_formatter(&|i| names.get(*i as usize).map(|s| s.to_string()).unwrap_or_default())
            .label_style(("sans-serif", 11).into_font().color(&INK))
            .draw()
            .ok()?;
        for (lane, (_, ranges)) in lanes.iter().enumerate() {
            for (a, b) in ranges {
                let x0 = (*a - open).num_minutes().clamp(0, i64::from(minutes)) as i32;
                let x1 = ((*b - open).num_minutes() + 1).clamp(0, i64::from(minutes)) as i32;
                let bar = Rectangle::new([(x0, lane as i32), (x1.max(x0 + 1), lane as i32 + 1)], RED.mix(0.8).filled());
                chart.draw_series(std::iter::once(bar)).ok()?;
            }
        }
        root.present().ok()?;
    }
    Some(out)
}

/// A value range with some room, or `None` without a finite value.
fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) =
        values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return None;
    }
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.01).max(1e-9);
    Some((lo - pad, hi + pad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_their_labels_as_text_and_nothing_to_draw_is_no_chart() {
        let days: Vec<(NaiveDate, f64)> =
            (0..10).map(|i| (NaiveDate::from_ymd_opt(2025, 11, 3 + i).unwrap(), 0.9 + f64::from(i) / 100.0)).collect();
        let svg = line(&days, "completeness").unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        let text = svg.replace('\n', "");
        assert!(text.contains(">completeness</text>") && text.contains(">11-03</text>"), "{svg}");
        assert_eq!(line(&[], "x"), None);
        assert_eq!(stacked(&[(days[0].0, vec![0, 0])]), None, "no findings, no bars");
        let bars = stacked(&[(days[0].0, vec![2, 1]), (days[1].0, vec![0, 4])]).unwrap();
        assert_eq!(bars.matches("<rect").count(), 3, "three stacked bars: {bars}");
    }
}
