//! [`ChannelKind`]: which kind of channel a campaign names (`smtp`, `zalo_zns`, `webhook`).
//!
//! A leaf of its own because every layer speaks of it — campaigns declare it, rendering
//! shapes a message by it, channels are built by it — and none of them should have to
//! reach up into another to name it. `loa::campaign::ChannelKind` re-exports it.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Smtp,
    ZaloZns,
    Webhook,
}

impl ChannelKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "smtp" => Some(Self::Smtp),
            "zalo_zns" => Some(Self::ZaloZns),
            "webhook" => Some(Self::Webhook),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::ZaloZns => "zalo_zns",
            Self::Webhook => "webhook",
        }
    }

    /// The data column that holds the address unless a step says otherwise
    /// (docs/campaign-file.md#addresses).
    pub fn default_recipient_field(self) -> &'static str {
        match self {
            Self::Smtp => "email",
            Self::ZaloZns | Self::Webhook => "phone",
        }
    }

    /// Whether addresses on this channel are phone numbers (normalised to `84…`).
    pub fn uses_phone(self) -> bool {
        !matches!(self, Self::Smtp)
    }
}
