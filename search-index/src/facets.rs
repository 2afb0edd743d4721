//! Facet counts over the hits of a query: the cameras, lenses and licences of the photos found.
//!
//! Counted from the dictionary-encoded fast columns: per segment, one counter per term ordinal,
//! then ordinals turned into names once at the end. A status with two photos of one camera
//! counts once for it.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::StrColumn;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// One value and how many hits have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCount {
    pub value: String,
    pub count: u64,
}

/// The top values of each facet, most frequent first (ties by name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facets {
    /// Statuses matched.
    pub hits: u64,
    pub cameras: Vec<FacetCount>,
    pub lenses: Vec<FacetCount>,
    pub licences: Vec<FacetCount>,
}

const COLUMNS: [&str; 3] = ["camera_facet", "lens_facet", "licence"];

pub struct FacetCollector;

pub struct SegmentCounts {
    columns: Vec<Option<(StrColumn, Vec<u64>)>>,
    hits: u64,
    ords: Vec<u64>,
}

/// Counts by value name, per column, and the number of hits.
pub type Counted = (Vec<HashMap<String, u64>>, u64);

impl Collector for FacetCollector {
    type Fruit = Counted;
    type Child = SegmentCounts;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<Self::Child> {
        let mut columns = Vec::with_capacity(COLUMNS.len());
        for name in COLUMNS {
            let column = segment.fast_fields().str(name)?;
            columns.push(column.map(|c| {
                let n = c.num_terms();
                (c, vec![0u64; n])
            }));
        }
        Ok(SegmentCounts {
            columns,
            hits: 0,
            ords: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Counted>) -> tantivy::Result<Counted> {
        let mut merged: Vec<HashMap<String, u64>> = vec![HashMap::new(); COLUMNS.len()];
        let mut hits = 0;
        for (maps, n) in fruits {
            hits += n;
            for (into, from) in merged.iter_mut().zip(maps) {
                for (value, count) in from {
                    *into.entry(value).or_default() += count;
                }
            }
        }
        Ok((merged, hits))
    }
}

impl SegmentCollector for SegmentCounts {
    type Fruit = Counted;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.hits += 1;
        for (column, counts) in self.columns.iter_mut().flatten() {
            self.ords.clear();
            self.ords.extend(column.term_ords(doc));
            self.ords.sort_unstable();
            self.ords.dedup();
            for &ord in &self.ords {
                if let Some(c) = counts.get_mut(ord as usize) {
                    *c += 1;
                }
            }
        }
    }

    fn harvest(self) -> Counted {
        let mut maps = Vec::with_capacity(self.columns.len());
        let mut name = String::new();
        for column in self.columns {
            let mut map = HashMap::new();
            if let Some((column, counts)) = column {
                for (ord, count) in counts.into_iter().enumerate() {
                    if count == 0 {
                        continue;
                    }
                    name.clear();
                    // An ordinal from the column's own dictionary always has a name.
                    if column.ord_to_str(ord as u64, &mut name).unwrap_or(false) {
                        map.insert(name.clone(), count);
                    }
                }
            }
            maps.push(map);
        }
        (maps, self.hits)
    }
}

/// The `top` most frequent values of a counted facet.
pub fn top(counts: HashMap<String, u64>, top: usize) -> Vec<FacetCount> {
    let mut v: Vec<FacetCount> = counts
        .into_iter()
        .filter(|(value, _)| !value.is_empty())
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v.truncate(top);
    v
}
