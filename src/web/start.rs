//! Putting the HTTP side up for `loa run`: keys from the workspace and the environment,
//! checked before anything listens, and the unsubscribe key (from the environment or the
//! ledger) — [`prepare`]; then the listener and the server task — [`Prepared::listen`].
//! [`start`] does both in one call.

use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{HealthThresholds, Keys, KeysEnv, Metrics, WebState, serve, unsubscribe_key};
use crate::campaign::{Campaign, Live, Secret};
use crate::store::Store;

/// How the daemon's HTTP side is set up.
#[derive(Clone)]
pub struct WebConfig {
    /// `--listen`, e.g. `127.0.0.1:8080` (docs/cli.md#global-options).
    pub listen: String,
    /// `--public-url`: session cookies are `Secure` when it is `https://…`.
    pub public_url: String,
    pub env: KeysEnv,
    pub health: HealthThresholds,
    /// The loaded campaigns, for the dashboard (`None`: its pages show the ledger only).
    pub workspace: Option<Arc<Live>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("env", &self.env)
            .field("health", &self.health)
            .field(
                "workspace",
                &self.workspace.as_ref().map(|w| w.current().campaigns.len()),
            )
            .finish()
    }
}

/// The running HTTP side.
pub struct Web {
    /// The address it listens on (useful with port 0).
    pub addr: std::net::SocketAddr,
    /// The key the dispatcher signs unsubscribe links with ([`super::unsubscribe_token`]).
    pub unsubscribe_key: Secret,
    /// Ends after `stop` fires and the requests in flight are answered.
    pub task: JoinHandle<anyhow::Result<()>>,
}

/// Checks the keys (an enabled callback route without its key is an error, before any
/// socket is opened), binds `config.listen` and serves until `stop`.
pub async fn start(
    store: &Store,
    campaigns: &[Campaign],
    config: WebConfig,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> anyhow::Result<Web> {
    let prepared = prepare(store, campaigns, &config.env).await?;
    prepared.listen(store, config, metrics, stop).await
}

/// The HTTP side with its keys checked, not listening yet: the daemon signs unsubscribe
/// links with [`Prepared::unsubscribe_key`] and builds its dispatcher before any port opens.
pub(crate) struct Prepared {
    keys: Keys,
    pub unsubscribe_key: Secret,
}

/// Checks the keys `env` and `campaigns` call for (docs/reliability.md#r12) and finds the unsubscribe key (from
/// the environment, else the one the ledger keeps, else a new one it then keeps).
pub(crate) async fn prepare(
    store: &Store,
    campaigns: &[Campaign],
    env: &KeysEnv,
) -> anyhow::Result<Prepared> {
    let keys = Keys::from_campaigns(campaigns, env);
    keys.check()?;
    let now = chrono::Utc::now().timestamp_millis();
    let key = unsubscribe_key(store, env.unsubscribe_key.clone(), now).await?;
    Ok(Prepared {
        keys: keys.with_unsubscribe_key(key.clone()),
        unsubscribe_key: key,
    })
}

impl Prepared {
    /// Binds `config.listen` and serves until `stop`.
    pub(crate) async fn listen(
        self,
        store: &Store,
        config: WebConfig,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> anyhow::Result<Web> {
        // Room for the connections `listen` allows beside the reserve for the ledger and data.
        let files = super::listen::raise_file_limit();
        tracing::debug!(files, "open files at most");
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener
            .local_addr()
            .context("reading the listening address")?;
        let mut state = WebState::new(store.clone(), metrics, self.keys)
            .with_health(config.health)
            .with_secure_cookies(config.public_url.starts_with("https://"));
        if let Some(live) = config.workspace {
            state = state.with_live(live);
        }
        let task = tokio::spawn(serve(listener, state, stop));
        Ok(Web {
            addr,
            unsubscribe_key: self.unsubscribe_key,
            task,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support;

    fn config(callbacks: &[&str]) -> WebConfig {
        WebConfig {
            listen: "127.0.0.1:0".into(),
            public_url: "https://loa.example.vn".into(),
            env: KeysEnv {
                callbacks: callbacks.iter().map(|s| s.to_string()).collect(),
                ..KeysEnv::default()
            },
            health: HealthThresholds::default(),
            workspace: None,
        }
    }

    #[tokio::test]
    async fn it_refuses_to_start_with_a_callback_route_that_has_no_key() {
        let (_dir, store) = test_support::open().await;
        let metrics = Arc::new(Metrics::new(0));
        let err = start(
            &store,
            &[],
            config(&["zalo"]),
            metrics,
            CancellationToken::new(),
        )
        .await
        .err()
        .expect("refused");
        assert!(
            format!("{err:#}").contains("LOA_ZALO_CALLBACK_KEY"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn it_serves_until_stopped_and_keeps_the_unsubscribe_key() {
        let (_dir, store) = test_support::open().await;
        let stop = CancellationToken::new();
        let metrics = Arc::new(Metrics::new(0));
        let web = start(&store, &[], config(&[]), metrics, stop.clone())
            .await
            .unwrap();
        let mut stream = tokio::net::TcpStream::connect(web.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        stop.cancel();
        web.task.await.unwrap().unwrap();
        let again = unsubscribe_key(&store, None, 1).await.unwrap();
        assert_eq!(again, web.unsubscribe_key);
    }
}
