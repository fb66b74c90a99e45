//! What the worker machine offers and how busy it is: sysinfo for CPU, memory, disk and
//! network, NVML for GPUs ([`Gpus`]).

use crate::gpus::Gpus;
use runyard_api::{Capabilities, WorkerReport};
use std::path::Path;
use std::time::Instant;
use sysinfo::{Disks, Networks, System};

pub struct Monitor {
    system: System,
    networks: Networks,
    disks: Disks,
    last: Instant,
    /// Where the agent works: its disk is the one reported.
    path: std::path::PathBuf,
    gpus: Gpus,
}

impl Monitor {
    pub fn new(path: &Path, gpus: Gpus) -> Monitor {
        let mut system = System::new();
        system.refresh_cpu_usage();
        system.refresh_memory();
        Monitor {
            system,
            networks: Networks::new_with_refreshed_list(),
            disks: Disks::new_with_refreshed_list(),
            last: Instant::now(),
            path: path.to_path_buf(),
            gpus,
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            cpus: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
            memory_bytes: self.system.total_memory(),
            gpus: self.gpus.info(),
        }
    }

    /// Usage since the previous call.
    pub fn report(&mut self, task: Option<String>) -> WorkerReport {
        self.system.refresh_cpu_usage();
        self.system.refresh_memory();
        self.networks.refresh(true);
        self.disks.refresh(true);
        let seconds = self.last.elapsed().as_secs_f64().max(0.001);
        self.last = Instant::now();
        let (rx, tx) = self
            .networks
            .iter()
            .filter(|(name, _)| *name != "lo")
            .fold((0u64, 0u64), |(r, t), (_, n)| (r + n.received(), t + n.transmitted()));
        // The disk holding the work directory: the longest mount point that is its prefix.
        let disk = self
            .disks
            .iter()
            .filter(|d| self.path.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len());
        WorkerReport {
            task,
            cpu_percent: self.system.global_cpu_usage() as f64,
            memory_used_bytes: self.system.used_memory(),
            memory_total_bytes: self.system.total_memory(),
            disk_used_bytes: disk.map_or(0, |d| d.total_space() - d.available_space()),
            disk_total_bytes: disk.map_or(0, |d| d.total_space()),
            network_rx_bytes_per_second: rx as f64 / seconds,
            network_tx_bytes_per_second: tx as f64 / seconds,
            gpus: self.gpus.stats(),
        }
    }
}
