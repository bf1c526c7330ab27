//! What an smtp channel's settings mean, parsed without I/O: the sender (`from` and
//! `headers`, [`sender`]) and the relay URL ([`smtp_url`]).
//!
//! A leaf of its own so that both sides of a channel's life use one parser: the channel
//! layer builds its SMTP channel and outbox on these values, and `loa validate` (the
//! campaign layer, below the channels) runs the very same checks, so that `loa run` cannot
//! stop on a setting after it has opened its HTTP port. Nothing here opens a connection or
//! sets up TLS; that stays with `channel::smtp`.

pub(crate) mod sender;
pub(crate) mod smtp_url;

pub(crate) use sender::{Sender, parse_mailbox};
pub(crate) use smtp_url::{Security, SmtpUrl};
