//! Network tests' sandbox. Without it every skiff command of a test gets
//! `SKIFF_DEFAULT_NETWORK=none`, so the other tests never create links,
//! rules or pasta processes. With it (`Ctx::enable_networking`), root's
//! skiff commands run inside a network namespace the test made (a holder
//! process keeps it; loopback up, no links, an empty nftables ruleset),
//! so bridges, veths and rules never touch the host's; rootless commands
//! run in the host's namespace, where pasta connects them (pasta binds
//! ports on the host's loopback only when a test publishes one).

use std::process::{Child, Command, Stdio};

pub struct NetSandbox {
    /// Root only: `unshare --net` holding the namespace.
    holder: Option<Child>,
}

impl NetSandbox {
    pub fn new(root: bool) -> NetSandbox {
        let holder = root.then(|| {
            Command::new("unshare")
                .args([
                    "--net",
                    "--",
                    "sh",
                    "-c",
                    "ip link set lo up && echo up && exec sleep infinity",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("unshare --net for the test's network namespace")
        });
        let mut sandbox = NetSandbox { holder };
        if let Some(child) = sandbox.holder.as_mut() {
            // "up" once loopback is up in the new namespace.
            use std::io::Read;
            let mut out = child.stdout.take().expect("piped stdout");
            let mut buf = [0u8; 3];
            out.read_exact(&mut buf)
                .expect("the namespace holder starts");
            assert_eq!(&buf, b"up\n");
        }
        sandbox
    }

    /// The holder's PID (root only): `ip link set … netns PID` takes it.
    pub fn pid(&self) -> Option<u32> {
        self.holder.as_ref().map(Child::id)
    }

    /// `/proc/PID/ns/net` of the test's namespace (root only).
    pub fn netns_path(&self) -> Option<String> {
        self.holder
            .as_ref()
            .map(|c| format!("/proc/{}/ns/net", c.id()))
    }

    /// `program` run inside the test's namespace (root) or as it is.
    pub fn command(&self, program: &str) -> Command {
        match self.netns_path() {
            Some(path) => {
                let mut cmd = Command::new("nsenter");
                cmd.arg(format!("--net={path}")).arg("--").arg(program);
                cmd
            }
            None => Command::new(program),
        }
    }
}

impl Drop for NetSandbox {
    fn drop(&mut self) {
        if let Some(child) = self.holder.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
