//! `include=OTHER`: a section's keys with each include replaced by the other
//! section's keys, in place (as Distrobox 1 does it textually), so the
//! section's own later keys win.
//!
//! Issue 9: a 1.7 KB file whose sections each include the previous one twice
//! took gigabytes, because every path through the includes was copied. Here
//! each section is resolved once (memoized), its size is counted before
//! anything is copied, and a box that would get more than `MAX_KEYS` keys,
//! or includes nested deeper than `MAX_DEPTH`, is an error. Cycles are errors
//! that name the chain.

use std::collections::HashMap;
use std::rc::Rc;

use super::super::parse::did_you_mean;
use super::at_error;
use super::syntax::{RawEntry, RawSection};
use crate::error::Result;

/// Most keys a box may have once its includes are resolved.
pub(super) const MAX_KEYS: usize = 4096;
/// Deepest chain of includes.
pub(super) const MAX_DEPTH: usize = 32;
/// Most keys all the boxes of a file may have together once includes are
/// resolved: one big section included by thousands of small ones is copied
/// into each of them.
pub(super) const MAX_FILE_KEYS: usize = 16 * 1024;

/// A key of a box after includes, with the section it was written in.
#[derive(Debug, Clone)]
pub(super) struct Resolved<'a> {
    pub entry: &'a RawEntry,
    pub from: &'a str,
}

/// Each section's keys with includes resolved, in the file's order of sections.
pub(super) fn resolve(sections: &[RawSection]) -> Result<Vec<Rc<Vec<Resolved<'_>>>>> {
    let mut r = Resolver { sections, by_name: HashMap::new(), counts: HashMap::new(), done: HashMap::new() };
    for (i, s) in sections.iter().enumerate() {
        r.by_name.insert(s.name.as_str(), i);
    }
    // Count first (cheap, memoized, saturating), so a doubling file fails before it is copied.
    let mut total: usize = 0;
    for (i, s) in sections.iter().enumerate() {
        let (count, _) = r.count(i, &mut Vec::new())?;
        total = total.saturating_add(count);
        if total > MAX_FILE_KEYS {
            return Err(at_error(
                &s.at,
                format!(
                    "the file's sections have more than {MAX_FILE_KEYS} keys together once their includes are \
                     resolved (section [{}] passes it)",
                    s.name
                ),
                Some("a section counts again in each section that includes it; include big sections less often".into()),
            ));
        }
        if count > MAX_KEYS {
            return Err(at_error(
                &s.at,
                format!(
                    "section [{}] has {} keys once its includes are resolved (at most {MAX_KEYS})",
                    s.name,
                    if count == usize::MAX { "too many".to_string() } else { count.to_string() }
                ),
                Some("include each section once; a section included twice counts twice".into()),
            ));
        }
    }
    (0..sections.len()).map(|i| Ok(r.entries(i))).collect()
}

struct Resolver<'a> {
    sections: &'a [RawSection],
    by_name: HashMap<&'a str, usize>,
    /// Per section: its number of keys and the depth of its includes.
    counts: HashMap<usize, (usize, usize)>,
    done: HashMap<usize, Rc<Vec<Resolved<'a>>>>,
}

impl<'a> Resolver<'a> {
    /// The included sections of an entry, by index; an unknown name is an error.
    fn targets(&self, entry: &RawEntry) -> Result<Vec<usize>> {
        let text = entry.text().replace('"', "");
        text.split_whitespace()
            .map(|name| {
                self.by_name.get(name).copied().ok_or_else(|| {
                    let names: Vec<&str> = self.by_name.keys().copied().collect();
                    let hint = did_you_mean(name, &names).map(|n| format!("did you mean {n:?}?"));
                    at_error(&entry.at, format!("include of {name:?}: there is no such section"), hint)
                })
            })
            .collect()
    }

    /// How many keys section `i` has after includes, and how deep they nest;
    /// checks cycles and depth.
    fn count(&mut self, i: usize, stack: &mut Vec<usize>) -> Result<(usize, usize)> {
        if let Some(&n) = self.counts.get(&i) {
            return Ok(n);
        }
        stack.push(i);
        let section = &self.sections[i];
        let mut n: usize = 0;
        let mut depth = 0;
        for entry in &section.entries {
            if entry.key != "include" {
                n = n.saturating_add(1);
                continue;
            }
            for target in self.targets(entry)? {
                if let Some(pos) = stack.iter().position(|&s| s == target) {
                    let mut chain: Vec<&str> = stack[pos..].iter().map(|&s| self.sections[s].name.as_str()).collect();
                    chain.push(&self.sections[target].name);
                    return Err(at_error(&entry.at, format!("include cycle: {}", chain.join(" → ")), None));
                }
                // The stack bounds the recursion; `below` the memoized depth.
                let (count, below) = if stack.len() > MAX_DEPTH { (0, MAX_DEPTH) } else { self.count(target, stack)? };
                if below + 1 > MAX_DEPTH {
                    return Err(at_error(
                        &entry.at,
                        format!("includes are nested deeper than {MAX_DEPTH} sections"),
                        None,
                    ));
                }
                n = n.saturating_add(count);
                depth = depth.max(below + 1);
            }
        }
        stack.pop();
        self.counts.insert(i, (n, depth));
        Ok((n, depth))
    }

    /// The resolved keys of section `i`; `count` has checked it is acyclic and small.
    fn entries(&mut self, i: usize) -> Rc<Vec<Resolved<'a>>> {
        if let Some(done) = self.done.get(&i) {
            return Rc::clone(done);
        }
        let section = &self.sections[i];
        let mut out = Vec::with_capacity(self.counts.get(&i).map_or(0, |c| c.0));
        for entry in &section.entries {
            if entry.key != "include" {
                out.push(Resolved { entry, from: &section.name });
                continue;
            }
            for target in self.targets(entry).unwrap_or_default() {
                out.extend(self.entries(target).iter().cloned());
            }
        }
        let out = Rc::new(out);
        self.done.insert(i, Rc::clone(&out));
        out
    }
}
