//! The table's column widths without holding its cells: comfy_table's
//! `ContentArrangement::Dynamic` (comfy-table 8.0.1,
//! `utils/arrangement/dynamic.rs` and `constraint.rs`) replayed for the
//! report's one shape (every column padded by one space each side, column 0
//! with a `LowerBoundary`, the UTF8_FULL_CONDENSED borders, ' ' as delimiter)
//! from what that arrangement reads of the cells:
//!
//! - each column's widest line ([`Widest`], kept as rows arrive);
//! - each column's widest line after lines wider than a trial width are split
//!   at it (`longest_line_after_split`): asked only for the few trial widths
//!   the arrangement tries, each answered by a pass over the stored rows.
//!
//! comfy_table does not expose its arrangement, hence the copy; the tests
//! compare whole tables with comfy_table's own, byte for byte, so a change
//! of comfy_table's algorithm fails them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Padding of every column, both sides together (comfy_table's default, 1 + 1).
pub const PADDING: u16 = 2;

/// Each column's widest line (display width), header included.
#[derive(Debug, Clone, Default)]
pub struct Widest(Vec<usize>);

impl Widest {
    /// Counts a cell of column `col` (lines split at '\n', as `Cell::new` does).
    pub fn add(&mut self, col: usize, cell: &str) {
        if self.0.len() <= col {
            self.0.resize(col + 1, 0);
        }
        let w = cell.split('\n').map(|l| l.width()).max().unwrap_or(0);
        self.0[col] = self.0[col].max(w);
    }

    pub fn columns(&self) -> usize {
        self.0.len()
    }

    /// Another row's widths (`into_vec`'s) counted in.
    pub fn merge(&mut self, other: &[usize]) {
        if self.0.len() < other.len() {
            self.0.resize(other.len(), 0);
        }
        for (w, &o) in self.0.iter_mut().zip(other) {
            *w = (*w).max(o);
        }
    }

    pub fn into_vec(self) -> Vec<usize> {
        self.0
    }
}

/// The content width comfy_table gives an `Absolute`/`LowerBoundary` width
/// (`absolute_width_with_padding`): padding off, at least 1.
fn without_padding(w: u16) -> u16 {
    w.saturating_sub(PADDING).max(1)
}

/// The arrangement's running state (`ArrangementState`).
struct State {
    /// Content widths decided so far (`infos`).
    fixed: Vec<Option<u16>>,
    remaining_width: usize,
    remaining_columns: usize,
}

impl State {
    fn average_space(&self) -> usize {
        self.remaining_width
            .checked_div(self.remaining_columns)
            .unwrap_or(0)
    }

    /// `fix_column`: false when no column is left undecided.
    fn fix(&mut self, col: usize, content_width: u16) -> bool {
        // ColumnDisplayInfo::new keeps at least 1; the budget loses what was asked.
        self.fixed[col] = Some(content_width.max(1));
        self.remaining_width = self.remaining_width.saturating_sub(content_width.into());
        self.remaining_columns -= 1;
        self.remaining_columns > 0
    }
}

/// Each column's content width (padding excluded) in a table `width` wide
/// whose column 0 has `LowerBoundary(Fixed(lower))`, as comfy_table's
/// dynamic arrangement chooses it. `longest(avg, cols)` answers, for each
/// column of `cols` (in that order), the widest line of its cells, header
/// included, once lines wider than `avg` are split at `avg` ([`split_line`]).
pub fn arrange(
    width: u16,
    lower: u16,
    widest: &Widest,
    mut longest: impl FnMut(usize, &[usize]) -> io::Result<Vec<usize>>,
) -> io::Result<Vec<u16>> {
    let n = widest.columns();
    // `column_max_content_widths`: at least 1, at most u16::MAX.
    let max: Vec<u16> = widest
        .0
        .iter()
        .map(|w| u16::try_from(*w).unwrap_or(u16::MAX).max(1))
        .collect();
    let mut fixed = vec![None; n];
    // constraint::evaluate: a lower boundary above the content fixes the column.
    if n > 0 && max[0].wrapping_add(PADDING) <= lower {
        fixed[0] = Some(without_padding(lower));
    }
    // ArrangementState::new: borders left, right and between columns, then
    // the undecided columns' padding and the decided columns' full width.
    let mut remaining_width = usize::from(width).saturating_sub(n + 1);
    for f in &fixed {
        remaining_width = remaining_width.saturating_sub(match f {
            None => PADDING.into(),
            Some(w) => w.saturating_add(PADDING).into(),
        });
    }
    let remaining_columns = fixed.iter().filter(|f| f.is_none()).count();
    let mut s = State {
        fixed,
        remaining_width,
        remaining_columns,
    };

    // enforce_lower_boundary_constraints: only column 0 has one.
    if s.remaining_columns > 0 && s.fixed[0].is_none() && s.average_space() < lower.into() {
        s.fix(0, without_padding(lower));
    }

    // find_columns_that_fit_into_average (no column has an upper boundary).
    let mut found_smaller = true;
    while found_smaller {
        found_smaller = false;
        if s.remaining_columns == 0 || s.average_space() == 0 {
            break;
        }
        for (col, &m) in max.iter().enumerate() {
            if s.fixed[col].is_some() {
                continue;
            }
            if usize::from(m) <= s.average_space() {
                if !s.fix(col, m) {
                    break;
                }
                found_smaller = true;
            }
        }
    }

    // optimize_space_after_split, with each (column, trial width) asked once.
    if s.remaining_columns > 0 {
        let mut known: HashMap<(usize, usize), usize> = HashMap::new();
        let mut found_smaller = true;
        while found_smaller {
            found_smaller = false;
            for col in 0..n {
                if s.fixed[col].is_some() {
                    continue;
                }
                let avg = s.average_space();
                let longest_line = if widest.0[col] <= avg {
                    // Nothing to split: the widest line as it is.
                    widest.0[col]
                } else {
                    if !known.contains_key(&(col, avg)) {
                        // One pass answers every undecided column at this width.
                        let cols: Vec<usize> = (0..n)
                            .filter(|c| s.fixed[*c].is_none() && widest.0[*c] > avg)
                            .collect();
                        let got = longest(avg, &cols)?;
                        for (c, l) in cols.iter().zip(got) {
                            known.insert((*c, avg), l);
                        }
                    }
                    *known
                        .get(&(col, avg))
                        .ok_or_else(|| io::Error::other("table layout: a column not measured"))?
                };
                if avg.saturating_sub(longest_line) >= 3 {
                    if !s.fix(col, u16::try_from(longest_line).unwrap_or(u16::MAX)) {
                        break;
                    }
                    found_smaller = true;
                }
            }
        }
    }

    // distribute_remaining_space: what is left, evenly, the first ones
    // one wider; at least 1 each.
    if s.remaining_columns > 0 {
        let left = s.remaining_columns;
        let space = s.remaining_width.max(left);
        let (avg, mut excess) = (space / left, space % left);
        for col in 0..n {
            if s.fixed[col].is_none() {
                let w = if excess > 0 { avg + 1 } else { avg };
                excess = excess.saturating_sub(1);
                s.fixed[col] = Some(u16::try_from(w).unwrap_or(u16::MAX).max(1));
            }
        }
    }
    Ok(s.fixed.into_iter().map(|f| f.unwrap_or(1)).collect())
}

/// The widest line of `cell` once its lines wider than `avg` are split
/// (`longest_line_after_split`, for one cell).
pub fn longest_after_split(cell: &str, avg: usize) -> usize {
    let content_width = u16::try_from(avg).unwrap_or(u16::MAX).max(1);
    cell.split('\n')
        .map(|line| {
            let w = line.width();
            if w > avg {
                split_line(line, content_width.into())
                    .iter()
                    .map(|p| p.width())
                    .max()
                    .unwrap_or(0)
            } else {
                w
            }
        })
        .max()
        .unwrap_or(0)
}

/// Never fewer free characters on a line before an element goes to the
/// next one (`MIN_FREE_CHARS`).
const MIN_FREE_CHARS: usize = 2;

/// comfy_table's `split_line` (`content_split/mod.rs`, without the
/// custom_styling feature) with ' ' as delimiter: words are put on lines
/// `content_width` wide, a word longer than a line is cut.
pub fn split_line(line: &str, content_width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut elements: Vec<Cow<'_, str>> = line.split(' ').map(Cow::Borrowed).collect();
    elements.reverse();
    let mut current_line = String::new();
    let mut current_length = 0;
    while let Some(next) = elements.pop() {
        let next_length = next.width();
        let mut added_length = next_length + current_length;
        if !current_line.is_empty() {
            added_length += 1;
        }
        let mut remaining_width = content_width.saturating_sub(current_length);
        if !current_line.is_empty() {
            remaining_width = remaining_width.saturating_sub(1);
        }
        // The element fits on the current line.
        if added_length <= content_width {
            if !current_line.is_empty() {
                current_line.push(' ');
                current_length += 1;
            }
            current_line.push_str(&next);
            current_length += next_length;
            check_if_full(
                &mut lines,
                content_width,
                &mut current_line,
                &mut current_length,
            );
            continue;
        }
        // Too little room left to cut a piece on this line: a new line.
        if !current_line.is_empty() && remaining_width <= MIN_FREE_CHARS {
            elements.push(next);
            lines.push(std::mem::take(&mut current_line));
            current_length = 0;
            continue;
        }
        // A word longer than a line: fill this line with its head.
        if next_length > content_width {
            let new_line = current_line.is_empty();
            if !new_line {
                current_line.push(' ');
            }
            let (head, tail) = split_long_word(remaining_width, &next);
            if new_line && head.is_empty() {
                // A wide character in a 1-wide column: it goes anyway.
                let mut chars = tail.chars();
                if let Some(c) = chars.next() {
                    current_line.push(c);
                }
                elements.push(Cow::Owned(chars.collect()));
            } else {
                current_line.push_str(head);
                elements.push(Cow::Owned(tail.to_string()));
            }
            lines.push(std::mem::take(&mut current_line));
            current_length = 0;
            continue;
        }
        // The word fits a line of its own.
        lines.push(std::mem::take(&mut current_line));
        current_line = next.into_owned();
        current_length = next_length;
        check_if_full(
            &mut lines,
            content_width,
            &mut current_line,
            &mut current_length,
        );
    }
    if !current_line.is_empty() {
        lines.push(current_line);
    }
    lines
}

/// Ends the current line when at most [`MIN_FREE_CHARS`] are left on it.
fn check_if_full(
    lines: &mut Vec<String>,
    content_width: usize,
    current_line: &mut String,
    current_length: &mut usize,
) {
    if *current_length > content_width.saturating_sub(MIN_FREE_CHARS) {
        lines.push(std::mem::take(current_line));
        *current_length = 0;
    }
}

/// comfy_table's `split_long_word`: the head of `word` at most
/// `allowed_width` wide, cut between graphemes, and the rest.
fn split_long_word(allowed_width: usize, word: &str) -> (&str, &str) {
    if word.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return word.split_at(word.len().min(allowed_width));
    }
    let mut current_width = 0;
    let mut split_index = word.len();
    for (index, g) in word.grapheme_indices(true) {
        let w = g.width();
        if current_width + w > allowed_width {
            split_index = index;
            break;
        }
        current_width += w;
    }
    word.split_at(split_index)
}
