//! The typed values of the state file, written as the strings earlier
//! versions wrote: a provider name, a phase name, a subnet, `""` for none.

use std::fmt;

/// Which provider a lab's machines run on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Virtualbox,
    Libvirt,
    Docker,
    /// Existing machines reached over SSH (`[provider] kind = "hosts"`):
    /// chosen by the lab file, never with `--provider`.
    #[value(skip)]
    Hosts,
}

impl Kind {
    /// Can `vagrant up` start this provider's machines in parallel? VirtualBox's
    /// provider refuses `--parallel`; docker and libvirt support it.
    pub fn parallel_up(self) -> bool {
        self != Kind::Virtualbox
    }

    /// The device node a machine of this provider sees its `index`-th extra
    /// disk (0-based, in the lab file's order) as: docker passes each loop
    /// device in as /dev/sdb, /dev/sdc, ...; libvirt attaches virtio disks
    /// vdb, vdc, ...; VirtualBox puts them on labctl's own SATA controller
    /// after the box's disk (sdb, ...).
    pub fn disk_device(self, index: usize) -> String {
        let letter = (b'b' + index as u8) as char;
        match self {
            Kind::Libvirt => format!("/dev/vd{letter}"),
            Kind::Docker | Kind::Virtualbox | Kind::Hosts => format!("/dev/sd{letter}"),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Virtualbox => "virtualbox",
            Kind::Libvirt => "libvirt",
            Kind::Docker => "docker",
            Kind::Hosts => "hosts",
        })
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "virtualbox" => Ok(Kind::Virtualbox),
            "libvirt" => Ok(Kind::Libvirt),
            "docker" => Ok(Kind::Docker),
            "hosts" => Ok(Kind::Hosts),
            _ => Err(format!("unknown provider {s}")),
        }
    }
}

/// How far a lab got: nothing recorded yet, being created, up, halted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Nothing recorded (a state file of an older labctl that never got far).
    #[default]
    #[serde(rename = "")]
    New,
    /// Recorded, being created: `down` removes what a failed `up` made.
    Creating,
    Up,
    Halted,
}

/// `Option<T>` written as `T`'s string, `""` for `None` (state files keep the
/// spelling of the strings they held before they were typed).
pub mod empty_is_none {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        s.parse().map(Some).map_err(serde::de::Error::custom)
    }
}

/// A value written as its string (`192.168.121.0/24`), parsed back with `FromStr`.
pub mod as_string {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
