//! The end of a container's run, in one place. Whatever a run holds on
//! the host (its cgroup today; network attachments, volumes in use and
//! address leases as they come) is listed in `RunResources` and released
//! by `teardown_run`, which every path where a run ends calls: the
//! foreground `run`, the monitor after each exit, a start that failed
//! half-way, and `refresh` of a container whose monitor died.

use std::os::fd::OwnedFd;

use super::EngineError;
use super::cgroup;
use super::cleanup::remove_tree;
use super::network_run::NetworkRun;
use super::volumes::remove_anonymous_volumes;
use crate::sandbox::cgroups::Cgroup;
use crate::state::{
    ContainerPaths, ContainerRecord, ContainerState, ContainerStore, RunExit, StorageDirs,
};

/// What one run of a container holds on the host until its PID 1 is
/// reaped.
#[derive(Default)]
pub struct RunResources {
    /// The run's own cgroup; `None` when it runs without one.
    pub cgroup: Option<Cgroup>,
    /// Its pasta, addresses, links and rules.
    pub network: NetworkRun,
}

impl RunResources {
    /// What the record says a run holds: for a run whose owner (monitor
    /// or foreground `skiff run`) died without releasing it.
    pub fn recorded(dirs: &StorageDirs, record: &ContainerRecord) -> RunResources {
        RunResources {
            cgroup: record.state.cgroup_path.as_deref().and_then(Cgroup::open),
            network: NetworkRun::recorded(dirs, record),
        }
    }

    /// Writes what the run holds into its state (the record a `refresh`
    /// reads if the run's owner dies).
    pub fn record_into(&self, state: &mut ContainerState) {
        state.cgroup_path = self.cgroup.as_ref().map(Cgroup::path);
        self.network.record_into(state);
    }
}

/// What tearing a run down learned about how it ended.
pub struct RunTeardown {
    /// The OOM killer ended a process of the run.
    pub oom_killed: bool,
}

/// Releases everything one run held. Best effort: a resource that cannot
/// be released must not hide how the container ended.
pub fn teardown_run(resources: RunResources) -> RunTeardown {
    // The cgroup first: removing it ends whatever is left of the
    // container, which then no longer uses its network.
    let oom_killed = cgroup::release(resources.cgroup.as_ref());
    resources.network.release();
    RunTeardown { oom_killed }
}

/// A container's run ended for good (no restart follows): writes the exit
/// into `record`, removes the per-run files under the runroot, and removes
/// a `--rm` container whole or saves the record. The caller holds the
/// container's lock. `user_namespace` is the container's (rootless), for
/// files its users wrote.
pub(super) fn retire_container(
    store: &ContainerStore,
    record: &mut ContainerRecord,
    paths: &ContainerPaths,
    exit: RunExit,
    user_namespace: Option<&OwnedFd>,
) -> Result<(), EngineError> {
    record.state.mark_exited(exit);
    let _ = remove_tree(&paths.run_dir, user_namespace);
    if record.config.auto_remove {
        store.forget(record);
        remove_tree(&paths.dir, user_namespace)?;
        // `--rm` takes the container's anonymous volumes with it, as
        // docker's does; a leftover one is only disk, shown by `volume ls`.
        let _ = remove_anonymous_volumes(store.dirs(), record);
        Ok(())
    } else {
        Ok(store.save(record)?)
    }
}
