//! Leftovers: jail containers whose owning process is gone (it crashed, or was killed
//! before it could clean up). Every jail container is labelled with its owner, so the
//! next jail to start, or `hoosegow prune`, finds and removes them.

use crate::docker::container::{self, LABEL_JAIL, LABEL_JAIL_ID, LABEL_OWNER};
use crate::error::Error;
use bollard::Docker;
use bollard::query_parameters::{ListContainersOptionsBuilder, RemoveContainerOptionsBuilder};
use std::collections::HashMap;
use std::time::Duration;

/// Removes the jail containers of processes of this machine that no longer run (all jail
/// containers, with `all`). Returns the ids removed.
pub async fn prune(docker: &Docker, all: bool) -> Result<Vec<String>, Error> {
    let host = container::hostname();
    remove_where(docker, LABEL_JAIL, |labels| {
        let owner = labels
            .get(LABEL_OWNER)
            .map(String::as_str)
            .unwrap_or_default();
        all || orphaned(owner, &host)
    })
    .await
}

/// Removes every container of the jail `jail_id`, whatever state it is in.
pub async fn remove_jail(docker: &Docker, jail_id: &str) -> Result<Vec<String>, Error> {
    let label = format!("{LABEL_JAIL_ID}={jail_id}");
    remove_where(docker, &label, |_| true).await
}

/// Force-removes the containers carrying `label` (`name` or `name=value`) whose labels
/// `chosen` accepts; returns their ids. One that someone else is removing at the same
/// time is waited for (a few seconds at most), so that when this returns, they are gone.
async fn remove_where(
    docker: &Docker,
    label: &str,
    chosen: impl Fn(&HashMap<String, String>) -> bool,
) -> Result<Vec<String>, Error> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let listed = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| Error::docker("list jail containers", e))?;
    let mut removed = Vec::new();
    for found in listed {
        let Some(id) = found.id else { continue };
        if !chosen(&found.labels.unwrap_or_default()) {
            continue;
        }
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => removed.push(id),
            // Gone already.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            // Being removed by someone else right now.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => gone(docker, &id).await,
            Err(e) => return Err(Error::docker(format!("remove jail container {id}"), e)),
        }
    }
    Ok(removed)
}

/// Waits until container `id` no longer exists, for [`REMOVAL_WAIT`] at most.
async fn gone(docker: &Docker, id: &str) {
    let deadline = tokio::time::Instant::now() + REMOVAL_WAIT;
    while tokio::time::Instant::now() < deadline {
        let inspected = docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await;
        if inspected.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How long a removal someone else started is waited for.
const REMOVAL_WAIT: Duration = Duration::from_secs(10);

/// Whether `owner` (`host:pid:start`) is a process of `host` that is no longer running.
/// Containers of other machines sharing the daemon are theirs to prune.
fn orphaned(owner: &str, host: &str) -> bool {
    let mut parts = owner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(owner_host)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return false;
    };
    owner_host == host && container::start_time(pid) != Some(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_owners_of_this_machine_are_orphans() {
        let me = container::owner();
        let host = container::hostname();
        assert!(!orphaned(&me, &host), "this process is alive: {me}");
        let pid = std::process::id();
        assert!(
            orphaned(&format!("{host}:{pid}:1"), &host),
            "same pid, another start: pid reused"
        );
        assert!(orphaned(&format!("{host}:4000000:1"), &host), "no such pid");
        assert!(!orphaned("elsewhere:4000000:1", &host), "another machine's");
        assert!(!orphaned("garbage", &host));
    }
}
