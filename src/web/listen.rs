//! The HTTP server loop under [`super::router`]: every connection and request bounded, so
//! that no number of slow or idle clients can take `/healthz` or the daemon's files away.
//!
//! - **Header time.** A request's header must arrive within [`HEADER_READ_TIMEOUT`] of
//!   the server starting to wait for it (an idle keep-alive connection counts as waiting).
//! - **Request time.** A request is answered within [`REQUEST_TIMEOUT`] (408 after it);
//!   bodies have their own 10 s (`read_limited` in [`super`]).
//! - **Connections.** At most [`connection_limit`] at once, leaving [`FD_RESERVE`] file
//!   descriptors of the process's limit to the ledger, data files and outgoing
//!   connections. When a new connection arrives at the limit, the oldest connection with
//!   no request in progress — one trickling its header, or idle between requests — is
//!   closed to make room, so a flood of slow connections cannot keep out a client that
//!   sends its request at once; when every connection has a request in progress, the new
//!   one is closed.
//! - **Stop.** On `stop` it accepts no more, lets requests in progress finish for
//!   [`STOP_WITHIN`] and then closes whatever is left.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::WebError;

/// How long a request's header may take to arrive.
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request may take to be answered.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long requests in progress may take to finish once the server stops.
pub(crate) const STOP_WITHIN: Duration = Duration::from_secs(5);

/// Connections at most, whatever the file limit.
pub(crate) const MAX_CONNECTIONS: usize = 1024;

/// File descriptors kept for everything but HTTP connections: the ledger's files, data
/// files being read, connections to providers.
pub(crate) const FD_RESERVE: u64 = 256;

/// Raises the soft limit of open files to the hard limit; returns the soft limit in force.
pub(crate) fn raise_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the limit of open files");
            file_limit()
        }
    }
}

/// The soft limit of open files (a generous guess where it cannot be read).
pub(crate) fn file_limit() -> u64 {
    rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(4096, |(soft, _)| soft)
}

/// Connections allowed under a limit of `files` open files: [`MAX_CONNECTIONS`] at most,
/// [`FD_RESERVE`] left for the rest; under a tiny limit, a quarter of it.
pub(crate) fn connection_limit(files: u64) -> usize {
    let room = files.saturating_sub(FD_RESERVE).max(files / 4).max(1);
    usize::try_from(room)
        .unwrap_or(usize::MAX)
        .min(MAX_CONNECTIONS)
}

/// Serves `app` on `listener`, at most `limit` connections at once, until `stop`.
pub(super) async fn serve(
    listener: TcpListener,
    app: Router,
    limit: usize,
    stop: CancellationToken,
) {
    let app = app.layer(axum::middleware::from_fn(bounded));
    let conns = Arc::new(Conns::default());
    let tasks = TaskTracker::new();
    let mut refused_at: Option<tokio::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors (EMFILE/ENFILE) or a connection reset before it
                // was taken: make room if we can, pause a moment, go on. Logged at most
                // once a second.
                if refused_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(error = %e, connections = conns.len(), "HTTP accept failed");
                    refused_at = Some(tokio::time::Instant::now());
                }
                conns.evict_idle();
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if conns.len() >= limit && !conns.evict_idle() {
            // Every connection has a request in progress, each bounded in time.
            drop(socket);
            continue;
        }
        let _ = socket.set_nodelay(true);
        let conn = conns.open();
        let (app, stop) = (app.clone(), stop.clone());
        tasks.spawn(async move {
            serve_connection(socket, peer, app, &conn, &stop).await;
            drop(conn);
        });
    }
    drop(listener);
    drain(&tasks, &conns).await;
}

/// After the stop: waits [`STOP_WITHIN`] for the connections to finish, then closes those
/// still open.
async fn drain(tasks: &TaskTracker, conns: &Conns) {
    tasks.close();
    if tokio::time::timeout(STOP_WITHIN, tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = conns.len(),
            "closing HTTP connections still open after the stop"
        );
        conns.close_all();
        tasks.wait().await;
    }
}

/// One connection: HTTP/1.1 with the header-read timeout, until it ends, is evicted, or
/// the server stops (requests in progress then finish first).
async fn serve_connection(
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    conn: &Open,
    stop: &CancellationToken,
) {
    let busy = Arc::clone(&conn.entry);
    let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        // The peer address feeds the failed-login limit.
        request.extensions_mut().insert(ConnectInfo(peer));
        let turn = Busy::start(&busy);
        let app = app.clone();
        async move {
            let _turn = turn;
            let request = request.map(axum::body::Body::new);
            tower::ServiceExt::oneshot(app, request).await
        }
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(socket), service);
    tokio::pin!(http);
    let closed = conn.entry.closed.clone();
    tokio::select! {
        _ = http.as_mut() => return,
        _ = closed.cancelled() => return,
        _ = stop.cancelled() => {}
    }
    http.as_mut().graceful_shutdown();
    tokio::select! {
        _ = http => {}
        _ = closed.cancelled() => {}
    }
}

/// Answers 408 when the handler takes longer than [`REQUEST_TIMEOUT`].
async fn bounded(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => WebError::Timeout.into_response(),
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Conns {
    open: Mutex<BTreeMap<u64, Arc<Entry>>>,
    next: AtomicU64,
}

/// One open connection.
#[derive(Default)]
struct Entry {
    /// Requests in progress on it.
    busy: AtomicUsize,
    /// Cancelled to close it.
    closed: CancellationToken,
}

/// An open connection's place in [`Conns`], given back when dropped.
struct Open {
    conns: Arc<Conns>,
    id: u64,
    entry: Arc<Entry>,
}

impl Drop for Open {
    fn drop(&mut self) {
        self.conns.map().remove(&self.id);
    }
}

/// A request in progress on a connection, for as long as it lives.
struct Busy(Arc<Entry>);

impl Busy {
    fn start(entry: &Arc<Entry>) -> Busy {
        entry.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(entry))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Conns {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<Entry>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn len(&self) -> usize {
        self.map().len()
    }

    fn open(self: &Arc<Self>) -> Open {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry::default());
        self.map().insert(id, Arc::clone(&entry));
        Open {
            conns: Arc::clone(self),
            id,
            entry,
        }
    }

    /// Closes the oldest connection with no request in progress; false when there is none.
    /// It leaves the list at once, so that the room counts before its task has ended.
    fn evict_idle(&self) -> bool {
        let mut open = self.map();
        let oldest = open
            .iter()
            .find(|(_, e)| e.busy.load(Ordering::Acquire) == 0)
            .map(|(id, _)| *id);
        match oldest.and_then(|id| open.remove(&id)) {
            Some(entry) => {
                entry.closed.cancel();
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        for entry in self.map().values() {
            entry.closed.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::get;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    use super::*;

    /// A server of `app` with room for `limit` connections, and its address.
    async fn server(app: Router, limit: usize) -> (SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, app, limit, stop.clone()));
        (addr, stop)
    }

    fn app() -> Router {
        Router::new().route("/", get(|| async { "ok" })).route(
            "/forever",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
    }

    /// Everything the server sends until it closes the connection.
    async fn rest(s: &mut TcpStream) -> String {
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        String::from_utf8_lossy(&buf).into_owned()
    }

    async fn get_path(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(request.as_bytes()).await.unwrap();
        rest(&mut s).await
    }

    #[tokio::test(start_paused = true)]
    async fn a_header_that_never_ends_is_cut_off() {
        let (addr, _stop) = server(app(), 8).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").await.unwrap();
        let began = tokio::time::Instant::now();
        let answer = rest(&mut slow).await;
        assert!(!answer.contains("200 OK"), "{answer}");
        assert!(began.elapsed() >= HEADER_READ_TIMEOUT);
        // An idle keep-alive connection is cut off alike.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = rest(&mut idle).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_takes_too_long_is_answered_408() {
        let (addr, _stop) = server(app(), 8).await;
        let began = tokio::time::Instant::now();
        let answer = get_path(addr, "/forever").await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(began.elapsed() >= REQUEST_TIMEOUT);
        assert!(began.elapsed() < Duration::from_secs(3600));
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_limit_a_slow_connection_makes_room_for_a_request() {
        let (addr, _stop) = server(app(), 2).await;
        let mut slow = Vec::new();
        for _ in 0..2 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").await.unwrap();
            slow.push(s);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let began = tokio::time::Instant::now();
        let answer = get_path(addr, "/").await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(
            began.elapsed() < HEADER_READ_TIMEOUT,
            "it waited for a timeout"
        );
        // The oldest slow one was closed for it, at once.
        assert_eq!(rest(&mut slow[0]).await, "");
        assert!(began.elapsed() < HEADER_READ_TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stop_closes_connections_left_open_after_a_while() {
        let (addr, stop) = server(app(), 8).await;
        let mut waiting = TcpStream::connect(addr).await.unwrap();
        waiting
            .write_all(b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        stop.cancel();
        let began = tokio::time::Instant::now();
        let _ = rest(&mut waiting).await;
        assert!(began.elapsed() >= STOP_WITHIN);
        assert!(began.elapsed() < REQUEST_TIMEOUT);
    }

    #[test]
    fn the_connection_limit_leaves_a_reserve_of_files() {
        assert_eq!(connection_limit(1024), 768);
        assert_eq!(connection_limit(1_048_576), MAX_CONNECTIONS);
        assert_eq!(connection_limit(300), 75);
        assert_eq!(connection_limit(0), 1);
    }

    #[test]
    fn the_oldest_connection_without_a_request_makes_room() {
        let conns = Arc::new(Conns::default());
        let first = conns.open();
        let second = conns.open();
        let third = conns.open();
        let turn = Busy::start(&first.entry);
        assert!(conns.evict_idle());
        assert!(!first.entry.closed.is_cancelled());
        assert!(second.entry.closed.is_cancelled());
        assert_eq!(conns.len(), 2);
        drop(turn);
        assert!(conns.evict_idle());
        assert!(first.entry.closed.is_cancelled());
        assert!(!third.entry.closed.is_cancelled());
        drop((first, second));
        assert_eq!(conns.len(), 1);
        let _busy = Busy::start(&third.entry);
        assert!(!conns.evict_idle());
    }
}
