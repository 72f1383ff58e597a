//! Which objects may be applied at the same time, and on how many workers.
//!
//! Program verification dominates load time and the kernel runs it in the
//! thread that calls `BPF_PROG_LOAD`, so applying independent objects from
//! several threads puts every core to work.
//!
//! Two objects depend on each other when some final pin path of one is also
//! a final pin path of the other (a shared `map__<name>`, two files with the
//! same object name, a `pin_subdir` collision). Dependent objects form one
//! group, applied in readdir order by one worker, exactly as one worker
//! would apply the whole batch: a later object reuses the map an earlier
//! one pinned. Objects of different groups touch disjoint pins (temporary
//! names are unique per object), so whatever the interleaving, the pin tree
//! is the one the sequential mode builds. With one worker this *is* the
//! sequential mode.
//!
//! File descriptors: each object holds one per map and program until its
//! pins exist. A worker takes the object's whole need ([`LoadPlan::fd_need`])
//! from a shared budget before it starts and gives it back after, so no
//! worker's descriptors can make another worker's object fail with
//! `EMFILE`. An object that needs more than the whole budget waits for all
//! of it and runs alone, with every descriptor the process may open, as the
//! sequential mode runs it: it loads if the process limit allows, else it
//! fails with the kernel's `EMFILE`, in both modes, and nothing else is
//! running to be hurt by it.

use super::{object, EngineCtx, LoadConfig, LoadError, ObjectOutcome, Prepared};
use crate::error::ObjectError;
use crate::paths::Location;
use crate::plan::{LoadPlan, ObjectPlan};
use crate::spec::ObjectSpec;
use crate::sys::Sys;
use std::cmp::Reverse;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Union-find over object indices; the root of a set is its smallest index.
struct Sets {
    parent: Vec<usize>,
}

impl Sets {
    fn new(n: usize) -> Self {
        Sets {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while let Some(&p) = self.parent.get(i) {
            if p == i {
                break;
            }
            let gp = self.parent.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.parent.get_mut(i) {
                *slot = gp;
            }
            i = gp;
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        if let Some(slot) = self.parent.get_mut(hi) {
            *slot = lo;
        }
    }
}

/// Partitions plans into groups that share no final pin path. Each group
/// lists indices into `plans` in increasing (readdir) order; groups are
/// ordered by their first index.
pub(crate) fn groups(plans: &[&LoadPlan]) -> Vec<Vec<usize>> {
    let mut sets = Sets::new(plans.len());
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, plan) in plans.iter().enumerate() {
        for path in plan.final_pins() {
            match owner.get(path) {
                Some(&first) => sets.union(first, i),
                None => {
                    owner.insert(path, i);
                }
            }
        }
    }
    let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); plans.len()];
    for i in 0..plans.len() {
        let root = sets.find(i);
        if let Some(g) = by_root.get_mut(root) {
            g.push(i);
        }
    }
    by_root.retain(|g| !g.is_empty());
    by_root
}

/// The file descriptors all workers may hold at once.
pub(crate) struct FdBudget {
    total: usize,
    free: Mutex<usize>,
    cv: Condvar,
}

impl FdBudget {
    /// A budget of `total` descriptors (at least one, so that with none to
    /// spare objects still run, one at a time).
    pub(crate) fn new(total: usize) -> Self {
        let total = total.max(1);
        FdBudget {
            total,
            free: Mutex::new(total),
            cv: Condvar::new(),
        }
    }

    /// Waits until `n` descriptors are free and takes them. More than the
    /// whole budget waits until all of it is free and takes it all: the
    /// object runs alone.
    pub(crate) fn take(&self, n: usize) -> FdGuard<'_> {
        let n = n.min(self.total);
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free < n {
            free = self.cv.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= n;
        FdGuard { budget: self, n }
    }
}

/// Descriptors taken from an [`FdBudget`], given back on drop.
pub(crate) struct FdGuard<'a> {
    budget: &'a FdBudget,
    n: usize,
}

impl Drop for FdGuard<'_> {
    fn drop(&mut self) {
        let mut free = self.budget.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += self.n;
        self.budget.cv.notify_all();
    }
}

/// Most attempts at one object when other loaders keep creating its pins
/// first (each attempt reuses more of what they made; only loaders running
/// without the board's run lock can race).
const RACE_ATTEMPTS: usize = 3;

/// `v` without spare capacity.
fn tight<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

/// Applies one planned object, again if another loader raced it to one
/// of its pins: re-planned (fresh temporary names: the first attempt's are
/// left where they are), the second attempt finds and reuses what the
/// other loader made.
fn apply_one(
    ctx: &EngineCtx<'_>,
    location: &Location,
    budget: &FdBudget,
    spec: &ObjectSpec,
    plan: &LoadPlan,
) -> ObjectOutcome {
    let need = plan.fd_need();
    if need > budget.total {
        log::warn!(
            "{}: needs {need} file descriptors at once, more than the {} the loader budgets for objects (RLIMIT_NOFILE); loading it alone",
            crate::logging::shown(ctx.file),
            budget.total
        );
    }
    let _fds = budget.take(need);
    let mut attempt = object::apply(ctx, spec, plan);
    for _ in 1..RACE_ATTEMPTS {
        let Err(LoadError::Raced { pin }) = &attempt else {
            break;
        };
        log::warn!(
            "{}: {pin} was created by another loader meanwhile; trying the object again",
            crate::logging::shown(ctx.file)
        );
        match super::plan_for(ctx.cfg, location, spec) {
            Ok(ObjectPlan::Load(again)) => attempt = object::apply(ctx, spec, &again),
            Ok(ObjectPlan::Skip { reason }) => return ObjectOutcome::Skipped { reason },
            Err(e) => {
                return ObjectOutcome::Failed {
                    error: ObjectError::Plan(e),
                }
            }
        }
    }
    match attempt {
        // The report outlives the load (the location's report keeps every
        // object's): it keeps no spare capacity.
        Ok(a) => ObjectOutcome::Loaded {
            maps: tight(a.maps),
            programs: tight(a.programs),
            skipped: tight(a.skipped),
            warnings: spec
                .warnings
                .iter()
                .chain(&plan.warnings)
                .cloned()
                .collect(),
        },
        Err(e) => ObjectOutcome::Failed {
            error: ObjectError::Load(e),
        },
    }
}

/// Applies a batch of prepared objects and returns one outcome per entry,
/// in the same order.
pub(crate) fn run(
    sys: &dyn Sys,
    cfg: &LoadConfig,
    location: &Location,
    batch: &[Prepared],
) -> Vec<ObjectOutcome> {
    let mut outcomes: Vec<Option<ObjectOutcome>> = batch
        .iter()
        .map(|p| match &p.stage {
            Err(error) => Some(ObjectOutcome::Failed {
                error: error.clone(),
            }),
            Ok((_, ObjectPlan::Skip { reason })) => Some(ObjectOutcome::Skipped {
                reason: reason.clone(),
            }),
            Ok((_, ObjectPlan::Load(_))) => None,
        })
        .collect();
    // The objects to apply: (index in batch, file, spec, plan).
    let todo: Vec<(usize, &Path, &ObjectSpec, &LoadPlan)> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match &p.stage {
            Ok((spec, ObjectPlan::Load(plan))) => Some((i, p.file.as_path(), spec, plan)),
            _ => None,
        })
        .collect();
    let plans: Vec<&LoadPlan> = todo.iter().map(|t| t.3).collect();
    let mut groups = groups(&plans);
    // Most programs first, so that a big group does not start last and
    // leave the other cores idle at the end (stable: ties keep readdir order).
    groups.sort_by_key(|g| {
        Reverse(
            g.iter()
                .filter_map(|&j| plans.get(j))
                .map(|p| p.prog_loads().count())
                .sum::<usize>(),
        )
    });
    let budget = FdBudget::new(cfg.fd_budget);
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        while let Some(group) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
            for &(i, file, spec, plan) in group.iter().filter_map(|&j| todo.get(j)) {
                let ctx = EngineCtx { sys, cfg, file };
                done.push((i, apply_one(&ctx, location, &budget, spec, plan)));
            }
        }
        done
    };
    let workers = cfg.workers.min(groups.len()).max(1);
    let done: Vec<(usize, ObjectOutcome)> = if workers == 1 {
        work()
    } else {
        std::thread::scope(|s| {
            // The calling thread is one of the workers; if helpers cannot be
            // started, it simply does all the work itself.
            let helpers: Vec<_> = (1..workers)
                .filter_map(|n| {
                    std::thread::Builder::new()
                        .name(format!("netbpfload-{n}"))
                        .spawn_scoped(s, work)
                        .inspect_err(|e| log::warn!("cannot start loader thread {n}: {e}"))
                        .ok()
                })
                .collect();
            let mut done = work();
            for h in helpers {
                match h.join() {
                    Ok(d) => done.extend(d),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            done
        })
    };
    for (i, outcome) in done {
        if let Some(slot) = outcomes.get_mut(i) {
            *slot = Some(outcome);
        }
    }
    outcomes
        .into_iter()
        .map(|o| {
            // Unreachable: the groups partition the planned objects and
            // every group is taken by exactly one worker.
            o.unwrap_or_else(|| ObjectOutcome::Failed {
                error: ObjectError::Load(LoadError::Raced {
                    pin: "internal error: object not scheduled".into(),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::FdBudget;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// Waits (bounded) for `flag`; false if it never became true.
    fn eventually(flag: &AtomicBool) -> bool {
        for _ in 0..500 {
            if flag.load(Ordering::SeqCst) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn an_object_over_the_budget_waits_for_all_of_it_and_runs_alone() {
        let budget = FdBudget::new(6);
        let small = budget.take(2);
        let big_running = AtomicBool::new(false);
        let small_again = AtomicBool::new(false);
        std::thread::scope(|s| {
            let big = s.spawn(|| {
                let g = budget.take(9);
                big_running.store(true, Ordering::SeqCst);
                // While it runs, nobody else gets a descriptor.
                std::thread::sleep(Duration::from_millis(100));
                assert!(
                    !small_again.load(Ordering::SeqCst),
                    "ran beside the big one"
                );
                drop(g);
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                !big_running.load(Ordering::SeqCst),
                "started while 2 of 6 were taken"
            );
            drop(small);
            assert!(eventually(&big_running), "never started");
            let _again = budget.take(1);
            small_again.store(true, Ordering::SeqCst);
            big.join().expect("big");
        });
        // Everything given back.
        assert_eq!(*budget.free.lock().expect("lock"), 6);
        // A zero budget still lets objects run, one at a time.
        let none = FdBudget::new(0);
        let g = none.take(5);
        assert_eq!(*none.free.lock().expect("lock"), 0);
        drop(g);
        assert_eq!(*none.free.lock().expect("lock"), 1);
    }
}
