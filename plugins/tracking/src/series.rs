//! Scalar series in memory: the packed chunk format, merging chunks into one ordered series,
//! and downsampling that keeps spikes. Pure code, no IO.

/// One point: iteration, value, time (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub iteration: i64,
    pub value: f64,
    pub time: i64,
}

const POINT_BYTES: usize = 24;

/// Packs points as little-endian (iteration i64, value f64, time i64) triples. NaN and ±Inf
/// keep their bits.
pub fn encode(points: &[Point]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * POINT_BYTES);
    for p in points {
        out.extend_from_slice(&p.iteration.to_le_bytes());
        out.extend_from_slice(&p.value.to_le_bytes());
        out.extend_from_slice(&p.time.to_le_bytes());
    }
    out
}

/// Appends the points of a packed chunk to `out`; a truncated tail is ignored.
pub fn decode_into(data: &[u8], out: &mut Vec<Point>) {
    out.reserve(data.len() / POINT_BYTES);
    for p in data.chunks_exact(POINT_BYTES) {
        let word = |i: usize| <[u8; 8]>::try_from(&p[i..i + 8]).expect("8 bytes");
        out.push(Point {
            iteration: i64::from_le_bytes(word(0)),
            value: f64::from_le_bytes(word(8)),
            time: i64::from_le_bytes(word(16)),
        });
    }
}

/// Orders points by iteration; where one iteration was reported more than once, the last
/// report wins (points arrive in report order).
pub fn normalize(points: &mut Vec<Point>) {
    if !points.windows(2).all(|w| w[0].iteration < w[1].iteration) {
        // Stable: among equal iterations the report order stays, so the last one is kept.
        points.sort_by_key(|p| p.iteration);
        let mut out: Vec<Point> = Vec::with_capacity(points.len());
        for p in points.drain(..) {
            match out.last_mut() {
                Some(last) if last.iteration == p.iteration => *last = p,
                _ => out.push(p),
            }
        }
        *points = out;
    }
}

/// At most `budget` points of `points` (ordered by x): the series is cut into `budget / 2`
/// buckets and each keeps its lowest and its highest value, in x order, so spikes survive.
/// A bucket of only NaN keeps one NaN. Returns whether anything was dropped.
pub fn downsample(points: &[Point], budget: usize) -> (Vec<Point>, bool) {
    let n = points.len();
    if budget == 0 || n <= budget {
        return (points.to_vec(), false);
    }
    let buckets = (budget / 2).max(1);
    let mut out = Vec::with_capacity(buckets * 2);
    for b in 0..buckets {
        let (start, end) = (b * n / buckets, (b + 1) * n / buckets);
        if start == end {
            continue;
        }
        let (mut lo, mut hi): (Option<usize>, Option<usize>) = (None, None);
        for (i, p) in points[start..end].iter().enumerate() {
            if p.value.is_nan() {
                continue;
            }
            if lo.is_none_or(|l| p.value < points[start + l].value) {
                lo = Some(i);
            }
            if hi.is_none_or(|h| p.value > points[start + h].value) {
                hi = Some(i);
            }
        }
        match (lo, hi) {
            (Some(l), Some(h)) if l == h => out.push(points[start + l]),
            (Some(l), Some(h)) => {
                out.push(points[start + l.min(h)]);
                out.push(points[start + l.max(h)]);
            }
            _ => out.push(points[start]),
        }
    }
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(iteration: i64, value: f64) -> Point {
        Point { iteration, value, time: iteration * 10 }
    }

    #[test]
    fn chunks_round_trip_with_non_finite_values() {
        let points = vec![p(1, 0.5), p(2, f64::NAN), p(3, f64::INFINITY), p(-4, f64::NEG_INFINITY)];
        let mut back = Vec::new();
        decode_into(&encode(&points), &mut back);
        assert_eq!(back.len(), 4);
        assert!(back[1].value.is_nan());
        assert_eq!(back[2].value, f64::INFINITY);
        assert_eq!(back[3], points[3]);
    }

    #[test]
    fn normalize_orders_and_keeps_the_last_report_of_an_iteration() {
        let mut points = vec![p(3, 3.0), p(1, 1.0), p(2, 2.0), p(1, 9.0)];
        normalize(&mut points);
        assert_eq!(points.iter().map(|p| (p.iteration, p.value)).collect::<Vec<_>>(), [(1, 9.0), (2, 2.0), (3, 3.0)]);
    }

    #[test]
    fn downsampling_keeps_spikes_and_the_budget() {
        let mut points: Vec<Point> = (0..1_000_000).map(|i| p(i, (i % 7) as f64)).collect();
        points[123_457].value = 1e9;
        points[654_321].value = -1e9;
        let (out, dropped) = downsample(&points, 2000);
        assert!(dropped);
        assert!(out.len() <= 2000, "{}", out.len());
        assert!(out.iter().any(|q| q.value == 1e9));
        assert!(out.iter().any(|q| q.value == -1e9));
        assert!(out.windows(2).all(|w| w[0].iteration < w[1].iteration));
    }

    #[test]
    fn small_series_are_left_alone_and_nan_buckets_stay_nan() {
        let points: Vec<Point> = (0..10).map(|i| p(i, i as f64)).collect();
        assert_eq!(downsample(&points, 2000), (points.clone(), false));
        let nans: Vec<Point> = (0..100).map(|i| p(i, f64::NAN)).collect();
        let (out, _) = downsample(&nans, 10);
        assert_eq!(out.len(), 5);
        assert!(out.iter().all(|q| q.value.is_nan()));
    }
}
