//! Where a new Machine goes: the same rule at time 0 and for Machines created during the run.
//!
//! Fly places a Machine on a worker of the requested region that has resources, by a choice
//! it does not publish (`spec/fly-platform.md` §5.3). flysim spreads an app's Machines: the
//! host of the region with the fewest of that app's Machines, then the most free memory, then
//! the lowest index; a standby never shares a host with a Machine it watches (unless the
//! region has one host). At time 0 a Machine that finds no room is created stopped; during the
//! run a create needs a host that is up and has room for it, else it fails. A start that finds
//! a stopped Machine's host full may move it ([`may_migrate`]) to a host chosen by the same
//! rule.
//!
//! Pure functions over the hosts: cost O(hosts in the region) per Machine.

use super::hosts::Host;
use super::ids::HostId;
use super::machine::{MState, Machine};
use crate::scenario::{Scenario, VmSize};

/// Whether a start may move stopped `m` off its full host: the platform migrates
/// (`autostart_migrate`) and it has no volume (Fly moves stopped Machines without volumes on
/// start: community.fly.io "Lack of capacity? No problem, we have you covered", 2024).
pub fn may_migrate(sc: &Scenario, m: &Machine) -> bool {
    let group = &sc.apps[m.app.index()].groups[m.group as usize];
    sc.platform.autostart_migrate
        && m.state == MState::Stopped
        && !group.volume_gb.is_some_and(|gb| gb > 0.0)
}

/// The host for a new Machine among `candidates` (a region's hosts), given every host
/// (`hosts`, by id), how many of the app's Machines each host holds (`app_on_host`, by host
/// id) and hosts to `avoid`. With `room_for`, only hosts that are up and have room for that
/// size qualify, and `None` means none does.
pub fn choose_host(
    hosts: &[Host],
    candidates: &[HostId],
    app_on_host: &[u32],
    avoid: &[HostId],
    room_for: Option<&VmSize>,
) -> Option<HostId> {
    candidates
        .iter()
        .copied()
        .filter(|h| !avoid.contains(h) || candidates.len() == 1)
        .filter(|&h| {
            let hs = &hosts[h.index()];
            room_for.is_none_or(|vm| hs.can_take(vm))
        })
        .min_by_key(|&h| {
            let hs = &hosts[h.index()];
            (
                app_on_host[h.index()],
                std::cmp::Reverse(hs.memory_mb - hs.used_mb),
                h,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::CpuKind;

    fn host(used_mb: u64) -> Host {
        let mut h = Host::new(0, 4, 1024);
        h.used_mb = used_mb;
        h
    }

    const VM: VmSize = VmSize {
        cpu_kind: CpuKind::Shared,
        cpus: 1,
        memory_mb: 512,
    };

    #[test]
    fn spreads_then_prefers_free_memory_then_the_lowest_index() {
        let hosts = vec![host(0), host(256), host(0)];
        let all = [HostId(0), HostId(1), HostId(2)];
        let h = |i| Some(HostId(i));
        assert_eq!(choose_host(&hosts, &all, &[1, 0, 0], &[], None), h(2));
        assert_eq!(choose_host(&hosts, &all, &[0, 0, 0], &[], None), h(0));
        assert_eq!(choose_host(&hosts, &all, &[1, 0, 1], &[], None), h(1));
        // A standby avoids the host it watches, unless that is the only host.
        assert_eq!(
            choose_host(&hosts, &all, &[0, 0, 0], &[HostId(0)], None),
            h(2)
        );
        assert_eq!(
            choose_host(&hosts, &[HostId(1)], &[0, 0, 0], &[HostId(1)], None),
            h(1)
        );
    }

    #[test]
    fn a_create_during_the_run_needs_an_up_host_with_room() {
        let mut hosts = vec![host(768), host(0)];
        hosts[1].outages = 1;
        assert_eq!(
            choose_host(&hosts, &[HostId(0), HostId(1)], &[0, 0], &[], Some(&VM)),
            None
        );
        hosts[1].outages = 0;
        assert_eq!(
            choose_host(&hosts, &[HostId(0), HostId(1)], &[0, 5], &[], Some(&VM)),
            Some(HostId(1))
        );
        // Without a size (time 0), the spread alone decides.
        assert_eq!(
            choose_host(&hosts, &[HostId(0), HostId(1)], &[0, 5], &[], None),
            Some(HostId(0))
        );
    }
}
