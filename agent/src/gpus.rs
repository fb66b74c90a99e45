//! The worker's GPUs, through NVML when an NVIDIA driver is present (loaded at run time, so a
//! machine without one simply has no GPUs), and the agent's `--gpus` selection.

use anyhow::{bail, Result};
use nvml_wrapper::enum_wrappers::device::TemperatureSensor;
use nvml_wrapper::Nvml;
use runyard_api::{GpuInfo, GpuStats};

pub struct Gpus {
    nvml: Option<Nvml>,
    /// The GPUs tasks may use; `None`: no selection (tasks see what the machine offers).
    selected: Option<Vec<u32>>,
}

impl Gpus {
    /// Opens NVML and checks `selection`: `"all"`, `"none"` or a list like `"0,1"`.
    pub fn open(selection: Option<&str>) -> Result<Gpus> {
        let nvml = match Nvml::init() {
            Ok(nvml) => Some(nvml),
            Err(error) => {
                tracing::debug!(%error, "no NVIDIA driver: no GPUs");
                None
            }
        };
        let count = nvml.as_ref().and_then(|n| n.device_count().ok());
        let selected = match selection.map(str::trim) {
            None | Some("none") | Some("") => None,
            Some("all") => match count {
                Some(n) => Some((0..n).collect()),
                None => {
                    bail!("--gpus all needs an NVIDIA driver, and none was found; name the GPUs instead (--gpus 0,1)")
                }
            },
            Some(list) => {
                let mut out = Vec::new();
                for part in list.split(',') {
                    let Ok(i) = part.trim().parse::<u32>() else {
                        bail!("--gpus: '{part}' is not a GPU index (give all, none, or a list like 0,1)");
                    };
                    if count.is_some_and(|n| i >= n) {
                        bail!("--gpus: this machine has no GPU {i} ({} found)", count.unwrap_or(0));
                    }
                    out.push(i);
                }
                Some(out)
            }
        };
        Ok(Gpus { nvml, selected })
    }

    /// No GPUs, without asking NVML.
    pub fn none() -> Gpus {
        Gpus { nvml: None, selected: None }
    }

    /// The selection as `CUDA_VISIBLE_DEVICES` wants it, e.g. `0,1`.
    pub fn visible(&self) -> Option<String> {
        self.selected.as_ref().map(|s| s.iter().map(u32::to_string).collect::<Vec<_>>().join(","))
    }

    /// The GPUs reported: the selection, else every GPU found.
    fn indices(&self) -> Vec<u32> {
        match (&self.selected, &self.nvml) {
            (Some(s), _) => s.clone(),
            (None, Some(n)) => (0..n.device_count().unwrap_or(0)).collect(),
            (None, None) => Vec::new(),
        }
    }

    pub fn info(&self) -> Vec<GpuInfo> {
        let Some(nvml) = &self.nvml else {
            return self.indices().into_iter().map(|index| GpuInfo { index, ..Default::default() }).collect();
        };
        self.indices()
            .into_iter()
            .map(|index| match nvml.device_by_index(index) {
                Ok(d) => GpuInfo {
                    index,
                    model: d.name().unwrap_or_default(),
                    memory_bytes: d.memory_info().map(|m| m.total).unwrap_or(0),
                },
                Err(_) => GpuInfo { index, ..Default::default() },
            })
            .collect()
    }

    /// Utilisation, memory and temperature now; nothing without a driver.
    pub fn stats(&self) -> Vec<GpuStats> {
        let Some(nvml) = &self.nvml else { return Vec::new() };
        self.indices()
            .into_iter()
            .filter_map(|index| {
                let d = nvml.device_by_index(index).ok()?;
                let memory = d.memory_info().ok();
                Some(GpuStats {
                    index,
                    utilization_percent: d.utilization_rates().map(|u| u.gpu as f64).unwrap_or(0.0),
                    memory_used_bytes: memory.as_ref().map_or(0, |m| m.used),
                    memory_total_bytes: memory.as_ref().map_or(0, |m| m.total),
                    temperature_celsius: d.temperature(TemperatureSensor::Gpu).map(f64::from).unwrap_or(0.0),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Gpus;

    #[test]
    fn selections_are_checked() {
        let none = Gpus::open(None).unwrap();
        assert_eq!(none.visible(), None);
        assert!(Gpus::open(Some("zero")).is_err());
        let some = Gpus::open(Some("0")).map(|g| g.visible());
        // Without a driver any index is taken on trust; with one, GPU 0 exists if any does.
        if let Ok(v) = some {
            assert_eq!(v.as_deref(), Some("0"));
        }
    }
}
