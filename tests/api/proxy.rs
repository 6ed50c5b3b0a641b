//! A loopback TCP proxy the tests can cut and restore, to take a server away from one app
//! without stopping the server that every other test shares.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards connections to `upstream` while up; when cut, drops every open connection and
/// closes new ones at once, as a crashed or unreachable server would look.
pub struct ChaosProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl ChaosProxy {
    pub async fn start(upstream: SocketAddr) -> ChaosProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0u64);
        let (accept_up, accept_cuts) = (up.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if accept_up.load(Ordering::Acquire) {
                    tokio::spawn(pipe(client, upstream, accept_cuts.subscribe()));
                }
            }
        });
        ChaosProxy { addr, up, cuts }
    }

    /// Takes the server away: open connections break, new ones are closed.
    pub fn cut(&self) {
        self.up.store(false, Ordering::Release);
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Brings it back for new connections.
    pub fn restore(&self) {
        self.up.store(true, Ordering::Release);
    }
}

async fn pipe(mut client: TcpStream, upstream: SocketAddr, mut cuts: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cuts.changed() => {}
    }
}
