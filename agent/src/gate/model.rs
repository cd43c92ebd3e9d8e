//! The emulated cloud: one OneFlow service, its VMs, networks and virtual
//! routers, and the JSON documents OneGate builds from them.

use super::spec::{NetSpec, RoleSpec, ServiceSpec, VmSpec, VrouterSpec};
use super::template::{items, put_repeated, render_context_sh, TVal, Tmpl};
use super::token::TokenKey;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// OneFlow role/service state `RUNNING`.
pub const STATE_RUNNING: u32 = 2;
/// OneFlow role/service state `COOLDOWN`.
pub const STATE_COOLDOWN: u32 = 10;
/// OneFlow's name of a service/role state.
pub fn state_name(state: u32) -> &'static str {
    match state {
        0 => "PENDING",
        1 => "DEPLOYING",
        2 => "RUNNING",
        3 => "UNDEPLOYING",
        4 => "WARNING",
        5 => "DONE",
        6 => "FAILED_UNDEPLOYING",
        7 => "FAILED_DEPLOYING",
        8 => "SCALING",
        9 => "FAILED_SCALING",
        10 => "COOLDOWN",
        _ => "UNKNOWN",
    }
}

/// OneFlow's default cooldown (`:default_cooldown`), seconds.
pub const DEFAULT_COOLDOWN: u64 = 300;

/// oned VM `STATE` values the emulator uses.
pub mod vm_state {
    /// `ACTIVE` (with `LCM_STATE` 3 = `RUNNING`).
    pub const ACTIVE: u32 = 3;
    /// `HOLD`.
    pub const HOLD: u32 = 2;
    /// `STOPPED`.
    pub const STOPPED: u32 = 4;
    /// `SUSPENDED`.
    pub const SUSPENDED: u32 = 5;
    /// `POWEROFF`.
    pub const POWEROFF: u32 = 8;
    /// `UNDEPLOYED`.
    pub const UNDEPLOYED: u32 = 9;
    /// `DONE` (terminated; dropped from its role at the next monitor pass).
    pub const DONE: u32 = 6;
    /// `LCM_STATE` `RUNNING`.
    pub const LCM_RUNNING: u32 = 3;
}

/// An ordered JSON document (OneGate's Ruby hashes keep insertion order).
#[derive(Debug, Clone)]
pub enum J {
    /// A string.
    S(String),
    /// An integer.
    I(i64),
    /// `null`.
    Null,
    /// An object with keys in this order.
    O(Vec<(String, J)>),
    /// An array.
    A(Vec<J>),
    /// A template value (sorted maps).
    T(TVal),
}

impl J {
    fn o(pairs: Vec<(&str, J)>) -> J {
        J::O(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    fn s(v: impl Into<String>) -> J {
        J::S(v.into())
    }
    /// Compact JSON text, as Ruby's `to_json` writes it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::S(v) => s.serialize_str(v),
            J::I(v) => s.serialize_i64(*v),
            J::Null => s.serialize_unit(),
            J::T(t) => t.serialize(s),
            J::O(pairs) => {
                let mut m = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            J::A(l) => {
                let mut q = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    q.serialize_element(v)?;
                }
                q.end()
            }
        }
    }
}

/// One emulated VM.
#[derive(Debug, Clone)]
pub struct Vm {
    /// `ID`.
    pub id: u32,
    /// `NAME`, `<role>_<index>_(service_<id>)` like OneFlow names them.
    pub name: String,
    /// Role the VM belongs to.
    pub role: String,
    /// `STIME`, epoch seconds (part of the token).
    pub stime: u64,
    /// `STATE`.
    pub state: u32,
    /// `LCM_STATE`.
    pub lcm_state: u32,
    /// `TEMPLATE` (CONTEXT, NIC, …).
    pub template: Tmpl,
    /// `USER_TEMPLATE`: what the VM publishes through OneGate.
    pub user_template: Tmpl,
    /// `MONITORING`.
    pub monitoring: Tmpl,
}

impl Vm {
    /// RUNNING in OneFlow's sense: `STATE` 3 and `LCM_STATE` 3.
    pub fn running(&self) -> bool {
        self.state == vm_state::ACTIVE && self.lcm_state == vm_state::LCM_RUNNING
    }
}

/// One role at run time.
#[derive(Debug, Clone)]
pub struct Role {
    /// What the service file said.
    pub spec: RoleSpec,
    /// Current cardinality.
    pub cardinality: u32,
    /// OneFlow role state (2 RUNNING, 10 COOLDOWN).
    pub state: u32,
    /// End of the current cooldown, epoch seconds (0: none).
    pub cooldown_until: u64,
    /// The role's `cooldown`: from the service file (default 300), then
    /// overwritten by each scaling decision, as OneFlow does.
    pub cooldown: u64,
    /// Member VM IDs in creation order.
    pub nodes: Vec<u32>,
    /// Next index for VM names.
    pub next_index: u32,
}

/// A VM that appeared or went away; hooks receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmEvent {
    /// VM ID.
    pub id: u32,
    /// Role name.
    pub role: String,
    /// The VM's directory under the state dir (holds `context.sh` and `token.txt`), if any.
    pub dir: Option<PathBuf>,
    /// `true` when added, `false` when removed.
    pub added: bool,
}

/// The whole emulated state, kept behind one mutex by the server.
#[derive(Debug)]
pub struct State {
    /// Service ID.
    pub service_id: u32,
    /// Service name.
    pub service_name: String,
    /// Roles in document order.
    pub roles: Vec<Role>,
    /// All VMs by ID.
    pub vms: BTreeMap<u32, Vm>,
    spec: ServiceSpec,
    key: TokenKey,
    endpoint: String,
    state_dir: Option<PathBuf>,
    next_vm_id: u32,
}

fn mac_of(ip: Ipv4Addr) -> String {
    let o = ip.octets();
    format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", o[0], o[1], o[2], o[3])
}

fn tstr(t: &Tmpl, k: &str) -> Option<String> {
    t.get(k).and_then(|v| v.as_str()).map(str::to_string)
}

impl State {
    /// Builds the state and creates every role's initial VMs (writing their
    /// context files when `state_dir` is set). `now` is epoch seconds.
    pub fn new(
        spec: ServiceSpec,
        key: TokenKey,
        endpoint: String,
        state_dir: Option<PathBuf>,
        now: u64,
    ) -> Result<(State, Vec<VmEvent>), String> {
        let roles = spec
            .roles
            .iter()
            .map(|r| Role {
                spec: r.clone(),
                cardinality: r.cardinality,
                state: STATE_RUNNING,
                cooldown_until: 0,
                cooldown: r.cooldown.unwrap_or(DEFAULT_COOLDOWN),
                nodes: Vec::new(),
                next_index: 0,
            })
            .collect();
        let mut st = State {
            service_id: spec.id,
            service_name: spec.name.clone(),
            roles,
            vms: BTreeMap::new(),
            next_vm_id: spec.first_vm_id,
            spec,
            key,
            endpoint,
            state_dir,
        };
        let mut events = Vec::new();
        for ri in 0..st.roles.len() {
            let pinned = st.roles[ri].spec.vms.clone();
            for v in &pinned {
                events.push(st.create_vm(ri, now, Some(v))?);
            }
            events.extend(st.reconcile(ri, now)?);
        }
        Ok((st, events))
    }

    /// The `ONEGATE_ENDPOINT` written into contexts.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The token oned would write for this VM.
    pub fn token_for(&self, vm: &Vm) -> String {
        self.key.token_for(vm.id, &vm.stime.to_string())
    }

    /// OneGate's token check for a VM.
    pub fn verify_token(&self, token: &str, vm: &Vm) -> bool {
        self.key
            .verify(token, &vm.id.to_string(), &vm.stime.to_string())
    }

    /// Index of a role by name.
    pub fn role_index(&self, name: &str) -> Option<usize> {
        self.roles.iter().position(|r| r.spec.name == name)
    }

    /// The service state OneFlow would show: COOLDOWN while a role cools down.
    pub fn service_state(&self) -> u32 {
        if self.roles.iter().any(|r| r.state == STATE_COOLDOWN) {
            STATE_COOLDOWN
        } else {
            STATE_RUNNING
        }
    }

    /// OneFlow's `Service#can_scale?`: only a RUNNING service scales.
    pub fn check_can_scale(&self) -> Result<(), String> {
        let s = self.service_state();
        if s == STATE_RUNNING {
            Ok(())
        } else {
            Err(format!(
                "Service cannot be scaled in state: {}",
                state_name(s)
            ))
        }
    }

    /// Ends cooldowns that are over.
    pub fn expire_cooldowns(&mut self, now: u64) {
        for r in &mut self.roles {
            if r.state == STATE_COOLDOWN && now >= r.cooldown_until {
                r.state = STATE_RUNNING;
                r.cooldown_until = 0;
            }
        }
    }

    /// Sets a role's cardinality (OneFlow's `Role#update` checks), creates or
    /// removes VMs to match, and starts the cooldown. `Err` carries OneFlow's
    /// message ("Minimum cardinality is 1").
    pub fn scale(
        &mut self,
        ri: usize,
        cardinality: u32,
        cooldown: u64,
        now: u64,
    ) -> Result<Vec<VmEvent>, String> {
        self.reap_done();
        let role = self.roles.get(ri).ok_or("no such role")?;
        if cardinality < role.spec.min_vms {
            return Err(format!("Minimum cardinality is {}", role.spec.min_vms));
        }
        if let Some(max) = role.spec.max_vms {
            if cardinality > max {
                return Err(format!("Maximum cardinality is {max}"));
            }
        }
        let changed = role.cardinality != cardinality;
        let adding = (cardinality as usize).saturating_sub(role.nodes.len());
        for net_name in &role.spec.vm_template.nics {
            let per_vm = role
                .spec
                .vm_template
                .nics
                .iter()
                .filter(|n| *n == net_name)
                .count();
            if let Some(net) = self.spec.networks.iter().find(|n| &n.name == net_name) {
                let free = (net.size as usize).saturating_sub(self.leases(net.id).len());
                if free < adding.saturating_mul(per_vm) {
                    return Err(format!(
                        "network {:?} has {free} free addresses, {} needed",
                        net.name,
                        adding.saturating_mul(per_vm)
                    ));
                }
            }
        }
        self.roles[ri].cardinality = cardinality;
        let ev = match self.reconcile(ri, now) {
            Ok(ev) => ev,
            Err(e) => {
                // Keep the role consistent with the VMs that do exist.
                let r = &mut self.roles[ri];
                r.cardinality = r.nodes.len() as u32;
                return Err(e);
            }
        };
        if changed {
            let r = &mut self.roles[ri];
            r.state = STATE_COOLDOWN;
            r.cooldown_until = now.saturating_add(cooldown);
        }
        Ok(ev)
    }

    /// Creates or removes VMs until the role has `cardinality` of them
    /// (newest removed first, as OneFlow shrinks a role).
    pub fn reconcile(&mut self, ri: usize, now: u64) -> Result<Vec<VmEvent>, String> {
        let mut ev = Vec::new();
        while self.roles[ri].nodes.len() < self.roles[ri].cardinality as usize {
            ev.push(self.create_vm(ri, now, None)?);
        }
        while self.roles[ri].nodes.len() > self.roles[ri].cardinality as usize {
            let Some(id) = self.roles[ri].nodes.last().copied() else {
                break;
            };
            if let Some(e) = self.remove_vm(id) {
                ev.push(e);
            }
        }
        Ok(ev)
    }

    /// Removes a VM (terminate): drops it from its role and the pool. The
    /// role's cardinality follows, like a VM terminated from inside.
    pub fn remove_vm(&mut self, id: u32) -> Option<VmEvent> {
        let vm = self.vms.remove(&id)?;
        if let Some(ri) = self.role_index(&vm.role) {
            let r = &mut self.roles[ri];
            r.nodes.retain(|x| *x != id);
            if (r.cardinality as usize) > r.nodes.len() {
                r.cardinality = r.nodes.len() as u32;
            }
        }
        Some(VmEvent {
            id,
            role: vm.role,
            dir: self.vm_dir(id),
            added: false,
        })
    }

    /// Terminates a VM from inside (OneGate action `terminate`): it goes to
    /// `DONE` at once, stays listed in its role until the next monitor pass
    /// ([`State::reap_done`]), and the remove event fires now.
    pub fn terminate_vm(&mut self, id: u32) -> Option<VmEvent> {
        let vm = self.vms.get_mut(&id)?;
        if vm.state == vm_state::DONE {
            return None;
        }
        vm.state = vm_state::DONE;
        vm.lcm_state = 0;
        let role = vm.role.clone();
        Some(VmEvent {
            id,
            role,
            dir: self.vm_dir(id),
            added: false,
        })
    }

    /// OneFlow's monitor step: VMs in `DONE` leave their role (which shrinks
    /// by one each) and the pool. Returns their IDs.
    pub fn reap_done(&mut self) -> Vec<u32> {
        let done: Vec<u32> = self
            .vms
            .values()
            .filter(|v| v.state == vm_state::DONE)
            .map(|v| v.id)
            .collect();
        for id in &done {
            let _ = self.remove_vm(*id);
        }
        done
    }

    /// Where a VM's `context.sh` and `token.txt` live.
    pub fn vm_dir(&self, id: u32) -> Option<PathBuf> {
        self.state_dir.as_ref().map(|d| d.join(format!("vm-{id}")))
    }

    fn alloc_vm_id(&mut self) -> u32 {
        while self.vms.contains_key(&self.next_vm_id)
            || self
                .spec
                .roles
                .iter()
                .any(|r| r.vms.iter().any(|v| v.id == self.next_vm_id))
        {
            self.next_vm_id = self.next_vm_id.saturating_add(1);
        }
        let id = self.next_vm_id;
        self.next_vm_id = self.next_vm_id.saturating_add(1);
        id
    }

    fn lease(&self, net: &NetSpec) -> Option<Ipv4Addr> {
        let used: Vec<String> = self.leases(net.id).into_iter().map(|l| l.0).collect();
        let start = u32::from(net.ip_start);
        (0..net.size)
            .map(|i| Ipv4Addr::from(start.saturating_add(i)))
            .find(|ip| !used.contains(&ip.to_string()))
    }

    /// (IP, MAC, VM, NIC) of every NIC on a network, in VM order.
    fn leases(&self, net_id: u32) -> Vec<(String, String, u32, Tmpl)> {
        let mut out = Vec::new();
        let nid = net_id.to_string();
        for vm in self.vms.values() {
            for nic in items(vm.template.get("NIC")) {
                if let TVal::Map(m) = nic {
                    if tstr(m, "NETWORK_ID").as_deref() == Some(nid.as_str()) {
                        out.push((
                            tstr(m, "IP").unwrap_or_default(),
                            tstr(m, "MAC").unwrap_or_default(),
                            vm.id,
                            m.clone(),
                        ));
                    }
                }
            }
        }
        out
    }

    fn create_vm(
        &mut self,
        ri: usize,
        now: u64,
        pinned: Option<&VmSpec>,
    ) -> Result<VmEvent, String> {
        let id = match pinned {
            Some(p) => {
                if self.vms.contains_key(&p.id) {
                    return Err(format!("VM {} already exists", p.id));
                }
                p.id
            }
            None => self.alloc_vm_id(),
        };
        let sid = self.service_id;
        let role = self.roles[ri].spec.clone();
        let index = self.roles[ri].next_index;
        self.roles[ri].next_index = index.saturating_add(1);
        let stime = pinned.and_then(|p| p.stime).unwrap_or(now);

        // NICs and the context variables oned derives from them.
        let mut nics = Vec::new();
        let mut ctx: BTreeMap<String, String> = BTreeMap::new();
        for (i, net_name) in role.vm_template.nics.iter().enumerate() {
            let Some(net) = self
                .spec
                .networks
                .iter()
                .find(|n| &n.name == net_name)
                .cloned()
            else {
                return Err(format!("unknown network {net_name:?}"));
            };
            let ip = self
                .lease(&net)
                .ok_or_else(|| format!("network {:?} has no free address", net.name))?;
            let mut nic = net.nic.clone();
            for (k, v) in [
                ("AR_ID", "0".to_string()),
                ("IP", ip.to_string()),
                ("MAC", mac_of(ip)),
                ("NAME", format!("NIC{i}")),
                ("NETWORK", net.name.clone()),
                ("NETWORK_ID", net.id.to_string()),
                ("NIC_ID", i.to_string()),
                ("TARGET", format!("one-{id}-{i}")),
            ] {
                nic.insert(k.to_string(), TVal::s(v));
            }
            let nt = &net.template;
            let eth = |k: &str| format!("ETH{i}_{k}");
            for k in [
                "EXTERNAL",
                "IP6",
                "IP6_GATEWAY",
                "IP6_METHOD",
                "IP6_METRIC",
                "IP6_PREFIX_LENGTH",
                "IP6_ULA",
                "METHOD",
                "METRIC",
                "ROUTES",
                "VLAN_ID",
                "VROUTER_IP",
                "VROUTER_IP6",
                "VROUTER_MANAGEMENT",
            ] {
                ctx.insert(eth(k), tstr(nt, k).unwrap_or_default());
            }
            ctx.insert(eth("IP"), ip.to_string());
            ctx.insert(eth("MAC"), mac_of(ip));
            ctx.insert(eth("DNS"), tstr(nt, "DNS").unwrap_or_default());
            ctx.insert(eth("GATEWAY"), tstr(nt, "GATEWAY").unwrap_or_default());
            ctx.insert(eth("MASK"), tstr(nt, "NETWORK_MASK").unwrap_or_default());
            ctx.insert(
                eth("NETWORK"),
                tstr(nt, "NETWORK_ADDRESS").unwrap_or_default(),
            );
            ctx.insert(eth("MTU"), tstr(nt, "GUEST_MTU").unwrap_or_default());
            ctx.insert(
                eth("SEARCH_DOMAIN"),
                tstr(nt, "SEARCH_DOMAIN").unwrap_or_default(),
            );
            nics.push(TVal::Map(nic));
        }
        ctx.insert("DISK_ID".into(), "1".into());
        ctx.insert("NETWORK".into(), "YES".into());
        ctx.insert("TARGET".into(), "hda".into());
        ctx.insert("TOKEN".into(), "YES".into());
        ctx.insert("VMID".into(), id.to_string());
        ctx.insert("ONEGATE_ENDPOINT".into(), self.endpoint.clone());
        for (k, v) in &role.vm_template.context {
            ctx.insert(k.clone(), v.clone());
        }

        let mut template = role.vm_template.template.clone();
        template.insert(
            "CONTEXT".into(),
            TVal::Map(ctx.into_iter().map(|(k, v)| (k, TVal::Str(v))).collect()),
        );
        put_repeated(&mut template, "NIC", nics);
        template.insert(
            "CREATED_BY".into(),
            TVal::s(self.spec.owner.uid.to_string()),
        );
        template.insert("VMID".into(), TVal::s(id.to_string()));
        let mut user_template = role.vm_template.user_template.clone();
        user_template.insert("SERVICE_ID".into(), TVal::s(sid.to_string()));
        user_template.insert("ROLE_NAME".into(), TVal::s(role.name.clone()));
        let mut monitoring = Tmpl::new();
        if let Some(p) = pinned {
            for (k, v) in &p.template {
                template.insert(k.clone(), v.clone());
            }
            for (k, v) in &p.user_template {
                user_template.insert(k.clone(), v.clone());
            }
            monitoring = p.monitoring.clone();
        }
        let vm = Vm {
            id,
            name: format!("{}_{index}_(service_{sid})", role.name),
            role: role.name.clone(),
            stime,
            state: vm_state::ACTIVE,
            lcm_state: vm_state::LCM_RUNNING,
            template,
            user_template,
            monitoring,
        };
        let dir = self.vm_dir(id);
        if let Some(d) = &dir {
            write_vm_files(d, &vm, &self.token_for(&vm))?;
        }
        self.vms.insert(id, vm);
        self.roles[ri].nodes.push(id);
        Ok(VmEvent {
            id,
            role: role.name,
            dir,
            added: true,
        })
    }

    /// OneGate's `build_vm_hash`: the document `GET /vm` and `GET /vms/:id` return.
    pub fn vm_show(&self, vm: &Vm) -> J {
        const NIC_VALID_KEYS: [&str; 10] = [
            "IP",
            "IP6_LINK",
            "IP6_SITE",
            "IP6_GLOBAL",
            "NETWORK",
            "MAC",
            "NAME",
            "PARENT",
            "EXTERNAL",
            "EXTERNAL_IP",
        ];
        let filter = |key: &str| -> J {
            J::A(
                items(vm.template.get(key))
                    .into_iter()
                    .filter_map(|n| match n {
                        TVal::Map(m) => Some(J::T(TVal::Map(
                            m.iter()
                                .filter(|(k, _)| NIC_VALID_KEYS.contains(&k.as_str()))
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect(),
                        ))),
                        _ => None,
                    })
                    .collect(),
            )
        };
        let ut: Tmpl = vm
            .user_template
            .iter()
            .filter(|(k, _)| k.as_str() != "SCHED_MESSAGE")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        J::o(vec![(
            "VM",
            J::o(vec![
                ("NAME", J::s(&vm.name)),
                ("ID", J::s(vm.id.to_string())),
                ("STATE", J::s(vm.state.to_string())),
                ("LCM_STATE", J::s(vm.lcm_state.to_string())),
                ("USER_TEMPLATE", J::T(TVal::Map(ut))),
                (
                    "TEMPLATE",
                    J::o(vec![
                        ("NIC", filter("NIC")),
                        ("NIC_ALIAS", filter("NIC_ALIAS")),
                    ]),
                ),
            ]),
        )])
    }

    /// The full VM document (`onevm show -j`), as `GET /service?extended=true` embeds it.
    pub fn vm_full(&self, vm: &Vm) -> J {
        let o = &self.spec.owner;
        let stime = vm.stime.to_string();
        let perm = [
            ("OWNER_U", "1"),
            ("OWNER_M", "1"),
            ("OWNER_A", "0"),
            ("GROUP_U", "0"),
            ("GROUP_M", "0"),
            ("GROUP_A", "0"),
            ("OTHER_U", "0"),
            ("OTHER_M", "0"),
            ("OTHER_A", "0"),
        ];
        J::o(vec![(
            "VM",
            J::o(vec![
                ("ID", J::s(vm.id.to_string())),
                ("UID", J::s(o.uid.to_string())),
                ("GID", J::s(o.gid.to_string())),
                ("UNAME", J::s(&o.uname)),
                ("GNAME", J::s(&o.gname)),
                ("NAME", J::s(&vm.name)),
                (
                    "PERMISSIONS",
                    J::o(perm.iter().map(|(k, v)| (*k, J::s(*v))).collect()),
                ),
                ("LAST_POLL", J::s("0")),
                ("STATE", J::s(vm.state.to_string())),
                ("LCM_STATE", J::s(vm.lcm_state.to_string())),
                ("PREV_STATE", J::s(vm.state.to_string())),
                ("PREV_LCM_STATE", J::s(vm.lcm_state.to_string())),
                ("RESCHED", J::s("0")),
                ("STIME", J::s(&stime)),
                ("ETIME", J::s("0")),
                ("DEPLOY_ID", J::s(format!("one-{}", vm.id))),
                ("MONITORING", J::T(TVal::Map(vm.monitoring.clone()))),
                ("SCHED_ACTIONS", J::O(Vec::new())),
                ("TEMPLATE", J::T(TVal::Map(vm.template.clone()))),
                ("USER_TEMPLATE", J::T(TVal::Map(vm.user_template.clone()))),
                (
                    "HISTORY_RECORDS",
                    J::o(vec![(
                        "HISTORY",
                        J::o(vec![
                            ("OID", J::s(vm.id.to_string())),
                            ("SEQ", J::s("0")),
                            ("HOSTNAME", J::s(&self.spec.host)),
                            ("HID", J::s("0")),
                            ("CID", J::s("0")),
                            ("STIME", J::s(&stime)),
                            ("ETIME", J::s("0")),
                            ("VM_MAD", J::s("kvm")),
                            ("TM_MAD", J::s("ssh")),
                            ("DS_ID", J::s("0")),
                            ("ACTION", J::s("0")),
                        ]),
                    )]),
                ),
                (
                    "BACKUPS",
                    J::o(vec![
                        ("BACKUP_CONFIG", J::O(Vec::new())),
                        ("BACKUP_IDS", J::O(Vec::new())),
                    ]),
                ),
            ]),
        )])
    }

    /// OneGate's `build_service_hash`; `extended` embeds full VM documents.
    pub fn service_doc(&self, extended: bool) -> J {
        let o = &self.spec.owner;
        let roles = self
            .roles
            .iter()
            .map(|r| {
                let nodes = r
                    .nodes
                    .iter()
                    .filter_map(|id| self.vms.get(id))
                    .map(|vm| {
                        let info = if extended {
                            self.vm_full(vm)
                        } else {
                            J::o(vec![(
                                "VM",
                                J::o(vec![
                                    ("ID", J::s(vm.id.to_string())),
                                    ("UID", J::s(o.uid.to_string())),
                                    ("GID", J::s(o.gid.to_string())),
                                    ("UNAME", J::s(&o.uname)),
                                    ("GNAME", J::s(&o.gname)),
                                    ("NAME", J::s(&vm.name)),
                                ]),
                            )])
                        };
                        J::o(vec![
                            ("deploy_id", J::I(i64::from(vm.id))),
                            ("running", J::Null),
                            ("vm_info", info),
                        ])
                    })
                    .collect();
                J::o(vec![
                    ("name", J::s(&r.spec.name)),
                    ("cardinality", J::I(i64::from(r.cardinality))),
                    ("state", J::I(i64::from(r.state))),
                    ("nodes", J::A(nodes)),
                ])
            })
            .collect();
        J::o(vec![(
            "SERVICE",
            J::o(vec![
                ("name", J::s(&self.service_name)),
                ("id", J::s(self.service_id.to_string())),
                ("state", J::I(i64::from(self.service_state()))),
                ("roles", J::A(roles)),
            ]),
        )])
    }

    /// The virtual router a VM belongs to.
    pub fn vrouter_of(&self, vm_id: u32) -> Option<&VrouterSpec> {
        self.spec.vrouters.iter().find(|v| v.vms.contains(&vm_id))
    }

    /// OneGate's `build_vrouter_hash`.
    pub fn vrouter_doc(&self, vr: &VrouterSpec) -> J {
        let mut t = vr.template.clone();
        let nics: Vec<TVal> = items(t.get("NIC")).into_iter().cloned().collect();
        t.insert("NIC".into(), TVal::List(nics));
        J::o(vec![(
            "VROUTER",
            J::o(vec![
                ("NAME", J::s(&vr.name)),
                ("ID", J::s(vr.id.to_string())),
                (
                    "VMS",
                    J::o(vec![(
                        "ID",
                        J::A(vr.vms.iter().map(|i| J::s(i.to_string())).collect()),
                    )]),
                ),
                ("TEMPLATE", J::T(TVal::Map(t))),
            ]),
        )])
    }

    /// The network with this ID.
    pub fn network(&self, id: u32) -> Option<&NetSpec> {
        self.spec.networks.iter().find(|n| n.id == id)
    }

    /// OneGate's `build_vnet_hash` (`process_vnet`, plus the per-lease NIC
    /// name and BACKEND data when `extended`).
    pub fn vnet_doc(&self, net: &NetSpec, extended: bool) -> J {
        const VNET_TEMPLATE_ATTRIBUTES: [&str; 9] = [
            "NETWORK_ADDRESS",
            "NETWORK_MASK",
            "GATEWAY",
            "GATEWAY6",
            "DNS",
            "GUEST_MTU",
            "SEARCH_DOMAIN",
            "METRIC",
            "IP6_METRIC",
        ];
        let mut leases = self.leases(net.id);
        leases.sort_by_key(|l| l.0.parse::<Ipv4Addr>().map(u32::from).unwrap_or(u32::MAX));
        let used = leases.len().to_string();
        let lease_docs = leases
            .iter()
            .map(|(ip, mac, vmid, nic)| {
                let mut l = vec![
                    ("IP", J::s(ip)),
                    ("MAC", J::s(mac)),
                    ("VM", J::s(vmid.to_string())),
                ];
                if extended {
                    l.push(("NIC_NAME", J::s(tstr(nic, "NAME").unwrap_or_default())));
                    if let Some(vm) = self.vms.get(vmid) {
                        let backend = match vm.template.get("CONTEXT") {
                            Some(TVal::Map(c)) => tstr(c, "BACKEND")
                                .map(|b| b.eq_ignore_ascii_case("yes"))
                                .unwrap_or(false),
                            _ => false,
                        };
                        if backend {
                            l.push(("BACKEND", J::s("YES")));
                            let mut extra: Vec<(String, J)> =
                                l.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                            for (k, v) in &vm.user_template {
                                if k.starts_with("ONEGATE_") {
                                    if let Some(s) = v.as_str() {
                                        extra.push((k.clone(), J::s(s)));
                                    }
                                }
                            }
                            return J::O(extra);
                        }
                    }
                }
                J::o(l)
            })
            .collect();
        let start = u32::from(net.ip_start);
        let end = Ipv4Addr::from(start.saturating_add(net.size.saturating_sub(1)));
        let vrouters: Vec<J> = self
            .spec
            .vrouters
            .iter()
            .filter(|vr| self.vrouter_networks(vr).contains(&net.id))
            .map(|vr| J::s(vr.id.to_string()))
            .collect();
        let tmpl: Vec<(&str, J)> = VNET_TEMPLATE_ATTRIBUTES
            .iter()
            .filter_map(|k| net.template.get(*k).map(|v| (*k, J::T(v.clone()))))
            .collect();
        J::o(vec![(
            "VNET",
            J::o(vec![
                ("ID", J::s(net.id.to_string())),
                ("NAME", J::s(&net.name)),
                ("USED_LEASES", J::s(&used)),
                ("VROUTERS", J::o(vec![("ID", J::A(vrouters))])),
                ("PARENT_NETWORK_ID", J::O(Vec::new())),
                (
                    "AR_POOL",
                    J::o(vec![(
                        "AR",
                        J::A(vec![J::o(vec![
                            ("AR_ID", J::s("0")),
                            ("IP", J::s(net.ip_start.to_string())),
                            ("MAC", J::s(mac_of(net.ip_start))),
                            ("SIZE", J::s(net.size.to_string())),
                            ("TYPE", J::s("IP4")),
                            ("MAC_END", J::s(mac_of(end))),
                            ("IP_END", J::s(end.to_string())),
                            ("USED_LEASES", J::s(&used)),
                            ("LEASES", J::o(vec![("LEASE", J::A(lease_docs))])),
                        ])]),
                    )]),
                ),
                ("TEMPLATE", J::o(tmpl)),
            ]),
        )])
    }

    /// Network IDs a virtual router has NICs on.
    pub fn vrouter_networks(&self, vr: &VrouterSpec) -> Vec<u32> {
        items(vr.template.get("NIC"))
            .into_iter()
            .filter_map(|n| match n {
                TVal::Map(m) => tstr(m, "NETWORK_ID").and_then(|s| s.parse().ok()),
                _ => None,
            })
            .collect()
    }
}

/// Writes `context.sh` (oned's format, from `TEMPLATE/CONTEXT`) and
/// `token.txt` (one line) into `dir`, both mode 0600.
fn write_vm_files(dir: &std::path::Path, vm: &Vm, token: &str) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let ctx: BTreeMap<String, String> = match vm.template.get("CONTEXT") {
        Some(TVal::Map(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        _ => BTreeMap::new(),
    };
    write_private(&dir.join("context.sh"), render_context_sh(&ctx).as_bytes())?;
    write_private(&dir.join("token.txt"), format!("{token}\n").as_bytes())
}

fn write_private(path: &std::path::Path, data: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o
        .open(path)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
    f.write_all(data)
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}
