//! What the worker machine offers and how busy it is: sysinfo for CPU, memory, disk and
//! network, NVML for GPUs ([`Gpus`]).

use crate::gpus::Gpus;
use runyard_api::tracking::{Event, Float, ScalarEvent};
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

/// A running task's share of a report, as scalar events: `:monitor:machine` (CPU, memory,
/// disk, network) and `:monitor:gpu` (per GPU: utilisation, memory, temperature), at
/// `iteration` (seconds since the task started).
pub fn monitor_events(task: &str, iteration: i64, report: &WorkerReport) -> Vec<Event> {
    const GB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MB: f64 = 1024.0 * 1024.0;
    let point = |metric: &str, variant: String, value: f64| {
        Event::Scalar(ScalarEvent {
            task: task.to_string(),
            metric: metric.to_string(),
            variant,
            iteration,
            value: Float(value),
            time: None,
        })
    };
    let disk_free = match report.disk_total_bytes {
        0 => f64::NAN,
        total => 100.0 * (total - report.disk_used_bytes.min(total)) as f64 / total as f64,
    };
    let mut events = vec![
        point(":monitor:machine", "cpu_usage".into(), report.cpu_percent),
        point(":monitor:machine", "memory_used_gb".into(), report.memory_used_bytes as f64 / GB),
        point(
            ":monitor:machine",
            "memory_free_gb".into(),
            report.memory_total_bytes.saturating_sub(report.memory_used_bytes) as f64 / GB,
        ),
        point(":monitor:machine", "disk_free_percent".into(), disk_free),
        point(":monitor:machine", "network_rx_mbs".into(), report.network_rx_bytes_per_second / MB),
        point(":monitor:machine", "network_tx_mbs".into(), report.network_tx_bytes_per_second / MB),
    ];
    for gpu in &report.gpus {
        let i = gpu.index;
        let mem_usage = match gpu.memory_total_bytes {
            0 => f64::NAN,
            total => 100.0 * gpu.memory_used_bytes as f64 / total as f64,
        };
        events.push(point(":monitor:gpu", format!("gpu_{i}_utilization"), gpu.utilization_percent));
        events.push(point(":monitor:gpu", format!("gpu_{i}_mem_usage"), mem_usage));
        events.push(point(":monitor:gpu", format!("gpu_{i}_mem_used_gb"), gpu.memory_used_bytes as f64 / GB));
        events.push(point(":monitor:gpu", format!("gpu_{i}_temperature"), gpu.temperature_celsius));
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use runyard_api::GpuStats;

    #[test]
    fn monitor_series_cover_machine_and_each_gpu() {
        let report = WorkerReport {
            cpu_percent: 50.0,
            memory_used_bytes: 2 << 30,
            memory_total_bytes: 8 << 30,
            disk_used_bytes: 25,
            disk_total_bytes: 100,
            gpus: vec![GpuStats {
                index: 1,
                utilization_percent: 90.0,
                memory_used_bytes: 1 << 30,
                memory_total_bytes: 4 << 30,
                temperature_celsius: 60.0,
            }],
            ..Default::default()
        };
        let events = monitor_events("t", 7, &report);
        let value = |variant: &str| {
            events.iter().find_map(|e| match e {
                Event::Scalar(s) if s.variant == variant => Some((s.metric.clone(), s.iteration, s.value.0)),
                _ => None,
            })
        };
        assert_eq!(value("cpu_usage"), Some((":monitor:machine".into(), 7, 50.0)));
        assert_eq!(value("memory_free_gb"), Some((":monitor:machine".into(), 7, 6.0)));
        assert_eq!(value("disk_free_percent"), Some((":monitor:machine".into(), 7, 75.0)));
        assert_eq!(value("gpu_1_mem_usage"), Some((":monitor:gpu".into(), 7, 25.0)));
        assert_eq!(value("gpu_1_temperature"), Some((":monitor:gpu".into(), 7, 60.0)));
        assert_eq!(events.len(), 10);
    }
}
