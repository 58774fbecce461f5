//! Which stages a build runs: the target (`--target`, else the last
//! stage) and, transitively, the stages it names as a base (`FROM
//! builder`), as a COPY source (`COPY --from=builder`, `--from=0`) or
//! as a RUN mount's (`--mount=type=bind,from=builder`).
//! Other stages are skipped, as BuildKit does.

use super::dockerfile::{Dockerfile, Instruction};
use super::run_mount_from::bind_from;

/// The stage `name` refers to among the first `before` stages: its `AS`
/// name (case-insensitive) or its index.
pub fn stage_named(df: &Dockerfile, name: &str, before: usize) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    df.stages[..before]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|&i| i < before))
}

/// The index of the target stage.
pub fn target_stage(df: &Dockerfile, target: Option<&str>) -> Result<usize, String> {
    match target {
        None => Ok(df.stages.len().saturating_sub(1)),
        Some(t) => stage_named(df, t, df.stages.len())
            .ok_or_else(|| format!("target stage \"{t}\" could not be found")),
    }
}

/// Stages `target` needs, `true` for each one to build. Names in
/// `--from` are taken as written (a variable there is resolved when the
/// step runs; such a stage is kept when its name could match nothing).
pub fn needed_stages(df: &Dockerfile, target: usize) -> Vec<bool> {
    let mut needed = vec![false; df.stages.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if needed[i] {
            continue;
        }
        needed[i] = true;
        let stage = &df.stages[i];
        let mut refs = vec![stage.base.clone()];
        for instruction in &stage.instructions {
            let copy = match &instruction.value {
                Instruction::Copy(c) | Instruction::Add(c) => c,
                Instruction::Run(run) => {
                    // `RUN --mount=type=bind,from=<stage>`.
                    refs.extend(run.mounts.iter().filter_map(|m| bind_from(m)));
                    continue;
                }
                _ => continue,
            };
            if let Some(from) = &copy.from {
                refs.push(from.clone());
            }
        }
        for name in refs {
            if name.contains('$') {
                // Unknown until run: keep every earlier stage.
                todo.extend(0..i);
            } else if let Some(j) = stage_named(df, &name, i) {
                todo.push(j);
            }
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_needs_its_bases_and_copy_sources_only() {
        let df = super::super::dockerfile::parse(
            "FROM busybox AS base\nFROM base AS builder\nRUN make\nFROM busybox AS unused\nFROM busybox AS tools\nFROM busybox\nCOPY --from=builder /out /out\nRUN --mount=type=bind,from=3,target=/t true\n",
            "Dockerfile",
        )
        .unwrap();
        assert_eq!(target_stage(&df, None).unwrap(), 4);
        assert_eq!(
            needed_stages(&df, 4),
            [true, true, false, true, true],
            "base (via builder), builder, tools (by index), the target"
        );
        assert_eq!(target_stage(&df, Some("Builder")).unwrap(), 1);
        assert_eq!(needed_stages(&df, 1), [true, true, false, false, false]);
        assert!(target_stage(&df, Some("nope")).is_err());
    }
}
