//! Errors of the conversation and channel substrate (liminal's error taxonomy, reduced).

/// A substrate failure; every variant carries only a message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiminalError {
    #[error("schema mismatch: {0}")]
    SchemaMismatch(String),
    #[error("subscription failed: {0}")]
    SubscriptionFailed(String),
    #[error("participant crashed: {0}")]
    ParticipantCrashed(String),
    #[error("delivery failed: {0}")]
    DeliveryFailed(String),
    #[error("channel closed: {0}")]
    ChannelClosed(String),
    #[error("conversation failed: {0}")]
    ConversationFailed(String),
    #[error("spawn failed: {0}")]
    SpawnFailed(String),
    #[error("timed out: {0}")]
    Timeout(String),
}
