//! Scalar series in memory: the packed chunk format, merging chunks into one ordered series,
//! and downsampling that keeps spikes. Pure code, no IO.

/// One point: iteration, value, time (ms since the epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub iteration: i64,
    pub value: f64,
    pub time: i64,
}

/// Downsamples `(x, y)` points (in x order) on a fixed grid: `buckets` equal slices of
/// `range`, each keeping its lowest and highest y (NaN only where a slice has nothing else),
/// so lines of several series downsampled on the same range line up bucket for bucket.
pub fn downsample_grid(xy: &[(f64, f64)], range: [f64; 2], buckets: usize) -> Vec<(f64, f64)> {
    if buckets == 0 || xy.len() <= buckets * 2 {
        return xy.to_vec();
    }
    let width = (range[1] - range[0]).max(f64::MIN_POSITIVE);
    let slice = |x: f64| (((x - range[0]) / width * buckets as f64) as usize).min(buckets - 1);
    let mut out = Vec::with_capacity(buckets * 2);
    let mut start = 0;
    while start < xy.len() {
        let b = slice(xy[start].0);
        let mut end = start + 1;
        while end < xy.len() && slice(xy[end].0) == b {
            end += 1;
        }
        let part = &xy[start..end];
        let finite = || part.iter().enumerate().filter(|(_, p)| !p.1.is_nan());
        let lo = finite().min_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).map(|(i, _)| i);
        let hi = finite().max_by(|a, b| a.1 .1.total_cmp(&b.1 .1)).map(|(i, _)| i);
        match (lo, hi) {
            (Some(l), Some(h)) if l == h => out.push(part[l]),
            (Some(l), Some(h)) => {
                out.push(part[l.min(h)]);
                out.push(part[l.max(h)]);
            }
            _ => out.push(part[0]),
        }
        start = end;
    }
    out
}

/// The chunk format's version, its first byte.
const FORMAT: u8 = 1;

fn put_varint(out: &mut Vec<u8>, v: i64) {
    // Zigzag, so small negative deltas stay small.
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn get_varint(data: &[u8], at: &mut usize) -> Option<i64> {
    let mut z: u64 = 0;
    let mut shift = 0;
    loop {
        let b = *data.get(*at)?;
        *at += 1;
        z |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Some(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Packs points: a version byte, then per point the change of iteration and of time since
/// the previous point (zigzag varints: a step of 1 is one byte) and the value's 8 bytes
/// (little-endian, so NaN and ±Inf keep their bits). About 10 bytes a point.
pub fn encode(points: &[Point]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + points.len() * 11);
    out.push(FORMAT);
    let (mut iteration, mut time) = (0i64, 0i64);
    for p in points {
        put_varint(&mut out, p.iteration.wrapping_sub(iteration));
        put_varint(&mut out, p.time.wrapping_sub(time));
        out.extend_from_slice(&p.value.to_le_bytes());
        (iteration, time) = (p.iteration, p.time);
    }
    out
}

/// Appends the points of a packed chunk to `out`; a damaged tail is ignored.
pub fn decode_into(data: &[u8], out: &mut Vec<Point>) {
    if data.first() != Some(&FORMAT) {
        return;
    }
    let mut at = 1;
    let (mut iteration, mut time) = (0i64, 0i64);
    while at < data.len() {
        let (Some(di), Some(dt)) = (get_varint(data, &mut at), get_varint(data, &mut at)) else {
            return;
        };
        let Some(bytes) = data.get(at..at + 8) else {
            return;
        };
        at += 8;
        iteration = iteration.wrapping_add(di);
        time = time.wrapping_add(dt);
        out.push(Point { iteration, value: f64::from_le_bytes(bytes.try_into().expect("8 bytes")), time });
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
    fn grid_downsampling_lines_series_up_and_keeps_spikes() {
        let a: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64, if i == 500 { 99.0 } else { 1.0 })).collect();
        let b: Vec<(f64, f64)> = (0..100).map(|i| (i as f64 * 10.0, 2.0)).collect();
        let range = [0.0, 999.0];
        let da = downsample_grid(&a, range, 10);
        let db = downsample_grid(&b, range, 10);
        assert!(da.len() <= 20 && da.iter().any(|p| p.1 == 99.0), "{da:?}");
        // Both keep points in each of the grid's slices: the same x slices.
        let slices = |d: &[(f64, f64)]| {
            d.iter().map(|p| ((p.0 / 999.0 * 10.0) as usize).min(9)).collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(slices(&da), slices(&db));
        assert_eq!(downsample_grid(&b, range, 100), b, "fewer points than the grid holds stay");
    }

    #[test]
    fn chunks_round_trip_with_non_finite_values() {
        let mut points = vec![p(1, 0.5), p(2, f64::NAN), p(3, f64::INFINITY), p(-4, f64::NEG_INFINITY)];
        points.push(Point { iteration: i64::MAX, value: 1.0, time: i64::MIN });
        points.push(Point { iteration: i64::MIN, value: -1.0, time: i64::MAX });
        let mut back = Vec::new();
        let packed = encode(&points);
        decode_into(&packed, &mut back);
        assert_eq!(back.len(), 6);
        assert_eq!(back[4..], points[4..]);
        // A damaged chunk yields what can be read, never garbage.
        let mut cut = Vec::new();
        decode_into(&packed[..packed.len() - 3], &mut cut);
        assert_eq!(cut.len(), 5);
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

    proptest::proptest! {
        /// Any points, NaN payloads and extreme steps included, come back bit for bit.
        #[test]
        fn any_points_round_trip_bit_for_bit(
            raw in proptest::collection::vec((proptest::num::i64::ANY, proptest::num::u64::ANY, proptest::num::i64::ANY), 0..200)
        ) {
            let points: Vec<Point> =
                raw.iter().map(|&(iteration, bits, time)| Point { iteration, value: f64::from_bits(bits), time }).collect();
            let mut back = Vec::new();
            decode_into(&encode(&points), &mut back);
            let bits = |p: &Point| (p.iteration, p.value.to_bits(), p.time);
            proptest::prop_assert_eq!(back.iter().map(bits).collect::<Vec<_>>(), points.iter().map(bits).collect::<Vec<_>>());
        }

        /// Damaged chunks give what they can and never panic.
        #[test]
        fn any_bytes_decode_without_panicking(data in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let mut out = Vec::new();
            decode_into(&data, &mut out);
            proptest::prop_assert!(out.len() <= data.len() / 10 + 1);
        }
    }
}
