//! Publishing: the OneGate attribute pairs for the FL status and the start
//! attributes. *When* to publish is decided by
//! [`stamen_core::status::StatusTracker`] in the event loop.

use stamen_core::status::FlStatus;

/// `FL_CLIENT_STATUS`, `FL_TRAINING_ACTIVE`, `FL_ROUND_NUMBER` for `PUT /vm`.
pub fn status_pairs(s: &FlStatus) -> Vec<(String, String)> {
    vec![
        ("FL_CLIENT_STATUS".into(), s.status.code().to_string()),
        (
            "FL_TRAINING_ACTIVE".into(),
            s.training_active_code().to_string(),
        ),
        ("FL_ROUND_NUMBER".into(), s.round.to_string()),
    ]
}

/// `FL_NODE_READY=YES`, `FL_NODE_ID=<VMID>`, `FL_VERSION=<version>`, sent once
/// at start (and again after a reload changes VMID).
pub fn start_pairs(vmid: &str) -> Vec<(String, String)> {
    vec![
        ("FL_NODE_READY".into(), "YES".into()),
        ("FL_NODE_ID".into(), vmid.into()),
        ("FL_VERSION".into(), env!("CARGO_PKG_VERSION").into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use stamen_core::status::ClientStatus;

    #[test]
    fn pairs_encoding() {
        let v = status_pairs(&FlStatus::new(ClientStatus::Training, 3));
        assert_eq!(v[0], ("FL_CLIENT_STATUS".into(), "2".into()));
        assert_eq!(v[1], ("FL_TRAINING_ACTIVE".into(), "1".into()));
        assert_eq!(v[2], ("FL_ROUND_NUMBER".into(), "3".into()));
        let v = status_pairs(&FlStatus::new(ClientStatus::Disconnected, 0));
        assert_eq!(v[0].1, "3");
        assert_eq!(v[1].1, "0");
        assert_eq!(start_pairs("42")[1], ("FL_NODE_ID".into(), "42".into()));
    }
}
