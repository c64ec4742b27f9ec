//! The API's listener: a bounded number of connections served at once, the
//! rest accepted and kept waiting, in order, until one closes.
//!
//! A storm of router events that arrives faster than tgate decides them used
//! to wait inside hyper, about 30 kB per served connection (its task,
//! hyper's buffers and the parsed request), so memory followed the backlog.
//! A connection accepted but not yet served is only its socket, a few
//! hundred bytes. Connections are still accepted at once, so none is left
//! to the kernel's accept queue, which drops new clients' handshakes when
//! full. Figures: docs/benchmarks-history.md, change 16.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::serve::Listener;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Connections the API serves at once: twice the router events decided at
/// once ([`crate::EVENTS_IN_FLIGHT`]), so as many again are read and ready
/// when a decision ends. A connection kept open (the watcher's, nginx's)
/// holds its slot; a new one waits behind those already waiting, so during
/// a storm a new connection waits for the storm's backlog.
pub const MAX_CONNECTIONS: usize = 128;

/// Connections accepted and waiting for a turn, at most; past that, new ones
/// wait in the kernel's accept queue.
const MAX_WAITING: usize = 16_384;

/// A listener that serves a connection only while fewer than its limit are
/// being served, and keeps the others waiting in order of arrival.
pub struct Bounded {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    waiting: VecDeque<(TcpStream, SocketAddr)>,
}

impl Bounded {
    pub fn new(listener: TcpListener, limit: usize) -> Bounded {
        Bounded {
            listener,
            slots: Arc::new(Semaphore::new(limit)),
            waiting: VecDeque::new(),
        }
    }
}

impl Listener for Bounded {
    type Io = Held;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Held, SocketAddr) {
        loop {
            // Every await below may be cancelled (on shutdown) without
            // losing a connection: an accepted one is in `waiting` before
            // the next await.
            tokio::select! {
                biased;
                slot = self.slots.clone().acquire_owned(), if !self.waiting.is_empty() => {
                    let slot = slot.expect("the listener never closes its semaphore");
                    let (stream, peer) = self.waiting.pop_front().expect("not empty");
                    return (Held { stream, _slot: slot }, peer);
                }
                (stream, peer) = Listener::accept(&mut self.listener), if self.waiting.len() < MAX_WAITING => {
                    self.waiting.push_back((stream, peer));
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// An accepted connection; closing it frees its slot.
pub struct Held {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl Held {
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

impl AsyncRead for Held {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Held {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// With its one slot taken, the listener still accepts the next
    /// clients but serves them only as slots free up, in order of arrival.
    #[tokio::test]
    async fn connections_past_the_limit_wait_their_turn_in_order() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut bounded = Bounded::new(listener, 1);
        let first = TcpStream::connect(addr).await.unwrap();
        let (held, _) = bounded.accept().await;
        let mut later = Vec::new();
        for i in 0..3u8 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(&[i]).await.unwrap();
            later.push(client);
        }
        let waiting = tokio::time::timeout(Duration::from_millis(200), bounded.accept()).await;
        assert!(waiting.is_err(), "a connection was served past the limit");
        assert_eq!(
            bounded.waiting.len(),
            3,
            "the waiting clients were accepted"
        );
        drop((held, first));
        for i in 0..3u8 {
            let (mut next, _) = tokio::time::timeout(Duration::from_secs(5), bounded.accept())
                .await
                .expect("a waiting connection is served once a slot is free");
            let mut got = [0; 1];
            next.read_exact(&mut got).await.unwrap();
            assert_eq!(got, [i], "served out of order");
        }
    }
}
