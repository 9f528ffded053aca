//! Hosts: their capacity, what their Machines hold, whether they are up, and which Machines
//! sit on each.
//!
//! Owns the host arena, the hosts of each region and the Machines on each host. Other
//! components read hosts through it and change a host's load only through [`Host::hold`] and
//! [`Host::release`]. Where a new Machine goes is [`super::placement`]'s pure rule over these.

use super::ids::{Arena, HostId, MachineId};
use crate::engine::timer::Timer;
use crate::scenario::{Scenario, VmSize};

/// A host's capacity and what its Machines hold.
#[derive(Clone, Debug)]
pub struct Host {
    /// Region index.
    pub region: u16,
    /// vCPUs.
    pub cpus: u32,
    /// Memory [MB].
    pub memory_mb: u64,
    /// vCPUs held by started or suspended Machines.
    pub used_cpus: u32,
    /// Memory held [MB].
    pub used_mb: u64,
    /// Outages in progress (the host is down while any lasts).
    pub outages: u32,
    /// Whether the platform has noticed the running outage.
    pub detected: bool,
    /// The pending detection of its failure (armed when it fails, cancelled when it returns).
    pub detection: Timer,
    /// The open incident, while down.
    pub incident: Option<u32>,
}

impl Host {
    /// An empty, running host.
    pub fn new(region: u16, cpus: u32, memory_mb: u64) -> Self {
        Host {
            region,
            cpus,
            memory_mb,
            used_cpus: 0,
            used_mb: 0,
            outages: 0,
            detected: false,
            detection: Timer::default(),
            incident: None,
        }
    }

    /// Takes the CPU and memory of a Machine of size `vm` (it must fit).
    pub fn hold(&mut self, vm: &VmSize) {
        self.used_cpus += vm.cpus;
        self.used_mb += vm.memory_mb;
    }

    /// Gives back what [`Host::hold`] took.
    pub fn release(&mut self, vm: &VmSize) {
        self.used_cpus -= vm.cpus;
        self.used_mb -= vm.memory_mb;
    }

    /// Whether `vm` fits in what the host has free.
    pub fn fits(&self, vm: &VmSize) -> bool {
        self.used_cpus + vm.cpus <= self.cpus && self.used_mb + vm.memory_mb <= self.memory_mb
    }

    /// Whether a Machine of size `vm` can come to this host now: it is up and has room.
    pub fn can_take(&self, vm: &VmSize) -> bool {
        self.outages == 0 && self.fits(vm)
    }
}

/// Every host of the run.
#[derive(Debug, Default)]
pub struct Hosts {
    all: Arena<HostId, Host>,
    by_region: Vec<Vec<HostId>>,
    machines_on: Vec<Vec<MachineId>>,
}

impl Hosts {
    /// The scenario's hosts, by region then declaration order, with no Machines yet.
    pub fn new(sc: &Scenario) -> Self {
        let mut hosts = Hosts::default();
        for (ri, r) in sc.regions.iter().enumerate() {
            let ids = r
                .hosts
                .iter()
                .map(|h| hosts.all.push(Host::new(ri as u16, h.cpus, h.memory_mb)))
                .collect();
            hosts.by_region.push(ids);
        }
        hosts.machines_on = vec![Vec::new(); hosts.all.len()];
        hosts
    }

    /// The hosts of region `region`.
    pub fn in_region(&self, region: usize) -> &[HostId] {
        &self.by_region[region]
    }

    /// The hosts of every region, by region index.
    pub fn by_region(&self) -> &[Vec<HostId>] {
        &self.by_region
    }

    /// The Machines on `host` (destroyed ones are not).
    pub fn machines_on(&self, host: HostId) -> &[MachineId] {
        &self.machines_on[host.index()]
    }

    /// Every host, in id order.
    pub fn as_slice(&self) -> &[Host] {
        self.all.as_slice()
    }

    /// How many hosts there are.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Machine `id` now sits on `host`.
    pub(super) fn add_machine(&mut self, host: HostId, id: MachineId) {
        self.machines_on[host.index()].push(id);
    }

    /// Machine `id` no longer sits on `host` (destroyed).
    pub(super) fn remove_machine(&mut self, host: HostId, id: MachineId) {
        self.machines_on[host.index()].retain(|&x| x != id);
    }
}

impl std::ops::Index<HostId> for Hosts {
    type Output = Host;
    #[inline]
    fn index(&self, id: HostId) -> &Host {
        &self.all[id]
    }
}

impl std::ops::IndexMut<HostId> for Hosts {
    #[inline]
    fn index_mut(&mut self, id: HostId) -> &mut Host {
        &mut self.all[id]
    }
}
