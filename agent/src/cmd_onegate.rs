//! `stamen onegate …`: a drop-in for the official Ruby `onegate` client.
//!
//! Configuration: `ONEGATE_ENDPOINT` and `VMID` from the environment (like
//! the official client), else from the OpenNebula context file
//! ([`crate::ctxfile`] search order, or `--context FILE`); the token by the
//! SPEC §2 rule when a context file is found (`ONEGATE_TOKEN` in the context,
//! else `TOKENTXT`, else `token.txt` next to it), else `TOKENTXT`.
//!
//! Same commands, same requests, same stdout (`--json` is byte-identical to
//! Ruby's `JSON.pretty_generate`), same `ERROR: ` + server text on stderr and
//! exit status 255 on any failure. Differences, on purpose: certificates are
//! verified unless `--insecure-tls` is given (the Ruby client never verifies),
//! `service scale` sends `application/json` (SPEC §5), argument errors are
//! reported by clap (exit 2), and an HTTP proxy is used through a `CONNECT`
//! tunnel.

use crate::ctxfile::{self, EnvLookup, LoadedContext, Locator};
use crate::onegate::docs::{scalar_text, service_state_name, vm_state_name};
use crate::onegate::{
    parse_json, ruby_json, Call, Client, ClientConfig, OnegateError, ServiceDocument, TlsMode,
    VmDocument, VmRef,
};
use clap::Subcommand;
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `stamen onegate`: talk to OneGate like the `onegate` client. Reads
/// `ONEGATE_ENDPOINT`, `VMID` and `TOKENTXT` from the environment.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to act on.
    #[command(subcommand)]
    pub resource: Resource,
    /// Accept an unverifiable (e.g. self-signed) certificate on an https:// endpoint.
    #[arg(long, global = true, conflicts_with = "ca_cert")]
    pub insecure_tls: bool,
    /// Verify an https:// endpoint against this PEM CA file instead of the bundled roots.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Connect timeout, seconds.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub connect_timeout: u64,
    /// Read this context file (context.sh or one_env) instead of searching
    /// the guest paths.
    #[arg(long, global = true, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// Overall timeout of a request, seconds (also bounds each read).
    #[arg(long, global = true, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// Resources.
#[derive(Subcommand, Debug)]
pub enum Resource {
    /// This VM or another VM of the service.
    Vm {
        /// Action.
        #[command(subcommand)]
        cmd: VmCmd,
    },
    /// The OneFlow service of this VM.
    Service {
        /// Action.
        #[command(subcommand)]
        cmd: ServiceCmd,
    },
    /// The virtual router of this VM.
    Vrouter {
        /// Action.
        #[command(subcommand)]
        cmd: ShowCmd,
    },
    /// A virtual network.
    Vnet {
        /// Action.
        #[command(subcommand)]
        cmd: VnetCmd,
    },
}

/// Output flags of `show` commands.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ShowFlags {
    /// Print the document as JSON.
    #[arg(short = 'j', long)]
    pub json: bool,
    /// Ask for the extended document.
    #[arg(long)]
    pub extended: bool,
}

/// Arguments of a VM action.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ActionArgs {
    /// VM ID.
    pub id: Option<u64>,
    /// Hard variant (terminate/reboot/poweroff).
    #[arg(short = 'f', long)]
    pub hard: bool,
}

/// `vm` commands.
#[derive(Subcommand, Debug)]
pub enum VmCmd {
    /// Show this VM (or VM ID of the same service).
    Show {
        /// VM ID (default: this VM).
        id: Option<u64>,
        /// Print the document as JSON.
        #[arg(short = 'j', long)]
        json: bool,
    },
    /// Set (`--data 'K=V\nK2=V2'`) or erase (`--erase K`) USER_TEMPLATE attributes.
    Update {
        /// VM ID (default: this VM).
        id: Option<u64>,
        /// `KEY=VALUE` lines, sent as given.
        #[arg(
            short = 'd',
            long,
            allow_hyphen_values = true,
            conflicts_with = "erase"
        )]
        data: Option<String>,
        /// Attribute to erase.
        #[arg(short = 'e', long, allow_hyphen_values = true)]
        erase: Option<String>,
    },
    /// Resume VM ID.
    Resume(ActionArgs),
    /// Stop VM ID.
    Stop(ActionArgs),
    /// Suspend VM ID.
    Suspend(ActionArgs),
    /// Terminate VM ID.
    Terminate(ActionArgs),
    /// Reboot VM ID.
    Reboot(ActionArgs),
    /// Power off VM ID.
    Poweroff(ActionArgs),
    /// Reschedule VM ID.
    Resched(ActionArgs),
    /// Cancel rescheduling of VM ID.
    Unresched(ActionArgs),
    /// Hold VM ID.
    Hold(ActionArgs),
    /// Release VM ID.
    Release(ActionArgs),
    /// 4.x name of terminate.
    Delete(ActionArgs),
    /// 4.x name of poweroff.
    Shutdown(ActionArgs),
}

/// `service` commands.
#[derive(Subcommand, Debug)]
pub enum ServiceCmd {
    /// Show the service.
    Show(ShowFlags),
    /// Set a role's cardinality.
    Scale {
        /// Role name.
        #[arg(short = 'r', long)]
        role: String,
        /// New cardinality.
        #[arg(short = 'c', long)]
        cardinality: u32,
    },
}

/// `vrouter` commands.
#[derive(Subcommand, Debug)]
pub enum ShowCmd {
    /// Show it.
    Show(ShowFlags),
}

/// `vnet` commands.
#[derive(Subcommand, Debug)]
pub enum VnetCmd {
    /// Show virtual network ID.
    Show {
        /// Virtual network ID.
        id: Option<u64>,
        /// Output flags.
        #[command(flatten)]
        flags: ShowFlags,
    },
}

/// What a command prints on success.
enum Output {
    Nothing,
    Text(String),
}

/// A command failure: the text after `ERROR: `, or a usage message printed as is.
enum Failure {
    Onegate(OnegateError),
    Usage(&'static str),
}

impl From<OnegateError> for Failure {
    fn from(e: OnegateError) -> Self {
        Self::Onegate(e)
    }
}

/// Runs `stamen onegate`; exit status 0, or 255 on any failure.
pub fn run(args: Args) -> ExitCode {
    let tty = std::io::stdout().is_terminal();
    match execute(&args, tty) {
        Ok(Output::Nothing) => ExitCode::SUCCESS,
        Ok(Output::Text(t)) => {
            let mut out = std::io::stdout().lock();
            // A closed stdout (e.g. `| head`) is not an error of the call.
            let _ = out.write_all(t.as_bytes()).and_then(|()| out.flush());
            ExitCode::SUCCESS
        }
        Err(f) => {
            let text = match f {
                Failure::Onegate(e) => error_text(&e),
                Failure::Usage(m) => format!("{m}\n"),
            };
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            ExitCode::from(255)
        }
    }
}

/// `ERROR: ` newline, the message, and a newline unless it ends with one
/// (Ruby's `puts`).
pub fn error_text(e: &OnegateError) -> String {
    let msg = e.client_message();
    let nl = if msg.ends_with('\n') { "" } else { "\n" };
    format!("ERROR: \n{msg}{nl}")
}

/// Builds the client configuration from the environment (`env`) and an
/// optional loaded context: endpoint and VMID from the environment first
/// (official client behaviour), else from the context; the token from the
/// context loader (which applies the SPEC §2 rule) when a context was
/// loaded, else `TOKENTXT`. Empty values count as unset.
pub fn resolve_config(
    env: EnvLookup<'_>,
    ctx: Option<&LoadedContext>,
) -> Result<ClientConfig, OnegateError> {
    let from_ctx = |k: &str| {
        ctx.and_then(|c| c.get(k))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let pick = |k: &str| env(k).filter(|v| !v.is_empty()).or_else(|| from_ctx(k));
    let ctx_token = ctx
        .and_then(|c| c.token.as_ref())
        .map(|t| t.expose().to_string());
    let token = ctx_token.or_else(|| env("TOKENTXT"));
    let config = ClientConfig::from_vars(|k| match k {
        "TOKENTXT" => token.clone(),
        other => pick(other),
    })
    .map_err(|e| match (e, ctx) {
        (OnegateError::InvalidEndpoint { value, reason }, Some(c)) if value.is_empty() => {
            OnegateError::InvalidEndpoint {
                value,
                reason: format!(
                    "{reason}; not in the environment nor in {}",
                    c.source_name()
                ),
            }
        }
        (e, _) => e,
    })?;
    if config.token.is_none() {
        if let Some(err) = ctx.and_then(|c| c.token_error.as_deref()) {
            return Err(OnegateError::InvalidArgument {
                what: "token".to_string(),
                reason: err.to_string(),
            });
        }
    }
    Ok(config)
}

fn load_context(args: &Args) -> Result<Option<LoadedContext>, OnegateError> {
    match &args.context {
        Some(path) => ctxfile::load_file(
            path,
            None,
            ctxfile::DEFAULT_MAX_BYTES,
            &ctxfile::process_env,
        )
        .map(Some)
        .map_err(|e| OnegateError::InvalidArgument {
            what: "--context".to_string(),
            reason: e.to_string(),
        }),
        // Outside a guest (or without permission to read the root-only
        // copies) there is no context file: the environment alone is used.
        None => {
            let locator = Locator {
                use_environment: false,
                ..Locator::default()
            };
            Ok(ctxfile::load_with(&locator, &ctxfile::process_env).ok())
        }
    }
}

fn load_config(args: &Args) -> Result<ClientConfig, OnegateError> {
    let ctx = load_context(args)?;
    let mut config = resolve_config(&ctxfile::process_env, ctx.as_ref())?;
    config.tls = if args.insecure_tls {
        TlsMode::Insecure
    } else if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).map_err(|e| OnegateError::InvalidArgument {
            what: "--ca-cert".to_string(),
            reason: format!("{}: {e}", path.display()),
        })?;
        TlsMode::CustomCa(pem)
    } else {
        TlsMode::Verify
    };
    config.timeouts.connect = Duration::from_secs(args.connect_timeout);
    config.timeouts.overall = Duration::from_secs(args.timeout);
    config.timeouts.read = Duration::from_secs(args.timeout);
    Ok(config)
}

fn vm_ref(id: Option<u64>) -> VmRef {
    id.map_or(VmRef::Current, VmRef::Id)
}

fn execute(args: &Args, tty: bool) -> Result<Output, Failure> {
    // Usage checks that the Ruby client makes before any request.
    let action = match &args.resource {
        Resource::Vm { cmd } => vm_action(cmd),
        _ => None,
    };
    if let Some((_, a)) = action {
        if a.id.is_none() {
            return Err(Failure::Usage("You have to provide a VM ID"));
        }
    }
    if let Resource::Vm {
        cmd:
            VmCmd::Update {
                data: None,
                erase: None,
                ..
            },
    } = &args.resource
    {
        return Err(Failure::Usage(
            "You have to provide the data as a param (--data, --erase)",
        ));
    }
    if let Resource::Vnet {
        cmd: VnetCmd::Show { id: None, .. },
    } = &args.resource
    {
        return Err(Failure::Usage("You have to provide a VNET ID"));
    }

    let client = Client::new(load_config(args)?)?;
    let show = |call: Call, json: bool, human: &dyn Fn(&[u8]) -> Result<String, OnegateError>| {
        let body = client.execute(&call)?;
        let text = if json {
            ruby_json::pretty_generate(&body).map_err(|e| OnegateError::BadJson {
                detail: e.to_string(),
            })?
        } else {
            human(&body)?
        };
        Ok::<Output, Failure>(Output::Text(text))
    };

    match &args.resource {
        Resource::Vm { cmd } => {
            if let Some((name, a)) = action {
                let id = a.id.unwrap_or_default();
                client.execute(&Call::VmAction {
                    id,
                    action: name.to_string(),
                    hard: a.hard,
                })?;
                return Ok(Output::Nothing);
            }
            match cmd {
                VmCmd::Show { id, json } => show(Call::VmShow(vm_ref(*id)), *json, &|body| {
                    let doc: VmDocument = parse_json(body)?;
                    let mut out = String::new();
                    print_vm(&mut out, &doc, false, tty);
                    Ok(out)
                }),
                VmCmd::Update { id, data, erase } => {
                    let call = match (data, erase) {
                        (Some(d), _) => Call::VmUpdate {
                            vm: vm_ref(*id),
                            data: d.clone(),
                        },
                        (None, Some(k)) => Call::VmErase {
                            vm: vm_ref(*id),
                            key: k.clone(),
                        },
                        (None, None) => {
                            return Err(Failure::Usage(
                                "You have to provide the data as a param (--data, --erase)",
                            ))
                        }
                    };
                    client.execute(&call)?;
                    Ok(Output::Nothing)
                }
                _ => Err(Failure::Usage("Action not supported")),
            }
        }
        Resource::Service { cmd } => match cmd {
            ServiceCmd::Show(f) => show(
                Call::ServiceShow {
                    extended: f.extended,
                },
                f.json,
                &|body| {
                    let doc: ServiceDocument = parse_json(body)?;
                    let mut out = String::new();
                    print_service(&mut out, &doc, f.extended, tty);
                    Ok(out)
                },
            ),
            ServiceCmd::Scale { role, cardinality } => {
                client.execute(&Call::ServiceScale {
                    role: role.clone(),
                    cardinality: *cardinality,
                })?;
                Ok(Output::Nothing)
            }
        },
        Resource::Vrouter {
            cmd: ShowCmd::Show(f),
        } => show(
            Call::VrouterShow {
                extended: f.extended,
            },
            f.json,
            &|body| {
                let v: Value = parse_json(body)?;
                let mut out = String::new();
                print_vrouter(&mut out, &v, tty);
                Ok(out)
            },
        ),
        Resource::Vnet {
            cmd: VnetCmd::Show { id, flags },
        } => {
            let id = id.unwrap_or_default();
            show(
                Call::VnetShow {
                    id,
                    extended: flags.extended,
                },
                flags.json,
                &|body| {
                    let v: Value = parse_json(body)?;
                    let mut out = String::new();
                    print_vnet(&mut out, &v, tty);
                    Ok(out)
                },
            )
        }
    }
}

fn vm_action(cmd: &VmCmd) -> Option<(&'static str, ActionArgs)> {
    Some(match cmd {
        VmCmd::Resume(a) => ("resume", *a),
        VmCmd::Stop(a) => ("stop", *a),
        VmCmd::Suspend(a) => ("suspend", *a),
        VmCmd::Terminate(a) => ("terminate", *a),
        VmCmd::Reboot(a) => ("reboot", *a),
        VmCmd::Poweroff(a) => ("poweroff", *a),
        VmCmd::Resched(a) => ("resched", *a),
        VmCmd::Unresched(a) => ("unresched", *a),
        VmCmd::Hold(a) => ("hold", *a),
        VmCmd::Release(a) => ("release", *a),
        VmCmd::Delete(a) => ("delete", *a),
        VmCmd::Shutdown(a) => ("shutdown", *a),
        VmCmd::Show { .. } | VmCmd::Update { .. } => return None,
    })
}

/// A header line: bold (and underlined) and padded to 80 columns on a
/// terminal, plain otherwise — like the official client.
fn header(out: &mut String, s: &str, underline: bool, tty: bool) {
    if tty {
        out.push_str("\x1b[1m");
        if underline {
            out.push_str("\x1b[4m");
        }
        out.push_str(&format!("{s:<80}"));
        out.push_str("\x1b[0m");
    } else {
        out.push_str(s);
    }
    out.push('\n');
}

/// `%-20s: %-20s` and a newline.
fn key_value(out: &mut String, key: &str, value: &str) {
    out.push_str(&format!("{key:<20}: {value:<20}\n"));
}

fn print_vm(out: &mut String, doc: &VmDocument, extended: bool, tty: bool) {
    let vm = &doc.vm;
    header(
        out,
        &format!("VM {}", vm.id.as_deref().unwrap_or("")),
        true,
        tty,
    );
    key_value(out, "NAME", vm.name.as_deref().unwrap_or(""));
    if !extended {
        return;
    }
    key_value(
        out,
        "STATE",
        vm_state_name(vm.state.as_deref(), vm.lcm_state.as_deref()).unwrap_or(""),
    );
    for nic in &vm.template.nics {
        key_value(out, "IP", nic.ip.as_deref().unwrap_or(""));
    }
}

fn print_service(out: &mut String, doc: &ServiceDocument, extended: bool, tty: bool) {
    let s = &doc.service;
    header(
        out,
        &format!("SERVICE {}", s.id.as_deref().unwrap_or("")),
        true,
        tty,
    );
    key_value(out, "NAME", s.name.as_deref().unwrap_or(""));
    key_value(
        out,
        "STATE",
        service_state_name(s.state.as_deref()).unwrap_or(""),
    );
    out.push('\n');
    for role in &s.roles {
        header(
            out,
            &format!("ROLE {}", role.name.as_deref().unwrap_or("")),
            false,
            tty,
        );
        for node in &role.nodes {
            match &node.vm_info {
                Some(vm) => print_vm(out, vm, extended, tty),
                None => print_vm(
                    out,
                    &VmDocument {
                        vm: Default::default(),
                    },
                    extended,
                    tty,
                ),
            }
        }
        out.push('\n');
    }
}

fn text_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn text_of(v: Option<&Value>) -> String {
    v.and_then(scalar_text).unwrap_or_default()
}

fn print_vrouter(out: &mut String, v: &Value, tty: bool) {
    header(
        out,
        &format!("VROUTER {}", text_of(text_at(v, &["VROUTER", "ID"]))),
        true,
        tty,
    );
    key_value(out, "NAME", &text_of(text_at(v, &["VROUTER", "NAME"])));
    let vms = match text_at(v, &["VROUTER", "VMS", "ID"]) {
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|i| text_of(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        other => text_of(other),
    };
    key_value(out, "VMS", &vms);
    out.push('\n');
}

fn print_vnet(out: &mut String, v: &Value, tty: bool) {
    header(out, "VNET", true, tty);
    key_value(out, "ID", &text_of(text_at(v, &["VNET", "ID"])));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_vm_and_service() {
        let vm: VmDocument = serde_json::from_str(
            r#"{"VM":{"ID":"42","NAME":"x_0_(service_7)","STATE":"3","LCM_STATE":"3","TEMPLATE":{"NIC":{"IP":"10.0.0.1"}}}}"#,
        )
        .unwrap();
        let mut out = String::new();
        print_vm(&mut out, &vm, false, false);
        assert_eq!(out, "VM 42\nNAME                : x_0_(service_7)     \n");
        let mut out = String::new();
        print_vm(&mut out, &vm, true, false);
        assert!(out.ends_with("STATE               : RUNNING             \nIP                  : 10.0.0.1            \n"));
        let mut out = String::new();
        header(&mut out, "VM 1", true, true);
        assert_eq!(out, format!("\x1b[1m\x1b[4m{:<80}\x1b[0m\n", "VM 1"));
    }

    #[test]
    fn human_service_extended() {
        let doc: ServiceDocument = serde_json::from_str(
            r#"{"SERVICE":{"name":"fl","id":"7","state":"8","roles":[{"name":"sn","nodes":[
                {"deploy_id":41,"vm_info":{"VM":{"ID":"41","NAME":"a","STATE":"8","LCM_STATE":"0",
                 "TEMPLATE":{"NIC":[{"IP":"10.0.0.41"},{"IP":"10.1.0.41"}]}}}}]}]}}"#,
        )
        .unwrap();
        let mut out = String::new();
        print_service(&mut out, &doc, true, false);
        assert_eq!(
            out,
            "SERVICE 7\nNAME                : fl                  \nSTATE               : SCALING             \n\n\
             ROLE sn\nVM 41\nNAME                : a                   \nSTATE               : POWEROFF            \n\
             IP                  : 10.0.0.41           \nIP                  : 10.1.0.41           \n\n"
        );
    }

    #[test]
    fn human_vrouter_vnet() {
        let v: Value =
            serde_json::from_str(r#"{"VROUTER":{"NAME":"vr","ID":"3","VMS":{"ID":["42","43"]}}}"#)
                .unwrap();
        let mut out = String::new();
        print_vrouter(&mut out, &v, false);
        assert_eq!(out, "VROUTER 3\nNAME                : vr                  \nVMS                 : 42,43               \n\n");
        let v: Value = serde_json::from_str(r#"{"VNET":{"ID":"0"}}"#).unwrap();
        let mut out = String::new();
        print_vnet(&mut out, &v, false);
        assert_eq!(out, "VNET\nID                  : 0                   \n\n");
    }

    fn write_context(dir: &std::path::Path, body: &str, token: Option<&str>) -> std::path::PathBuf {
        let path = dir.join("context.sh");
        std::fs::write(
            &path,
            format!("# Context variables generated by OpenNebula\n{body}"),
        )
        .unwrap();
        if let Some(t) = token {
            std::fs::write(dir.join("token.txt"), format!("{t}\n")).unwrap();
        }
        path
    }

    #[test]
    fn config_from_environment_then_context() {
        let none = |_: &str| None::<String>;
        let env = |k: &str| match k {
            "ONEGATE_ENDPOINT" => Some("http://10.0.0.1:5030".to_string()),
            "VMID" => Some("7".to_string()),
            "TOKENTXT" => Some("ZW52dG9rZW4=".to_string()),
            _ => None,
        };
        let c = resolve_config(&env, None).unwrap();
        assert_eq!(
            (c.endpoint.url(""), c.vmid.as_deref()),
            ("http://10.0.0.1:5030".to_string(), Some("7"))
        );
        assert_eq!(
            c.token,
            Some(crate::onegate::Token::new("ZW52dG9rZW4=").unwrap())
        );

        let dir = tempfile::tempdir().unwrap();
        let path = write_context(
            dir.path(),
            "ONEGATE_ENDPOINT='http://169.254.16.9:5030'\nTOKEN='YES'\nVMID='42'\n",
            Some("ZmlsZXRva2Vu"),
        );
        let ctx = ctxfile::load_file(&path, None, ctxfile::DEFAULT_MAX_BYTES, &none).unwrap();
        let c = resolve_config(&none, Some(&ctx)).unwrap();
        assert_eq!(c.endpoint.url("/vm"), "http://169.254.16.9:5030/vm");
        assert_eq!(c.vmid.as_deref(), Some("42"));
        assert_eq!(
            c.token,
            Some(crate::onegate::Token::new("ZmlsZXRva2Vu").unwrap())
        );
        // The environment's endpoint and VMID win over the context (official client).
        let c = resolve_config(&env, Some(&ctx)).unwrap();
        assert_eq!(
            (c.endpoint.url(""), c.vmid.as_deref()),
            ("http://10.0.0.1:5030".to_string(), Some("7"))
        );

        // Nothing anywhere: the error names the context file too.
        let empty = write_context(dir.path(), "TOKEN='YES'\n", None);
        let ctx = ctxfile::load_file(&empty, None, ctxfile::DEFAULT_MAX_BYTES, &none).unwrap();
        let err = resolve_config(&none, Some(&ctx)).unwrap_err();
        assert!(err.to_string().contains("context.sh"), "{err}");
    }

    #[test]
    fn error_text_like_ruby_puts() {
        let e = OnegateError::Forbidden {
            message: "no".into(),
        };
        assert_eq!(error_text(&e), "ERROR: \nno\n");
        let e = OnegateError::Server {
            status: 500,
            message: "x\n".into(),
            retry_after: None,
        };
        assert_eq!(error_text(&e), "ERROR: \nx\n");
        let e = OnegateError::ConnectionClosed {
            detail: "eof".into(),
        };
        assert_eq!(error_text(&e), "ERROR: \nend of file reached\n");
    }
}
