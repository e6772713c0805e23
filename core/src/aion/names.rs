//! `ChannelName` and its three constructors: `aion.<kind>.<namespace>.<id>`.

use std::fmt;

use super::error::AionSurfaceError;

/// A validated channel name of the form `aion.<kind>.<namespace>.<id>`.
///
/// Neither the namespace nor the id may contain a dot, so every name splits into exactly four
/// segments. The type is deliberately not `Ord`: channel names are identities, not keys with a
/// meaningful order. The only way to get one is [`dispatch_channel`], [`signal_channel`] or
/// [`history_channel`].
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ChannelName(String);

impl ChannelName {
    /// The full name, such as `aion.dispatch.default.payments`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<ChannelName> for String {
    fn from(name: ChannelName) -> String {
        name.0
    }
}

/// The dispatch channel of one task queue: `aion.dispatch.<namespace>.<task_queue>`.
pub fn dispatch_channel(
    namespace: &str,
    task_queue: &str,
) -> Result<ChannelName, AionSurfaceError> {
    build("dispatch", namespace, "task_queue", task_queue)
}

/// The signal channel of one workflow: `aion.signal.<namespace>.<workflow_id>`.
pub fn signal_channel(namespace: &str, workflow_id: &str) -> Result<ChannelName, AionSurfaceError> {
    build("signal", namespace, "workflow_id", workflow_id)
}

/// The history channel of one workflow: `aion.history.<namespace>.<workflow_id>`.
pub fn history_channel(
    namespace: &str,
    workflow_id: &str,
) -> Result<ChannelName, AionSurfaceError> {
    build("history", namespace, "workflow_id", workflow_id)
}

/// Checks the namespace before the id, so a caller with two bad parts hears about the
/// namespace first.
fn build(
    kind: &str,
    namespace: &str,
    id_part: &str,
    id: &str,
) -> Result<ChannelName, AionSurfaceError> {
    check_part("namespace", namespace)?;
    check_part(id_part, id)?;
    Ok(ChannelName(format!("aion.{kind}.{namespace}.{id}")))
}

/// Rejects an empty part, then a dotted one. Nothing else is checked: whitespace, case,
/// Unicode, wildcards and length are all the caller's business.
fn check_part(part: &str, input: &str) -> Result<(), AionSurfaceError> {
    let message = if input.is_empty() {
        "must not be empty"
    } else if input.contains('.') {
        "must not contain dots"
    } else {
        return Ok(());
    };
    Err(AionSurfaceError::InvalidChannelName {
        part: part.to_owned(),
        input: input.to_owned(),
        message: message.to_owned(),
    })
}
